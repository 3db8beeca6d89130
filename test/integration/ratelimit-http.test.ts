// Integration tests — the per-principal buckets on the routes that cause vCenter work, over the local runtime: a
// vcsim registered in the registry, the real SQS lanes and limiter, and a Redis of this file's own (stopped in
// the last test). A viewer hammering refresh, or thumbnails, over distinct VM ids gets 429 with Retry-After once
// its burst is spent, and the upstream calls stay within what was let through; another viewer is unaffected;
// with Redis down the container's own buckets still refuse, and the outage is logged once.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { type RedisService, startRedis } from '../../infra/local/services/redis.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

// The functions' logger prints through the console when POWERTOOLS_DEV is set: read back what it logs.
vi.hoisted(() => {
  process.env.POWERTOOLS_DEV = 'true';
});

const burst = 5;
const tag = randomBytes(4).toString('hex');
const vcenterId = `vc-rl-${tag}`;
const password = `S3cret-${randomBytes(6).toString('hex')}`;
let db: TestDatabase;
let redisService: RedisService;
let runtime: LocalRuntime;
let vcsim: VcsimService;
let stateDir: string;
const tokens: Record<string, string> = {};
const logLines: string[] = [];
const restores: (() => void)[] = [];

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
type Json = Record<string, any>;

async function call(method: 'GET' | 'POST', path: string, token: string) {
  const res = await fetch(`${runtime.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  const json = (res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : {}) as Json;
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json };
}

/** Upstream calls granted on a lane so far (the limiter's counted grants, through the stats route). */
const granted = async (lane: 'HIGH' | 'NORMAL') =>
  (await call('GET', '/api/v1/queue/stats', tokens.admin!)).json.by_priority[lane].total_requests as number;

/** Distinct VM ids on the registered vCenter: each would be its own job and its own vCenter call. */
const vmIds = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${vcenterId}:vm-${prefix}${i}`);

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
  db = await freshDatabase('ratelimit_http');
  await migrate(db.postgres, { vmPartitions: 2 });
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-ratelimit-http-'));
  [redisService, vcsim] = await Promise.all([
    startRedis({ dir: join(stateDir, 'redis') }),
    startTestVcsim({ vms: 4, password }),
  ]);
  const issuer = await loadTestIssuer(stateDir);
  for (const name of ['alice', 'bob', 'carol'])
    tokens[name] = await issuer.mint(['viewer'], { subject: `${name}-${tag}` });
  tokens.admin = await issuer.mint(['admin'], { subject: `admin-${tag}` });
  runtime = await startLocalRuntime({
    root: resolve(import.meta.dirname, '../..'),
    issuer,
    services: { ...db.services, redisUrl: redisService.url },
    tablePrefix: db.name,
    env: {
      SECRET_STORE: `file:${join(stateDir, 'secrets.json')}`,
      BLOB_DIR: join(stateDir, 'blobs'),
      LOG_LEVEL: 'WARN',
      // One token a minute after the burst: nothing refills while a test runs.
      RATE_LIMIT_VM_REFRESH: `1/${burst}`,
      RATE_LIMIT_THUMBNAIL_LOAD: `1/${burst}`,
    },
  });
  const created = await fetch(`${runtime.httpUrl}/api/v1/vcenters`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: vcenterId,
      url: vcsim.url,
      username: vcsim.username,
      password,
      insecure: true,
      syncMode: 'polling',
      syncIntervalSeconds: 86_400,
    }),
  });
  expect(created.status).toBe(201);
}, 180_000);

afterAll(async () => {
  for (const restore of restores) restore();
  await runtime?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
  await redisService?.stop();
  await db?.dispose();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** The answers of `requests`, all sent at once, and the 429s among them. */
async function hammer(requests: Promise<Awaited<ReturnType<typeof call>>>[]) {
  const answers = await Promise.all(requests);
  const refused = answers.filter((a) => a.status === 429);
  return { answers, refused, through: answers.length - refused.length };
}

function expectTooMany(answer: Awaited<ReturnType<typeof call>>) {
  expect(answer.json).toMatchObject({ error: 'too_many_requests', message: expect.any(String) });
  expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number.isInteger(Number(answer.retryAfter))).toBe(true);
}

describe('per-principal rate limits over HTTP', () => {
  it('answers a viewer hammering refresh over distinct VMs 429 with Retry-After, and the vCenter sees no more', async () => {
    const before = await granted('HIGH');
    const { answers, refused, through } = await hammer(
      vmIds('a', 20).map((id) => call('POST', `/api/v1/vms/${id}/refresh`, tokens.alice!)),
    );
    expect(through).toBe(burst);
    expect(refused).toHaveLength(20 - burst);
    for (const answer of refused) expectTooMany(answer);
    // Those let through were the route's own answers (the VMs do not exist: 404 once the worker asked).
    for (const answer of answers.filter((a) => a.status !== 429))
      expect([200, 202, 404]).toContain(answer.status);
    // Only the requests let through reached the queue and the vCenter.
    expect((await granted('HIGH')) - before).toBeLessThanOrEqual(through);
    // The next one, still within the minute, is refused too.
    expectTooMany(await call('POST', `/api/v1/vms/${vcenterId}:vm-a99/refresh`, tokens.alice!));
  });

  it('leaves another viewer, and the same viewer on another route, unaffected', async () => {
    const other = await call('POST', `/api/v1/vms/${vcenterId}:vm-b0/refresh`, tokens.bob!);
    expect(other.status).not.toBe(429);
    const thumbnail = await call('GET', `/api/v1/vms/${vcenterId}:vm-a0/thumbnail`, tokens.alice!);
    expect(thumbnail.status).not.toBe(429);
    // Reads that cause no upstream work are never charged.
    expect((await call('GET', '/api/v1/vms?limit=1', tokens.alice!)).status).toBe(200);
  });

  it('charges thumbnail loads that miss the cache, and lets the NORMAL lane see no more', async () => {
    const before = await granted('NORMAL');
    // carol's burst, over distinct VMs: every one a miss.
    const { refused, through } = await hammer(
      vmIds('c', 12).map((id) => call('GET', `/api/v1/vms/${id}/thumbnail`, tokens.carol!)),
    );
    expect(through).toBe(burst);
    expect(refused).toHaveLength(12 - burst);
    for (const answer of refused) expectTooMany(answer);
    expect((await granted('NORMAL')) - before).toBeLessThanOrEqual(through);
  });

  it('limits per container with Redis stopped, and logs the outage once', async () => {
    logLines.length = 0;
    await redisService.stop();
    const dave = tokens.bob!; // bob spent one refresh token above: the container's own bucket starts full
    const answers = [];
    for (const id of vmIds('d', 10)) answers.push(await call('POST', `/api/v1/vms/${id}/refresh`, dave));
    const refused = answers.filter((a) => a.status === 429);
    // The container's bucket: the burst through (failing without Redis, but not limited), then refusals.
    expect(answers.length - refused.length).toBe(burst);
    expect(answers.slice(burst).every((a) => a.status === 429)).toBe(true);
    for (const answer of refused) expectTooMany(answer);
    const outage = logLines.filter((line) => line.includes('rate limiter: Redis unavailable'));
    expect(outage).toHaveLength(1);
    expect(outage[0]).not.toContain('bob');
  });
});
