// Integration tests — interactive VM operations over the local runtime: the ops routes and lane workers against
// a real vcsim and Redis, with the shared limiter, the tiered cache (L3 in a temporary directory) and the SQS
// FIFO lanes. Deadlines, not fixed sleeps, so a loaded machine slows the tests without failing them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { freePort } from '../../infra/local/services/index.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import type { Lane } from '../../shared/ops/lanes.ts';
import { type Lease, Limiter } from '../../shared/ops/limiter.ts';
import { StaticVcenterSessions, setVcenterSessions } from '../../shared/ops/sessions.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const settings = { maxConcurrent: 4, minIntervalMs: 40 };
const vcenterId = 'vc-ops';
let ns: TestNamespace;
let db: TestDatabase;
let runtime: LocalRuntime;
let vcsim: VcsimService;
let vcsimPort: number;
let stateDir: string;
let viewer: string;
let operator: string;
let vms: string[];
let sqs: SQSClient;

/**
 * Every limiter attempt on the test's vCenter, as the lane workers and the API make them: the runtime runs
 * them in this process, so the limiter's prototype sees them. Grants carry Redis's clock (`grantedAt`);
 * `askedAt`/`answeredAt` are this process's clock (the same machine clock) around the script's run.
 */
interface LimiterAttempt {
  readonly lane: Lane;
  readonly waiterId: string | undefined;
  readonly waiterTtlMs: number;
  readonly askedAt: number;
  readonly answeredAt: number;
  readonly lease: Lease | undefined;
  /** The limiter's minimum gap between grants: min_interval plus its spacing guard. */
  readonly spacingMs: number;
  readonly minIntervalMs: number;
}
const attempts: LimiterAttempt[] = [];
/** Grants handed back unused (their call never left): they spend no spacing. */
const handedBack = new Set<string>();
const { tryAcquire, handBack } = Limiter.prototype;

function recordLimiterAttempts(): void {
  Limiter.prototype.tryAcquire = async function (this: Limiter, ...args: Parameters<Limiter['tryAcquire']>) {
    const [target, lane, options = {}] = args;
    const askedAt = Date.now();
    const attempt = await tryAcquire.apply(this, args);
    if (target === vcenterId) {
      attempts.push({
        lane,
        waiterId: options.waiterId,
        waiterTtlMs: options.waiterTtlMs ?? 0,
        askedAt,
        answeredAt: Date.now(),
        lease: attempt.granted ? attempt.lease : undefined,
        spacingMs: this.minIntervalMs + this.spacingGuardMs,
        minIntervalMs: this.minIntervalMs,
      });
    }
    return attempt;
  };
  Limiter.prototype.handBack = function (this: Limiter, lease: Lease) {
    handedBack.add(lease.id);
    return handBack.call(this, lease);
  };
}

/** Grants (from `from` on) whose call went out, in grant order on Redis's clock. */
const sentGrants = (from: number) =>
  attempts
    .slice(from)
    .filter(
      (a): a is LimiterAttempt & { lease: Lease } => a.lease !== undefined && !handedBack.has(a.lease.id),
    )
    .sort((a, b) => a.lease.grantedAt - b.lease.grantedAt);

const vcsimOptions = () => ({ vms: 40, port: vcsimPort, delays: { screen: 250, AcquireTicket: 20 } });

beforeAll(async () => {
  recordLimiterAttempts();
  ns = await freshNamespace('ops');
  // A migrated database: console opens are recorded in its audit trail before the ticket is handed out.
  db = await freshDatabase('ops');
  await migrate(db.postgres, { vmPartitions: 2 });
  vcsimPort = await freePort();
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-ops-'));
  vcsim = await startTestVcsim(vcsimOptions());
  setVcenterSessions(
    new StaticVcenterSessions().register(vcenterId, {
      url: vcsim.url,
      username: vcsim.username,
      password: vcsim.password,
      insecure: true,
    }),
  );
  const client = await VsphereClient.connect({
    url: vcsim.url,
    username: vcsim.username,
    password: vcsim.password,
    insecure: true,
    pooled: false,
  });
  vms = [];
  for await (const vm of client.retrieve({
    types: ['VirtualMachine'],
    properties: { VirtualMachine: ['name'] },
  })) {
    vms.push(vm.moid);
  }
  await client.close();
  const issuer = await loadTestIssuer(stateDir);
  viewer = await issuer.mint(['viewer']);
  operator = await issuer.mint(['operator']);
  runtime = await startLocalRuntime({
    root: resolve(import.meta.dirname, '../..'),
    issuer,
    services: db.services,
    tablePrefix: `vfleet-${ns.id}`,
    env: {
      ESXI_MAX_CONCURRENT: String(settings.maxConcurrent),
      ESXI_MIN_INTERVAL: String(settings.minIntervalMs / 1000),
      THUMBNAIL_CACHE_TTL: '2',
      VFLEET_KEY_PREFIX: ns.redisKeyPrefix,
      BLOB_DIR: join(stateDir, 'blobs'),
    },
  });
  sqs = new SQSClient({
    endpoint: runtime.sqsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}, 120_000);

afterAll(async () => {
  Object.assign(Limiter.prototype, { tryAcquire, handBack });
  setVcenterSessions(undefined);
  sqs?.destroy();
  await runtime?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
  await ns?.dispose();
  await db?.dispose();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const thumbnail = (moid: string, headers: Record<string, string> = {}) =>
  fetch(`${runtime.httpUrl}/api/v1/vms/${vcenterId}:${moid}/thumbnail`, {
    headers: { authorization: `Bearer ${viewer}`, ...headers },
  });

/** Fetches until the thumbnail answers 200 (first loads may answer 503 + Retry-After while running). */
async function thumbnailEventually(moid: string, deadlineMs = 20_000): Promise<Response> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const res = await thumbnail(moid);
    if (res.status === 200 || Date.now() > deadline) return res;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 20_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('interactive VM operations through the lanes', () => {
  it('collapses duplicate requests into one upstream screen call and answers ETag/304', async () => {
    await vcsim.resetStats();
    const moid = vms[0]!;
    const answers = await Promise.all(Array.from({ length: 20 }, () => thumbnailEventually(moid)));
    const bodies = await Promise.all(answers.map(async (res) => Buffer.from(await res.arrayBuffer())));

    expect(answers.map((res) => res.status)).toEqual(new Array(20).fill(200));
    expect(bodies[0]!.subarray(1, 4).toString()).toBe('PNG');
    expect(new Set(bodies.map((b) => b.toString('base64'))).size).toBe(1);
    expect((await vcsim.stats()).screen.served).toBe(1);
    const etag = answers[0]!.headers.get('etag')!;
    const again = await thumbnail(moid, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.headers.get('x-cache')).toBe('hit');
    expect(again.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
  });

  it('holds max_concurrent and min_interval at vcsim while several workers load many thumbnails', async () => {
    await vcsim.resetStats();
    const from = attempts.length;
    const batch = vms.slice(1, 25);
    const answers = await Promise.all(batch.map((moid) => thumbnailEventually(moid, 40_000)));
    const stats = await vcsim.stats();

    expect(answers.every((res) => res.status === 200)).toBe(true);
    expect(stats.screen.served).toBe(batch.length);
    // A screen call is in flight at vcsim only while its lease is held, so this holds at vcsim exactly.
    expect(stats.screen.maxInFlight).toBeGreaterThan(1);
    expect(stats.screen.maxInFlight).toBeLessThanOrEqual(settings.maxConcurrent);
    // Every call vcsim saw went out on a grant of its own, and the grants are spaced on Redis's clock by at
    // least min_interval (plus the limiter's guard): the spacing the limiter holds, whatever the load.
    const grants = sentGrants(from);
    expect(grants).toHaveLength(stats.screen.calls);
    expect(grants.every((g) => g.minIntervalMs === settings.minIntervalMs)).toBe(true);
    const gaps = grants.slice(1).map((g, i) => g.lease.grantedAt - grants[i]!.lease.grantedAt);
    expect(gaps.filter((gap, i) => gap < grants[i + 1]!.spacingMs)).toEqual([]);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(settings.minIntervalMs);
  }, 60_000);

  it('never lets a LOW backlog starve CRITICAL console opens', async () => {
    // A backlog of LOW refreshes, each a slow screen, then console opens while it drains.
    await vcsim.resetStats();
    const from = attempts.length;
    const now = Date.now();
    const low = vms.slice(25, 40);
    for (let i = 0; i < low.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: runtime.queueUrl('ops-low'),
          Entries: low.slice(i, i + 10).map((moid, j) => ({
            Id: String(j),
            MessageBody: JSON.stringify({
              v: 1,
              type: 'thumbnail',
              vmId: `${vcenterId}:${moid}`,
              lane: 'LOW',
              enqueuedAt: now,
            }),
            MessageGroupId: `thumb:${moid}`,
            MessageDeduplicationId: `low-${moid}-${now}`,
          })),
        }),
      );
    }
    await until('LOW calls in flight', async () =>
      (await vcsim.stats()).screen.inFlight > 0 ? true : undefined,
    );
    const opens = await Promise.all(
      vms.slice(0, 5).map((moid) =>
        fetch(`${runtime.httpUrl}/api/v1/vms/${vcenterId}:${moid}/console`, {
          method: 'POST',
          headers: { authorization: `Bearer ${operator}` },
        }),
      ),
    );
    const tickets = (await Promise.all(opens.map((res) => res.json()))) as {
      ticket: string;
      url: string;
      expiresAt: string;
      waitedMs: number;
    }[];
    const during = await vcsim.stats();

    expect(opens.map((res) => res.status)).toEqual([200, 200, 200, 200, 200]);
    for (const t of tickets) {
      expect(t.url).toMatch(/^wss:\/\/.+\/ticket\//);
      expect(Date.parse(t.expiresAt)).toBeGreaterThan(Date.now());
    }
    expect(during.screen.served).toBeLessThan(low.length);
    // LOW never held more than its share (4 slots - 2 of headroom).
    expect(during.screen.maxInFlight).toBeLessThanOrEqual(2);

    // Lower lanes never sit in front of a waiting CRITICAL: no lower-lane grant falls inside a span in which a
    // CRITICAL waiter was surely registered at Redis. A refused attempt registers (or renews) its waiter
    // before its answer comes back, for waiterTtlMs from the script's run (which began after askedAt), until
    // that waiter's grant; the strict comparisons leave out grants in the same millisecond as either end.
    const seen = attempts.slice(from);
    const waits = seen.flatMap((a, i) => {
      if (a.lane !== 'CRITICAL' || a.lease || !a.waiterId || a.waiterTtlMs <= 0) return [];
      const granted = seen.slice(i + 1).find((b) => b.waiterId === a.waiterId && b.lease)?.lease;
      const end = Math.min(a.askedAt + a.waiterTtlMs, granted?.grantedAt ?? Number.POSITIVE_INFINITY);
      return a.answeredAt < end ? [{ start: a.answeredAt, end }] : [];
    });
    const whileCriticalWaits = (t: number) => waits.some((w) => w.start < t && t < w.end);
    const lowerGrants = seen.filter((a) => a.lane !== 'CRITICAL' && a.lease);
    expect(waits.length).toBeGreaterThan(0);
    // LOW asked while a CRITICAL waited (so the order was put to the test), and was refused.
    const lowAsked = seen.filter(
      (a) => a.lane === 'LOW' && waits.some((w) => w.start < a.askedAt && a.answeredAt < w.end),
    );
    expect(lowAsked.length).toBeGreaterThan(0);
    expect(lowAsked.filter((a) => a.lease)).toEqual([]);
    expect(lowerGrants.filter((a) => whileCriticalWaits(a.lease!.grantedAt)).map((a) => a.lane)).toEqual([]);
    // Each answer's waitedMs is the counted wait of the grant its ticket call went out on.
    const criticalGrants = sentGrants(from).filter((g) => g.lane === 'CRITICAL');
    expect(criticalGrants).toHaveLength(5);
    const counted = criticalGrants.map((g) => g.lease.waitMs ?? 0).sort((a, b) => a - b);
    expect(tickets.map((t) => t.waitedMs).sort((a, b) => a - b)).toEqual(counted);
    const stats = (await (
      await fetch(`${runtime.httpUrl}/api/v1/queue/stats`, { headers: { authorization: `Bearer ${viewer}` } })
    ).json()) as {
      max_concurrent: number;
      by_priority: Record<string, { total_requests: number; avg_wait_time: number; p99_wait_time: number }>;
      cache: { thumbnail_count: number; thumbnail_ttl: number; hit_ratio: number };
    };
    expect(stats.max_concurrent).toBe(4);
    expect(stats.by_priority.CRITICAL!.total_requests).toBe(5);
    // The lane's figures are those waits (seconds): the average exactly, p99 never above the longest.
    const sum = counted.reduce((total, ms) => total + ms, 0);
    expect(stats.by_priority.CRITICAL!.avg_wait_time).toBe(Math.round(sum / 5) / 1000);
    expect(stats.by_priority.CRITICAL!.p99_wait_time).toBeLessThanOrEqual(Math.max(...counted) / 1000);
    expect(stats.by_priority.NORMAL!.total_requests).toBeGreaterThanOrEqual(25);
    expect(stats.cache.thumbnail_ttl).toBe(2);
    expect(stats.cache.thumbnail_count).toBeGreaterThan(0);
    expect(stats.cache.hit_ratio).toBeGreaterThan(0);
    // The backlog drains afterwards.
    await until('LOW backlog drained', async () =>
      (await vcsim.stats()).screen.served >= low.length ? true : undefined,
    );
  }, 60_000);

  it('hands a job without a slot back to its queue, past its receive budget, without losing it to the DLQ', async () => {
    // Every slot a NORMAL job could take is held (as by calls of other Lambdas) for a while.
    const redis = new Redis(ns.services.redisUrl);
    const limiter = new Limiter({
      redis,
      maxConcurrent: settings.maxConcurrent,
      minIntervalMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    const held = [];
    for (let i = 0; i < settings.maxConcurrent; i++) {
      const attempt = await limiter.tryAcquire(vcenterId, 'CRITICAL', { leaseTtlMs: 60_000 });
      if (attempt.granted) held.push(attempt.lease);
    }
    try {
      await vcsim.resetStats();
      const moid = vms[1]!;
      // Past its TTL (2 s) and stale window (2 s) since the limits test loaded it: only a NORMAL load renews it.
      const first = await thumbnail(moid);
      await first.arrayBuffer();
      // The job waits in its queue (in flight between receives), visible in the stats as NORMAL waiting.
      await until('the NORMAL job waiting', async () => {
        const res = await fetch(`${runtime.httpUrl}/api/v1/queue/stats`, {
          headers: { authorization: `Bearer ${viewer}` },
        });
        const stats = (await res.json()) as { by_priority: { NORMAL: { waiting: number } } };
        return stats.by_priority.NORMAL.waiting > 0 ? true : undefined;
      });
      // Each pass is a 1 s inline wait and 1 s of visibility: by now it has been received more than
      // maxReceiveCount (3) times, which without the re-send would have moved it to the DLQ.
      await new Promise((r) => setTimeout(r, 7_000));
      expect((await vcsim.stats()).screen.served).toBe(0);
    } finally {
      for (const lease of held) await limiter.release(lease);
      redis.disconnect();
    }
    await until('a fresh thumbnail once the slots are free', async () => {
      const res = await thumbnail(vms[1]!);
      await res.arrayBuffer();
      return res.status === 200 && res.headers.get('x-cache') !== 'stale' ? true : undefined;
    });
    expect((await vcsim.stats()).screen.served).toBe(1);
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: runtime.deadLetterQueueUrl('ops-normal'), WaitTimeSeconds: 0 }),
    );
    expect(dead.Messages ?? []).toHaveLength(0);
  }, 60_000);

  it('serves the last PNG, flagged stale, while vcsim is down, and fresh again once it is back', async () => {
    const moid = vms[0]!;
    const before = Buffer.from(await (await thumbnailEventually(moid)).arrayBuffer());
    await vcsim.stop();
    // Past TTL (2 s) + stale window (2 s): only the last-known-good tier still has it.
    const stale = await until('a stale answer', async () => {
      const res = await thumbnail(moid);
      if (res.headers.get('x-cache') === 'stale' && Number(res.headers.get('age')) >= 4) return res;
      await res.arrayBuffer();
      return undefined;
    });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer()).equals(before)).toBe(true);

    vcsim = await startTestVcsim(vcsimOptions());
    const fresh = await until(
      'a fresh answer',
      async () => {
        const res = await thumbnail(moid);
        const age = Number(res.headers.get('age'));
        if (res.status === 200 && res.headers.get('x-cache') !== 'stale' && age < 2) return res;
        await res.arrayBuffer();
        return undefined;
      },
      30_000,
    );
    expect(Buffer.from(await fresh.arrayBuffer()).equals(before)).toBe(true);
    expect((await vcsim.stats()).screen.served).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
