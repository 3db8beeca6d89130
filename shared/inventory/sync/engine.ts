// Inventory sync — use case: one sync pass for one vCenter. Without a valid PropertyCollector version it
// runs a FULL sync (a fresh watch whose initial update set is the whole inventory, staged through COPY and
// merged in one transaction); otherwise an INCREMENTAL pass (WaitForUpdatesEx from the stored version within
// the invocation's time budget, each answer applied with its version in one transaction). The watch is
// saved with the session it lives in, and continued only in that session: a watch that cannot prove it is
// alive (expired session, missing collector or filter, invalid version) is lost, and the same pass runs a
// full sync instead. Failures are recorded on the vCenter's row with backoff; they never reach other vCenters.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { CacheTags } from '#shared/cache';
import { type RedisClient, redis } from '#shared/clients';
import type { SecretStore } from '#shared/secrets';
import {
  InvalidVersionError,
  NetworkError,
  NotAuthenticatedError,
  type ObjectUpdate,
  openVcenter,
  type SerializedSession,
  SoapFault,
  TimeoutError,
  type UpdateBatch,
  type VcenterEndpointRow,
  type VsphereClient,
  type WatcherRef,
} from '#shared/vsphere';
import type { Queryable } from '../queries.ts';
import { nextGeneration, publishGeneration } from '../writes.ts';
import { backoffSeconds, describeFailure } from './backoff.ts';
import { InventoryResolver, type Row, type TableName, watchedProperties, watchedTypes } from './mapping.ts';
import { planUpdates } from './plan.ts';
import { openSession, type SealKey, type SessionKeyring, sealSession } from './session-crypto.ts';
import { sessionKeysFor } from './session-keys.ts';
import {
  loadResolver,
  recordBatch,
  recordEmptyBatch,
  rowLoader,
  updateCounts,
  type WriteCounts,
  writePlan,
  writeSnapshot,
} from './store.ts';

/** A vCenter's registry row, as the sync reads it (its endpoint columns are what `openVcenter` opens from). */
export interface VcenterSyncRow extends VcenterEndpointRow {
  readonly id: string;
  readonly sync_mode: 'streaming' | 'polling';
  readonly sync_interval_seconds: number;
  readonly pc_version: string | null;
  readonly watcher: StoredWatch | null;
  readonly session: Buffer | null;
  readonly consecutive_failures: number;
  readonly sync_sequence: string;
}

/** A watch as stored on the row: its server-side objects and a tag of the session they belong to. */
export type StoredWatch = WatcherRef & { readonly session?: string };

/** What a pass needs from its environment. */
export interface SyncDeps {
  /** The writer pool (COPY and transactions). */
  readonly writer: pg.Pool;
  /** The reader endpoint, for publishing the generation once it shows the commit. */
  readonly reader: Queryable;
  readonly secrets: SecretStore;
  /** Redis for the query-cache generations. @default the process's client */
  readonly redis?: RedisClient;
  /** Seals and opens saved sessions. @default the process's keyring on `writer` (SESSION_KEY) */
  readonly sessionKeys?: SessionKeyring;
}

/** The keyring a pass seals with: the one given, or the process's for its database. */
function keyringOf(deps: Pick<SyncDeps, 'writer' | 'secrets' | 'sessionKeys'>): SessionKeyring {
  return deps.sessionKeys ?? sessionKeysFor(deps.writer, deps.secrets);
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
  /**
   * When the pass was due (epoch ms: the schedule slot the dispatcher claimed, or the request's time). A
   * polling vCenter's next pass is anchored to it, not to when this pass ended, so a 60 s interval behind a
   * 60 s dispatcher stays one pass a minute. @default the pass's start
   */
  readonly dueAt?: number;
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
  /** The stored watch could not be trusted, and why; the pass ran a full sync instead (or failed trying). */
  readonly watchLost?: WatchLostReason;
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

/**
 * Opens the vCenter's saved session (no login) or logs in, for callers that only need some session of the
 * service account (logging a deleted vCenter's session out). Never pooled: the sync's sessions are its own.
 */
export async function openClient(
  row: VcenterSyncRow,
  secret: string,
  keys: SessionKeyring,
): Promise<VsphereClient> {
  const saved = (await openSession(row.session, row.id, keys, secret))?.session;
  if (saved && saved.url === row.url && saved.username === row.username) {
    return openVcenter(row, { session: saved, password: secret, pooled: false });
  }
  return loginForSync(row, secret);
}

/** A fresh session of the sync's own: never the VM-operations pool's, so nothing else can change it. */
function loginForSync(row: VcenterSyncRow, secret: string): Promise<VsphereClient> {
  return openVcenter(row, { password: secret, pooled: false });
}

/** A tag of the session a watch was created in, stored with the watch (a hash: the cookie is a credential). */
function sessionTag(session: SerializedSession): string {
  return createHash('sha256').update(session.cookie).digest('base64url').slice(0, 22);
}

/** Why a pass could not trust the stored watch and ran a full sync instead. */
export type WatchLostReason =
  | 'no saved session'
  | 'not the session of the filter'
  | 'session expired'
  | 'collector gone'
  | 'filter gone'
  | 'invalid version'
  | 'update answer lost'
  | `fault ${string}`;

/** The watch proved dead during the pass. */
class WatchLostError extends Error {
  constructor(readonly reason: WatchLostReason) {
    super(`watch lost: ${reason}`);
  }
}

/** A stored watch that may be continued: its filter's own session, the watch and its version. */
interface SavedWatch {
  readonly session: SerializedSession;
  readonly watcher: WatcherRef;
  readonly version: string;
  /**
   * The same session sealed under the current key, when its record used an older one (a rotation): saved
   * with the pass's first batch, so rotation costs no login and no full sync.
   */
  readonly reseal: Buffer | null;
}

/**
 * The saved watch and the session it lives in, if the row holds both and the session is the one the
 * filter was created in; otherwise why not. A filter and its update queue belong to one collector in one
 * session: any other session (a re-login, a pooled client) asks a collector that holds no filter.
 */
async function savedWatch(
  row: VcenterSyncRow,
  secret: string,
  keys: SessionKeyring,
): Promise<SavedWatch | { lost: WatchLostReason }> {
  if (!row.watcher || row.pc_version === null) return { lost: 'invalid version' };
  const opened = await openSession(row.session, row.id, keys, secret);
  const session = opened?.session;
  if (!opened || !session || session.url !== row.url || session.username !== row.username) {
    return { lost: 'no saved session' };
  }
  if (row.watcher.session !== sessionTag(session)) return { lost: 'not the session of the filter' };
  const current = await keys.current();
  const reseal = opened.version === current.version ? null : sealSession(session, current, row.id);
  return { session, watcher: row.watcher, version: row.pc_version, reseal };
}

// Failures before a request reaches the server: nothing on the server changed, so the watch is intact.
const notSent = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const tlsSetup = /CERT|^ERR_TLS|^ERR_SSL|SELF_SIGNED/;

/** Whether `error` means the watch cannot continue (rather than the vCenter being unreachable). */
function watchLostReason(error: unknown): WatchLostReason | undefined {
  if (error instanceof WatchLostError) return error.reason;
  if (error instanceof NotAuthenticatedError) return 'session expired';
  if (error instanceof InvalidVersionError) return 'invalid version';
  if (error instanceof SoapFault) {
    return error.faultType === 'ManagedObjectNotFound' ? 'collector gone' : `fault ${error.faultType}`;
  }
  // A WaitForUpdatesEx whose answer was lost (reset, timeout, a server error) may have emptied the
  // collector's queue: asking again would answer "no updates" for changes nobody will ever see again.
  if (
    (error instanceof NetworkError || error instanceof TimeoutError) &&
    error.method === 'WaitForUpdatesEx'
  ) {
    const code = error instanceof NetworkError ? (error.code ?? '') : 'timeout';
    if (!notSent.has(code) && !tlsSetup.test(code)) return 'update answer lost';
  }
  return undefined;
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
  let watchLost: WatchLostReason | undefined;
  try {
    secret = await password(deps.secrets, row.secret_ref);
    let done = false;
    if (!options.full) {
      const saved = await savedWatch(row, secret, keyringOf(deps));
      if ('lost' in saved) {
        // A vCenter that was never synced had no watch to lose.
        if (row.watcher !== null || row.pc_version !== null) watchLost = saved.lost;
        await logOutSaved(row, secret, keyringOf(deps));
      } else {
        mode = 'incremental';
        watchLost = await continueWatch(row, saved, deps, options, tally);
        done = watchLost === undefined;
      }
    }
    if (!done) {
      // A lost watch means a full sync now, in this pass, with a fresh session and a fresh watch.
      mode = 'full';
      await fullSync(row, secret, deps, options, tally);
    }
    const durationMs = Date.now() - started;
    const next = await recordSuccess(deps.writer, row, durationMs, options, started);
    return {
      ...base,
      ...tally,
      status: 'synced',
      mode,
      syncMode: row.sync_mode,
      durationMs,
      continueStreaming: next.streaming,
      sequence: next.sequence,
      ...(watchLost ? { watchLost } : {}),
    };
  } catch (error) {
    const durationMs = Date.now() - started;
    const lost = watchLost ? { watchLost } : {};
    if (error instanceof VcenterGoneError) {
      return {
        ...base,
        ...tally,
        ...lost,
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
      ...lost,
      status: 'failed',
      mode,
      syncMode: row.sync_mode,
      durationMs,
      error: text,
      continueStreaming: false,
    };
  }
}

/**
 * Continues the saved watch in its own session, resumed without a password: the client cannot log in
 * again behind the pass's back, so an expired session surfaces as NotAuthenticated instead of a new
 * session whose collector holds no filter. Answers why the watch was lost, or undefined when the pass
 * completed; any other failure (an unreachable vCenter) is thrown with the session left open.
 */
async function continueWatch(
  row: VcenterSyncRow,
  saved: SavedWatch,
  deps: SyncDeps,
  options: SyncOptions,
  tally: Tally,
): Promise<WatchLostReason | undefined> {
  const client = await openVcenter(row, { session: saved.session, pooled: false });
  let lost: WatchLostReason | undefined;
  try {
    await incrementalPass(client, row, saved, deps, options, tally);
  } catch (error) {
    lost = watchLostReason(error);
    if (!lost) throw error;
  } finally {
    // A session whose watch is lost but which still lives is logged out: its collector, view and filter
    // go with it, and vCenter's per-user session limit is not spent on it.
    if (lost && lost !== 'session expired') await client.close();
    else client.release();
  }
  return lost;
}

/** Logs out a saved session the pass will not use (best effort: it may be long dead). */
async function logOutSaved(row: VcenterSyncRow, secret: string, keys: SessionKeyring): Promise<void> {
  const session = (await openSession(row.session, row.id, keys, secret))?.session;
  if (!session || session.url !== row.url) return;
  const client = await openVcenter(row, { session, pooled: false });
  await client.close();
}

type Tally = { objects: number; changed: number; deleted: number; batches: number };

async function fullSync(
  row: VcenterSyncRow,
  secret: string,
  deps: SyncDeps,
  options: SyncOptions,
  tally: Tally,
): Promise<void> {
  // The sealing key is fetched (or, the first time, made) while the vCenter logs in and answers: not after.
  const sealKey = keyringOf(deps).current();
  sealKey.catch(() => {}); // awaited below; a login failure must not leave it unhandled
  const client = await loginForSync(row, secret);
  let kept = false;
  try {
    await snapshotInto(client, row, deps, sealKey, options, tally);
    kept = true;
  } finally {
    // The new session is kept open only when it was saved with its watch; otherwise nobody will use it.
    if (kept) client.release();
    else await client.close();
  }
}

async function snapshotInto(
  client: VsphereClient,
  row: VcenterSyncRow,
  deps: SyncDeps,
  sealKey: Promise<SealKey>,
  options: SyncOptions,
  tally: Tally,
): Promise<void> {
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
  const session = client.serialize();
  const sealed = sealSession(session, await sealKey, row.id);
  const stored: StoredWatch = { ...watcher.ref, session: sessionTag(session) };
  const counts = await transaction(deps.writer, row.id, async (db) => {
    const written = await writeSnapshot(
      db,
      row.id,
      (table: TableName) => plan.upserts.get(table)?.values() ?? ([] as Row[]),
    );
    await updateCounts(db, row.id);
    const generation = written.changed + written.deleted > 0 ? await nextGeneration(db, row.id) : undefined;
    // The watch and the session it lives in are saved together: the next pass continues in no other.
    await db.query(
      `UPDATE vcenters SET pc_version = $2, watcher = $3, session = $4, last_full_sync_at = now(),
              synced_through_at = $5, updated_at = now()
        WHERE id = $1`,
      [row.id, version, JSON.stringify(stored), sealed, syncedAt],
    );
    return { written, generation };
  });
  await publish(deps, row.id, counts.generation, counts.written.tags);
  tally.changed += counts.written.changed;
  tally.deleted += counts.written.deleted;
}

async function incrementalPass(
  client: VsphereClient,
  row: VcenterSyncRow,
  saved: SavedWatch,
  deps: SyncDeps,
  options: SyncOptions,
  tally: Tally,
): Promise<void> {
  const watcher = client.resumeWatcher(saved.watcher);
  const margin = options.marginMs ?? 15_000;
  const streaming = row.sync_mode === 'streaming';
  const holdUntil =
    Date.now() + Math.min(options.streamForMs ?? Number.POSITIVE_INFINITY, options.remainingMs() - margin);
  let version = saved.version;
  let reseal = saved.reseal;
  for (;;) {
    const budgetSeconds = Math.floor((holdUntil - Date.now()) / 1000);
    const wait = streaming ? Math.max(0, Math.min(options.maxWaitSeconds ?? 20, budgetSeconds)) : 0;
    let truncated = true;
    let first = true;
    while (truncated) {
      const maxWaitSeconds = first ? wait : 0;
      const batch = await watcher.waitForUpdates(version, {
        maxWaitSeconds,
        maxObjectUpdates: options.maxObjectUpdates ?? 5_000,
        // A large backlog can take the server longer to compute than the transport's usual timeout, and an
        // answer given up on is lost (the next pass is a full sync): wait for it while the pass can use it.
        timeoutMs: Math.max(client.transport.timeoutMs, holdUntil - Date.now() - maxWaitSeconds * 1000),
      });
      first = false;
      truncated = batch.truncated;
      tally.batches++;
      tally.objects += batch.objects.length;
      options.onBatch?.(batch);
      // "No updates" is also what a collector without the filter answers: trusted only once the collector
      // shows it still holds the filter (one property read; answers that carry updates prove it already).
      if (batch.objects.length === 0 && !(await watcher.holdsFilter()))
        throw new WatchLostError('filter gone');
      const counts = await applyBatch(deps, row.id, version, batch, reseal);
      reseal = null;
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
  if (batch.objects.length === 0) {
    // Nothing to plan, write or count: one statement, guarded by the version, moves the watch on.
    if (!(await recordEmptyBatch(deps.writer, vcenterId, fromVersion, batch.version, session)))
      throw new VcenterGoneError('version moved on');
    return { changed: 0, deleted: 0, byTable: {} };
  }
  const result = await transaction(deps.writer, vcenterId, async (db, current) => {
    // Another pass moved the watch on (a redelivered message): this batch is already in the tables.
    if (current.pc_version !== fromVersion) throw new VcenterGoneError('version moved on');
    // The stored containers and hosts are read only when the batch needs derived values.
    const plan = await planUpdates(batch.objects, rowLoader(db, vcenterId), () =>
      loadResolver(db, vcenterId),
    );
    const written = await writePlan(db, vcenterId, plan);
    // Version, counts (moved by the writes' deltas, not recounted) and generation in one statement. An update
    // for an object the tables never had means they drifted: no version, so the next pass is a full sync.
    const generation = await recordBatch(db, vcenterId, {
      version: plan.unknownModifies > 0 ? null : batch.version,
      written,
      session,
    });
    return { written, generation };
  });
  await publish(deps, vcenterId, result.generation, result.written.tags);
  return result.written;
}

/**
 * After COMMIT: the new generation (once the reader shows it), then the change times of what the writes
 * touched (cache tags), so exactly the provisioning entries built from those objects move on.
 */
async function publish(
  deps: SyncDeps,
  vcenterId: string,
  generation: number | undefined,
  tags?: Set<string>,
) {
  if (generation === undefined) return;
  await publishGeneration(vcenterId, generation, {
    reader: deps.reader,
    ...(deps.redis ? { client: deps.redis } : {}),
  });
  if (tags) await new CacheTags(deps.redis ?? redis()).touch(vcenterId, tags);
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
  startedAt: number,
): Promise<{ streaming: boolean; sequence: number }> {
  // Streaming: the continuation is the next pass; next_sync_at is only a lease in case the chain breaks.
  // Polling: the first point of the schedule (due + k × interval, k ≥ 1) that lies ahead, so passes stay on
  // their slots however long one took, and a late pass skips the slots it missed instead of catching up.
  const { rows } = await db.query<{ sync_mode: string; sync_sequence: string }>(
    `UPDATE vcenters SET consecutive_failures = 0, last_error = NULL, last_sync_ms = $2, updated_at = now(),
            sync_sequence = sync_sequence + CASE WHEN sync_mode = 'streaming' THEN 1 ELSE 0 END,
            next_sync_at = CASE WHEN sync_mode = 'streaming' THEN now() + make_interval(secs => $3)
              ELSE to_timestamp($4::float8 / 1000) + make_interval(secs => sync_interval_seconds * greatest(1,
                     ceil(extract(epoch FROM now() - to_timestamp($4::float8 / 1000)) / sync_interval_seconds)))
              END
      WHERE id = $1 RETURNING sync_mode, sync_sequence`,
    [
      row.id,
      durationMs,
      Math.ceil(Math.max(60_000, options.remainingMs() + 120_000) / 1000),
      options.dueAt ?? startedAt,
    ],
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
