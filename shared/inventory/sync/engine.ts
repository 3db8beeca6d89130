// Inventory sync — use case: one sync pass for one vCenter. Without a valid PropertyCollector version it
// runs a FULL sync (a fresh watch whose initial update set is the whole inventory, staged through COPY and
// merged in one transaction); otherwise an INCREMENTAL pass (WaitForUpdatesEx from the stored version within
// the invocation's time budget, each answer applied with its version in one transaction). The session and
// the watch are saved so the next invocation resumes without a new login. Failures are recorded on the
// vCenter's row with backoff; they never reach other vCenters.
import type pg from 'pg';
import type { RedisClient } from '#shared/clients';
import type { SecretStore } from '#shared/secrets';
import {
  InvalidVersionError,
  NotAuthenticatedError,
  type ObjectUpdate,
  SoapFault,
  type UpdateBatch,
  VsphereClient,
  type WatcherRef,
} from '#shared/vsphere';
import type { Queryable } from '../queries.ts';
import { nextGeneration, publishGeneration } from '../writes.ts';
import { backoffSeconds, describeFailure } from './backoff.ts';
import { InventoryResolver, type Row, type TableName, watchedProperties, watchedTypes } from './mapping.ts';
import { planUpdates } from './plan.ts';
import { openSession, sealSession } from './session-crypto.ts';
import {
  loadResolver,
  rowLoader,
  updateCounts,
  type WriteCounts,
  writePlan,
  writeSnapshot,
} from './store.ts';

/** A vCenter's registry row, as the sync reads it. */
export interface VcenterSyncRow {
  readonly id: string;
  readonly url: string;
  readonly username: string;
  readonly secret_ref: string;
  readonly sync_mode: 'streaming' | 'polling';
  readonly sync_interval_seconds: number;
  readonly tls_insecure: boolean;
  readonly ca_pem: string | null;
  readonly pc_version: string | null;
  readonly watcher: WatcherRef | null;
  readonly session: Buffer | null;
  readonly consecutive_failures: number;
  readonly sync_sequence: string;
}

/** What a pass needs from its environment. */
export interface SyncDeps {
  /** The writer pool (COPY and transactions). */
  readonly writer: pg.Pool;
  /** The reader endpoint, for publishing the generation once it shows the commit. */
  readonly reader: Queryable;
  readonly secrets: SecretStore;
  /** Redis for the query-cache generations. @default the process's client */
  readonly redis?: RedisClient;
}

/** Options of one pass. */
export interface SyncOptions {
  /** Milliseconds the invocation has left (Lambda's context.getRemainingTimeInMillis). */
  readonly remainingMs: () => number;
  /** Force a full sync. */
  readonly full?: boolean;
  /** Stop waiting this long before the budget ends (time to commit and re-enqueue). @default 15_000 */
  readonly marginMs?: number;
  /** Longest single WaitForUpdatesEx in streaming mode. @default 20 */
  readonly maxWaitSeconds?: number;
  /** A streaming pass holds at most this long. @default the whole budget */
  readonly streamForMs?: number;
  /** Object updates per WaitForUpdatesEx answer (the server truncates and the pass continues). @default 5_000 */
  readonly maxObjectUpdates?: number;
  /** Sees every update batch applied (tests record them to replay). */
  readonly onBatch?: (batch: UpdateBatch) => void;
}

/** The outcome of one pass. */
export interface SyncResult {
  readonly vcenterId: string;
  /** `gone`: the vCenter was deleted meanwhile. */
  readonly status: 'synced' | 'failed' | 'gone';
  readonly mode: 'full' | 'incremental' | 'none';
  readonly syncMode: 'streaming' | 'polling';
  /** Object updates received. */
  readonly objects: number;
  readonly changed: number;
  readonly deleted: number;
  readonly batches: number;
  readonly durationMs: number;
  /** The recorded failure text (no secrets). */
  readonly error?: string;
  /** Streaming and still registered: the caller should enqueue the continuation. */
  readonly continueStreaming: boolean;
  readonly sequence: number;
}

class VcenterGoneError extends Error {}

const passwords = new Map<string, { value: string; at: number }>();
const passwordTtlMs = 5 * 60_000;

async function password(secrets: SecretStore, ref: string): Promise<string> {
  const cached = passwords.get(ref);
  if (cached && Date.now() - cached.at < passwordTtlMs) return cached.value;
  const value = await secrets.get(ref);
  passwords.set(ref, { value, at: Date.now() });
  return value;
}

/** Forgets a cached password (after a delete, or when the vCenter refused it). */
export function forgetPassword(ref: string): void {
  passwords.delete(ref);
}

/** Reads one vCenter's sync row; undefined when it is not registered. */
export async function loadSyncRow(
  db: Queryable,
  id: string,
  lock = false,
): Promise<VcenterSyncRow | undefined> {
  const { rows } = await db.query<VcenterSyncRow>(
    `SELECT id, url, username, secret_ref, sync_mode, sync_interval_seconds, tls_insecure, ca_pem, pc_version,
            watcher, session, consecutive_failures, sync_sequence
       FROM vcenters WHERE id = $1 ${lock ? 'FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0];
}

/** Opens the vCenter's saved session (no login) or logs in. */
export async function openClient(row: VcenterSyncRow, secret: string): Promise<VsphereClient> {
  const tls = { insecure: row.tls_insecure, ...(row.ca_pem ? { ca: row.ca_pem } : {}) };
  const saved = openSession(row.session, secret, row.id);
  if (saved && saved.url === row.url && saved.username === row.username) {
    return VsphereClient.resume(saved, { ...tls, password: secret });
  }
  return VsphereClient.connect({ url: row.url, username: row.username, password: secret, ...tls });
}

/** The watch could not continue: its version or its collector is gone (expired session, restarted vCenter). */
function watchLost(error: unknown): boolean {
  return (
    error instanceof InvalidVersionError ||
    (error instanceof SoapFault && !(error instanceof NotAuthenticatedError))
  );
}

/** Runs one pass for `vcenterId` and records its outcome on the vCenter's row. */
export async function syncVcenter(
  vcenterId: string,
  deps: SyncDeps,
  options: SyncOptions,
): Promise<SyncResult> {
  const started = Date.now();
  const row = await loadSyncRow(deps.writer, vcenterId);
  const base = { vcenterId, objects: 0, changed: 0, deleted: 0, batches: 0, sequence: 0 };
  if (!row) {
    return {
      ...base,
      status: 'gone',
      mode: 'none',
      syncMode: 'polling',
      durationMs: 0,
      continueStreaming: false,
    };
  }
  const tally = { objects: 0, changed: 0, deleted: 0, batches: 0 };
  let secret: string | undefined;
  let mode: SyncResult['mode'] = 'none';
  try {
    secret = await password(deps.secrets, row.secret_ref);
    const client = await openClient(row, secret);
    const incremental = !options.full && row.pc_version !== null && row.watcher !== null;
    let done = false;
    if (incremental) {
      mode = 'incremental';
      try {
        await incrementalPass(client, row, secret, deps, options, tally);
        done = true;
      } catch (error) {
        if (!watchLost(error)) throw error;
        // The watch cannot continue: a fresh one and a full sync, in this same invocation.
      }
    }
    if (!done) {
      mode = 'full';
      await fullSync(client, row, secret, deps, options, tally);
    }
    const durationMs = Date.now() - started;
    const next = await recordSuccess(deps.writer, row, durationMs, options);
    return {
      ...base,
      ...tally,
      status: 'synced',
      mode,
      syncMode: row.sync_mode,
      durationMs,
      continueStreaming: next.streaming,
      sequence: next.sequence,
    };
  } catch (error) {
    const durationMs = Date.now() - started;
    if (error instanceof VcenterGoneError) {
      return {
        ...base,
        ...tally,
        status: 'gone',
        mode,
        syncMode: row.sync_mode,
        durationMs,
        continueStreaming: false,
      };
    }
    if (error instanceof NotAuthenticatedError) forgetPassword(row.secret_ref);
    const text = describeFailure(error, [secret]);
    await recordFailure(deps.writer, row, text);
    return {
      ...base,
      ...tally,
      status: 'failed',
      mode,
      syncMode: row.sync_mode,
      durationMs,
      error: text,
      continueStreaming: false,
    };
  }
}

type Tally = { objects: number; changed: number; deleted: number; batches: number };

async function fullSync(
  client: VsphereClient,
  row: VcenterSyncRow,
  secret: string,
  deps: SyncDeps,
  options: SyncOptions,
  tally: Tally,
): Promise<void> {
  if (row.watcher) await client.resumeWatcher(row.watcher).destroy();
  const watcher = await client.createWatcher({
    types: watchedTypes as never,
    properties: watchedProperties as never,
  });
  // The initial update set is the whole inventory at one version: no gap between snapshot and watch.
  const objects: ObjectUpdate[] = [];
  let version = '';
  for await (const batch of watcher.updatesSince('', {
    maxWaitSeconds: 0,
    maxObjectUpdates: options.maxObjectUpdates ?? 5_000,
  })) {
    for (const object of batch.objects) objects.push(object);
    version = batch.version;
    tally.batches++;
    options.onBatch?.(batch);
  }
  tally.objects += objects.length;
  const plan = await planUpdates(objects, async () => [], new InventoryResolver());
  objects.length = 0;
  const syncedAt = new Date();
  const counts = await transaction(deps.writer, row.id, async (db) => {
    const written = await writeSnapshot(
      db,
      row.id,
      (table: TableName) => plan.upserts.get(table)?.values() ?? ([] as Row[]),
    );
    await updateCounts(db, row.id);
    const generation = written.changed + written.deleted > 0 ? await nextGeneration(db, row.id) : undefined;
    await db.query(
      `UPDATE vcenters SET pc_version = $2, watcher = $3, session = $4, last_full_sync_at = now(),
              synced_through_at = $5, updated_at = now()
        WHERE id = $1`,
      [
        row.id,
        version,
        JSON.stringify(watcher.ref),
        sealSession(client.serialize(), secret, row.id),
        syncedAt,
      ],
    );
    return { written, generation };
  });
  await publish(deps, row.id, counts.generation);
  tally.changed += counts.written.changed;
  tally.deleted += counts.written.deleted;
}

async function incrementalPass(
  client: VsphereClient,
  row: VcenterSyncRow,
  secret: string,
  deps: SyncDeps,
  options: SyncOptions,
  tally: Tally,
): Promise<void> {
  if (!row.watcher || row.pc_version === null)
    throw new InvalidVersionError(
      { faultType: 'InvalidCollectorVersion', faultCode: '', faultString: 'no version', detail: {} },
      'WaitForUpdatesEx',
    );
  const watcher = client.resumeWatcher(row.watcher);
  const margin = options.marginMs ?? 15_000;
  const streaming = row.sync_mode === 'streaming';
  const holdUntil =
    Date.now() + Math.min(options.streamForMs ?? Number.POSITIVE_INFINITY, options.remainingMs() - margin);
  let version = row.pc_version;
  let sealed = false;
  for (;;) {
    const budgetSeconds = Math.floor((holdUntil - Date.now()) / 1000);
    const wait = streaming ? Math.max(0, Math.min(options.maxWaitSeconds ?? 20, budgetSeconds)) : 0;
    let truncated = true;
    let first = true;
    while (truncated) {
      const batch = await watcher.waitForUpdates(version, {
        maxWaitSeconds: first ? wait : 0,
        maxObjectUpdates: options.maxObjectUpdates ?? 5_000,
      });
      first = false;
      truncated = batch.truncated;
      tally.batches++;
      tally.objects += batch.objects.length;
      options.onBatch?.(batch);
      const from = version;
      // The session is written with the first commit of the pass, in case the client logged in again.
      const session = sealed ? null : sealSession(client.serialize(), secret, row.id);
      sealed = true;
      const counts = await applyBatch(deps, row.id, from, batch, session);
      tally.changed += counts.changed;
      tally.deleted += counts.deleted;
      version = batch.version;
    }
    if (!streaming || Date.now() + 1_000 >= holdUntil) return;
    const still = await loadSyncRow(deps.writer, row.id);
    if (!still) throw new VcenterGoneError();
    if (still.sync_mode !== 'streaming' || still.pc_version !== version) return;
  }
}

/** Applies one update batch and saves its version, in one transaction guarded by the version it follows. */
export async function applyBatch(
  deps: SyncDeps,
  vcenterId: string,
  fromVersion: string,
  batch: UpdateBatch,
  session: Buffer | null,
): Promise<WriteCounts> {
  const result = await transaction(deps.writer, vcenterId, async (db, current) => {
    // Another pass moved the watch on (a redelivered message): this batch is already in the tables.
    if (current.pc_version !== fromVersion) throw new VcenterGoneError('version moved on');
    let written: WriteCounts = { changed: 0, deleted: 0, byTable: {} };
    let generation: number | undefined;
    let drifted = false;
    if (batch.objects.length > 0) {
      const plan = await planUpdates(
        batch.objects,
        rowLoader(db, vcenterId),
        await loadResolver(db, vcenterId),
      );
      written = await writePlan(db, vcenterId, plan);
      drifted = plan.unknownModifies > 0;
      if (written.changed + written.deleted > 0) {
        await updateCounts(db, vcenterId);
        generation = await nextGeneration(db, vcenterId);
      }
    }
    await db.query(
      `UPDATE vcenters SET pc_version = $2, synced_through_at = now(), updated_at = now(),
              last_incremental_at = CASE WHEN $3 THEN now() ELSE last_incremental_at END,
              session = coalesce($4, session)
        WHERE id = $1`,
      // An update for an object the tables never had means they drifted: the next pass is a full sync.
      [vcenterId, drifted ? null : batch.version, batch.objects.length > 0, session],
    );
    return { written, generation };
  });
  await publish(deps, vcenterId, result.generation);
  return result.written;
}

async function publish(deps: SyncDeps, vcenterId: string, generation: number | undefined): Promise<void> {
  if (generation === undefined) return;
  await publishGeneration(vcenterId, generation, {
    reader: deps.reader,
    ...(deps.redis ? { client: deps.redis } : {}),
  });
}

/** BEGIN; lock the vCenter's row; work; COMMIT (ROLLBACK on error). A deleted vCenter aborts the pass. */
async function transaction<T>(
  pool: pg.Pool,
  vcenterId: string,
  work: (db: pg.PoolClient, row: VcenterSyncRow) => Promise<T>,
): Promise<T> {
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    const row = await loadSyncRow(db, vcenterId, true);
    if (!row) throw new VcenterGoneError();
    const result = await work(db, row);
    await db.query('COMMIT');
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    db.release();
  }
}

async function recordSuccess(
  db: Queryable,
  row: VcenterSyncRow,
  durationMs: number,
  options: SyncOptions,
): Promise<{ streaming: boolean; sequence: number }> {
  // Streaming: the continuation is the next pass; next_sync_at is only a lease in case the chain breaks.
  const { rows } = await db.query<{ sync_mode: string; sync_sequence: string }>(
    `UPDATE vcenters SET consecutive_failures = 0, last_error = NULL, last_sync_ms = $2, updated_at = now(),
            sync_sequence = sync_sequence + CASE WHEN sync_mode = 'streaming' THEN 1 ELSE 0 END,
            next_sync_at = now() + CASE WHEN sync_mode = 'streaming' THEN make_interval(secs => $3)
                                        ELSE make_interval(secs => sync_interval_seconds) END
      WHERE id = $1 RETURNING sync_mode, sync_sequence`,
    [row.id, durationMs, Math.ceil(Math.max(60_000, options.remainingMs() + 120_000) / 1000)],
  );
  const current = rows[0];
  return { streaming: current?.sync_mode === 'streaming', sequence: Number(current?.sync_sequence ?? 0) };
}

async function recordFailure(db: Queryable, row: VcenterSyncRow, error: string): Promise<void> {
  const failures = row.consecutive_failures + 1;
  await db.query(
    `UPDATE vcenters SET consecutive_failures = consecutive_failures + 1, last_error = $2, last_error_at = now(),
            next_sync_at = now() + make_interval(secs => $3), updated_at = now()
      WHERE id = $1`,
    [row.id, error, backoffSeconds(failures, row.sync_interval_seconds)],
  );
}
