// Integration tests — the local HTTP API over a real socket: GET /health and its operator-only details against
// the real services (and 503 when one is down), bearer tokens (401), roles (403), unknown routes and methods.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clockSkewSeconds } from '#shared/auth';
import type { DevIssuer } from '../../infra/local/dev-issuer.ts';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { freePort } from '../../infra/local/services/free-port.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

const root = resolve(import.meta.dirname, '../..');
let ns: TestNamespace;
let issuer: DevIssuer;
let runtime: LocalRuntime;

beforeAll(async () => {
  ns = await freshNamespace('http');
  issuer = await loadTestIssuer(await mkdtemp(join(tmpdir(), 'vfleet-issuer-')));
  runtime = await startLocalRuntime({
    root,
    issuer,
    services: ns.services,
    tablePrefix: `vfleet-${ns.id}`,
  });
});

afterAll(async () => {
  await runtime?.stop();
  await ns?.dispose();
});

interface HealthBody {
  status: string;
  dependencies: Record<string, { status: string }>;
}

const get = (path: string, token?: string) =>
  fetch(`${runtime.httpUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('GET /health', () => {
  it('answers 200 without a token, naming no dependency; the details name each for an operator', async () => {
    const response = await get('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', checkedAt: expect.any(String) });
    const details = await get('/api/v1/health/details', await issuer.mint(['operator']));
    expect(details.status).toBe(200);
    const body = (await details.json()) as HealthBody;
    expect(body.status).toBe('ok');
    for (const name of ['redis', 'postgres', 'dynamodb']) {
      expect(body.dependencies[name]).toMatchObject({ status: 'up' });
    }
  });
});

describe('GET /api/v1/openapi.json', () => {
  it('serves the generated document without a token, with an ETag and a 304 for it', async () => {
    const response = await get('/api/v1/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/api/v1/vms', '/api/v1/openapi.json']),
    );
    const etag = response.headers.get('etag') as string;
    const again = await fetch(`${runtime.httpUrl}/api/v1/openapi.json`, {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
  });
});

describe('authentication and roles', () => {
  it('answers 401 without a token, with a garbage token and with an expired token', async () => {
    expect((await get('/api/v1/me')).status).toBe(401);
    expect((await get('/api/v1/me', 'garbage')).status).toBe(401);
    const expired = await issuer.mint(['admin'], { ttlSeconds: -60 });
    const response = await get('/api/v1/me', expired);
    expect(response.status).toBe(401);
    // API Gateway's own answer, as the JWT authorizer words it.
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('stops accepting a token once it expires, even after it was accepted before', async () => {
    const shortLived = await issuer.mint(['viewer'], { ttlSeconds: 2 });
    expect((await get('/api/v1/me', shortLived)).status).toBe(200);
    // Past its expiry plus the clock skew every verifier allows.
    await new Promise((r) => setTimeout(r, (2 + clockSkewSeconds) * 1_000 + 100));
    expect((await get('/api/v1/me', shortLived)).status).toBe(401);
  });

  it('answers 403 when the token lacks the route role, 200 when it has it or a higher one', async () => {
    const forbidden = await get('/api/v1/me', await issuer.mint(['node']));
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({
      error: 'forbidden',
      message: 'This route needs the viewer role',
    });

    const viewer = await get('/api/v1/me', await issuer.mint(['viewer'], { subject: 'vera' }));
    expect(viewer.status).toBe(200);
    expect(await viewer.json()).toEqual({ subject: 'vera', roles: ['viewer'] });

    expect((await get('/api/v1/me', await issuer.mint(['admin']))).status).toBe(200);
  });

  it('answers 404 for an unknown path and 405 for a known path with another method', async () => {
    const token = await issuer.mint(['admin']);
    expect((await get('/api/v1/nothing-here', token)).status).toBe(404);
    const wrongMethod = await fetch(`${runtime.httpUrl}/health`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toMatchObject({ error: 'method_not_allowed' });
  });
});

describe('GET /health with a dependency down', () => {
  it('answers 503 (the details naming the dependency that is down), and no connection details', async () => {
    await runtime.stop();
    const closedPort = await freePort();
    runtime = await startLocalRuntime({
      root,
      issuer,
      services: { ...ns.services, redisUrl: `redis://127.0.0.1:${closedPort}` },
      tablePrefix: `vfleet-${ns.id}`,
    });
    // A new runtime's public check probes afresh: no answer cached before the restart.
    const open = await get('/health');
    expect(open.status).toBe(503);
    expect(await open.json()).toEqual({ status: 'degraded', checkedAt: expect.any(String) });
    const response = await get('/api/v1/health/details', await issuer.mint(['operator']));
    expect(response.status).toBe(503);
    const body = (await response.json()) as HealthBody;
    expect(body.status).toBe('degraded');
    expect(body.dependencies.redis?.status).toBe('down');
    expect(body.dependencies.postgres?.status).toBe('up');
    expect(body.dependencies.dynamodb?.status).toBe('up');
    expect(JSON.stringify(body)).not.toContain(String(closedPort));
    expect(JSON.stringify(body)).not.toContain(ns.services.postgres.password);
  });
});
