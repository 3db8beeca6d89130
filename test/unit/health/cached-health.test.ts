// Unit tests — shared/health without the network: the public check's cache counts probe rounds (never times
// them): calls within a period, and calls while a round runs, share one round; the answer names no dependency.
import { describe, expect, it } from 'vitest';
import { CachedHealth, checkHealth, type Probes } from '../../../shared/health/index.ts';

/** Three probes that count their calls; `down` makes one fail. */
function countingProbes(down?: string) {
  const calls: Record<string, number> = { redis: 0, postgres: 0, dynamodb: 0 };
  const probes: Probes = Object.fromEntries(
    Object.keys(calls).map((name) => [
      name,
      async () => {
        calls[name] = (calls[name] ?? 0) + 1;
        if (name === down)
          throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:6379'), { code: 'ECONNREFUSED' });
      },
    ]),
  );
  return { calls, probes };
}

describe('CachedHealth (GET /health)', () => {
  it('runs one probe round for any number of calls within its period, then one more after it', async () => {
    let now = 1_000_000;
    const { calls, probes } = countingProbes();
    const health = new CachedHealth(
      5_000,
      () => checkHealth(1_000, probes),
      () => now,
    );

    for (let i = 0; i < 50; i++) expect((await health.get()).status).toBe('ok');
    expect(calls).toEqual({ redis: 1, postgres: 1, dynamodb: 1 });

    now += 4_999;
    await health.get();
    expect(calls.redis).toBe(1);
    now += 1;
    await health.get();
    expect(calls).toEqual({ redis: 2, postgres: 2, dynamodb: 2 });
  });

  it('shares the running round among concurrent callers', async () => {
    const { calls, probes } = countingProbes();
    const health = new CachedHealth(5_000, () => checkHealth(1_000, probes));
    const answers = await Promise.all(Array.from({ length: 100 }, () => health.get()));
    expect(new Set(answers.map((a) => a.checkedAt)).size).toBe(1);
    expect(calls).toEqual({ redis: 1, postgres: 1, dynamodb: 1 });
  });

  it('answers degraded without naming the dependency or its error', async () => {
    const { probes } = countingProbes('redis');
    const answer = await new CachedHealth(5_000, () => checkHealth(1_000, probes)).get();
    expect(answer.status).toBe('degraded');
    expect(Object.keys(answer).sort()).toEqual(['checkedAt', 'status']);
    expect(JSON.stringify(answer)).not.toMatch(/redis|ECONNREFUSED|10\.0\.0\.7/);
  });
});

describe('checkHealth (GET /api/v1/health/details)', () => {
  it('probes every dependency on each call and names the one that is down by its code only', async () => {
    const { calls, probes } = countingProbes('postgres');
    await checkHealth(1_000, probes);
    const report = await checkHealth(1_000, probes);
    expect(calls).toEqual({ redis: 2, postgres: 2, dynamodb: 2 });
    expect(report.status).toBe('degraded');
    expect(report.dependencies.postgres).toMatchObject({ status: 'down', reason: 'ECONNREFUSED' });
    expect(JSON.stringify(report)).not.toContain('10.0.0.7');
  });
});
