// Local runtime — secondary adapter: a project-started PostgreSQL (Debian's initdb + postgres) in a fresh,
// disposable data directory on a free loopback port, standing in for Aurora in `npm run dev` and the tests.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.ts';
import {
  type RestartableService,
  restartable,
  retryOnAddressInUse,
  runToCompletion,
  type ServiceProcess,
  spawnService,
  waitUntilReady,
} from './process.ts';

/** Options for {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Directory for the log files (and, when not root, the data directory); created if missing. */
  readonly dir: string;
  /**
   * Directory holding `initdb` and `postgres`.
   * @default the newest /usr/lib/postgresql/<version>/bin
   */
  readonly binDir?: string;
  /**
   * Sized for the 1M-VM inventory benchmark.
   * @default '512MB'
   */
  readonly sharedBuffers?: string;
  /** @default 200 */
  readonly maxConnections?: number;
  /** @default 'vfleet' */
  readonly database?: string;
  /** @default 60_000 */
  readonly readyTimeoutMs?: number;
}

/**
 * A running PostgreSQL with database `database` (pg_trgm enabled) and a password-protected superuser.
 * `kill()`/`restart()` crash it and bring it back on the same port and data directory (crash recovery runs).
 */
export interface PostgresService extends RestartableService {
  readonly host: string;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /** The data directory, removed by stop(). */
  readonly dataDir: string;
}

const USER = 'vfleet';

/** The newest Debian PostgreSQL server binaries (the /usr/lib/postgresql/<version>/bin layout). */
export function findPostgresBinDir(root = '/usr/lib/postgresql'): string {
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'initdb'))) return bin;
  }
  throw new Error(
    `No PostgreSQL server binaries under ${root}/<version>/bin; run \`node scripts/ensure.mjs\` to install them`,
  );
}

/** uid/gid of the `postgres` system user, created when missing (PostgreSQL refuses to run as root). */
function postgresUser(): { uid: number; gid: number } {
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    return lookup();
  }
}

async function query(config: pg.ClientConfig, sql: string): Promise<void> {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 2_000 });
  // A refused connection while the server starts surfaces through connect()'s rejection.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * initdb's a fresh cluster (UTF8, scram password auth, no fsync) and starts `postgres` on a free 127.0.0.1
 * port with durability turned off (the data is disposable); creates the database and enables pg_trgm.
 * As root it runs the server as the `postgres` system user with the data directory under the temp dir.
 */
export async function startPostgres(options: StartPostgresOptions): Promise<PostgresService> {
  const binDir = options.binDir ?? findPostgresBinDir();
  const database = options.database ?? 'vfleet';
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  await mkdir(options.dir, { recursive: true });

  // The postgres user must reach the data directory; the caller's dir may sit under a root-only path.
  const base = owner ? await mkdtemp(join(tmpdir(), 'vfleet-pg-')) : join(options.dir, 'pg');
  await rm(base, { recursive: true, force: true });
  await mkdir(base, { recursive: true, mode: 0o700 });
  if (owner) await chown(base, owner.uid, owner.gid);
  const dataDir = join(base, 'data');
  const password = randomBytes(18).toString('hex');
  const runAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const env = { ...process.env, LC_ALL: 'C.UTF-8', HOME: base };

  try {
    const pwfile = join(base, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner) await chown(pwfile, owner.uid, owner.gid);
    await runToCompletion({
      name: 'initdb',
      command: join(binDir, 'initdb'),
      args: [
        '--pgdata',
        dataDir,
        '--username',
        USER,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C.UTF-8',
        '--no-sync',
      ],
      dir: options.dir,
      cwd: base,
      env,
      ...runAs,
    });
    await rm(pwfile, { force: true });
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }

  // A Unix socket path is limited to 107 bytes; past that, TCP only.
  const socketDir = dataDir.length + 20 < 107 ? dataDir : '';
  const spawnPostgres = async (port: number): Promise<ServiceProcess> => {
    const proc = await spawnService({
      name: 'postgres',
      command: join(binDir, 'postgres'),
      args: [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${socketDir}`,
        // Disposable data: trade durability for speed.
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
        '-c',
        `shared_buffers=${options.sharedBuffers ?? '512MB'}`,
        '-c',
        `max_connections=${options.maxConnections ?? 200}`,
        '-c',
        'maintenance_work_mem=256MB',
        '-c',
        'max_wal_size=4GB',
        '-c',
        'huge_pages=off',
        '-c',
        'logging_collector=off',
      ],
      dir: options.dir,
      cwd: base,
      env,
      ...runAs,
      // SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, stop at once.
      stopSignal: 'SIGINT',
      stopTimeoutMs: 10_000,
      cleanupPaths: [base],
    });
    const admin: pg.ClientConfig = { host: '127.0.0.1', port, user: USER, password, database: 'postgres' };
    await waitUntilReady(proc, () => query(admin, 'SELECT 1'), {
      timeoutMs: options.readyTimeoutMs ?? 60_000,
    });
    return proc;
  };

  try {
    return await retryOnAddressInUse(async () => {
      const port = await freePort();
      const proc = await spawnPostgres(port);
      const admin: pg.ClientConfig = { host: '127.0.0.1', port, user: USER, password, database: 'postgres' };
      try {
        await query(admin, `CREATE DATABASE ${pg.escapeIdentifier(database)}`);
        await query({ ...admin, database }, 'CREATE EXTENSION IF NOT EXISTS pg_trgm');
      } catch (error) {
        await proc.stop();
        throw error;
      }
      return restartable(proc, () => spawnPostgres(port), {
        name: 'postgres',
        host: '127.0.0.1',
        port,
        database,
        user: USER,
        password,
        dataDir,
        url: `postgres://${USER}:${password}@127.0.0.1:${port}/${database}`,
      });
    });
  } catch (error) {
    await rm(base, { recursive: true, force: true });
    throw error;
  }
}
