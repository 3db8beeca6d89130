// Inventory — secondary adapter (Redis): the query cache in front of the reader and the sync generations
// that invalidate it. A cache key carries the generation of the vCenter the query is confined to (or the
// global generation for queries across vCenters), so a sync that bumps vCenter A's generation orphans exactly
// A's entries and the cross-vCenter ones; B's stay valid. Orphaned entries simply expire (TTL).
//
// Two QueryCaches: the Redis one (createRedisQueryCache) and the one production runs, on the tiered cache
// (createTieredQueryCache): N readers of one page cost one PostgreSQL query per TTL across every Lambda
// (single-flight), and a page past its TTL is served stale while one caller refreshes it. Keys keep the
// inventory's sync generations: a sync that bumps vCenter A's generation moves A's answers to new keys.
import { createHash } from 'node:crypto';
import { serviceScope, TieredCache, textCodec } from '#shared/cache';
import type { RedisClient } from '#shared/clients';
import { logger } from '#shared/observability';
import { loadOpsSettings } from '#shared/ops';

/** What a cached query is about: the cache key derives from these, never from raw user input. */
export interface CacheRequest {
  /** Family of the answer, e.g. `vms`, `vm`, `summary`; part of the key. */
  readonly kind: string;
  /** The one vCenter the answer depends on, or undefined when it spans every vCenter. */
  readonly vcenterId: string | undefined;
  /** Canonical text of the query (normalised filters, limit, position). Hashed, never stored raw. */
  readonly normalisedQuery: string;
}

/** An answer as JSON text, and whether this caller got it without running the query. */
export interface CachedJson {
  readonly json: string;
  readonly cached: boolean;
}

/** A query cache: answers from cache while the scope's generation is unchanged, else loads and stores. */
export interface QueryCache {
  read<T>(request: CacheRequest, load: () => Promise<T>): Promise<{ value: T; cached: boolean }>;
  /**
   * The same for an answer kept as JSON text: `load` returns the serialised answer and a hit returns the
   * stored text as is, so a hit costs no parse and no re-serialisation. Optional: callers fall back to
   * {@link QueryCache.read}.
   */
  readJson?(request: CacheRequest, load: () => Promise<string>): Promise<CachedJson>;
}

/** Bumps the generations a vCenter's data is cached under. */
export interface GenerationBumper {
  bump(vcenterId: string): Promise<void>;
}

// The key's format version: bump when the cached answer's shape changes, so old entries are never read.
// v2: entries are the reader's response bodies (with `"cached":true`), stored as text.
const keyVersion = 'v2';
const globalScope = 'global';

/** Redis key of a scope's generation: `inv:gen:{<vcenterId>}`, or `inv:gen:{global}` across vCenters. */
export function generationKey(vcenterId: string | undefined): string {
  return `inv:gen:{${vcenterId ?? globalScope}}`;
}

/**
 * Redis key of a cached answer. The hash tag is the scope, so an entry and its generation share a slot in
 * cluster mode (ElastiCache Serverless).
 */
export function cacheKey(request: CacheRequest, generation: string): string {
  const digest = createHash('sha256')
    .update(`${request.kind}\n${request.normalisedQuery}`)
    .digest('base64url');
  return `inv:q:${keyVersion}:{${request.vcenterId ?? globalScope}}:${generation}:${request.kind}:${digest}`;
}

/** Redis key of the single-flight lock of an entry: same hash tag, so same slot. */
export function lockKey(entryKey: string): string {
  return `${entryKey}:lock`;
}

// A missing generation (first use, or evicted) starts at Redis's clock in ms: never equal to a value that
// older entries may carry. A bump of a missing key jumps a second past that, ahead of any concurrent start.
const readGenerationScript = `
local g = redis.call('GET', KEYS[1])
if g then return g end
local t = redis.call('TIME')
redis.call('SET', KEYS[1], tostring(t[1] * 1000 + math.floor(t[2] / 1000)), 'NX')
return redis.call('GET', KEYS[1])`;

// The generation and, when it is still the one this process saw last (ARGV[1]), the entry stored under it
// (KEYS[2]): one round trip for a hit. Both keys share the scope's hash tag.
const readEntryScript = `
local g = redis.call('GET', KEYS[1])
if not g then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], tostring(t[1] * 1000 + math.floor(t[2] / 1000)), 'NX')
  return {redis.call('GET', KEYS[1]), false}
end
if g == ARGV[1] then return {g, redis.call('GET', KEYS[2])} end
return {g, false}`;

const bumpGenerationScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
local t = redis.call('TIME')
local g = t[1] * 1000 + math.floor(t[2] / 1000) + 1000
redis.call('SET', KEYS[1], tostring(g))
return g`;

// Releases a single-flight lock only if it is still ours (it may have expired and been taken by another).
const unlockScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type ScriptedRedis = RedisClient & {
  invReadGeneration(key: string): Promise<string>;
  invReadEntry(
    generationKey: string,
    entryKey: string,
    knownGeneration: string,
  ): Promise<[string, string | null]>;
  invBumpGeneration(key: string): Promise<number>;
  invUnlock(key: string, token: string): Promise<number>;
};

function scripted(client: RedisClient): ScriptedRedis {
  const withScripts = client as ScriptedRedis;
  // defineCommand runs EVALSHA and falls back to EVAL once per connection when the script is not loaded.
  if (typeof withScripts.invReadEntry !== 'function') {
    client.defineCommand('invReadGeneration', { numberOfKeys: 1, lua: readGenerationScript });
    client.defineCommand('invReadEntry', { numberOfKeys: 2, lua: readEntryScript });
    client.defineCommand('invBumpGeneration', { numberOfKeys: 1, lua: bumpGenerationScript });
    client.defineCommand('invUnlock', { numberOfKeys: 1, lua: unlockScript });
  }
  return withScripts;
}

/** Options for {@link createRedisQueryCache}. */
export interface RedisQueryCacheOptions {
  readonly redis: RedisClient;
  /** Lifetime of an entry; bounds how long an orphaned entry takes memory. */
  readonly ttlSeconds: number;
  /**
   * Answers larger than this are not cached (a huge summary would crowd out many small pages).
   * @default 2 MiB
   */
  readonly maxEntryBytes?: number;
  /**
   * Lifetime of a single-flight lock: bounds how long a loader that died holds the others back.
   * @default 4,000 ms
   */
  readonly lockMs?: number;
  /**
   * How long a caller that missed waits for another caller's load before running the query itself.
   * @default 2,000 ms
   */
  readonly maxWaitMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The Redis-backed query cache. A Redis failure never fails a query: the answer comes from the database,
 * marked `cached: false`, and the failure is logged.
 *
 * Misses are single-flight: concurrent misses of one key in this process share one load, and across
 * processes (Lambda containers) the first takes a short Redis lock and loads while the others poll for its
 * entry, each loading itself after `maxWaitMs` or as soon as the lock is gone without an entry.
 */
export function createRedisQueryCache(options: RedisQueryCacheOptions): QueryCache {
  const client = scripted(options.redis);
  const maxEntryBytes = options.maxEntryBytes ?? 2 * 1024 * 1024;
  const lockMs = options.lockMs ?? 4_000;
  const maxWaitMs = options.maxWaitMs ?? 2_000;
  // The last generation seen per scope: a hit then needs one round trip (see readEntryScript).
  const generations = new Map<string, string>();
  const inFlight = new Map<string, Promise<string>>();
  const tokenPrefix = `${process.pid}:${Math.random().toString(36).slice(2)}:`;
  let tokens = 0;

  /** Loads and stores under `key`, unless too large; a failed write only costs the next caller a load. */
  async function loadAndStore(key: string, load: () => Promise<string>): Promise<string> {
    const json = await load();
    if (json.length <= maxEntryBytes && Buffer.byteLength(json) <= maxEntryBytes) {
      await client.set(key, json, 'EX', options.ttlSeconds).catch((error: unknown) => {
        logger.warn('inventory cache write failed', { error: error as Error });
      });
    }
    return json;
  }

  const unlock = (lock: string, token: string) =>
    client.invUnlock(lock, token).catch((error: unknown) => {
      logger.warn('inventory cache unlock failed', { error: error as Error });
      return 0;
    });

  /** A miss of `key`: one loader across processes, the others wait (bounded) for its entry. */
  async function singleFlight(key: string, load: () => Promise<string>): Promise<CachedJson> {
    const token = `${tokenPrefix}${++tokens}`;
    const lock = lockKey(key);
    let taken: string | null;
    let stored: string | null;
    try {
      // Both in one round trip, in order: an entry stored since our miss is found without loading.
      [taken, stored] = await Promise.all([client.set(lock, token, 'PX', lockMs, 'NX'), client.get(key)]);
    } catch (error) {
      logger.warn('inventory cache lock failed; answering from the database', { error: error as Error });
      return { json: await load(), cached: false };
    }
    if (stored !== null) {
      if (taken) await unlock(lock, token);
      return { json: stored, cached: true };
    }
    if (taken) {
      try {
        return { json: await loadAndStore(key, load), cached: false };
      } finally {
        await unlock(lock, token);
      }
    }
    try {
      const deadline = performance.now() + maxWaitMs;
      for (let delay = 5; performance.now() < deadline; delay = Math.min(50, delay * 1.5)) {
        await sleep(Math.min(delay, Math.max(0, deadline - performance.now())));
        // Lock first: "no lock, no entry" then surely means the loader stored nothing.
        const [locked, entry] = await Promise.all([client.exists(lock), client.get(key)]);
        if (entry !== null) return { json: entry, cached: true };
        // The loader finished without storing (too large, or it failed): load ourselves.
        if (locked === 0) break;
      }
    } catch (error) {
      logger.warn('inventory cache wait failed; answering from the database', { error: error as Error });
    }
    return { json: await loadAndStore(key, load), cached: false };
  }

  async function readJson(request: CacheRequest, load: () => Promise<string>): Promise<CachedJson> {
    let key: string;
    try {
      // The generation is read before the database, so an answer loaded from data older than a bump
      // lands under the old generation, where nobody looks any more.
      const scope = generationKey(request.vcenterId);
      const known = generations.get(scope);
      const [generation, hit] = await client.invReadEntry(
        scope,
        cacheKey(request, known ?? '0'),
        known ?? '',
      );
      key = cacheKey(request, generation);
      if (generation === known) {
        if (hit !== null) return { json: hit, cached: true };
      } else {
        if (generations.size >= 10_000) generations.clear();
        generations.set(scope, generation);
        const entry = await client.get(key);
        if (entry !== null) return { json: entry, cached: true };
      }
    } catch (error) {
      logger.warn('inventory cache read failed; answering from the database', { error: error as Error });
      return { json: await load(), cached: false };
    }
    const pending = inFlight.get(key);
    if (pending) return { json: await pending, cached: true };
    const flight = singleFlight(key, load);
    const shared = flight.then((answer) => answer.json);
    // Followers see the failure through `shared`; without followers it must not be an unhandled rejection.
    shared.catch(() => {});
    inFlight.set(key, shared);
    try {
      return await flight;
    } finally {
      inFlight.delete(key);
    }
  }

  return {
    readJson,
    async read<T>(request: CacheRequest, load: () => Promise<T>) {
      // Its own key family: the text a readJson caller stores for the same request is not this value's JSON.
      const { json, cached } = await readJson({ ...request, kind: `${request.kind}.value` }, async () =>
        JSON.stringify(await load()),
      );
      return { value: JSON.parse(json) as T, cached };
    },
  };
}

/** Generation bumping on a Redis client. */
export function createGenerationBumper(client: RedisClient): GenerationBumper {
  const withScripts = scripted(client);
  return {
    async bump(vcenterId) {
      // Two keys in two slots: two single-key scripts (cluster-safe), the vCenter's first.
      await withScripts.invBumpGeneration(generationKey(vcenterId));
      await withScripts.invBumpGeneration(generationKey(undefined));
    },
  };
}

// The tiered adapter reads generations with the same script as the Redis cache (readGenerationScript).
type GenerationRedis = RedisClient & { tieredReadGeneration(key: string): Promise<string> };

/** Options of {@link createTieredQueryCache}. */
export interface TieredQueryCacheOptions {
  readonly redis: RedisClient;
  /** Seconds an answer is fresh. @default VM_LIST_CACHE_TTL (the ops settings) */
  readonly ttlSeconds?: number;
  /** Seconds past the TTL an answer is still served (flagged cached) while one caller reloads it. @default ttl */
  readonly staleSeconds?: number;
  /** @default 16 MiB */
  readonly l1MaxBytes?: number;
}

/**
 * A {@link QueryCache} on the tiered cache (L1 + Redis; inventory answers have no last-known-good tier, since
 * PostgreSQL is in-region and a stale page across a sync would mislead). A Redis failure never fails a query.
 */
export function createTieredQueryCache(
  options: TieredQueryCacheOptions,
): QueryCache & Required<Pick<QueryCache, 'readJson'>> & { readonly cache: TieredCache<string> } {
  const client = options.redis as GenerationRedis;
  if (typeof client.tieredReadGeneration !== 'function') {
    options.redis.defineCommand('tieredReadGeneration', { numberOfKeys: 1, lua: readGenerationScript });
  }
  const ttlSeconds = options.ttlSeconds ?? loadOpsSettings().vmListCacheTtlSeconds;
  // Answers are kept as JSON text: a hit is served without a parse or a re-serialisation.
  const cache = new TieredCache<string>({
    namespace: 'inventory',
    redis: options.redis,
    codec: textCodec,
    ttlSeconds,
    staleSeconds: options.staleSeconds ?? ttlSeconds,
    l1MaxBytes: options.l1MaxBytes ?? 16 * 1024 * 1024,
  });
  const scope = serviceScope('inventory');
  // `form` keeps values (read) and bodies (readJson) of one request apart.
  const readText = async (
    form: 'v' | 'j',
    request: CacheRequest,
    load: () => Promise<string>,
  ): Promise<CachedJson> => {
    let generation: string;
    try {
      generation = await client.tieredReadGeneration(generationKey(request.vcenterId));
    } catch (error) {
      logger.warn('inventory cache unavailable; answering from the database', { error: error as Error });
      return { json: await load(), cached: false };
    }
    const answer = await cache.get({ scope, key: `${form}:${cacheKey(request, generation)}` }, load);
    return { json: answer.value, cached: answer.status !== 'miss' };
  };
  return {
    cache,
    async read<T>(request: CacheRequest, load: () => Promise<T>) {
      const { json, cached } = await readText(
        'v',
        request,
        async () => JSON.stringify(await load()) ?? 'null',
      );
      return { value: JSON.parse(json) as T, cached };
    },
    readJson: (request, load) => readText('j', request, load),
  };
}
