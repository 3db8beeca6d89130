// Unit tests — routes bound at compile time: infra/topology.ts binds each HTTP function to its routes table
// (functions/<capability>/routes.ts), and the compiler refuses a contract route nobody serves, a served key the
// contract does not declare, and a key served by two functions. Planted files that break each rule are
// compiled with the TypeScript compiler API against the same helper types, expecting the errors; a file that
// keeps the binding compiles clean. At run time every contract route reaches a handler of its function.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeKeys, routes } from '#shared/contracts';
import { type HttpEvent, json, type RouteHandler, type RouteTable, routeHandler } from '#shared/http';
import {
  dashboardApiRoutes,
  dashboardControlRoutes,
  dashboardIngestRoutes,
} from '../../../functions/dashboard/routes.ts';
import { docsRoutes } from '../../../functions/docs/routes.ts';
import { healthRoutes } from '../../../functions/health/routes.ts';
import { identityRoutes } from '../../../functions/identity/routes.ts';
import { inventoryQueryRoutes, vcenterRoutes } from '../../../functions/inventory/routes.ts';
import { opsApiRoutes, opsConsoleRoutes } from '../../../functions/ops/routes.ts';
import { placementNodeRoutes, placementRoutes } from '../../../functions/placement/routes.ts';
import { provisioningRoutes } from '../../../functions/provisioning/routes.ts';
import { type HttpFunctionRoutes, topology } from '../../../infra/topology.ts';

const root = resolve(import.meta.dirname, '../../..');
const tmp = join(import.meta.dirname, `.tmp-routes-binding-${process.pid}`);

// Each planted file's body; it starts with the imports below. `null`: it must compile clean.
const header = [
  "import type { RouteHandler, RouteTable } from '#shared/http';",
  "import type { HttpFunctionRoutes, RouteBindingErrors, RouteBindingHolds, ServerOf } from '../../../../infra/topology.ts';",
  'declare const handle: RouteHandler;',
];
const planted: Record<string, { lines: string[]; expected: { code: number; includes: string[] }[] }> = {
  'holds.ts': {
    lines: [
      'export type Check = RouteBindingHolds<RouteBindingErrors<HttpFunctionRoutes>>;',
      "export const console: ServerOf<HttpFunctionRoutes, 'POST /api/v1/vms/{id}/console'> = 'opsConsole';",
      "export const table = { 'GET /api/v1/me': handle } satisfies RouteTable;",
    ],
    expected: [],
  },
  // The console function's table forgotten: its contract route has no handler.
  'missing.ts': {
    lines: [
      "export type Check = RouteBindingHolds<RouteBindingErrors<Omit<HttpFunctionRoutes, 'opsConsole'>>>;",
    ],
    expected: [{ code: 2344, includes: ['unserved', '"POST /api/v1/vms/{id}/console"'] }],
  },
  // A handler keyed by a route the contract does not declare: refused by the table and by the binding.
  'extra.ts': {
    lines: [
      "export const table = { 'GET /api/v1/me': handle, 'GET /api/v1/nope': handle } satisfies RouteTable;",
      "type Tables = HttpFunctionRoutes & { extra: { 'GET /api/v1/nope': RouteHandler } };",
      'export type Check = RouteBindingHolds<RouteBindingErrors<Tables>>;',
    ],
    expected: [
      { code: 2353, includes: ["'GET /api/v1/nope'"] },
      { code: 2344, includes: ['undeclared', '"GET /api/v1/nope"'] },
    ],
  },
  // Two functions serving one route.
  'twice.ts': {
    lines: [
      "type Tables = HttpFunctionRoutes & { twin: { 'GET /api/v1/me': RouteHandler } };",
      'export type Check = RouteBindingHolds<RouteBindingErrors<Tables>>;',
    ],
    expected: [{ code: 2344, includes: ['servedTwice', '"GET /api/v1/me"'] }],
  },
  // The written-out route→function map naming a function whose table lacks the route.
  'wrong-function.ts': {
    lines: ["export const me: ServerOf<HttpFunctionRoutes, 'GET /api/v1/me'> = 'health';"],
    expected: [{ code: 2322, includes: ['"health"', '"me"'] }],
  },
};

/** Diagnostics of each planted file, compiled with the project's compiler options. */
function compile(): Map<string, { code: number; message: string }[]> {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const files = Object.keys(planted).map((name) => join(tmp, name));
  const program = ts.createProgram(files, options);
  const byFile = new Map<string, { code: number; message: string }[]>();
  for (const file of files) {
    const source = program.getSourceFile(file);
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    byFile.set(
      file,
      diagnostics.map((d) => ({
        code: d.code,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      })),
    );
  }
  return byFile;
}

let diagnostics: Map<string, { code: number; message: string }[]>;

beforeAll(async () => {
  await mkdir(tmp, { recursive: true });
  for (const [name, file] of Object.entries(planted)) {
    await writeFile(join(tmp, name), `${[...header, ...file.lines].join('\n')}\n`);
  }
  diagnostics = compile();
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('routes bound at compile time (infra/topology.ts)', () => {
  it('compiles a file that keeps the binding, so the other failures come from what they break', () => {
    expect(diagnostics.get(join(tmp, 'holds.ts'))).toEqual([]);
  });

  it.each(Object.entries(planted).filter(([, file]) => file.expected.length > 0))(
    'refuses %s with errors that name the route',
    (name, file) => {
      const found = diagnostics.get(join(tmp, name)) ?? [];
      expect(found.map((d) => d.code).sort()).toEqual(file.expected.map((e) => e.code).sort());
      for (const expected of file.expected) {
        const match = found.find(
          (d) => d.code === expected.code && expected.includes.every((text) => d.message.includes(text)),
        );
        expect(match, `${name}: TS${expected.code} naming ${expected.includes.join(', ')}`).toBeDefined();
      }
    },
  );
});

// The tables by function, held to the topology's binding by the compiler (same keys, same table types).
const tables: { [F in keyof HttpFunctionRoutes]: HttpFunctionRoutes[F] } = {
  health: healthRoutes,
  apiDocs: docsRoutes,
  me: identityRoutes,
  inventoryQuery: inventoryQueryRoutes,
  vcenters: vcenterRoutes,
  opsApi: opsApiRoutes,
  opsConsole: opsConsoleRoutes,
  placement: placementRoutes,
  placementNodes: placementNodeRoutes,
  dashboardIngest: dashboardIngestRoutes,
  dashboardApi: dashboardApiRoutes,
  dashboardControl: dashboardControlRoutes,
  provisioningApi: provisioningRoutes,
};
const tableNames: Record<keyof HttpFunctionRoutes, string> = {
  health: 'healthRoutes',
  apiDocs: 'docsRoutes',
  me: 'identityRoutes',
  inventoryQuery: 'inventoryQueryRoutes',
  vcenters: 'vcenterRoutes',
  opsApi: 'opsApiRoutes',
  opsConsole: 'opsConsoleRoutes',
  placement: 'placementRoutes',
  placementNodes: 'placementNodeRoutes',
  dashboardIngest: 'dashboardIngestRoutes',
  dashboardApi: 'dashboardApiRoutes',
  dashboardControl: 'dashboardControlRoutes',
  provisioningApi: 'provisioningRoutes',
};

const context = { functionName: 'test', awsRequestId: 'req-1' } as unknown as Context;
const now = () => Math.floor(Date.now() / 1000);
function event(routeKey: string, claims?: Record<string, string>): HttpEvent {
  const times = { iat: String(now()), exp: String(now() + 3600) };
  return {
    routeKey,
    headers: {},
    requestContext: {
      authorizer: claims ? { jwt: { claims: { ...times, ...claims }, scopes: [] } } : undefined,
    },
  } as unknown as HttpEvent;
}

describe('routes dispatched at run time', () => {
  it('gives every contract route a handler in the table of the function the topology sends it to', () => {
    const httpFunctions = Object.entries(topology.functions)
      .filter(([, spec]) => spec.serves === 'http')
      .map(([name]) => name)
      .sort();
    expect(Object.keys(tables).sort()).toEqual(httpFunctions);
    for (const key of routeKeys) {
      const route = topology.httpRoutes.find((r) => `${r.method} ${r.path}` === key);
      const table: RouteTable = tables[route?.function as keyof HttpFunctionRoutes] ?? {};
      expect(typeof table[key], `${key} → ${route?.function}`).toBe('function');
    }
    const served = Object.values(tables).flatMap((table) => Object.keys(table));
    expect(served.sort()).toEqual([...routeKeys].sort());
  });

  it('serves the public liveness check and the operator-only detailed one from the health function', () => {
    expect(routes['GET /health'].role).toBeNull();
    expect(routes['GET /api/v1/health/details'].role).toBe('operator');
    for (const key of ['GET /health', 'GET /api/v1/health/details'] as const) {
      expect(topology.httpRoutes.find((r) => `${r.method} ${r.path}` === key)?.function, key).toBe('health');
      expect(typeof tables.health[key], key).toBe('function');
    }
  });

  it('builds each HTTP entry from its own routes table, with no route matching of its own', async () => {
    for (const [name, table] of Object.entries(tableNames)) {
      const entry = topology.functions[name]?.entry ?? '';
      const source = await readFile(join(root, entry), 'utf8');
      // Options (a denial hook) may follow the table; the dispatch is still the shared one.
      expect(source, entry).toMatch(
        new RegExp(`export const handler = routeHandler\\(${table}(, \\{[^}]*\\})?\\);`),
      );
      expect(source, entry).not.toMatch(/routeKey/);
    }
  });

  it('dispatches on event.routeKey inside the middleware: roles, 404 for a route of another function, errors', async () => {
    const seen: string[] = [];
    const me: RouteHandler = async (e) => {
      seen.push(e.routeKey);
      return json(200, { ok: true });
    };
    const failing: RouteHandler = async () => {
      throw new Error('secret detail');
    };
    const handler = routeHandler({ 'GET /api/v1/me': me, 'GET /api/v1/vms': failing } satisfies RouteTable);

    const viewer = { sub: 'bob', roles: '[viewer]' };
    expect((await handler(event('GET /api/v1/me', viewer), context)).statusCode).toBe(200);
    expect(seen).toEqual(['GET /api/v1/me']);
    // The role check still runs before dispatch.
    expect((await handler(event('GET /api/v1/me'), context)).statusCode).toBe(401);
    const elsewhere = await handler(event('GET /api/v1/hosts', viewer), context);
    expect(elsewhere.statusCode).toBe(404);
    expect(JSON.parse(elsewhere.body as string)).toEqual({
      error: 'not_found',
      message: 'No route GET /api/v1/hosts in this function',
    });
    const failed = await handler(event('GET /api/v1/vms', viewer), context);
    expect(failed.statusCode).toBe(500);
    expect(failed.body).not.toContain('secret detail');
    expect(seen).toEqual(['GET /api/v1/me']);
  });
});
