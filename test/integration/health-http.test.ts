// Integration tests — /health over the local runtime, on a Redis of this file's own so its PINGs can be counted
// (Redis's own command statistics): the public check answers from its cached round, however often it is called,
// and names no dependency; the detailed one probes on every call and is for operators only.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { type RedisService, startRedis } from '../../infra/local/services/redis.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';

let db: TestDatabase;
let redisService: RedisService;
let counter: Redis;
let runtime: LocalRuntime;
let stateDir: string;
let viewer: string;
let operator: string;

/** PINGs Redis has answered so far: the health probe is the only caller that sends one. */
async function pings(): Promise<number> {
  const stats = await counter.info('commandstats');
  return Number(/cmdstat_ping:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

async function get(path: string, token?: string) {
  const res = await fetch(`${runtime.httpUrl}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  db = await freshDatabase('health_http');
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-health-http-'));
  redisService = await startRedis({ dir: join(stateDir, 'redis') });
  counter = new Redis(redisService.url);
  const issuer = await loadTestIssuer(stateDir);
  viewer = await issuer.mint(['viewer']);
  operator = await issuer.mint(['operator']);
  runtime = await startLocalRuntime({
    root: resolve(import.meta.dirname, '../..'),
    issuer,
    services: { ...db.services, redisUrl: redisService.url },
    tablePrefix: db.name,
    // Longer than the test: every public call after the first is answered from the cached round.
    env: { SECRET_STORE: `file:${join(stateDir, 'secrets.json')}`, HEALTH_CACHE_SECONDS: '300' },
  });
}, 180_000);

afterAll(async () => {
  await runtime?.stop();
  counter?.disconnect();
  await redisService?.stop();
  await db?.dispose();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('GET /health', () => {
  it('costs one probe round for 40 calls, sequential and concurrent, and names no dependency', async () => {
    const before = await pings();
    const first = await get('/health');
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ status: 'ok', checkedAt: expect.any(String) });
    for (let i = 0; i < 20; i++) expect((await get('/health')).body).toEqual(first.body);
    const concurrent = await Promise.all(Array.from({ length: 19 }, () => get('/health')));
    expect(concurrent.every((answer) => answer.status === 200)).toBe(true);
    expect((await pings()) - before).toBe(1);
  });
});

describe('GET /api/v1/health/details', () => {
  it('is refused to a viewer and to a caller without a token', async () => {
    const before = await pings();
    expect((await get('/api/v1/health/details')).status).toBe(401);
    expect((await get('/api/v1/health/details', viewer)).status).toBe(403);
    expect((await pings()) - before).toBe(0);
  });

  it('probes every dependency on each call for an operator, naming each', async () => {
    const before = await pings();
    for (let i = 0; i < 3; i++) {
      const { status, body } = await get('/api/v1/health/details', operator);
      expect(status).toBe(200);
      expect(body).toMatchObject({
        status: 'ok',
        dependencies: {
          redis: { status: 'up', latencyMs: expect.any(Number) },
          postgres: { status: 'up', latencyMs: expect.any(Number) },
          dynamodb: { status: 'up', latencyMs: expect.any(Number) },
        },
      });
    }
    expect((await pings()) - before).toBe(3);
  });
});
