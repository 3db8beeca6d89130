// Secondary adapter — the process-wide Redis client, created on first use and reused across invocations.
import { Cluster, Redis } from 'ioredis';
import { boolEnv, requireEnv } from '#shared/config';
import { logger } from '#shared/observability';

/** Redis or a Redis cluster (ElastiCache); both speak the same commands for one hash slot. */
export type RedisClient = Redis | Cluster;

let redisClient: RedisClient | undefined;

/** The shared Redis client: `REDIS_URL`, and `REDIS_CLUSTER=true` for ElastiCache cluster mode (TLS). */
export function redis(): RedisClient {
  if (redisClient) return redisClient;
  const url = new URL(requireEnv('REDIS_URL'));
  const tls = url.protocol === 'rediss:' ? {} : undefined;
  const common = { maxRetriesPerRequest: 2, enableOfflineQueue: true, connectTimeout: 2_000 };
  redisClient = boolEnv('REDIS_CLUSTER', false)
    ? new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
        // ElastiCache answers with node addresses that only resolve inside the VPC; keep TLS SNI intact.
        dnsLookup: (address, callback) => callback(null, address),
        redisOptions: { ...common, tls },
      })
    : new Redis(url.toString(), common);
  // Commands wait for the first connection (a cold start), but once connected, a lost connection fails them at
  // once rather than holding each through the reconnect attempts (seconds per read while Redis is down): the
  // callers fall back (the inventory answers from the database, flagged uncached) until Redis is back.
  const client = redisClient;
  client.once('ready', () => {
    client.options.enableOfflineQueue = false;
  });
  // Without a listener ioredis prints every reconnect failure; commands still fail and report on their own.
  redisClient.on('error', (error: NodeJS.ErrnoException) =>
    logger.warn('redis connection error', { code: error.code ?? error.name }),
  );
  return redisClient;
}

/**
 * A connection of its own beside `client`, for blocking commands (BLPOP). A plain `duplicate()` copies the
 * shared client's options, whose offline queue is off once it has connected; this one queues its commands until
 * its own first connection, as the shared client did.
 */
export function dedicatedConnection(client: RedisClient): RedisClient {
  return client.isCluster
    ? (client as Cluster).duplicate(undefined, { enableOfflineQueue: true })
    : (client as Redis).duplicate({ enableOfflineQueue: true });
}

/** Closes the Redis client if it was opened. */
export async function closeRedis(): Promise<void> {
  const client = redisClient;
  redisClient = undefined;
  await client?.quit().catch(() => client.disconnect());
}
