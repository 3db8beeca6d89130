// Cache — the tiered cache every capability reads through: L1 an in-process LRU, L2 Redis (shared by every
// Lambda), L3 the blob store holding the last-known-good value. Entries are fresh for `ttl`, servable as stale
// for `stale` more seconds (while one refresh runs), and kept in L3 beyond that for when the source is down.
// One loader per key across processes (a Redis lock); the others wait briefly, or take stale.
import { createHash, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RedisClient } from '#shared/clients';
import { logger } from '#shared/observability';
import type { BlobStore } from './blob-store.ts';
import { type Codec, decodeEntry, type EntryMeta, encodeEntry, etagOf } from './codec.ts';

/** How an answer was served. */
export type CacheStatus = 'hit' | 'miss' | 'stale';

/** Where a key lives: the credential scope (see `credentialScope`) and the key within it. */
export interface CacheKey {
  readonly scope: string;
  /** Any text; hashed before it reaches Redis or the blob store. */
  readonly key: string;
}

/** Age class of an entry: fresh (< ttl), stale (< ttl + stale window), expired (older: last-known-good only). */
export type Freshness = 'fresh' | 'stale' | 'expired';

/** An entry found by {@link TieredCache.peek}. */
export interface CacheEntry<T> {
  readonly value: T;
  readonly meta: EntryMeta;
  readonly freshness: Freshness;
  readonly ageMs: number;
  readonly tier: 'l1' | 'l2' | 'l3';
}

/** A value with how it was served; every answer says hit/miss/stale and its age. */
export interface CacheAnswer<T> {
  readonly value: T;
  readonly status: CacheStatus;
  /** Milliseconds since the value was loaded from its source. */
  readonly ageMs: number;
  readonly storedAt: number;
  readonly etag: string;
  /** Why a stale value was served instead of a fresh one, when a refresh failed (e.g. `NetworkError`). */
  readonly error?: string;
  /** The tier that held a value not loaded by this call (`l1` in-process, `l2` Redis, `l3` blob store). */
  readonly tier?: CacheEntry<T>['tier'];
}

/** The loader failed and there was nothing, not even a last-known-good value, to serve instead. */
export class CacheLoadError extends Error {
  override readonly name = 'CacheLoadError';
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface TieredCacheOptions<T> {
  /** Family of values (`thumbnail`, `vm-list`); part of every key, and the unit of counts and hit ratio. */
  readonly namespace: string;
  readonly redis: RedisClient;
  readonly codec: Codec<T>;
  /** Seconds a value is fresh. */
  readonly ttlSeconds: number;
  /** Seconds after the TTL during which the value is still served, flagged stale, while it is refreshed. */
  readonly staleSeconds: number;
  /** L3: keeps the last-known-good value of every key. @default none (no L3) */
  readonly blobs?: BlobStore;
  /** Bytes of decoded values kept in this process; 0 turns L1 off. @default 32 MiB */
  readonly l1MaxBytes?: number;
  /** Payloads larger than this are gzipped in L2/L3 (when that saves space). @default 8 KiB */
  readonly compressAboveBytes?: number;
  /** Larger values are served but not cached. @default 5 MiB */
  readonly maxEntryBytes?: number;
  /** Lifetime of the single-flight lock (longer than any load). @default 15 s */
  readonly lockMs?: number;
  /** How long a caller waits for another process's load before loading itself. @default 3 s */
  readonly waitMs?: number;
  /** How long a failed load is remembered, so waiters and new callers fall back at once. @default 5 s */
  readonly failMs?: number;
  /**
   * Called when a stale value is served: schedule its refresh (e.g. a LOW-lane job) and return. Without it, the
   * caller that wins the key's lock reloads inline and the others get the stale value.
   */
  readonly onStale?: (key: CacheKey) => Promise<void>;
  /** Prefix of every Redis key (tests isolate themselves with it); no braces. @default `VFLEET_KEY_PREFIX` or '' */
  readonly keyPrefix?: string;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Options of one {@link TieredCache.get}. */
export interface GetOptions<T> {
  /**
   * When what `value` was built from last changed (epoch ms; 0 for never): an entry stored (its load begun)
   * no later than that is treated as expired. The cache's tags (`CacheTags.changedAt`) answer it.
   */
  readonly invalidatedAt?: (value: T) => Promise<number>;
}

/** A held single-flight lock on one key. */
export interface CacheLock {
  release(): Promise<void>;
}

interface L1Entry<T> {
  readonly value: T;
  readonly meta: EntryMeta;
}

const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
type ScriptedRedis = RedisClient & { cacheReleaseLock(key: string, token: string): Promise<number> };
function scripted(client: RedisClient): ScriptedRedis {
  const withScripts = client as ScriptedRedis;
  if (typeof withScripts.cacheReleaseLock !== 'function') {
    client.defineCommand('cacheReleaseLock', { numberOfKeys: 1, lua: releaseScript });
  }
  return withScripts;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const errorCode = (error: unknown) =>
  (error as { code?: unknown }).code && typeof (error as { code?: unknown }).code === 'string'
    ? String((error as { code: string }).code)
    : ((error as Error)?.name ?? 'Error');

/** The prefix of every Redis key written by vfleet's ops and cache modules (`VFLEET_KEY_PREFIX`). */
export function keyPrefixFromEnv(): string {
  const prefix = process.env.VFLEET_KEY_PREFIX ?? '';
  if (/[{}]/.test(prefix)) throw new Error('VFLEET_KEY_PREFIX must not contain braces (they mark hash tags)');
  return prefix;
}

/** A tiered cache for one namespace. See the module comment for the tiers and their roles. */
export class TieredCache<T> {
  readonly namespace: string;
  readonly ttlMs: number;
  readonly staleMs: number;
  private readonly redis: ScriptedRedis;
  private readonly l1: LRUCache<string, L1Entry<T>> | undefined;
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly inflight = new Map<string, Promise<CacheAnswer<T>>>();
  private readonly waiting = new Map<string, Promise<CacheEntry<T> | { failed: string } | undefined>>();

  constructor(private readonly options: TieredCacheOptions<T>) {
    if (!/^[a-z0-9-]+$/.test(options.namespace))
      throw new Error(`cache namespace "${options.namespace}" must be [a-z0-9-]+`);
    if (!(options.ttlSeconds > 0) || !(options.staleSeconds >= 0)) {
      throw new Error(`cache ${options.namespace}: ttlSeconds must be > 0 and staleSeconds >= 0`);
    }
    this.namespace = options.namespace;
    this.ttlMs = options.ttlSeconds * 1000;
    this.staleMs = options.staleSeconds * 1000;
    this.redis = scripted(options.redis);
    this.prefix = options.keyPrefix ?? keyPrefixFromEnv();
    this.now = options.now ?? Date.now;
    const l1MaxBytes = options.l1MaxBytes ?? 32 * 1024 * 1024;
    this.l1 =
      l1MaxBytes > 0
        ? new LRUCache<string, L1Entry<T>>({
            maxSize: l1MaxBytes,
            sizeCalculation: (entry) => Math.max(1, entry.meta.size),
            ttl: this.ttlMs + this.staleMs,
          })
        : undefined;
  }

  /** Stable id of a key: namespace, scope and a digest of the key (raw keys never reach Redis or S3). */
  private id(key: CacheKey): string {
    if (!/^[A-Za-z0-9_-]+$/.test(key.scope)) throw new Error('cache scope must be a credentialScope() value');
    const digest = createHash('sha256').update(key.key).digest('base64url').slice(0, 22);
    return `${key.scope}:${digest}`;
  }

  // The hash tag keeps a value, its lock and its failure marker in one slot (cluster mode).
  private redisKey(id: string, suffix = ''): string {
    return `${this.prefix}c:${this.namespace}:{${id}}${suffix}`;
  }
  private get indexKey(): string {
    return `${this.prefix}c:${this.namespace}:index`;
  }
  private get statsKey(): string {
    return `${this.prefix}c:${this.namespace}:stats`;
  }
  private blobKey(id: string): string {
    return `${this.namespace}/${id.replace(':', '/')}`;
  }

  private freshness(meta: EntryMeta): { freshness: Freshness; ageMs: number } {
    const ageMs = Math.max(0, this.now() - meta.storedAt);
    const freshness: Freshness =
      ageMs < this.ttlMs ? 'fresh' : ageMs < this.ttlMs + this.staleMs ? 'stale' : 'expired';
    return { freshness, ageMs };
  }

  private entry(value: T, meta: EntryMeta, tier: CacheEntry<T>['tier']): CacheEntry<T> {
    return { value, meta, tier, ...this.freshness(meta) };
  }

  private decode(bytes: Buffer | null | undefined): L1Entry<T> | undefined {
    if (!bytes) return undefined;
    const decoded = decodeEntry(bytes);
    if (!decoded) return undefined;
    try {
      return { value: this.options.codec.decode(decoded.payload), meta: decoded.meta };
    } catch {
      return undefined;
    }
  }

  /**
   * The newest entry of `key` in any tier, without loading: L1, then L2, then (only when neither holds a
   * servable value) the last-known-good in L3, which is copied back into L2 while it is still servable.
   */
  async peek(key: CacheKey): Promise<CacheEntry<T> | undefined> {
    const id = this.id(key);
    const local = this.l1?.get(id);
    if (local && this.freshness(local.meta).freshness === 'fresh')
      return this.entry(local.value, local.meta, 'l1');
    let best: CacheEntry<T> | undefined = local ? this.entry(local.value, local.meta, 'l1') : undefined;
    try {
      const shared = this.decode(await this.redis.getBuffer(this.redisKey(id)));
      if (shared && (!best || shared.meta.storedAt > best.meta.storedAt)) {
        best = this.entry(shared.value, shared.meta, 'l2');
        this.l1?.set(id, shared);
      }
    } catch (error) {
      logger.warn('cache L2 read failed', { namespace: this.namespace, error: error as Error });
    }
    if (best && best.freshness !== 'expired') return best;
    const blobs = this.options.blobs;
    if (!blobs) return best;
    try {
      const durable = this.decode(await blobs.get(this.blobKey(id)));
      if (durable && (!best || durable.meta.storedAt > best.meta.storedAt)) {
        best = this.entry(durable.value, durable.meta, 'l3');
        if (best.freshness !== 'expired')
          await this.writeShared(id, durable.meta, this.options.codec.encode(durable.value));
      }
    } catch (error) {
      logger.warn('cache L3 read failed', { namespace: this.namespace, error: error as Error });
    }
    return best;
  }

  /** Stores a value loaded from its source in every tier, and clears the key's failure marker. */
  async put(key: CacheKey, value: T, storedAt = this.now()): Promise<CacheEntry<T>> {
    const id = this.id(key);
    const payload = this.options.codec.encode(value);
    const meta: EntryMeta = { storedAt, etag: etagOf(payload), size: payload.length };
    if (payload.length > (this.options.maxEntryBytes ?? 5 * 1024 * 1024)) {
      return this.entry(value, meta, 'l1');
    }
    this.l1?.set(id, { value, meta });
    await this.writeShared(id, meta, payload);
    const blobs = this.options.blobs;
    if (blobs) {
      const envelope = encodeEntry(payload, meta, this.options.compressAboveBytes ?? 8 * 1024);
      await blobs.put(this.blobKey(id), envelope).catch((error: unknown) => {
        logger.warn('cache L3 write failed', { namespace: this.namespace, error: error as Error });
      });
    }
    return this.entry(value, meta, 'l1');
  }

  private async writeShared(id: string, meta: EntryMeta, payload: Buffer): Promise<void> {
    const remaining = meta.storedAt + this.ttlMs + this.staleMs - this.now();
    if (remaining <= 0) return;
    const envelope = encodeEntry(payload, meta, this.options.compressAboveBytes ?? 8 * 1024);
    try {
      await Promise.all([
        this.redis.set(this.redisKey(id), envelope, 'PX', Math.ceil(remaining)),
        this.redis.del(this.redisKey(id, ':fail')),
        this.redis.zadd(this.indexKey, meta.storedAt + this.ttlMs + this.staleMs, id),
      ]);
    } catch (error) {
      logger.warn('cache L2 write failed', { namespace: this.namespace, error: error as Error });
    }
  }

  /** Takes the key's single-flight lock, or answers undefined when another loader holds it. */
  async tryLock(key: CacheKey): Promise<CacheLock | undefined> {
    const lockKey = this.redisKey(this.id(key), ':lock');
    const token = randomUUID();
    const taken = await this.redis.set(lockKey, token, 'PX', this.options.lockMs ?? 15_000, 'NX');
    if (taken !== 'OK') return undefined;
    return {
      release: async () => {
        await this.redis.cacheReleaseLock(lockKey, token).catch(() => undefined);
      },
    };
  }

  /** Remembers for `failMs` that loading `key` failed with `code`, so waiters stop waiting. */
  async markFailed(key: CacheKey, code: string): Promise<void> {
    await this.redis
      .set(this.redisKey(this.id(key), ':fail'), code.slice(0, 64), 'PX', this.options.failMs ?? 5_000)
      .catch(() => undefined);
  }

  /** The failure code remembered for `key`, if a load failed within `failMs`. */
  async failure(key: CacheKey): Promise<string | undefined> {
    return (await this.redis.get(this.redisKey(this.id(key), ':fail')).catch(() => null)) ?? undefined;
  }

  /**
   * Waits up to `timeoutMs` for a fresh entry newer than `newerThan` (epoch ms) to reach L2. Ends early with
   * `{ failed }` when the load fails, and, with `whileLocked` (a caller that found the key's lock held), with
   * undefined once the lock is released and no such entry came: the loader stored nothing (a value over
   * `maxEntryBytes`, or a failed L2 write), so waiting longer cannot help. Concurrent waiters in one process
   * share one poll loop.
   */
  waitFor(
    key: CacheKey,
    options: { newerThan: number; timeoutMs: number; whileLocked?: boolean },
  ): Promise<CacheEntry<T> | { failed: string } | undefined> {
    const id = this.id(key);
    const coalesce = `${id}|${options.newerThan}|${options.whileLocked === true}`;
    let pending = this.waiting.get(coalesce);
    if (!pending) {
      pending = this.poll(id, options).finally(() => this.waiting.delete(coalesce));
      this.waiting.set(coalesce, pending);
    }
    return pending;
  }

  private async poll(
    id: string,
    options: { newerThan: number; timeoutMs: number; whileLocked?: boolean },
  ): Promise<CacheEntry<T> | { failed: string } | undefined> {
    const deadline = Date.now() + options.timeoutMs;
    let delay = 10;
    for (;;) {
      // The lock is asked first (same connection, same slot, so in order): "no lock, no entry" then surely
      // means the loader finished without storing.
      const [locked, [value, failed]] = await Promise.all([
        options.whileLocked ? this.redis.exists(this.redisKey(id, ':lock')) : Promise.resolve(1),
        this.redis.mgetBuffer(this.redisKey(id), this.redisKey(id, ':fail')),
      ]).catch(() => [1, [null, null]] as [number, (Buffer | null)[]]);
      const found = this.decode(value);
      if (found && found.meta.storedAt > options.newerThan) {
        this.l1?.set(id, found);
        return this.entry(found.value, found.meta, 'l2');
      }
      if (failed) return { failed: failed.toString('utf8') };
      if (locked === 0) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await sleep(Math.min(delay, left));
      delay = Math.min(100, delay * 1.5);
    }
  }

  /** Counts an answer for the namespace's hit ratio (fire and forget: a lost count only skews the ratio). */
  count(status: CacheStatus): void {
    this.redis.hincrby(this.statsKey, status, 1).catch((error: unknown) => {
      logger.warn('cache hit count not recorded', { namespace: this.namespace, error: error as Error });
    });
  }

  /** Turns an entry into an answer and counts it. */
  answer(entry: CacheEntry<T>, status: CacheStatus, error?: string): CacheAnswer<T> {
    this.count(status);
    return {
      value: entry.value,
      status,
      ageMs: entry.ageMs,
      storedAt: entry.meta.storedAt,
      etag: entry.meta.etag,
      ...(status === 'miss' ? {} : { tier: entry.tier }),
      ...(error === undefined ? {} : { error }),
    };
  }

  /**
   * Read-through: a fresh value is a hit; a stale one is served (flagged) while it is refreshed (`onStale`,
   * or inline by the one caller that wins the lock); otherwise one caller across every process loads it and
   * the others wait for that load. When loading fails, the last-known-good value is served as stale.
   * @throws CacheLoadError when the load failed and there is no value at all to fall back on
   */
  async get(key: CacheKey, load: () => Promise<T>, options: GetOptions<T> = {}): Promise<CacheAnswer<T>> {
    let found = await this.peek(key);
    if (found && found.freshness !== 'expired' && options.invalidatedAt) {
      // Selective invalidation: a value loaded before something it depends on changed is reloaded at once,
      // and kept only as last-known-good (served stale if the reload fails).
      const changedAt = await options.invalidatedAt(found.value).catch(() => 0);
      if (changedAt >= found.meta.storedAt) found = { ...found, freshness: 'expired' };
    }
    if (found?.freshness === 'fresh') return this.answer(found, 'hit');
    if (found?.freshness === 'stale' && this.options.onStale) {
      await this.options.onStale(key).catch((error: unknown) => {
        logger.warn('cache refresh could not be scheduled', {
          namespace: this.namespace,
          error: error as Error,
        });
      });
      return this.answer(found, 'stale');
    }
    const id = this.id(key);
    const running = this.inflight.get(id);
    if (running) {
      // Another call in this process is loading it: take stale at once, or share its load.
      if (found?.freshness === 'stale') return this.answer(found, 'stale');
      const shared = await running.catch(() => undefined);
      if (shared) return { ...shared, status: 'hit' };
    }
    const loading = this.loadOnce(key, found, load).finally(() => this.inflight.delete(id));
    this.inflight.set(id, loading);
    return loading;
  }

  private async loadOnce(key: CacheKey, found: CacheEntry<T> | undefined, load: () => Promise<T>) {
    // The source failed moments ago (a failure marker lives `failMs`): the last-known-good value at once,
    // rather than every caller trying, and waiting on, a source that is down.
    const failed = found ? await this.failure(key) : undefined;
    if (found && failed) return this.answer(found, 'stale', failed);
    const lock = await this.tryLock(key).catch(() => 'no-redis' as const);
    if (lock === undefined) {
      // Someone else is loading: stale is good enough; otherwise wait for their result.
      if (found?.freshness === 'stale') return this.answer(found, 'stale');
      const waited = await this.waitFor(key, {
        newerThan: found?.meta.storedAt ?? 0,
        timeoutMs: this.options.waitMs ?? 3_000,
        whileLocked: true,
      });
      if (waited && 'value' in waited) return this.answer(waited, 'hit');
      if (waited && found) return this.answer(found, 'stale', waited.failed);
      if (waited)
        throw new CacheLoadError(`Loading ${this.namespace} failed: ${waited.failed}`, waited.failed);
      // The other loader is slow, died, or stored nothing: load ourselves rather than fail the caller.
    }
    try {
      // Stamped with the time the load began: a change after that (see GetOptions.invalidatedAt) outdates it.
      const startedAt = this.now();
      const value = await load();
      const stored = await this.put(key, value, startedAt);
      return this.answer(stored, 'miss');
    } catch (error) {
      const code = errorCode(error);
      await this.markFailed(key, code);
      if (found) return this.answer(found, 'stale', code);
      throw new CacheLoadError(`Loading ${this.namespace} failed: ${code}`, code, { cause: error });
    } finally {
      if (lock && lock !== 'no-redis') await lock.release();
    }
  }

  /** Entries of this namespace currently in L2 (fresh or stale). */
  async size(): Promise<number> {
    const now = this.now();
    await this.redis.zremrangebyscore(this.indexKey, '-inf', now);
    return this.redis.zcount(this.indexKey, now, '+inf');
  }

  /** Answers counted so far by status. */
  async counts(): Promise<Record<CacheStatus, number>> {
    const raw = await this.redis.hgetall(this.statsKey);
    return { hit: Number(raw.hit ?? 0), miss: Number(raw.miss ?? 0), stale: Number(raw.stale ?? 0) };
  }

  /** Drops the in-process tier (tests; a process that learned its L1 is outdated). */
  clearLocal(): void {
    this.l1?.clear();
  }
}
