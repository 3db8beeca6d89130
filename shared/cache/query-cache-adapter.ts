// Cache — adapter: the inventory's QueryCache (GET /api/v1/vms and the other inventory reads) on the tiered
// cache, so N readers of one page cost one PostgreSQL query per TTL across every Lambda (single-flight), and a
// page past its TTL is served stale while one caller refreshes it. Keys keep the inventory's sync generations:
// a sync that bumps vCenter A's generation moves A's answers to new keys, exactly as before.
import type { RedisClient } from '#shared/clients';
import { logger } from '#shared/observability';
import {
  type CachedJson,
  type CacheRequest,
  cacheKey,
  generationKey,
  type QueryCache,
} from '../inventory/query-cache.ts';
import { loadOpsSettings } from '../ops/settings.ts';
import { textCodec } from './codec.ts';
import { serviceScope } from './scope.ts';
import { TieredCache } from './tiered-cache.ts';

// Same semantics as the inventory's own generation read: a missing generation starts at Redis's clock in ms.
const readGenerationScript = `
local g = redis.call('GET', KEYS[1])
if g then return g end
local t = redis.call('TIME')
redis.call('SET', KEYS[1], tostring(t[1] * 1000 + math.floor(t[2] / 1000)), 'NX')
return redis.call('GET', KEYS[1])`;

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
