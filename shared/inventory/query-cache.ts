// Inventory — secondary adapter (the tiered cache: L1 in-process, L2 Redis): the query cache in front of the
// reader and the sync generations that invalidate it. A cache key carries the generation of the vCenter the
// query is confined to (or the global generation for queries across vCenters), so a sync that bumps vCenter A's
// generation moves exactly A's answers and the cross-vCenter ones to new keys; B's stay valid. Orphaned
// entries simply expire (TTL). N readers of one page cost one PostgreSQL query per TTL across every Lambda
// (single-flight), and a page past its TTL is served stale while one caller refreshes it.
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
 * The key of a cached answer: scope, generation, kind and a digest of the query (never raw input). The tiered
 * cache digests it again into its own Redis key, where the entry, its lock and its failure marker share a slot.
 */
export function cacheKey(request: CacheRequest, generation: string): string {
  const digest = createHash('sha256')
    .update(`${request.kind}\n${request.normalisedQuery}`)
    .digest('base64url');
  return `inv:q:${keyVersion}:{${request.vcenterId ?? globalScope}}:${generation}:${request.kind}:${digest}`;
}

// A missing generation (first use, or evicted) starts at Redis's clock in ms: never equal to a value that
// older entries may carry. A bump of a missing key jumps a second past that, ahead of any concurrent start.
const readGenerationScript = `
local g = redis.call('GET', KEYS[1])
if g then return g end
local t = redis.call('TIME')
redis.call('SET', KEYS[1], tostring(t[1] * 1000 + math.floor(t[2] / 1000)), 'NX')
return redis.call('GET', KEYS[1])`;

const bumpGenerationScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
local t = redis.call('TIME')
local g = t[1] * 1000 + math.floor(t[2] / 1000) + 1000
redis.call('SET', KEYS[1], tostring(g))
return g`;

type ScriptedRedis = RedisClient & {
  invReadGeneration(key: string): Promise<string>;
  invBumpGeneration(key: string): Promise<number>;
};

function scripted(client: RedisClient): ScriptedRedis {
  const withScripts = client as ScriptedRedis;
  // defineCommand runs EVALSHA and falls back to EVAL once per connection when the script is not loaded.
  if (typeof withScripts.invReadGeneration !== 'function') {
    client.defineCommand('invReadGeneration', { numberOfKeys: 1, lua: readGenerationScript });
    client.defineCommand('invBumpGeneration', { numberOfKeys: 1, lua: bumpGenerationScript });
  }
  return withScripts;
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

/** Options of {@link createTieredQueryCache}. */
export interface TieredQueryCacheOptions {
  readonly redis: RedisClient;
  /** Seconds an answer is fresh. @default VM_LIST_CACHE_TTL (the ops settings) */
  readonly ttlSeconds?: number;
  /** Seconds past the TTL an answer is still served (flagged cached) while one caller reloads it. @default ttl */
  readonly staleSeconds?: number;
  /** @default 16 MiB */
  readonly l1MaxBytes?: number;
  /** Larger answers are served but not cached. @default the tiered cache's (5 MiB) */
  readonly maxEntryBytes?: number;
  /** Lifetime of a key's single-flight lock (bounds how long a dead loader holds the others). @default 15 s */
  readonly lockMs?: number;
  /** How long a caller waits for another process's load before running the query itself. @default 3 s */
  readonly waitMs?: number;
  /** Prefix of the cache's Redis keys (tests isolate themselves with it). @default `VFLEET_KEY_PREFIX` or '' */
  readonly keyPrefix?: string;
}

/**
 * The inventory's {@link QueryCache}, on the tiered cache (L1 + Redis; inventory answers have no last-known-good
 * tier, since PostgreSQL is in-region and a stale page across a sync would mislead). A Redis failure never
 * fails a query: the answer comes from the database, marked `cached: false`, and the failure is logged.
 *
 * Misses are single-flight: concurrent misses of one key in this process share one load, and across
 * processes (Lambda containers) the first takes the key's Redis lock and loads while the others wait for its
 * entry, each loading itself after `waitMs` or as soon as the lock is gone without an entry.
 */
export function createTieredQueryCache(
  options: TieredQueryCacheOptions,
): QueryCache & Required<Pick<QueryCache, 'readJson'>> & { readonly cache: TieredCache<string> } {
  const client = scripted(options.redis);
  const ttlSeconds = options.ttlSeconds ?? loadOpsSettings().vmListCacheTtlSeconds;
  // Answers are kept as JSON text: a hit is served without a parse or a re-serialisation.
  const cache = new TieredCache<string>({
    namespace: 'inventory',
    redis: options.redis,
    codec: textCodec,
    ttlSeconds,
    staleSeconds: options.staleSeconds ?? ttlSeconds,
    l1MaxBytes: options.l1MaxBytes ?? 16 * 1024 * 1024,
    ...(options.maxEntryBytes === undefined ? {} : { maxEntryBytes: options.maxEntryBytes }),
    ...(options.lockMs === undefined ? {} : { lockMs: options.lockMs }),
    ...(options.waitMs === undefined ? {} : { waitMs: options.waitMs }),
    ...(options.keyPrefix === undefined ? {} : { keyPrefix: options.keyPrefix }),
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
      generation = await client.invReadGeneration(generationKey(request.vcenterId));
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
