// Secondary adapter — the process-wide PostgreSQL pools (writer for sync and migrations, reader for
// queries), created on first use; IAM tokens through RDS Proxy in AWS, a password locally; each as the
// function's database role.
import { Signer } from '@aws-sdk/rds-signer';
import pg from 'pg';
import { boolEnv, numberEnv, optionalEnv, requireEnv } from '#shared/config';
import { logger } from '#shared/observability';

/** Pools by endpoint and user: one user per Lambda container, one per function's role in the local runtime. */
const pools = new Map<string, pg.Pool>();

function createPool(role: 'writer' | 'reader', user: string): pg.Pool {
  const host = requireEnv(role === 'writer' ? 'PG_WRITER_HOST' : 'PG_READER_HOST');
  const port = numberEnv('PG_PORT', 5432, { min: 1, max: 65_535 });
  const iam = boolEnv('PG_IAM_AUTH', false);
  // In AWS the RDS Proxy accepts short-lived IAM tokens, so no password lives in the environment.
  const signer = iam ? new Signer({ hostname: host, port, username: user }) : undefined;
  const pool = new pg.Pool({
    host,
    port,
    user,
    database: requireEnv('PG_DATABASE'),
    password: signer ? () => signer.getAuthToken() : optionalEnv('PG_PASSWORD', ''),
    ssl: boolEnv('PG_SSL', false) ? { rejectUnauthorized: true } : undefined,
    max: numberEnv('PG_POOL_MAX', 4, { min: 1, max: 100 }),
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 3_000,
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would end the process.
  pool.on('error', (error: NodeJS.ErrnoException) =>
    logger.warn('postgres idle client error', { role, code: error.code ?? error.name }),
  );
  // A client checked out when its server goes away (a restart, a failover) emits 'error' on itself, where the
  // pool no longer listens: unhandled, that too would end the process. Its query, if any, still rejects.
  pool.on('connect', (client) =>
    client.on('error', (error: NodeJS.ErrnoException) =>
      logger.warn('postgres client error', { role, code: error.code ?? error.name }),
    ),
  );
  return pool;
}

/**
 * The PostgreSQL pool for `role` (the writer for sync and migrations, the reader for queries), logged in as
 * `PG_USER`: the function's capability role (infra/topology.ts `dbRole`), or the owner for the migrations.
 */
export function postgres(role: 'writer' | 'reader'): pg.Pool {
  const user = requireEnv('PG_USER');
  const key = `${role}:${user}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = createPool(role, user);
    pools.set(key, pool);
  }
  return pool;
}

/** Ends every pool that was opened. */
export async function closePostgres(): Promise<void> {
  const ending = [...pools.values()].map((pool) => pool.end());
  pools.clear();
  await Promise.allSettled(ending);
}
