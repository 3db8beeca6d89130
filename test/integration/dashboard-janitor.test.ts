// Integration tests — the dashboard's node lifecycle on real Redis with a controllable clock: a silent node
// shows as expired after 60 s (announced once), is removed with its keys after 10 minutes of silence by the
// janitor, and comes back only with a new report.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardStore, type MetricsReport } from '#shared/dashboard';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let now = Date.parse('2026-12-02T12:00:00Z');
let store: DashboardStore;

beforeAll(async () => {
  ns = await freshNamespace('dashjan');
  redis = new Redis(ns.services.redisUrl);
  store = new DashboardStore({ redis, keyPrefix: ns.redisKeyPrefix, clock: () => now });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.dispose();
});

const report = (): MetricsReport => ({
  timestamp: new Date(now).toISOString(),
  cpu_percent: 5,
  memory: { percent: 20, total: 100, available: 80, used: 20 },
  disk: { percent: 30, mounts: [] },
  services: { web: 'running' },
});

const seconds = (n: number) => {
  now += n * 1000;
};

describe('the janitor, by the clock', () => {
  it('shows a silent node expired after 60 s, removes it after 10 minutes, and lets only a new report bring it back', async () => {
    expect((await store.recordMetrics('jan-1', report())).cameOnline).toBe(true);
    await store.appendLogs('jan-1', [
      { seq: 1, timestamp: new Date(now).toISOString(), level: 'INFO', logger_name: 'a', message: 'x' },
    ]);
    expect((await store.recordMetrics('jan-1', report())).cameOnline).toBe(false);

    seconds(60);
    expect((await store.node('jan-1'))?.status).toBe('online');
    expect(await store.sweep()).toEqual({ expired: [], removed: [] });

    seconds(1);
    expect((await store.node('jan-1'))?.status).toBe('expired');
    expect(await store.sweep()).toEqual({ expired: ['jan-1'], removed: [] });
    // Announced once.
    expect(await store.sweep()).toEqual({ expired: [], removed: [] });
    expect((await store.stats()).expired_workers).toBe(1);

    seconds(600 - 61);
    expect((await store.sweep()).removed).toEqual([]);
    seconds(1);
    expect(await store.sweep()).toEqual({ expired: [], removed: ['jan-1'] });
    expect(await store.node('jan-1')).toBeUndefined();
    expect(await store.nodes()).toEqual([]);
    const left = await redis.keys(`${ns.redisKeyPrefix}dash:{jan-1}:*`);
    expect(left).toEqual([]);

    // Another sweep, much later, changes nothing: a removed node does not come back by itself.
    seconds(3600);
    expect(await store.sweep()).toEqual({ expired: [], removed: [] });
    expect(await store.nodes()).toEqual([]);

    // A new report does.
    expect((await store.recordMetrics('jan-1', report())).cameOnline).toBe(true);
    expect((await store.node('jan-1'))?.status).toBe('online');
    expect(await store.history('jan-1')).toHaveLength(1);
  });

  it('brings an expired node back online with its next report (announced as coming online)', async () => {
    await store.recordMetrics('jan-2', report());
    seconds(90);
    expect((await store.sweep()).expired).toContain('jan-2');
    expect((await store.recordMetrics('jan-2', report())).cameOnline).toBe(true);
    expect((await store.node('jan-2'))?.status).toBe('online');
  });
});
