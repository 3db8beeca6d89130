// Rate limits — secondary adapter (Redis) and its fallback: per-principal token buckets. One atomic Lua script
// refills and takes from a bucket on Redis's clock, so every container of every function shares one bucket per
// principal and class. The key carries a hash of the principal (never a token, never the subject itself) as hash
// tag (`rl:{<hash>}:<class>`): one slot, unchanged on ElastiCache in cluster mode. While Redis does not answer,
// each container limits on its own buckets in memory (a principal then gets up to one allowance per warm
// container), logged once when the outage starts and once when Redis answers again.
import { createHash } from 'node:crypto';
import { keyPrefixFromEnv } from '#shared/cache';
import type { RedisClient } from '#shared/clients';
import { logger } from '#shared/observability';
import type { BucketLimit, RateLimitClass, RateLimitSettings } from './settings.ts';

// KEYS[1] the bucket (hash: tokens, at). ARGV: burst, tokens per ms, cost.
// Returns {1, tokens left} or {0, ms until `cost` tokens are there}; tokens as a string (Lua numbers are
// truncated to integers on their way out).
const takeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
if tokens >= cost then
  tokens = tokens - cost
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
  -- Gone once it would be full again: an idle principal costs nothing.
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
  return {1, tostring(tokens)}
end
return {0, math.ceil((cost - tokens) / rate)}`;

type BucketRedis = RedisClient & {
  rateLimitTake(...args: (string | number)[]): Promise<(number | string)[]>;
};

/** The outcome of one take. */
export type Take =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Whole seconds until a token is there (at least 1): the `Retry-After`. */
      readonly retryAfterSeconds: number;
    };

/** Where the decision was made: the shared bucket, or this container's own while Redis is away. */
export type TakeSource = 'redis' | 'memory';

/** The key part of a principal: a hash of issuer and subject (a raw subject could be an e-mail address). */
export function principalKey(principal: { readonly subject: string; readonly issuer?: string }): string {
  return createHash('sha256')
    .update(`${principal.issuer ?? ''}\n${principal.subject}`)
    .digest('base64url')
    .slice(0, 22);
}

const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
const perMs = (limit: BucketLimit) => limit.perMinute / 60_000;

/** Token buckets in this process's memory (the fallback): the same arithmetic as the script, on `now()`. */
export class MemoryBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly now: () => number = Date.now,
    /** Most buckets kept; the least recently used one goes first (a container must not grow without bound). */
    private readonly maxBuckets = 10_000,
  ) {}

  take(key: string, limit: BucketLimit, cost = 1): Take {
    const now = this.now();
    const found = this.buckets.get(key);
    let tokens = found?.tokens ?? limit.burst;
    if (found && now > found.at) tokens = Math.min(limit.burst, tokens + (now - found.at) * perMs(limit));
    // Re-inserted, so the map's order is least recently used first.
    this.buckets.delete(key);
    if (tokens >= cost) {
      this.buckets.set(key, { tokens: tokens - cost, at: now });
      this.evict();
      return { allowed: true };
    }
    this.buckets.set(key, { tokens, at: Math.max(now, found?.at ?? now) });
    this.evict();
    return { allowed: false, retryAfterSeconds: retryAfter((cost - tokens) / perMs(limit)) };
  }

  clear(): void {
    this.buckets.clear();
  }

  private evict(): void {
    while (this.buckets.size > this.maxBuckets) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
  }
}

export interface PrincipalBucketsOptions {
  readonly redis: RedisClient;
  readonly settings: RateLimitSettings;
  /** @default `VFLEET_KEY_PREFIX` or '' */
  readonly keyPrefix?: string;
  /** A Redis answer slower than this counts as Redis being away. @default 250 ms */
  readonly redisTimeoutMs?: number;
  /** While Redis is away, it is asked again at most this often (the rest go straight to memory). @default 1 s */
  readonly retryRedisMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Per-principal token buckets: Redis's when it answers, this container's own while it does not. */
export class PrincipalBuckets {
  readonly settings: RateLimitSettings;
  private readonly redis: BucketRedis;
  private readonly prefix: string;
  private readonly redisTimeoutMs: number;
  private readonly retryRedisMs: number;
  private readonly now: () => number;
  private readonly memory: MemoryBuckets;
  /** When the outage began (undefined: Redis answers) and when Redis was last tried during it. */
  private outage: { since: number; triedAt: number } | undefined;

  constructor(options: PrincipalBucketsOptions) {
    this.settings = options.settings;
    this.prefix = options.keyPrefix ?? keyPrefixFromEnv();
    this.redisTimeoutMs = options.redisTimeoutMs ?? 250;
    this.retryRedisMs = options.retryRedisMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.memory = new MemoryBuckets(this.now);
    this.redis = options.redis as BucketRedis;
    if (typeof this.redis.rateLimitTake !== 'function') {
      options.redis.defineCommand('rateLimitTake', { numberOfKeys: 1, lua: takeScript });
    }
  }

  /** Whether the last decisions were made in memory (Redis away). */
  get degraded(): boolean {
    return this.outage !== undefined;
  }

  /** Takes one token of `cls` from the principal's bucket. Never throws for Redis: it falls back instead. */
  async take(
    principal: { readonly subject: string; readonly issuer?: string },
    cls: RateLimitClass,
  ): Promise<Take & { readonly source: TakeSource }> {
    const limit = this.settings[cls];
    const key = `${this.prefix}rl:{${principalKey(principal)}}:${cls}`;
    const now = this.now();
    if (!this.outage || now - this.outage.triedAt >= this.retryRedisMs) {
      if (this.outage) this.outage.triedAt = now;
      try {
        const taken = await this.takeFromRedis(key, limit);
        if (this.outage) {
          logger.info('rate limiter: Redis answers again; per-principal buckets are shared again', {
            outageMs: this.now() - this.outage.since,
          });
          this.outage = undefined;
          // What was counted in memory stays in memory: the shared buckets carry on from where they were.
          this.memory.clear();
        }
        return { ...taken, source: 'redis' };
      } catch (error) {
        if (!this.outage) {
          this.outage = { since: now, triedAt: now };
          logger.warn('rate limiter: Redis unavailable; limiting per container until it answers', {
            code: (error as NodeJS.ErrnoException).code ?? (error as Error).name,
          });
        }
      }
    }
    return { ...this.memory.take(key, limit), source: 'memory' };
  }

  private async takeFromRedis(key: string, limit: BucketLimit): Promise<Take> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('Redis did not answer in time'), { code: 'TIMEOUT' })),
        this.redisTimeoutMs,
      );
    });
    try {
      const answer = this.redis.rateLimitTake(key, limit.burst, perMs(limit), 1);
      // A late answer (or failure) after the deadline has nobody waiting for it.
      answer.catch(() => undefined);
      const [allowed, value] = await Promise.race([answer, deadline]);
      return Number(allowed) === 1
        ? { allowed: true }
        : { allowed: false, retryAfterSeconds: retryAfter(Number(value)) };
    } finally {
      clearTimeout(timer);
    }
  }
}
