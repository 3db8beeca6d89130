// Integration tests — the per-target limiter and the tiered cache on the real test Redis (and a temporary
// directory as the blob store): a crashed holder's lease is reclaimed, lane headroom holds, several limiter
// clients (as several Lambdas) never exceed the limits together, and one credential's entries are invisible to
// another's.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  binaryCodec,
  credentialScope,
  directoryBlobStore,
  jsonCodec,
  TieredCache,
} from '../../shared/cache/index.ts';
import { createGenerationBumper, createTieredQueryCache } from '../../shared/inventory/query-cache.ts';
import { Limiter } from '../../shared/ops/limiter.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

let ns: TestNamespace;
let dir: string;
const clients: Redis[] = [];
const client = () => {
  const c = new Redis(ns.services.redisUrl);
  clients.push(c);
  return c;
};

beforeAll(async () => {
  ns = await freshNamespace('opslim');
  dir = await mkdtemp(join(tmpdir(), 'vfleet-cache-'));
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await ns?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('per-target limiter', () => {
  it("reclaims a crashed holder's lease once it expires", async () => {
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 3,
      minIntervalMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    // Three CRITICAL leases that are never released: their holders "crashed".
    const held = await Promise.all(
      [0, 1, 2].map(() => limiter.tryAcquire('vc-crash', 'CRITICAL', { leaseTtlMs: 600 })),
    );
    expect(held.every((a) => a.granted)).toBe(true);
    const blocked = await limiter.tryAcquire('vc-crash', 'CRITICAL');
    expect(blocked.granted).toBe(false);

    const lease = await limiter.acquire('vc-crash', 'CRITICAL', { timeoutMs: 10_000 });
    // Granted only once a crashed lease had expired: on Redis's clock, 600 ms after the first of them.
    const expiries = held.map((a) => (a.granted ? a.lease.grantedAt + 600 : Number.POSITIVE_INFINITY));
    expect(lease.grantedAt).toBeGreaterThanOrEqual(Math.min(...expiries));
    expect(lease.lane).toBe('CRITICAL');
    expect(await limiter.release(lease)).toBe(true);
  });

  it('keeps headroom: LOW stops short of the last slots, CRITICAL still gets one', async () => {
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 8,
      minIntervalMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    const low = [];
    for (let i = 0; i < 10; i++) low.push(await limiter.tryAcquire('vc-head', 'LOW'));
    const normal = [];
    for (let i = 0; i < 3; i++) normal.push(await limiter.tryAcquire('vc-head', 'NORMAL'));
    const critical = await limiter.tryAcquire('vc-head', 'CRITICAL');

    expect(low.filter((a) => a.granted)).toHaveLength(6);
    expect(normal.filter((a) => a.granted)).toHaveLength(1);
    expect(critical.granted).toBe(true);
    const snapshot = await limiter.snapshot('vc-head');
    expect(snapshot.activeByLane).toEqual({ CRITICAL: 1, HIGH: 0, NORMAL: 1, LOW: 6 });
  });

  it('takes back an unused grant: no lease, no spacing spent, no wait counted', async () => {
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 3,
      minIntervalMs: 10_000,
      keyPrefix: ns.redisKeyPrefix,
    });
    const first = await limiter.tryAcquire('vc-back', 'NORMAL', { requestedAt: Date.now() });
    expect(first.granted).toBe(true);
    if (!first.granted) return;
    expect((await limiter.tryAcquire('vc-back', 'NORMAL')).granted).toBe(false);

    await limiter.handBack(first.lease);
    const snapshot = await limiter.snapshot('vc-back');
    expect(snapshot.activeByLane.NORMAL).toBe(0);
    expect(snapshot.waits.NORMAL.count).toBe(0);
    expect(snapshot.waits.NORMAL.buckets.every((n) => n === 0)).toBe(true);
    // The 10 s spacing ran from the unused grant; handed back, the next caller needs no wait.
    expect((await limiter.tryAcquire('vc-back', 'NORMAL')).granted).toBe(true);
  });

  it('takes back a grant whose counted wait was 0 ms', async () => {
    // A request time ahead of Redis's clock makes the counted wait exactly 0: the case CI once tripped on.
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 3,
      minIntervalMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    const grant = await limiter.tryAcquire('vc-zero', 'HIGH', { requestedAt: Date.now() + 60_000 });
    expect(grant.granted).toBe(true);
    if (!grant.granted) return;
    expect(grant.lease.waitMs).toBe(0);
    await limiter.handBack(grant.lease);
    const { waits, activeByLane } = await limiter.snapshot('vc-zero');
    expect(activeByLane.HIGH).toBe(0);
    expect(waits.HIGH.count).toBe(0);
    expect(waits.HIGH.sumMs).toBe(0);
  });

  it('admits a call through withAdmission: one counted grant, a fresh one on a resend, released at the end', async () => {
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 3,
      minIntervalMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    const granted: number[] = [];
    const result = await limiter.withAdmission(
      'vc-admit',
      'NORMAL',
      { timeoutMs: 1_000, onGrant: (lease) => granted.push(lease.grantedAt) },
      async (admit) => {
        await admit(); // the first send
        expect((await limiter.snapshot('vc-admit')).activeByLane.NORMAL).toBe(1);
        await admit(); // a client retry sends again: the first grant goes back, a fresh one is taken
        expect((await limiter.snapshot('vc-admit')).activeByLane.NORMAL).toBe(1);
        return 'done';
      },
    );
    expect(result).toBe('done');
    expect(granted).toHaveLength(1);
    const after = await limiter.snapshot('vc-admit');
    expect(after.activeByLane.NORMAL).toBe(0);
    expect(after.waits.NORMAL.count).toBe(1);
  });

  it('takes back a withdrawn admission (its wait uncounted) and counts the wait of the one the call goes out on', async () => {
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 3,
      minIntervalMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    let counted: number | undefined;
    await limiter.withAdmission(
      'vc-withdraw',
      'HIGH',
      { timeoutMs: 1_000, requestedAt: Date.now() - 500, onGrant: (lease) => (counted = lease.waitMs) },
      async (admit) => {
        const late = await admit();
        await late.withdraw?.(); // the transport found it past its sendBy
        expect((await limiter.snapshot('vc-withdraw')).waits.HIGH.count).toBe(0);
        await admit();
      },
    );
    const { waits, activeByLane } = await limiter.snapshot('vc-withdraw');
    expect(activeByLane.HIGH).toBe(0);
    expect(waits.HIGH.count).toBe(1);
    expect(counted).toBeGreaterThanOrEqual(500);
    expect(limiter.lateGrants).toBe(1);
  });

  it('hands back a grant that arrives after its call gave up', async () => {
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 3,
      minIntervalMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    // Every slot NORMAL may take is held, so the admission waits.
    const holder = await limiter.acquire('vc-late', 'NORMAL', { timeoutMs: 1_000 });
    let admission: Promise<unknown> | undefined;
    const call = limiter.withAdmission('vc-late', 'NORMAL', { timeoutMs: 5_000 }, async (admit) => {
      admission = admit();
      throw new Error('aborted by its caller'); // gives up while the admission is pending
    });
    await expect(call).rejects.toThrow('aborted by its caller');
    await limiter.release(holder);
    await admission;
    const snapshot = await limiter.snapshot('vc-late');
    expect(snapshot.activeByLane.NORMAL).toBe(0);
    expect(snapshot.waits.NORMAL.count).toBe(1); // the holder's; the handed-back grant is not counted
  });

  it('serves the waiters of a lane first come, first served', async () => {
    const limiter = new Limiter({
      redis: client(),
      maxConcurrent: 8,
      minIntervalMs: 150,
      spacingGuardMs: 0,
      keyPrefix: ns.redisKeyPrefix,
    });
    const first = await limiter.acquire('vc-fifo', 'CRITICAL', { timeoutMs: 1_000 });
    const order: string[] = [];
    const wait = (name: string, requestedAt: number) =>
      limiter.acquire('vc-fifo', 'CRITICAL', { timeoutMs: 5_000, requestedAt }).then((lease) => {
        order.push(name);
        return limiter.release(lease);
      });
    // B starts polling first; A, starting later, arrived earlier (its request time); C arrived last.
    const b = wait('B', Date.now());
    await new Promise((r) => setTimeout(r, 20));
    const a = wait('A', Date.now() - 1_000);
    await new Promise((r) => setTimeout(r, 20));
    const c = wait('C', Date.now());
    await Promise.all([a, b, c, limiter.release(first)]);
    expect(order).toEqual(['A', 'B', 'C']);
  });

  it('holds max_concurrent and min_interval across several clients, and counts every wait', async () => {
    // Five "Lambdas", each with its own connection, each running calls of 30 ms as fast as it may.
    const limiters = Array.from(
      { length: 5 },
      () =>
        new Limiter({ redis: client(), maxConcurrent: 4, minIntervalMs: 20, keyPrefix: ns.redisKeyPrefix }),
    );
    let inFlight = 0;
    let maxInFlight = 0;
    const grants: number[] = [];
    await Promise.all(
      limiters.flatMap((limiter, i) =>
        Array.from({ length: 8 }, () =>
          limiter.withSlot(
            'vc-many',
            i % 2 === 0 ? 'NORMAL' : 'LOW',
            { timeoutMs: 20_000 },
            async (lease) => {
              grants.push(lease.grantedAt);
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              await new Promise((r) => setTimeout(r, 30));
              inFlight--;
            },
          ),
        ),
      ),
    );
    grants.sort((a, b) => a - b);
    const gaps = grants.slice(1).map((t, i) => t - (grants[i] ?? 0));

    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(20);
    const snapshot = await limiters[0]!.snapshot('vc-many');
    expect(snapshot.waits.NORMAL.count + snapshot.waits.LOW.count).toBe(40);
    expect(snapshot.activeByLane).toEqual({ CRITICAL: 0, HIGH: 0, NORMAL: 0, LOW: 0 });
  });
});

describe('tiered cache', () => {
  it("keeps one credential's entries invisible to another, in every tier", async () => {
    const blobs = directoryBlobStore(dir);
    const cache = new TieredCache<Buffer>({
      namespace: 'thumbnail',
      redis: client(),
      codec: binaryCodec,
      ttlSeconds: 60,
      staleSeconds: 60,
      blobs,
      keyPrefix: ns.redisKeyPrefix,
    });
    const alice = credentialScope({ url: 'https://vc-1.example.com/sdk', username: 'alice' });
    const bob = credentialScope({ url: 'https://vc-1.example.com/sdk', username: 'bob' });
    await cache.put({ scope: alice, key: 'vc-1:vm-1' }, Buffer.from('alice sees this'));

    expect((await cache.peek({ scope: alice, key: 'vc-1:vm-1' }))?.value.toString()).toBe('alice sees this');
    expect(await cache.peek({ scope: bob, key: 'vc-1:vm-1' })).toBeUndefined();
    // Not through another process's L1 either, nor through L3.
    const other = new TieredCache<Buffer>({
      namespace: 'thumbnail',
      redis: client(),
      codec: binaryCodec,
      ttlSeconds: 60,
      staleSeconds: 60,
      blobs,
      keyPrefix: ns.redisKeyPrefix,
    });
    expect(await other.peek({ scope: bob, key: 'vc-1:vm-1' })).toBeUndefined();
    expect((await other.peek({ scope: alice, key: 'vc-1:vm-1' }))?.tier).toBe('l2');
  });

  it('loads once across processes, serves stale (flagged) after the TTL, and the last-known-good when loads fail', async () => {
    let now = 1_000_000;
    const make = () =>
      new TieredCache<unknown>({
        namespace: 'single',
        redis: client(),
        codec: jsonCodec,
        ttlSeconds: 10,
        staleSeconds: 10,
        blobs: directoryBlobStore(dir),
        keyPrefix: ns.redisKeyPrefix,
        // Entries carry storedAt from this clock; Redis expiries stay real (20 s), so the test is quick.
        now: () => now,
      });
    const caches = [make(), make(), make()];
    const key = { scope: credentialScope({ url: 'https://vc-2/sdk', username: 'u' }), key: 'list' };
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 100));
      return { vms: loads };
    };

    const first = await Promise.all(caches.flatMap((c) => [c.get(key, load), c.get(key, load)]));
    expect(loads).toBe(1);
    expect(first.filter((a) => a.status === 'miss')).toHaveLength(1);
    expect(first.every((a) => JSON.stringify(a.value) === '{"vms":1}')).toBe(true);

    now += 12_000;
    const stale = await caches[1]!.get(key, async () => {
      throw Object.assign(new Error('down'), { code: 'ECONNREFUSED' });
    });
    expect(stale).toMatchObject({ status: 'stale', ageMs: 12_000, error: 'ECONNREFUSED' });

    // Past TTL + stale window: Redis would have dropped it; the blob store still has the last-known-good.
    now += 20_000;
    const l2 = await client().keys(`${ns.redisKeyPrefix}c:single:{*}`);
    expect(l2).toHaveLength(1);
    await client().del(...l2);
    const fresh = make();
    const lkg = await fresh.get(key, async () => {
      throw Object.assign(new Error('down'), { code: 'ETIMEDOUT' });
    });
    expect(lkg).toMatchObject({ status: 'stale', value: { vms: 1 } });
    expect(lkg.ageMs).toBe(32_000);
  });

  it('backs the inventory QueryCache: one query per key across processes, new keys after a sync bumps the generation', async () => {
    const vcenterId = `vc-${ns.id.replace(/_/g, '-')}`;
    const adapters = [0, 1, 2].map(() =>
      createTieredQueryCache({ redis: client(), ttlSeconds: 30, keyPrefix: ns.redisKeyPrefix }),
    );
    const request = { kind: 'vms', vcenterId, normalisedQuery: '{"limit":100}' };
    let queries = 0;
    let keysWhileLoading: string[] = [];
    const load = async () => {
      queries++;
      keysWhileLoading = await client().keys(`${ns.redisKeyPrefix}c:inventory:{*`);
      await new Promise((r) => setTimeout(r, 50));
      return `{"items":[${queries}],"cached":true}`;
    };

    const answers = await Promise.all(
      adapters.flatMap((a) => [a.readJson(request, load), a.readJson(request, load)]),
    );
    expect(queries).toBe(1);
    expect(answers.filter((a) => !a.cached)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.json))).toEqual(new Set(['{"items":[1],"cached":true}']));
    // The single-flight lock of an entry shares its hash slot (cluster mode): same `{…}` tag, `:lock` after it.
    const entries = (await client().keys(`${ns.redisKeyPrefix}c:inventory:{*}`)).filter(
      (k) => !k.includes('}:'),
    );
    expect(entries).toHaveLength(1);
    expect(keysWhileLoading.filter((k) => k.endsWith(':lock'))).toEqual([`${entries[0]}:lock`]);
    expect(await adapters[0]!.read({ ...request, kind: 'summary' }, async () => ({ total: 7 }))).toEqual({
      value: { total: 7 },
      cached: false,
    });

    await createGenerationBumper(client()).bump(vcenterId);
    const after = await adapters[1]!.readJson(request, load);
    expect(after).toEqual({ json: '{"items":[2],"cached":true}', cached: false });
  });
});
