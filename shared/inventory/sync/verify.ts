// Inventory sync — use case: the drift check. An inventory that serves stale rows as fresh is the worst failure
// this product can have, so each vCenter is verified at most once per SYNC_VERIFY_INTERVAL: the sync dispatcher
// claims the vCenters whose verification is due (`next_verify_at`, after a first full sync) and enqueues one LOW
// `inventory-verify` job each; the ops LOW worker retrieves the vCenter's current state exactly as a full sync
// does (a temporary watch's initial update set over the sync's watched kinds and properties, every call through
// the vCenter's limiter on LOW, the watch destroyed afterwards), maps it with the sync's own planner into rows,
// COPYs them into temporary tables built LIKE the inventory tables (so each staged row gets its `row_hash` from
// the very expression the table uses) and lets PostgreSQL compare per table: rows missing, extra and differing
// by hash. Nothing is written to the inventory (the transaction that holds the temporary tables is rolled back).
// A drift is logged (`inventory drift`), counted (`InventoryDrift`) and repaired by the next pass, made a full
// one; the registry's views show the last verification.
//
// Racing the sync: a row can differ only because the sync has not applied a change yet (lag: a polling vCenter
// is minutes behind by design) or because a pass rewrote it while the snapshot was taken. So a mismatch is
// re-checked once, against the same staged snapshot, after the sync has looked at the vCenter again past the
// retrieval (`synced_through_at` beyond its end: a streaming pass does within its 20 s waits; a polling
// vCenter is asked for an incremental pass), and only rows that no pass wrote since the verification began
// (`updated_at` before it) count. A change that the sync applies, or a row it rewrites meanwhile, is therefore
// never drift; a row that differs though the sync has seen the vCenter since is. Comparing only when
// pc_version did not move would have been simpler but starves busy vCenters, whose version moves every few
// seconds, and still mistakes a polling vCenter's lag for drift.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ConfigError } from '#shared/config';
import { NotFoundError } from '#shared/http';
import { logger, metrics } from '#shared/observability';
import { type InventoryVerifyJob, type JobOutcome, jobKey, type Limiter } from '#shared/ops';
import type { ObjectUpdate, VsphereClient } from '#shared/vsphere';
import type { Queryable } from '../queries.ts';
import { describeFailure } from './backoff.ts';
import {
  copyField,
  InventoryResolver,
  type Row,
  type TableName,
  type TableSpec,
  tableSpecs,
  watchedProperties,
  watchedTypes,
} from './mapping.ts';
import { type Plan, planUpdates } from './plan.ts';
import { requestedDedupId, sendSyncMessages } from './queue.ts';

// --- Settings ---------------------------------------------------------------------------------------------

/** Environment variable of the verification interval. */
export const verifyIntervalEnvName = 'SYNC_VERIFY_INTERVAL';

/** Default seconds between two verifications of one vCenter. */
export const defaultVerifyIntervalSeconds = 3_600;

/**
 * The verification interval from an environment: whole seconds, 60 … 604,800 (a week), default 3,600.
 * @throws ConfigError naming SYNC_VERIFY_INTERVAL
 */
export function parseVerifyInterval(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env[verifyIntervalEnvName];
  if (raw === undefined || raw.trim() === '') return defaultVerifyIntervalSeconds;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 60 || value > 604_800) {
    throw new ConfigError(
      `${verifyIntervalEnvName} must be a whole number of seconds between 60 and 604800, got "${raw}"`,
    );
  }
  return value;
}

let intervalMemo: number | undefined;

/** The process's verification interval, read once and checked. @throws ConfigError */
export function verifyIntervalSeconds(): number {
  intervalMemo ??= parseVerifyInterval(process.env);
  return intervalMemo;
}

// --- Scheduling (the sync dispatcher) ---------------------------------------------------------------------

/**
 * Deduplication id of a verification job: one per vCenter per verify slot, the slot being the claim's new
 * `next_verify_at` (epoch ms). A claim is unique, so a resend of its message (the SDK's retry, a repeated
 * batch) collapses, while a verification brought forward (after a drift, or by an operator) is never mistaken
 * for the previous one, as a slot counted in whole intervals would be within SQS's five-minute window.
 */
export const verifyDedupId = (vcenterId: string, slot: number | string): string => `${vcenterId}:v:${slot}`;

/** The LOW job that verifies one vCenter. */
export const verifyJob = (vcenterId: string, now = Date.now()): InventoryVerifyJob => ({
  v: 1,
  type: 'inventory-verify',
  vcenterId,
  lane: 'LOW',
  enqueuedAt: now,
});

/** Options of {@link dispatchDueVerifications}. */
export interface VerifyDispatchOptions {
  readonly sqs: SQSClient;
  /** The LOW lane's queue (ops-low.fifo). */
  readonly queueUrl: string;
  /** @default {@link verifyIntervalSeconds} */
  readonly intervalSeconds?: number;
  /** Most vCenters claimed per call (spreads a fleet that became due together over ticks). @default 50 */
  readonly limit?: number;
}

/**
 * Claims the vCenters whose verification is due (they must have had a full sync) and enqueues one LOW job each.
 * The claim pushes `next_verify_at` a whole interval ahead, so a vCenter is verified at most once per
 * interval; a job that is lost waits for the next one. Answers how many were enqueued and which could not be
 * (due again at the next tick).
 */
export async function dispatchDueVerifications(
  db: Queryable,
  options: VerifyDispatchOptions,
): Promise<{ enqueued: number; failed: string[] }> {
  const interval = options.intervalSeconds ?? verifyIntervalSeconds();
  const { rows } = await db.query<{ id: string; slot: string }>(
    `UPDATE vcenters SET next_verify_at = now() + make_interval(secs => $2)
      WHERE id IN (SELECT id FROM vcenters WHERE last_full_sync_at IS NOT NULL AND next_verify_at <= now()
                    ORDER BY next_verify_at LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING id, floor(extract(epoch FROM next_verify_at) * 1000)::bigint::text AS slot`,
    [options.limit ?? 50, interval],
  );
  const now = Date.now();
  const failed: string[] = [];
  for (let start = 0; start < rows.length; start += 10) {
    const batch = rows.slice(start, start + 10);
    try {
      const answer = await options.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: batch.map(({ id, slot }, index) => {
            const job = verifyJob(id, now);
            return {
              Id: String(index),
              MessageBody: JSON.stringify(job),
              MessageGroupId: jobKey(job),
              MessageDeduplicationId: verifyDedupId(id, slot),
            };
          }),
        }),
      );
      for (const failure of answer.Failed ?? []) {
        const entry = batch[Number(failure.Id)];
        if (entry) failed.push(entry.id);
      }
    } catch {
      failed.push(...batch.map(({ id }) => id));
    }
  }
  if (failed.length > 0) {
    await db.query('UPDATE vcenters SET next_verify_at = now() WHERE id = ANY($1::text[])', [failed]);
  }
  return { enqueued: rows.length - failed.length, failed };
}

// --- Results (pure) ---------------------------------------------------------------------------------------

/** One table's comparison: rows on each side, and rows missing, extra and differing in the database. */
export interface TableComparison {
  /** Rows the vCenter's snapshot maps to. */
  readonly vcenter: number;
  /** Rows the table holds for the vCenter. */
  readonly stored: number;
  /** In the vCenter, not in the table. */
  readonly missing: number;
  /** In the table (unwritten since the check began), not in the vCenter. */
  readonly extra: number;
  /** In both, with a different row_hash (the table's row unwritten since the check began). */
  readonly differing: number;
}

/** What a verification found, as stored in `last_verify_counts`. */
export interface VerifyCounts {
  readonly missing: number;
  readonly extra: number;
  readonly differing: number;
  readonly byTable: Partial<Record<TableName, TableComparison>>;
}

/** Totals over the tables. */
export function summarize(byTable: Partial<Record<TableName, TableComparison>>): VerifyCounts {
  let missing = 0;
  let extra = 0;
  let differing = 0;
  for (const table of Object.values(byTable)) {
    missing += table.missing;
    extra += table.extra;
    differing += table.differing;
  }
  return { missing, extra, differing, byTable };
}

/** `drift` when any row is missing, extra or differing; else `match`. */
export function verdict(counts: Pick<VerifyCounts, 'missing' | 'extra' | 'differing'>): 'match' | 'drift' {
  return counts.missing + counts.extra + counts.differing > 0 ? 'drift' : 'match';
}

/** The outcome of one verification. */
export type VerifyResult =
  | {
      readonly status: 'match' | 'drift';
      readonly counts: VerifyCounts;
      /** A mismatch was re-checked after the sync had looked at the vCenter again. */
      readonly rechecked: boolean;
      /** Up to five moids per table that drifted (for the log). */
      readonly samples: Partial<Record<TableName, string[]>>;
      readonly durationMs: number;
    }
  | { readonly status: 'error'; readonly error: string; readonly durationMs: number }
  /** Nothing to verify (the vCenter is gone, or has not had its full sync yet). */
  | { readonly status: 'skipped'; readonly why: string }
  /** No LOW slot in time: the job goes back to its queue (higher lanes come first). */
  | { readonly status: 'requeue' };

/** Maps a verification's outcome to the ops worker's job outcome. */
export function jobOutcome(result: VerifyResult): JobOutcome {
  if (result.status === 'requeue') return { kind: 'requeue', delaySeconds: 1 };
  if (result.status === 'skipped') return { kind: 'skipped', why: result.why };
  return { kind: 'done' };
}

// --- Verification -----------------------------------------------------------------------------------------

/** What a verification needs. */
export interface VerifyDeps {
  /** The writer pool: temporary tables need a writable session (no inventory row is written). */
  readonly writer: pg.Pool;
  /** A logged-in client for the vCenter (the ops sessions). @throws NotFoundError for an unknown vCenter */
  client(vcenterId: string): Promise<VsphereClient>;
  /** The per-vCenter limiter: every upstream call holds a LOW slot, handed back when the call ends. */
  readonly limiter: Pick<Limiter, 'withSlot'>;
  /**
   * Asks the sync for a pass now (a polling vCenter only): incremental for the re-check, full to repair a
   * confirmed drift.
   */
  requestPass(vcenterId: string, syncedThroughAt: Date | null, full: boolean): Promise<void>;
  /** Sees the wait of the job's first slot (the lane wait, counted from `requestedAt`). */
  onGrant?(waitMs: number | undefined): void;
}

/** Options of one verification. */
export interface VerifyOptions {
  /** Epoch ms the job was enqueued (its lane wait is counted from there). */
  readonly requestedAt?: number;
  /** Inline wait for the first slot before the job goes back to its queue. @default 250 (the LOW lane's) */
  readonly firstSlotWaitMs?: number;
  /** Wait for each later slot (the retrieval is under way). @default 10_000 */
  readonly slotWaitMs?: number;
  /** Object updates per page of the retrieval. @default 5_000 */
  readonly maxObjectUpdates?: number;
  /** How long a re-check waits for the sync to look at the vCenter again. @default 45_000 */
  readonly settleTimeoutMs?: number;
  /** How far past the retrieval the sync must have looked (clock skew, commit delay). @default 1_000 */
  readonly settleMarginMs?: number;
  /** @default 500 */
  readonly settlePollMs?: number;
}

/** Name of the drift metric (EMF). */
export const inventoryDriftMetric = 'InventoryDrift';

interface VerifyRow {
  id: string;
  sync_mode: 'streaming' | 'polling';
  last_full_sync_at: Date | null;
  synced_through_at: Date | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function dbClock(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ now: string }>('SELECT clock_timestamp()::text AS now');
  return rows[0]?.now as string;
}

const isLimiterTimeout = (error: unknown) => (error as Error | undefined)?.name === 'LimiterTimeoutError';

/**
 * Verifies one vCenter and records the outcome on its row (`last_verify_*`). A drift also brings the next
 * verification forward (to confirm the repair) and makes the next pass a full sync, due now: `pc_version` NULL
 * and `next_sync_at` now, atomically with the result, so whatever pass comes next is full even if a message is
 * lost (a streaming vCenter's running pass stops at its next batch and the chain continues with it; a queued
 * message would start a second self-re-enqueuing chain there); a polling vCenter is also sent a requested full
 * pass, because a pass still finishing could push its `next_sync_at` out by a whole interval.
 */
export async function verifyVcenter(
  deps: VerifyDeps,
  vcenterId: string,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const started = Date.now();
  const { rows } = await deps.writer.query<VerifyRow>(
    'SELECT id, sync_mode, last_full_sync_at, synced_through_at FROM vcenters WHERE id = $1',
    [vcenterId],
  );
  const row = rows[0];
  if (!row) return { status: 'skipped', why: 'vCenter gone' };
  if (!row.last_full_sync_at) return { status: 'skipped', why: 'no full sync yet' };
  let result: VerifyResult;
  try {
    const client = await deps.client(vcenterId);
    // Rows written from here on are the sync's fresh work, never drift (see the header).
    const since = await dbClock(deps.writer);
    const objects = await retrieve(client, deps, vcenterId, options);
    const retrievedAt = await dbClock(deps.writer);
    const plan = await planUpdates(objects, async () => [], new InventoryResolver());
    objects.length = 0;
    result = await compare(deps, row, plan, since, retrievedAt, options, started);
  } catch (error) {
    if (isLimiterTimeout(error)) return { status: 'requeue' };
    if (error instanceof NotFoundError) return { status: 'skipped', why: 'vCenter gone' };
    result = { status: 'error', error: describeFailure(error, []), durationMs: Date.now() - started };
  }
  await record(deps.writer, vcenterId, result);
  if (result.status === 'drift') {
    if (row.sync_mode === 'polling') {
      await deps.requestPass(vcenterId, row.synced_through_at, true).catch((error: unknown) =>
        logger.warn('inventory verification: full sync not requested (due at the next tick)', {
          vcenterId,
          error: (error as Error).name,
        }),
      );
    }
    logger.warn('inventory drift', {
      vcenterId,
      missing: result.counts.missing,
      extra: result.counts.extra,
      differing: result.counts.differing,
      byTable: result.counts.byTable,
      samples: result.samples,
      action: 'full sync due now',
    });
    const single = metrics.singleMetric();
    single.addMetadata('vcenterId', vcenterId);
    single.addMetric(inventoryDriftMetric, MetricUnit.Count, 1);
  } else if (result.status === 'error') {
    logger.warn('inventory verification failed', { vcenterId, error: result.error });
  } else if (result.status === 'match') {
    logger.info('inventory verified', { vcenterId, rechecked: result.rechecked, ms: result.durationMs });
  }
  return result;
}

/** The current state as a full sync reads it: a temporary watch's initial update set, paged, then destroyed. */
async function retrieve(
  client: VsphereClient,
  deps: VerifyDeps,
  vcenterId: string,
  options: VerifyOptions,
): Promise<ObjectUpdate[]> {
  // One LOW slot per upstream call (a higher lane's waiter gets the vCenter between pages); the first waits
  // only the lane's short inline wait, so a busy vCenter hands the job back to its queue at once.
  const slot = <R>(first: boolean, work: () => Promise<R>) =>
    deps.limiter.withSlot(
      vcenterId,
      'LOW',
      {
        timeoutMs: first ? (options.firstSlotWaitMs ?? 250) : (options.slotWaitMs ?? 10_000),
        ...(first && options.requestedAt !== undefined ? { requestedAt: options.requestedAt } : {}),
      },
      (lease) => {
        if (first) deps.onGrant?.(lease.waitMs);
        return work();
      },
    );
  const watcher = await slot(true, () =>
    client.createWatcher({ types: watchedTypes as never, properties: watchedProperties as never }),
  );
  try {
    const objects: ObjectUpdate[] = [];
    let version = '';
    for (let truncated = true; truncated; ) {
      const batch = await slot(false, () =>
        watcher.waitForUpdates(version, {
          maxWaitSeconds: 0,
          maxObjectUpdates: options.maxObjectUpdates ?? 5_000,
        }),
      );
      for (const object of batch.objects) objects.push(object);
      version = batch.version;
      truncated = batch.truncated;
    }
    return objects;
  } finally {
    // The temporary collector, view and filter go whatever happened (best effort, still through the limiter).
    await slot(false, () => watcher.destroy()).catch((error: unknown) =>
      logger.warn('inventory verification: temporary watch not destroyed', {
        vcenterId,
        error: (error as Error).name,
      }),
    );
  }
}

const stagingName = (table: TableName) => `verify_${table}`;

function* copyLines(vcenterId: string, spec: TableSpec, rows: Iterable<Row>): Generator<string> {
  const prefix = `${copyField(vcenterId)}\t`;
  let chunk = '';
  let count = 0;
  for (const row of rows) {
    chunk += `${prefix}${spec.columns.map((column) => copyField(row[column] ?? null)).join('\t')}\n`;
    if (++count === 1_000) {
      yield chunk;
      chunk = '';
      count = 0;
    }
  }
  if (chunk) yield chunk;
}

/** COPYs the snapshot's rows into temporary tables shaped (and hashed) like the inventory's. */
async function stage(db: pg.ClientBase, vcenterId: string, plan: Plan): Promise<void> {
  for (const spec of tableSpecs) {
    const staging = stagingName(spec.name);
    // LIKE … INCLUDING GENERATED: the staged row_hash is computed by the table's own expression.
    await db.query(
      `CREATE TEMP TABLE ${staging} (LIKE ${spec.name} INCLUDING DEFAULTS INCLUDING GENERATED, PRIMARY KEY (moid))
         ON COMMIT DROP`,
    );
    await pipeline(
      Readable.from(copyLines(vcenterId, spec, plan.upserts.get(spec.name)?.values() ?? [])),
      db.query(copyFrom(`COPY ${staging} (vcenter_id, ${spec.columns.join(', ')}) FROM STDIN`)),
    );
    await db.query(`ANALYZE ${staging}`);
  }
}

interface Compared {
  byTable: Partial<Record<TableName, TableComparison>>;
  samples: Partial<Record<TableName, string[]>>;
}

/** One query per table: counts on both sides and rows missing, extra and differing by row_hash. */
async function compareTables(db: pg.ClientBase, vcenterId: string, since: string): Promise<Compared> {
  const out: Compared = { byTable: {}, samples: {} };
  for (const spec of tableSpecs) {
    const { rows } = await db.query<TableComparison & { sample: string[] }>(
      `SELECT count(s.moid)::int AS vcenter, count(t.moid)::int AS stored,
              count(*) FILTER (WHERE t.moid IS NULL)::int AS missing,
              count(*) FILTER (WHERE s.moid IS NULL AND t.updated_at < $2::timestamptz)::int AS extra,
              count(*) FILTER (WHERE s.moid IS NOT NULL AND t.updated_at < $2::timestamptz
                                 AND s.row_hash IS DISTINCT FROM t.row_hash)::int AS differing,
              coalesce((array_agg(coalesce(s.moid, t.moid) ORDER BY coalesce(s.moid, t.moid))
                FILTER (WHERE t.moid IS NULL
                           OR (t.updated_at < $2::timestamptz AND s.row_hash IS DISTINCT FROM t.row_hash)))[1:5],
                '{}') AS sample
         FROM ${stagingName(spec.name)} s
         FULL JOIN (SELECT moid, row_hash, updated_at FROM ${spec.name} WHERE vcenter_id = $1) t
           ON t.moid = s.moid`,
      [vcenterId, since],
    );
    const { sample, ...counts } = rows[0] as TableComparison & { sample: string[] };
    out.byTable[spec.name] = counts;
    if (sample.length > 0) out.samples[spec.name] = sample;
  }
  return out;
}

/**
 * Waits until the sync has looked at the vCenter past `retrievedAt` (asking a polling vCenter for a pass).
 * False when it did not within the timeout (the sync is failing or far behind).
 */
async function settle(
  deps: VerifyDeps,
  row: VerifyRow,
  retrievedAt: string,
  options: VerifyOptions,
): Promise<boolean> {
  const margin = options.settleMarginMs ?? 1_000;
  const deadline = Date.now() + (options.settleTimeoutMs ?? 45_000);
  const caughtUp = async () => {
    const { rows } = await deps.writer.query<{ ok: boolean | null; mode: string; through: Date | null }>(
      `SELECT synced_through_at > $2::timestamptz + make_interval(secs => $3) AS ok, sync_mode AS mode,
              synced_through_at AS through
         FROM vcenters WHERE id = $1`,
      [row.id, retrievedAt, margin / 1000],
    );
    return rows[0];
  };
  const first = await caughtUp();
  if (!first) return false;
  if (first.ok) return true;
  if (first.mode === 'polling') {
    // The pass must look after the margin, or its synced_through_at would fall inside it.
    await sleep(margin);
    await deps.requestPass(row.id, first.through, false);
  }
  for (;;) {
    const current = await caughtUp();
    if (!current) return false;
    if (current.ok) return true;
    if (Date.now() >= deadline) return false;
    await sleep(options.settlePollMs ?? 500);
  }
}

async function compare(
  deps: VerifyDeps,
  row: VerifyRow,
  plan: Plan,
  since: string,
  retrievedAt: string,
  options: VerifyOptions,
  started: number,
): Promise<VerifyResult> {
  const db = await deps.writer.connect();
  try {
    await db.query('BEGIN');
    await stage(db, row.id, plan);
    let compared = await compareTables(db, row.id, since);
    let rechecked = false;
    if (verdict(summarize(compared.byTable)) === 'drift') {
      // Lag or a pass under way, or drift: re-check once, after the sync has looked at the vCenter again.
      rechecked = true;
      if (!(await settle(deps, row, retrievedAt, options))) {
        return {
          status: 'error',
          error: `the sync did not look at the vCenter again within ${Math.round((options.settleTimeoutMs ?? 45_000) / 1000)} s, so a mismatch could not be confirmed`,
          durationMs: Date.now() - started,
        };
      }
      compared = await compareTables(db, row.id, since);
    }
    const counts = summarize(compared.byTable);
    return {
      status: verdict(counts),
      counts,
      rechecked,
      samples: compared.samples,
      durationMs: Date.now() - started,
    };
  } finally {
    // Nothing to keep: the rollback drops the temporary tables; a session that cannot roll back is discarded.
    const rolledBack = await db.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    db.release(!rolledBack);
  }
}

async function record(db: Queryable, vcenterId: string, result: VerifyResult): Promise<void> {
  if (result.status !== 'match' && result.status !== 'drift' && result.status !== 'error') return;
  const drift = result.status === 'drift';
  await db.query(
    `UPDATE vcenters SET last_verify_at = now(), last_verify_result = $2, last_verify_counts = $3,
            last_verify_error = $4, last_verify_ms = $5, updated_at = now(),
            pc_version = CASE WHEN $6 THEN NULL ELSE pc_version END,
            next_sync_at = CASE WHEN $6 THEN now() ELSE next_sync_at END,
            next_verify_at = CASE WHEN $6 THEN least(next_verify_at, now() + interval '15 minutes')
                                  ELSE next_verify_at END
      WHERE id = $1`,
    [
      vcenterId,
      result.status,
      result.status === 'error' ? null : JSON.stringify(result.counts),
      result.status === 'error' ? result.error : null,
      result.durationMs,
      drift,
    ],
  );
}

// --- The LOW lane's runner --------------------------------------------------------------------------------

let running = false;

/**
 * The ops worker's runner for `inventory-verify` jobs. One verification per process at a time (each holds a
 * vCenter's whole snapshot in memory): another one in the same batch goes back to its queue for a worker
 * that is free.
 */
export async function runInventoryVerifyJob(
  deps: VerifyDeps,
  job: InventoryVerifyJob,
  options: VerifyOptions = {},
): Promise<JobOutcome> {
  if (running) return { kind: 'requeue', delaySeconds: 5 };
  running = true;
  try {
    return jobOutcome(await verifyVcenter(deps, job.vcenterId, { requestedAt: job.enqueuedAt, ...options }));
  } finally {
    running = false;
  }
}

/** `requestPass` over the sync queue: an operator-style request (deduplicated like one). */
export function sqsPassRequests(sqs: SQSClient, queueUrl: string): VerifyDeps['requestPass'] {
  return async (vcenterId, syncedThroughAt, full) => {
    const failed = await sendSyncMessages(sqs, queueUrl, [
      {
        message: { vcenterId, reason: 'requested', ...(full ? { full: true } : {}) },
        deduplicationId: requestedDedupId(
          vcenterId,
          full,
          Date.now(),
          syncedThroughAt ? syncedThroughAt.toISOString() : null,
        ),
      },
    ]);
    if (failed.length > 0) logger.warn('inventory verification: sync pass not requested', { vcenterId });
  };
}
