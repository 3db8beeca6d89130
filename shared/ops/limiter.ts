// Ops — secondary adapter (Redis): the per-target limiter every Lambda shares. One atomic Lua script grants a
// lease on a target (vCenter or host) when the lane's share of `maxConcurrent` has room, `minInterval` has
// passed since the last grant, no higher lane is waiting, and no earlier waiter of its own lane (first come,
// first served); it reclaims leases whose holder died (they expire), and counts each grant's wait per lane.
// Every key carries the target as hash tag (`lim:{vc-42}:…`), so the script touches one slot and runs
// unchanged on ElastiCache in cluster mode.
import { randomUUID } from 'node:crypto';
import { keyPrefixFromEnv } from '#shared/cache';
import type { RedisClient } from '#shared/clients';
import { logger } from '#shared/observability';
import type { Admission } from '#shared/vsphere';
import { type Lane, laneCapacity, laneIndex, lanes } from './lanes.ts';
import { countersFromHash, emptyWaitsByLane, type WaitsByLane, waitBucketBoundsMs } from './wait-stats.ts';

// KEYS[1..4] leases per lane (zset: lease id → expiry ms), KEYS[5..8] waiters per lane (zset: waiter id →
// expiry ms), KEYS[9] start time of the last grant, KEYS[10] wait statistics (hash), KEYS[11..14] waiters per
// lane in order of arrival (zset: waiter id → arrival ms): within a lane, first come, first served.
// ARGV: lane index, lane capacity, min interval ms, lease ttl ms, lease id, requested-at ms (0: do not count),
// waiter id ('' : none), waiter ttl ms, arrival ms, then the histogram bucket bounds.
// Returns {1, now, wait ms (-1 if not counted), active, previous grant} or {0, retry-after ms, active, now}.
const acquireScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lane = tonumber(ARGV[1])
local active = 0
for i = 1, 4 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  active = active + redis.call('ZCARD', KEYS[i])
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4 + i], '-inf', now)
  if #gone > 0 then
    redis.call('ZREM', KEYS[4 + i], unpack(gone))
    redis.call('ZREM', KEYS[10 + i], unpack(gone))
  end
end
local nextAt = tonumber(redis.call('GET', KEYS[9]) or '0') + tonumber(ARGV[3])
local retry = 0
for i = 1, lane do
  if redis.call('ZCARD', KEYS[4 + i]) > 0 then retry = 5 end
end
if retry == 0 then
  local head = redis.call('ZRANGE', KEYS[11 + lane], 0, 0)[1]
  if head and head ~= ARGV[7] then retry = math.max(5, nextAt - now) end
end
if retry == 0 and active >= tonumber(ARGV[2]) then retry = 10 end
if retry == 0 and now < nextAt then retry = nextAt - now end
if retry == 0 then
  local last = redis.call('GET', KEYS[9]) or '0'
  redis.call('ZADD', KEYS[1 + lane], now + tonumber(ARGV[4]), ARGV[5])
  redis.call('PEXPIRE', KEYS[1 + lane], tonumber(ARGV[4]) + 1000)
  redis.call('SET', KEYS[9], now, 'PX', math.max(tonumber(ARGV[3]) * 2, 1000))
  if ARGV[7] ~= '' then
    redis.call('ZREM', KEYS[5 + lane], ARGV[7])
    redis.call('ZREM', KEYS[11 + lane], ARGV[7])
  end
  local wait = -1
  local requested = tonumber(ARGV[6])
  if requested > 0 then
    wait = math.max(0, now - requested)
    local p = ARGV[1] .. ':'
    redis.call('HINCRBY', KEYS[10], p .. 'count', 1)
    redis.call('HINCRBY', KEYS[10], p .. 'sum', wait)
    if wait > tonumber(redis.call('HGET', KEYS[10], p .. 'max') or '-1') then
      redis.call('HSET', KEYS[10], p .. 'max', wait)
    end
    local bucket = #ARGV - 9
    for i = 10, #ARGV do
      if wait <= tonumber(ARGV[i]) then bucket = i - 10 break end
    end
    redis.call('HINCRBY', KEYS[10], p .. 'h' .. bucket, 1)
    redis.call('HSETNX', KEYS[10], 'since', now)
  end
  return {1, now, wait, active + 1, last}
end
if ARGV[7] ~= '' and tonumber(ARGV[8]) > 0 then
  redis.call('ZADD', KEYS[5 + lane], now + tonumber(ARGV[8]), ARGV[7])
  redis.call('PEXPIRE', KEYS[5 + lane], tonumber(ARGV[8]) + 1000)
  redis.call('ZADD', KEYS[11 + lane], 'NX', tonumber(ARGV[9]), ARGV[7])
  redis.call('PEXPIRE', KEYS[11 + lane], tonumber(ARGV[8]) + 1000)
end
return {0, retry, active, now}`;

// Hands back a grant whose caller never made its call: frees the lease, restores the previous grant time when
// no grant came since (no call happened, so the spacing runs from the one before), and uncounts its wait.
// KEYS: the lease zset, last grant, stats. ARGV: lease id, granted-at, previous grant, its PX, lane index,
// wait ms (-1: not counted), histogram bucket.
const returnScript = `
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[2] then
  if ARGV[3] == '0' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) end
end
local wait = tonumber(ARGV[6])
if wait >= 0 then
  local p = ARGV[5] .. ':'
  redis.call('HINCRBY', KEYS[3], p .. 'count', -1)
  -- Not -wait: Lua prints -0 as "-0", which HINCRBY rejects.
  redis.call('HINCRBY', KEYS[3], p .. 'sum', 0 - wait)
  redis.call('HINCRBY', KEYS[3], p .. 'h' .. ARGV[7], -1)
end
return 1`;

type LimiterRedis = RedisClient & {
  opsLimiterAcquire(...args: (string | number)[]): Promise<(number | string)[]>;
  opsLimiterReturn(...args: (string | number)[]): Promise<number>;
};

/** A granted slot on a target; hand it back with {@link Limiter.release}. */
export interface Lease {
  readonly id: string;
  readonly target: string;
  readonly lane: Lane;
  /** Redis clock (epoch ms) at the grant. */
  readonly grantedAt: number;
  /** Milliseconds from `requestedAt` to the grant, when the caller asked for it to be counted. */
  readonly waitMs: number | undefined;
  /** `performance.now()` by which the call must start to keep the spacing (see `spacingGuardMs`). */
  readonly startBy: number;
  /** The target's grant time before this one, restored if this grant is handed back unused. */
  readonly previousGrant?: string;
}

/** Outcome of one attempt. */
export type Attempt =
  | { readonly granted: true; readonly lease: Lease }
  | { readonly granted: false; readonly retryAfterMs: number; readonly active: number };

/** No slot came free before the caller's deadline. */
export class LimiterTimeoutError extends Error {
  override readonly name = 'LimiterTimeoutError';
  constructor(
    readonly target: string,
    readonly lane: Lane,
    readonly waitedMs: number,
  ) {
    super(`No ${lane} slot on ${target} within ${waitedMs} ms`);
  }
}

export interface LimiterOptions {
  readonly redis: RedisClient;
  /** Most calls in flight per target. */
  readonly maxConcurrent: number;
  /** Smallest gap between two grants on a target, ms. */
  readonly minIntervalMs: number;
  /** A lease not released within this is reclaimed (its holder is presumed dead). @default 30 s */
  readonly leaseTtlMs?: number;
  /**
   * Extra spacing between grants, and the most a granted caller may take to start its call (else it hands the
   * grant back and asks again). Grants are spaced exactly on Redis's clock, but calls leave their callers a
   * little later, each by its own delay (the grant's way back from Redis, the event loop); with every call
   * starting within `guard` of its grant and grants `minInterval + guard` apart, calls reach the target at
   * least `minInterval` apart. Connection set-up is not part of it: calls take their slot once connected
   * ({@link Limiter.withAdmission}).
   * @default 10 % of minInterval, at least 5 ms (0 when minInterval is 0)
   */
  readonly spacingGuardMs?: number;
  /** @default `VFLEET_KEY_PREFIX` or '' */
  readonly keyPrefix?: string;
}

/** What the limiter holds for one target right now, and its wait counters. */
export interface TargetSnapshot {
  readonly target: string;
  readonly activeByLane: Record<Lane, number>;
  readonly waitersByLane: Record<Lane, number>;
  readonly waits: WaitsByLane;
  /** Redis clock (epoch ms) of the first counted wait. */
  readonly since: number | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const targetPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The shared per-target limiter. */
export class Limiter {
  readonly maxConcurrent: number;
  readonly minIntervalMs: number;
  readonly leaseTtlMs: number;
  readonly spacingGuardMs: number;
  private readonly redis: LimiterRedis;
  private readonly prefix: string;
  private readonly known = new Set<string>();
  /** Grants handed back because their caller could not start within the guard (see `spacingGuardMs`). */
  lateGrants = 0;

  constructor(options: LimiterOptions) {
    if (!Number.isInteger(options.maxConcurrent) || options.maxConcurrent < 3) {
      throw new Error('Limiter: maxConcurrent must be an integer >= 3 (lane headroom needs three slots)');
    }
    this.maxConcurrent = options.maxConcurrent;
    this.minIntervalMs = Math.max(0, Math.round(options.minIntervalMs));
    this.leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.spacingGuardMs =
      options.spacingGuardMs ??
      (this.minIntervalMs > 0 ? Math.max(5, Math.round(this.minIntervalMs * 0.1)) : 0);
    this.prefix = options.keyPrefix ?? keyPrefixFromEnv();
    this.redis = options.redis as LimiterRedis;
    if (typeof this.redis.opsLimiterAcquire !== 'function') {
      options.redis.defineCommand('opsLimiterAcquire', { numberOfKeys: 14, lua: acquireScript });
      options.redis.defineCommand('opsLimiterReturn', { numberOfKeys: 3, lua: returnScript });
    }
  }

  private keys(target: string): string[] {
    if (!targetPattern.test(target)) throw new Error(`Limiter: invalid target id ${JSON.stringify(target)}`);
    const base = `${this.prefix}lim:{${target}}`;
    return [
      ...lanes.map((_, i) => `${base}:lease:${i}`),
      ...lanes.map((_, i) => `${base}:wait:${i}`),
      `${base}:last`,
      `${base}:stats`,
      ...lanes.map((_, i) => `${base}:order:${i}`),
    ];
  }

  private remember(target: string): void {
    if (this.known.has(target)) return;
    this.known.add(target);
    // Fire and forget (stats only); on failure it is forgotten, so the next call records it again.
    this.redis.sadd(`${this.prefix}lim:targets`, target).catch((error: unknown) => {
      this.known.delete(target);
      logger.warn('limiter target not recorded', { target, error: error as Error });
    });
  }

  /**
   * One attempt. `requestedAt` (epoch ms) makes the grant count its wait in the lane's statistics; `waiterId`
   * registers a denied caller as waiting for `waiterTtlMs`, which holds back lower lanes meanwhile.
   */
  async tryAcquire(
    target: string,
    lane: Lane,
    options: {
      requestedAt?: number;
      waiterId?: string;
      waiterTtlMs?: number;
      /** Epoch ms the waiter began waiting: its place in its lane's line. @default now */
      arrivedAt?: number;
      leaseTtlMs?: number;
    } = {},
  ): Promise<Attempt> {
    const keys = this.keys(target);
    this.remember(target);
    const id = randomUUID();
    const asked = performance.now();
    const [granted, a, b, , previous] = await this.redis.opsLimiterAcquire(
      ...keys,
      laneIndex(lane),
      laneCapacity(lane, this.maxConcurrent),
      this.minIntervalMs + this.spacingGuardMs,
      options.leaseTtlMs ?? this.leaseTtlMs,
      id,
      Math.round(options.requestedAt ?? 0),
      options.waiterId ?? '',
      Math.round(options.waiterTtlMs ?? 0),
      Math.round(options.arrivedAt ?? Date.now()),
      ...waitBucketBoundsMs,
    );
    if (granted === 1) {
      return {
        granted: true,
        lease: {
          id,
          target,
          lane,
          grantedAt: Number(a),
          waitMs: Number(b) >= 0 ? Number(b) : undefined,
          // The grant happened after `asked`: measured from there, the bound is conservative.
          startBy: asked + this.spacingGuardMs,
          previousGrant: String(previous ?? '0'),
        },
      };
    }
    return { granted: false, retryAfterMs: Math.max(1, Number(a)), active: Number(b) };
  }

  /**
   * Waits for a slot until `timeoutMs` has passed, registered as a waiter of `lane` so that lower lanes hold
   * back meanwhile. The wait from `requestedAt` (default: now) is counted in the lane's statistics unless
   * `countWait` is false.
   * @throws LimiterTimeoutError when no slot came free in time
   */
  async acquire(
    target: string,
    lane: Lane,
    options: { timeoutMs: number; requestedAt?: number; countWait?: boolean; signal?: AbortSignal },
  ): Promise<Lease> {
    // 0 tells the script not to count this wait.
    const requestedAt = options.countWait === false ? 0 : (options.requestedAt ?? Date.now());
    const started = Date.now();
    const deadline = started + options.timeoutMs;
    const waiterId = randomUUID();
    const arrivedAt = options.requestedAt ?? started;
    for (;;) {
      // A waiter record outlives the next retry a little; if this Lambda dies, it lapses on its own.
      const attempt = await this.tryAcquire(target, lane, {
        requestedAt,
        waiterId,
        waiterTtlMs: 250,
        arrivedAt,
      });
      if (attempt.granted) {
        if (this.spacingGuardMs === 0 || performance.now() <= attempt.lease.startBy) return attempt.lease;
        // Too late to start within the guard (a busy event loop): starting now could crowd the next call.
        this.lateGrants++;
        await this.handBack(attempt.lease).catch(() => undefined);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0 || options.signal?.aborted) {
        const keys = this.keys(target);
        await Promise.all(
          [keys[4 + laneIndex(lane)], keys[10 + laneIndex(lane)]].map((key) =>
            this.redis.zrem(key ?? '', waiterId).catch(() => undefined),
          ),
        );
        throw new LimiterTimeoutError(target, lane, Date.now() - started);
      }
      await sleep(Math.min(attempt.retryAfterMs, 25, left));
    }
  }

  /**
   * Runs an upstream call that takes its slot through the transport's admission hook (`CallOptions.admit` of
   * the vSphere client): the slot is asked for with a connection ready, and the request is written only if
   * that happens within the grant's guard (else the grant is handed back and asked for again), so neither
   * connection set-up nor a busy event loop eats into the spacing. The slot is released however the call
   * ends. A resend of the same call (a client retry) takes a fresh grant. `onGrant` sees, once the call has
   * ended, the grant it went out on (its counted wait). @throws LimiterTimeoutError (from the call) when no
   * slot came free within `timeoutMs`
   */
  async withAdmission<R>(
    target: string,
    lane: Lane,
    options: { timeoutMs: number; requestedAt?: number; onGrant?: (lease: Lease) => void },
    call: (admit: () => Promise<Admission>) => Promise<R>,
  ): Promise<R> {
    let lease: Lease | undefined;
    let counted: Lease | undefined; // the grant whose wait is the caller's, while not handed back
    let ended = false;
    const admit = async (): Promise<Admission> => {
      if (lease) await this.release(lease).catch(() => undefined);
      lease = undefined;
      const granted = await this.acquire(target, lane, {
        timeoutMs: options.timeoutMs,
        ...(options.requestedAt === undefined ? {} : { requestedAt: options.requestedAt }),
        countWait: counted === undefined,
      });
      counted ??= granted;
      // The call gave up (aborted) while this grant was on its way: nothing will use it.
      if (ended) {
        await this.withdraw(granted);
        return {};
      }
      lease = granted;
      return {
        sendBy: granted.startBy,
        withdraw: async () => {
          if (lease !== granted) return;
          lease = undefined;
          if (counted === granted) counted = undefined;
          this.lateGrants++;
          await this.withdraw(granted);
        },
      };
    };
    try {
      return await call(admit);
    } finally {
      ended = true;
      if (counted) options.onGrant?.(counted);
      if (lease) await this.release(lease).catch(() => undefined);
    }
  }

  private withdraw(lease: Lease): Promise<void> {
    return this.handBack(lease).catch(() => undefined);
  }

  /** Returns a grant whose call was never made: no lease, no spacing spent, no wait counted. */
  async handBack(lease: Lease): Promise<void> {
    const keys = this.keys(lease.target);
    const wait = lease.waitMs ?? -1;
    const bucket = waitBucketBoundsMs.findIndex((bound) => wait <= bound);
    await this.redis.opsLimiterReturn(
      keys[laneIndex(lease.lane)] ?? '',
      keys[8] ?? '',
      keys[9] ?? '',
      lease.id,
      String(lease.grantedAt),
      lease.previousGrant ?? '0',
      Math.max((this.minIntervalMs + this.spacingGuardMs) * 2, 1000),
      laneIndex(lease.lane),
      wait,
      bucket < 0 ? waitBucketBoundsMs.length : bucket,
    );
  }

  /** Hands a lease back; false when it had already expired (the call outlived the lease TTL). */
  async release(lease: Lease): Promise<boolean> {
    const key = this.keys(lease.target)[laneIndex(lease.lane)] ?? '';
    return (await this.redis.zrem(key, lease.id)) === 1;
  }

  /** Runs `work` holding a slot (see {@link acquire}); the slot is released however `work` ends. */
  async withSlot<R>(
    target: string,
    lane: Lane,
    options: { timeoutMs: number; requestedAt?: number },
    work: (lease: Lease) => Promise<R>,
  ): Promise<R> {
    const lease = await this.acquire(target, lane, options);
    try {
      return await work(lease);
    } finally {
      await this.release(lease).catch(() => undefined);
    }
  }

  /** Targets this limiter (in any process) has seen. */
  async targets(): Promise<string[]> {
    return this.redis.smembers(`${this.prefix}lim:targets`);
  }

  /** Live leases, waiters and wait counters of one target (expired leases and waiters not counted). */
  async snapshot(target: string): Promise<TargetSnapshot> {
    const keys = this.keys(target);
    const now = Date.now();
    const [stats, ...counts] = await Promise.all([
      this.redis.hgetall(keys[9] ?? ''),
      ...keys.slice(0, 8).map((key) => this.redis.zcount(key, now, '+inf')),
    ]);
    const waits = emptyWaitsByLane();
    const activeByLane = {} as Record<Lane, number>;
    const waitersByLane = {} as Record<Lane, number>;
    lanes.forEach((lane, i) => {
      waits[lane] = countersFromHash(stats, i);
      activeByLane[lane] = counts[i] ?? 0;
      waitersByLane[lane] = counts[4 + i] ?? 0;
    });
    return {
      target,
      activeByLane,
      waitersByLane,
      waits,
      since: stats.since ? Number(stats.since) : undefined,
    };
  }
}
