// Fault suite — the harness: a whole local cloud of the test's own (Redis, PostgreSQL and DynamoDB Local started
// by the project's starters, restartable on the same port; the local runtime on a migrated database; tokens),
// so a test can kill and restart what it owns without touching any other test's services.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { type DevIssuer, loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import {
  backingServices,
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from '../../infra/local/runtime.ts';
import {
  type DynamoDbService,
  type PostgresService,
  type RedisService,
  startDynamoDb,
  startPostgres,
  startRedis,
} from '../../infra/local/services/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
export type Json = Record<string, any>;

/** One HTTP answer as a test reads it. */
export interface Answer {
  readonly status: number;
  readonly json: Json;
  readonly headers: Headers;
}

export interface FaultStack {
  readonly dir: string;
  readonly redis: RedisService;
  readonly postgres: PostgresService;
  readonly dynamodb: DynamoDbService;
  readonly runtime: LocalRuntime;
  readonly issuer: DevIssuer;
  readonly tokens: { readonly viewer: string; readonly operator: string; readonly admin: string };
  /** The test's own pool on the database (superuser); survives a PostgreSQL restart (new clients reconnect). */
  readonly pool: pg.Pool;
  call(method: string, path: string, token?: string, body?: unknown): Promise<Answer>;
  stop(): Promise<void>;
}

export type FaultStackOptions = Pick<LocalRuntimeOptions, 'env' | 'queueOverrides' | 'scheduleOverrides'>;

/** Starts the services, migrates, starts the runtime; `stop()` ends everything it started. */
export async function startFaultStack(label: string, options: FaultStackOptions = {}): Promise<FaultStack> {
  const dir = await mkdtemp(join(tmpdir(), `vfleet-fault-${label}-`));
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const close of stops.reverse()) await close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const track = <T extends { stop(): Promise<void> }>(service: T): T => {
      stops.push(() => service.stop());
      return service;
    };
    const [redis, postgres, dynamodb] = await Promise.all([
      startRedis({ dir: join(dir, 'redis') }).then(track),
      startPostgres({ dir: join(dir, 'postgres'), sharedBuffers: '128MB' }).then(track),
      startDynamoDb({ dir: join(dir, 'dynamodb') }).then(track),
    ]);
    const pool = new pg.Pool({
      host: postgres.host,
      port: postgres.port,
      user: postgres.user,
      password: postgres.password,
      database: postgres.database,
      max: 3,
      connectionTimeoutMillis: 2_000,
    });
    // The fault suite kills PostgreSQL under this pool: idle clients report it here instead of crashing.
    pool.on('error', () => {});
    stops.push(() => pool.end());
    await migrate(pool, { vmPartitions: 2 });
    const issuer = await loadDevIssuer(join(dir, 'issuer'));
    const runtime = await startLocalRuntime({
      root: resolve(import.meta.dirname, '../..'),
      issuer,
      services: backingServices({ redis, postgres, dynamodb }),
      tablePrefix: `fault-${label}`,
      ...options,
      env: {
        SECRET_STORE: `file:${join(dir, 'secrets.json')}`,
        BLOB_DIR: join(dir, 'blobs'),
        ...options.env,
      },
    });
    stops.push(async () => {
      await runtime.stop();
      await VsphereClient.closeAll();
    });
    const tokens = {
      viewer: await issuer.mint(['viewer']),
      operator: await issuer.mint(['operator']),
      admin: await issuer.mint(['admin']),
    };
    const call = async (method: string, path: string, token = tokens.viewer, body?: unknown) => {
      const res = await fetch(`${runtime.httpUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let json: Json = {};
      if (res.headers.get('content-type')?.includes('json') && text) json = JSON.parse(text) as Json;
      return { status: res.status, json, headers: res.headers };
    };
    return { dir, redis, postgres, dynamodb, runtime, issuer, tokens, pool, call, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `probe` until it answers something other than undefined; fails naming `what` after `deadlineMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  deadlineMs = 120_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Registers a vCenter through the API (admin) and waits for its first full sync to be visible. */
export async function registerVcenter(
  stack: FaultStack,
  vcenter: { id: string; url: string; username: string; password: string },
  options: { syncMode?: 'polling' | 'streaming'; syncIntervalSeconds?: number } = {},
): Promise<Json> {
  const body = {
    ...vcenter,
    insecure: true,
    syncMode: options.syncMode ?? 'polling',
    syncIntervalSeconds: options.syncIntervalSeconds ?? 86_400,
  };
  // The registration is set-up, not the fault under test: on a machine loaded by parallel suites a cold
  // function can time out (500) before it stored anything, so a registration that left no vCenter is repeated.
  for (let attempt = 1; ; attempt++) {
    const created = await stack.call('POST', '/api/v1/vcenters', stack.tokens.admin, body);
    if (created.status === 201) break;
    const exists = (await stack.call('GET', `/api/v1/vcenters/${vcenter.id}`)).status === 200;
    if (exists) break;
    if (created.status < 500 || attempt >= 3)
      throw new Error(`registration answered ${created.status}: ${JSON.stringify(created.json)}`);
  }
  return until(`the first sync of ${vcenter.id}`, async () => {
    const { json } = await stack.call('GET', `/api/v1/vcenters/${vcenter.id}`);
    return json.vcenter?.sync?.lastFullSyncAt ? (json.vcenter as Json) : undefined;
  });
}
