// Integration tests — the auth matrix by construction: every HTTP route of the contract's table and the
// WebSocket's $connect, called over the local runtime by every kind of caller (no token, each role, and
// tokens that are expired, without exp, for another audience or issuer, or signed with another algorithm),
// answers 401 / 403 / passes exactly as the table declares. A route added to the table is covered the day
// it is added.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Role, type RouteKey, roleIncludes, routeKeys, routes } from '#shared/contracts';
import type { DevIssuer } from '../../infra/local/dev-issuer.ts';
import type { LocalRuntime } from '../../infra/local/runtime.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';

let issuer: DevIssuer;
let stateDir: string;
let runtime: LocalRuntime;
let harness: TestRuntime;

beforeAll(async () => {
  harness = await startTestRuntime('authmx');
  ({ issuer, runtime, issuerDir: stateDir } = harness);
});

afterAll(async () => {
  await harness?.stop();
});

/** A caller: a name, the token it sends (if any), and the roles it validly holds (none for a bad token). */
interface Caller {
  readonly name: string;
  readonly token: () => Promise<string | undefined>;
  readonly roles: readonly Role[] | 'invalid';
}

/** Signs claims with the dev issuer's own key, so the one claim or header under test is all that differs. */
async function signed(
  claims: Record<string, unknown>,
  header: { alg?: string; secret?: Uint8Array } = {},
): Promise<string> {
  const stored = JSON.parse(await readFile(join(stateDir, 'dev-issuer.json'), 'utf8')) as {
    privateJwk: JWK;
    kid: string;
  };
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    roles: ['admin'],
    iss: issuer.issuer,
    aud: issuer.audience,
    sub: 'mallory',
    iat: now,
    exp: now + 600,
    ...claims,
  }).setProtectedHeader({ alg: header.alg ?? 'ES256', kid: stored.kid });
  return jwt.sign(header.secret ?? (await importJWK(stored.privateJwk, 'ES256')));
}

const roleCallers: Caller[] = (['viewer', 'operator', 'admin', 'node'] as const).map((role) => ({
  name: `a ${role} token`,
  token: () => issuer.mint([role], { subject: role === 'node' ? 'node-a' : `user-${role}` }),
  roles: [role],
}));

const badCallers: Caller[] = [
  { name: 'no token', token: async () => undefined, roles: 'invalid' },
  {
    name: 'an expired admin token',
    token: () => issuer.mint(['admin'], { ttlSeconds: -60 }),
    roles: 'invalid',
  },
  { name: 'an admin token without exp', token: () => signed({ exp: undefined }), roles: 'invalid' },
  {
    name: 'an admin token for another audience',
    token: () => signed({ aud: 'someone-else' }),
    roles: 'invalid',
  },
  {
    name: 'an admin token of another issuer',
    token: () => signed({ iss: 'https://evil.invalid' }),
    roles: 'invalid',
  },
  {
    // The classic confusion: HMAC keyed with something public, under the issuer's kid.
    name: 'an admin token signed with another algorithm (HS256)',
    token: () => signed({}, { alg: 'HS256', secret: new TextEncoder().encode(JSON.stringify(issuer.jwks)) }),
    roles: 'invalid',
  },
];

/** What the table declares for one caller on one route. */
function expected(route: RouteKey, caller: Caller): 'unauthorized' | 'forbidden' | 'passes' {
  const required = routes[route].role;
  if (required === null) return 'passes';
  if (caller.roles === 'invalid') return 'unauthorized';
  const granted = caller.roles.some((role) => (roleIncludes[role] as readonly Role[]).includes(required));
  return granted ? 'passes' : 'forbidden';
}

/**
 * A well-formed value for each path parameter, so a call that passes auth reaches its handler; a node's own
 * routes name the node token's subject (a node speaks only for itself: another id is a 403 by design).
 */
function concretePath(route: RouteKey): string {
  const { path } = routes[route];
  const value = path.startsWith('/api/v1/vms/')
    ? 'authmx:vm-1'
    : path.startsWith('/api/v1/nodes/')
      ? 'node-a'
      : 'authmx';
  return path.replace(/\{\w+\}/g, value);
}

async function call(route: RouteKey, token: string | undefined): Promise<{ status: number; body: unknown }> {
  const { method } = routes[route];
  const response = await fetch(`${runtime.httpUrl}${concretePath(route)}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(method === 'GET' || method === 'DELETE' ? {} : { 'content-type': 'application/json' }),
    },
    ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // a PNG or an empty 204
  }
  return { status: response.status, body };
}

describe('HTTP routes × callers', () => {
  const callers = [...roleCallers, ...badCallers];

  it('covers every route of the table with every caller', () => {
    // The matrix below is built from the table; this pins that nothing filters it.
    expect(routeKeys.length).toBe(Object.keys(routes).length);
    expect(callers.length).toBe(10);
  });

  for (const caller of callers) {
    it(`answers every route as declared for ${caller.name}`, async () => {
      const token = await caller.token();
      const seen: string[] = [];
      const wanted: string[] = [];
      for (const route of routeKeys) {
        const { status, body } = await call(route, token);
        const outcome = status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'passes';
        seen.push(`${route} → ${outcome}`);
        wanted.push(`${route} → ${expected(route, caller)}`);
        if (outcome === 'unauthorized') {
          // The JWT authorizer's own answer, worded as API Gateway words it.
          expect(body, route).toEqual({ message: 'Unauthorized' });
        } else if (outcome === 'forbidden') {
          expect(body, route).toMatchObject({ error: 'forbidden', message: expect.any(String) });
        } else {
          // Past auth, a handler may still refuse the dummy id or body, but never fail.
          expect(status, `${route}: ${JSON.stringify(body)}`).toBeLessThan(500);
        }
      }
      expect(seen).toEqual(wanted);
    });
  }
});

describe('WebSocket $connect × callers', () => {
  /** Opens a socket; answers 'open' or the HTTP status of a refused upgrade. */
  const connect = (token: string | undefined): Promise<number | 'open'> =>
    new Promise((done) => {
      const socket = new WebSocket(`${runtime.wsUrl}/${token ? `?token=${encodeURIComponent(token)}` : ''}`);
      socket.once('open', () => {
        socket.close();
        done('open');
      });
      socket.once('unexpected-response', (_req, res) => done(res.statusCode ?? 0));
      socket.once('error', () => done(0));
    });

  it('admits every role and refuses every bad token', async () => {
    const outcomes: Record<string, number | 'open'> = {};
    for (const caller of [...roleCallers, ...badCallers])
      outcomes[caller.name] = await connect(await caller.token());
    expect(outcomes).toEqual({
      ...Object.fromEntries(roleCallers.map((caller) => [caller.name, 'open'])),
      ...Object.fromEntries(badCallers.map((caller) => [caller.name, 401])),
    });
  });
});
