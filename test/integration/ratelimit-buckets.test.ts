// Integration tests — shared/ratelimit's per-principal buckets on a real Redis of this file's own (it is stopped
// half-way, which the shared one must never be): two containers share one bucket per principal through the Lua
// script, other principals keep theirs, keys carry a hash tag of the principal and expire; with Redis gone each
// container limits on its own, and says so once.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RedisService, startRedis } from '../../infra/local/services/redis.ts';
import { defaultRateLimits, PrincipalBuckets, principalKey } from '../../shared/ratelimit/index.ts';

// The logger prints through the console when POWERTOOLS_DEV is set: read back what the buckets log.
vi.hoisted(() => {
  process.env.POWERTOOLS_DEV = 'true';
});

const settings = { ...defaultRateLimits, 'vm-refresh': { perMinute: 1, burst: 3 } };
const alice = { subject: 'alice@example.com', issuer: 'https://idp.example.com/' };
const bob = { subject: 'bob@example.com', issuer: 'https://idp.example.com/' };
const prefix = 'rl-test:';

let dir: string;
let service: RedisService;
let client: Redis;
const logLines: string[] = [];
const restores: (() => void)[] = [];

beforeAll(async () => {
  for (const method of ['log', 'info', 'warn', 'error'] as const) {
    const original = console[method].bind(console);
    restores.push(() => {
      console[method] = original;
    });
    console[method] = (...args: unknown[]) => {
      logLines.push(args.map(String).join(' '));
    };
  }
  dir = await mkdtemp(join(tmpdir(), 'vfleet-ratelimit-'));
  service = await startRedis({ dir });
  // As the functions' client (shared/clients/redis.ts) is set up.
  client = new Redis(service.url, {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 2_000,
  });
  client.on('error', () => {});
});

afterAll(async () => {
  for (const restore of restores) restore();
  client?.disconnect();
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const containers = () =>
  [1, 2].map(() => new PrincipalBuckets({ redis: client, settings, keyPrefix: prefix, redisTimeoutMs: 250 }));

describe('per-principal token buckets in Redis', () => {
  it('share one bucket per principal across containers, refuse past the burst with Retry-After', async () => {
    const [one, two] = containers();
    const takes = [
      await one!.take(alice, 'vm-refresh'),
      await two!.take(alice, 'vm-refresh'),
      await one!.take(alice, 'vm-refresh'),
      await two!.take(alice, 'vm-refresh'),
    ];
    expect(takes.map((t) => [t.allowed, t.source])).toEqual([
      [true, 'redis'],
      [true, 'redis'],
      [true, 'redis'],
      [false, 'redis'],
    ]);
    // One token a minute: the next is up to a minute away.
    const refused = takes[3] as { retryAfterSeconds: number };
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    // Another class of the same principal, and another principal, are untouched.
    expect((await one!.take(alice, 'console')).allowed).toBe(true);
    expect((await two!.take(bob, 'vm-refresh')).allowed).toBe(true);
  });

  it('takes atomically: 20 concurrent takes on a fresh bucket grant exactly the burst', async () => {
    const [one, two] = containers();
    const carol = { subject: 'carol' };
    const takes = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? one! : two!).take(carol, 'vm-refresh')),
    );
    expect(takes.filter((t) => t.allowed)).toHaveLength(3);
  });

  it('keys the bucket by a hash tag of the principal, never the subject, and lets it expire', async () => {
    const keys = await client.keys(`${prefix}rl:*`);
    expect(keys).toContain(`${prefix}rl:{${principalKey(alice)}}:vm-refresh`);
    for (const key of keys) {
      expect(key).toMatch(/^rl-test:rl:\{[A-Za-z0-9_-]{22}\}:[a-z-]+$/);
      expect(key).not.toMatch(/alice|bob|carol|example/);
      expect(await client.pttl(key)).toBeGreaterThan(0);
    }
  });

  it('limits per container while Redis is down, logging the outage once', async () => {
    const [one] = containers();
    const dave = { subject: 'dave' };
    expect((await one!.take(dave, 'vm-refresh')).source).toBe('redis');
    logLines.length = 0;

    await service.stop();
    const takes = [];
    for (let i = 0; i < 8; i++) takes.push(await one!.take(dave, 'vm-refresh'));

    expect(takes.every((t) => t.source === 'memory')).toBe(true);
    // The container's own bucket starts full: the burst, then refusals with Retry-After.
    expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false, false, false, false, false]);
    expect(takes[3]).toMatchObject({ allowed: false, retryAfterSeconds: expect.any(Number) });
    expect(one!.degraded).toBe(true);
    const outage = logLines.filter((line) => line.includes('rate limiter: Redis unavailable'));
    expect(outage).toHaveLength(1);
    expect(outage[0]).not.toMatch(/dave/);
  });
});
