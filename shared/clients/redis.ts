// Secondary adapter — the process-wide Redis client, created on first use and reused across invocations. In
// AWS it logs in as the ElastiCache RBAC user whose secret `REDIS_AUTH_SECRET_ARN` names, over TLS; locally it
// connects to the project's Redis without either.
import { Cluster, Redis } from 'ioredis';
import { boolEnv, ConfigError, optionalEnv, requireEnv } from '#shared/config';
import { logger } from '#shared/observability';
import { type RedisCredential, readRedisCredential } from '#shared/secrets';

/** Redis or a Redis cluster (ElastiCache); both speak the same commands for one hash slot. */
export type RedisClient = Redis | Cluster;

/** Where and how {@link createRedisClient} connects. */
export interface RedisClientOptions {
  /** `redis://` or `rediss://` (TLS) URL. */
  readonly url: string;
  /** ElastiCache cluster mode: an `ioredis.Cluster` seeded with the URL's host. @default false */
  readonly cluster?: boolean;
  /**
   * The login, asked for before every connection attempt (cache it: the client asks again on reconnects, and
   * must then be answered). The client connects only once it answers, so no command reaches the server
   * unauthenticated; if it fails, the commands waiting for it fail with {@link RedisLoginError} and the next
   * command asks again.
   * @default - no AUTH (the local Redis)
   */
  readonly credential?: () => Promise<RedisCredential>;
}

/** The login could not be read; the commands that waited for it fail with this. Names the cause's kind only. */
export class RedisLoginError extends Error {
  override readonly name = 'RedisLoginError';
  constructor(cause: string) {
    super(`Redis login unavailable (${cause}); the next command reads it again`);
  }
}

/** The login source of each client that has one, so a duplicate of it logs in the same way. */
const credentialOf = new WeakMap<RedisClient, () => Promise<RedisCredential>>();

/**
 * Holds `client` (created with `lazyConnect`) back from connecting until `credential` answers, then sets the
 * login where ioredis reads it at each (re)connect. ioredis connects a lazy client by calling its own
 * `connect()` on the first command, and again on every reconnect, so the gate sits on that method: there is no
 * hook for an asynchronous password, and a login set after the first connect began would miss it.
 */
function gateOnCredential<T extends RedisClient>(client: T, credential: () => Promise<RedisCredential>): T {
  const connect = client.connect.bind(client);
  let pending: Promise<void> | undefined;
  const gated = () => {
    // A command sent before the first connect is queued under the connection's condition (its database), which
    // ioredis's own connect() sets at once; until the real connect replaces it, the database it will select.
    if (!client.isCluster) {
      const single = client as Redis;
      single.condition ??= { select: single.options.db ?? 0, subscriber: false };
    }
    pending ??= credential()
      .then(
        ({ username, password }) => {
          // Mutated in place: a Cluster's connection pool holds this very redisOptions object.
          const target = client.isCluster ? (client as Cluster).options.redisOptions : client.options;
          if (target) Object.assign(target, { username, password });
          return connect();
        },
        (error: unknown) => {
          const name = error instanceof Error ? error.name : 'unknown';
          // The error's name only: an SDK error's message holds no secret, but nothing here needs it either.
          logger.warn('redis login unavailable', { error: name });
          // The commands waiting for this connection fail now, as on a refused connection; the client stays
          // unconnected ('wait'), so the next command asks for the login again. flushQueue is ioredis's own
          // (private in its types); the integration test holds it to this behaviour.
          const failure = new RedisLoginError(name);
          (client as unknown as { flushQueue(error: Error): void }).flushQueue(failure);
          throw failure;
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  client.connect = gated as typeof client.connect;
  credentialOf.set(client, credential);
  return client;
}

/** A Redis client for `options`: the shared client's settings (fail fast once connected, quiet reconnects). */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  const url = new URL(options.url);
  const tls = url.protocol === 'rediss:' ? {} : undefined;
  const common = {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 2_000,
    lazyConnect: options.credential !== undefined,
  };
  const client: RedisClient = options.cluster
    ? new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
        // ElastiCache answers with node addresses that only resolve inside the VPC; keep TLS SNI intact.
        dnsLookup: (address, callback) => callback(null, address),
        lazyConnect: common.lazyConnect,
        redisOptions: { ...common, tls },
      })
    : new Redis(url.toString(), common);
  // Commands wait for the first connection (a cold start), but once connected, a lost connection fails them at
  // once rather than holding each through the reconnect attempts (seconds per read while Redis is down): the
  // callers fall back (the inventory answers from the database, flagged uncached) until Redis is back.
  client.once('ready', () => {
    client.options.enableOfflineQueue = false;
  });
  // Without a listener ioredis prints every reconnect failure; commands still fail and report on their own.
  client.on('error', (error: NodeJS.ErrnoException) =>
    logger.warn('redis connection error', { code: error.code ?? error.name }),
  );
  if (options.credential) {
    gateOnCredential(client, options.credential);
    // Connect at once, as an eager client does; failures surface through 'error' and the commands.
    client.connect().catch(() => {});
  }
  return client;
}

let redisClient: RedisClient | undefined;
let containerCredential: Promise<RedisCredential> | undefined;

/** The login in `arn`, read once per container (again only after a failed read). */
function credentialFrom(arn: string): () => Promise<RedisCredential> {
  return () => {
    containerCredential ??= readRedisCredential(arn).catch((error: unknown) => {
      containerCredential = undefined;
      throw error;
    });
    return containerCredential;
  };
}

/**
 * The shared Redis client: `REDIS_URL`, `REDIS_CLUSTER=true` for ElastiCache cluster mode, and
 * `REDIS_AUTH_SECRET_ARN` for the RBAC user's login (requires a `rediss://` URL).
 */
export function redis(): RedisClient {
  if (redisClient) return redisClient;
  const secretArn = optionalEnv('REDIS_AUTH_SECRET_ARN', '');
  const url = requireEnv('REDIS_URL');
  // The login is never sent in the clear.
  if (secretArn && !url.startsWith('rediss://'))
    throw new ConfigError('REDIS_AUTH_SECRET_ARN needs a rediss:// (TLS) REDIS_URL');
  redisClient = createRedisClient({
    url,
    cluster: boolEnv('REDIS_CLUSTER', false),
    credential: secretArn ? credentialFrom(secretArn) : undefined,
  });
  return redisClient;
}

/**
 * A connection of its own beside `client`, for blocking commands (BLPOP). A plain `duplicate()` copies the
 * shared client's options, whose offline queue is off once it has connected; this one queues its commands until
 * its own first connection, as the shared client did, and logs in as the shared client does.
 */
export function dedicatedConnection(client: RedisClient): RedisClient {
  const duplicate = client.isCluster
    ? (client as Cluster).duplicate(undefined, { enableOfflineQueue: true })
    : (client as Redis).duplicate({ enableOfflineQueue: true });
  const credential = credentialOf.get(client);
  if (credential) gateOnCredential(duplicate, credential);
  return duplicate;
}

/** Closes the Redis client if it was opened. */
export async function closeRedis(): Promise<void> {
  const client = redisClient;
  redisClient = undefined;
  containerCredential = undefined;
  if (!client) return;
  // QUIT on a client that never connected would connect it first.
  if (client.status === 'wait') client.disconnect();
  else await client.quit().catch(() => client.disconnect());
}
