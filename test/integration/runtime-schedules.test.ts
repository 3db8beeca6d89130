// Integration tests — the local runtime's schedule timers invoke their function with a Scheduled Event.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Topology, topology } from '#infra/topology';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

const root = resolve(import.meta.dirname, '../..');
let ns: TestNamespace;
let runtime: LocalRuntime;
let redis: Redis;

const testTopology: Topology = {
  ...topology,
  functions: {
    ...topology.functions,
    ticker: {
      entry: 'test/fixtures/functions/tick-recorder.ts',
      description: 'test',
      serves: 'schedule',
      needs: ['redis'],
    },
  },
  eventSources: [],
  schedules: [{ name: 'test-ticker', function: 'ticker', everySeconds: 1 }],
};

beforeAll(async () => {
  ns = await freshNamespace('sched');
  runtime = await startLocalRuntime({
    root,
    issuer: await loadTestIssuer(await mkdtemp(join(tmpdir(), 'vfleet-issuer-'))),
    services: ns.services,
    topology: testTopology,
    tablePrefix: `vfleet-${ns.id}`,
    env: { FIXTURE_PREFIX: ns.id },
  });
  redis = new Redis(ns.services.redisUrl);
});

afterAll(async () => {
  redis?.disconnect();
  await runtime?.stop();
  await ns?.dispose();
});

describe('schedules', () => {
  it('invokes the scheduled function on its interval with a Scheduled Event, and stops with the runtime', async () => {
    const key = `${ns.id}:ticks`;
    const deadline = Date.now() + 10_000;
    while ((await redis.llen(key)) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const ticks = await redis.lrange(key, 0, -1);
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks[0]).toBe('Scheduled Event|arn:aws:events:local:000000000000:rule/test-ticker');

    await runtime.stop();
    const atStop = await redis.llen(key);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await redis.llen(key)).toBe(atStop);
  });
});
