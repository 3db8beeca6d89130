// Integration tests — bad input by construction: for every route of the contract's table, property-based
// inputs generated from the route's own schemas (shared/openapi's route docs name them): malformed path
// parameters, query strings and bodies (wrong types, huge strings, unicode, deep nesting, invalid JSON, wrong
// content types), sent over the local runtime by an admin (by a node, on the node routes). Every answer is a
// 4xx with `{error, message}` (field errors for a 400), never a 5xx, a stack trace or an internal address.
// Seeded, a fixed number of runs per route, so a failure reproduces and the run stays short.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { type RouteKey, routeKeys, routes } from '#shared/contracts';
import { type RouteDoc, routeDocs } from '#shared/openapi';
import type { LocalRuntime } from '../../infra/local/runtime.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';

const seed = 20_261_202;
const runsPerRoute = 12;

let harness: TestRuntime;
let runtime: LocalRuntime;
let admin: string;
/** Node routes take a node token (admin is not a node) whose subject is the well-formed path id. */
let node: string;

beforeAll(async () => {
  harness = await startTestRuntime('badin');
  runtime = harness.runtime;
  admin = await harness.issuer.mint(['admin'], { subject: 'fuzzer' });
  node = await harness.issuer.mint(['node'], { subject: 'badin' });
});

afterAll(async () => {
  await harness?.stop();
});

/** How a body is bad (not JSON, wrong shape, not declared as JSON), or `well_formed` beside a bad parameter. */
type BodyKind = 'invalid_json' | 'wrong_shape' | 'wrong_content_type' | 'well_formed';

/** A request to send: which part is bad is up to the generator. */
interface BadRequest {
  readonly params: Record<string, string>;
  readonly query: Record<string, string>;
  readonly body?: { readonly text: string; readonly contentType: string; readonly kind: BodyKind };
}

const fails = (schema: z.ZodType) => (value: unknown) => !schema.safeParse(value).success;

/** Text a client might send: unicode, control characters, huge, or near-miss ids. */
const nastyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '%00',
    '..',
    '../etc/passwd',
    'vc:',
    ':vm-1',
    'a:b:c',
    '\u202e',
    '🙂:vm-1',
    "'; DROP TABLE vms;--",
  ),
  // Long, yet within a URL's limit: an over-long request line is the gateway's own answer, not a handler's.
  fc.nat({ max: 3_000 }).map((n) => 'x'.repeat(n + 1_000)),
);

/** A JSON value of the wrong shape: anything, deeply nested, or with huge strings. */
const wrongJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.nat({ max: 2_000 }).map((depth) => '['.repeat(depth + 100) + ']'.repeat(depth + 100)),
  fc.record({ id: nastyText, url: nastyText, username: fc.jsonValue(), password: fc.jsonValue() }),
  fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
);

/** A well-formed value per path parameter, so only the generated part is bad. */
function goodParam(route: RouteKey): string {
  return routes[route].path.startsWith('/api/v1/vms/') ? 'badin:vm-1' : 'badin';
}

/** Generators of bad requests for one route: one bad part at a time, the rest well-formed. */
function badRequests(route: RouteKey): fc.Arbitrary<BadRequest> {
  const doc: RouteDoc = routeDocs[route];
  const good = Object.fromEntries(Object.keys(doc.params ?? {}).map((name) => [name, goodParam(route)]));
  const goodBody = doc.body
    ? { text: '{}', contentType: 'application/json', kind: 'well_formed' as const }
    : undefined;
  const options: fc.Arbitrary<BadRequest>[] = [];
  for (const [name, schema] of Object.entries(doc.params ?? {})) {
    options.push(
      nastyText
        .filter((text) => text.length > 0 && fails(schema)(text))
        .map((text) => ({
          params: { ...good, [name]: text },
          query: {},
          ...(goodBody ? { body: goodBody } : {}),
        })),
    );
  }
  if (doc.query) {
    const shape = doc.query.shape as Record<string, z.ZodType>;
    const known = Object.keys(shape);
    options.push(
      fc
        .record({ key: fc.constantFrom(...known), value: nastyText })
        .filter(({ key, value }) => fails(shape[key] as z.ZodType)(value))
        .map(({ key, value }) => ({ params: good, query: { [key]: value } })),
      fc
        .record({ key: fc.string({ minLength: 1, maxLength: 20 }), value: nastyText })
        .filter(({ key }) => !known.includes(key))
        .map(({ key, value }) => ({ params: good, query: { [key]: value } })),
    );
  }
  if (doc.body) {
    const body = doc.body;
    options.push(
      fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
        .filter((text) => {
          try {
            JSON.parse(text);
            return false;
          } catch {
            return true;
          }
        })
        .map((text) => ({
          params: good,
          query: {},
          body: { text, contentType: 'application/json', kind: 'invalid_json' },
        })),
      wrongJson
        .map((value) => (typeof value === 'string' && value.startsWith('[') ? value : JSON.stringify(value)))
        .filter((text) => fails(body)(JSON.parse(text)))
        .map((text) => ({
          params: good,
          query: {},
          body: { text, contentType: 'application/json', kind: 'wrong_shape' },
        })),
      fc
        .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml')
        .map((contentType) => ({
          params: good,
          query: {},
          body: { text: '{"full":true}', contentType, kind: 'wrong_content_type' },
        })),
    );
  }
  return fc.oneof(...options);
}

async function send(route: RouteKey, request: BadRequest): Promise<{ status: number; text: string }> {
  const { method, path } = routes[route];
  const url = new URL(
    path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(request.params[name] ?? '')),
    runtime.httpUrl,
  );
  for (const [key, value] of Object.entries(request.query)) url.searchParams.set(key, value);
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${routes[route].role === 'node' ? node : admin}`,
      ...(request.body ? { 'content-type': request.body.contentType } : {}),
    },
    ...(request.body ? { body: request.body.text } : {}),
  });
  return { status: response.status, text: await response.text() };
}

/** What no answer may show: a stack trace, a file path of the code, an internal address. */
const leaks = [
  /\bat .+\(.*:\d+:\d+\)/,
  /\/work\/|node_modules|\.ts:\d+/,
  /\b127\.0\.0\.1\b|\blocalhost:\d+/,
  /\bECONN\w+/,
];

const fuzzed = routeKeys.filter((route) => {
  const doc: RouteDoc = routeDocs[route];
  return Boolean(doc.params || doc.query || doc.body);
});

describe('bad input on every route', () => {
  it('covers every route of the table that takes input', () => {
    // A path parameter or a write method means input, whether or not its doc remembered to declare it.
    const takesInput = routeKeys.filter(
      (route) => /\{|^(POST|PUT|PATCH)/.test(route) || 'query' in routeDocs[route],
    );
    expect(fuzzed).toEqual(takesInput);
  });

  for (const route of fuzzed) {
    it(`${route}: a 4xx with {error, message}, never a 5xx or a leak`, async () => {
      await fc.assert(
        fc.asyncProperty(badRequests(route), async (request) => {
          const { status, text } = await send(route, request);
          expect(status, text).toBeGreaterThanOrEqual(400);
          expect(status, text).toBeLessThan(500);
          for (const leak of leaks) expect(text).not.toMatch(leak);
          const body = JSON.parse(text) as { error?: unknown; message?: unknown; fields?: unknown };
          expect(body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
          if (request.body?.kind === 'invalid_json')
            expect([status, body.error]).toEqual([400, 'invalid_json']);
          if (request.body?.kind === 'wrong_content_type') {
            expect([status, body.error]).toEqual([415, 'unsupported_media_type']);
          }
          if (status === 400 && body.error === 'bad_request') expect(body.fields).toBeTypeOf('object');
        }),
        { seed, numRuns: runsPerRoute, endOnFailure: true },
      );
    });
  }
});
