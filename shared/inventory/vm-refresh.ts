// Inventory — use cases and adapters: a user-requested VM refresh through the ops HIGH lane. The route enqueues one
// `vm-refresh` job per VM and 5 s window (a burst of clicks is one upstream call) and waits briefly for the
// worker's completion record; the worker reads the VM's inventory properties (the sync's property set) through
// the vCenter's limiter, writes its row the way the sync's incremental path does (plan → writePlan, a new
// generation, published after COMMIT so the query cache moves on), and records the outcome in Redis.
import type pg from 'pg';
import { keyPrefixFromEnv } from '#shared/cache';
import { postgres, type RedisClient, redis } from '#shared/clients';
import { NotFoundError, parseIdParam } from '#shared/http';
import {
  loadResolver,
  loadSyncRow,
  planUpdates,
  rowLoader,
  updateCounts,
  watchedProperties,
  writePlan,
} from '#shared/inventory/sync';
import { logger } from '#shared/observability';
import {
  type JobOutcome,
  type JobQueue,
  type Limiter,
  LimiterTimeoutError,
  type OpsService,
  recordLaneWait,
  type VcenterSessions,
  type VmRefreshJob,
} from '#shared/ops';
import { NetworkError, SoapFault, TimeoutError, type VimValue, type VsphereClient } from '#shared/vsphere';
// The query module (for the answer's VM) is loaded on first use, so it adds nothing to cold starts.
import type { Queryable, VmView } from './queries.ts';
import { nextGeneration, publishGeneration } from './writes.ts';

/** How a refresh job ended, as the waiting route reads it. */
export interface RefreshRecord {
  /** The job's `enqueuedAt`: a record answers every request of that job's dedup window. */
  readonly enqueuedAt: number;
  /** Epoch ms when the worker finished (the row is at least this fresh). */
  readonly refreshedAt: number;
  /** `failed`: vCenter did not answer; SQS retries the job. */
  readonly outcome: 'done' | 'not_found' | 'failed';
  /** A short error code for `failed` (never a message that could carry a secret). */
  readonly error?: string;
}

/** Completion records of refresh jobs, one per VM (the latest). */
export interface RefreshLog {
  get(vmId: string): Promise<RefreshRecord | undefined>;
  put(vmId: string, record: RefreshRecord): Promise<void>;
}

/** What happened to the stored row. */
export type StoreOutcome =
  /** Written (or unchanged: the row already held these values). */
  | 'stored'
  /** The row was deleted: the vCenter says the VM does not exist. */
  | 'deleted'
  /** The sync wrote the row after this read began: its view is at least as new, so ours is not written. */
  | 'superseded'
  /** The vCenter left the registry meanwhile. */
  | 'vcenter-gone';

/** The inventory as the refresh reads and writes it. */
export interface VmInventory {
  /** The database's clock, read before the vCenter is: the sync's writes after it are newer than our read. */
  clock(): Promise<Date>;
  /**
   * Writes the VM's rows from its full property set, or deletes them (`props` null), unless the sync
   * changed the row after `readSince`; makes the query cache drop the vCenter's answers when rows changed.
   */
  store(
    vcenterId: string,
    moid: string,
    props: Readonly<Record<string, VimValue>> | null,
    readSince: Date,
  ): Promise<StoreOutcome>;
  /** The VM as `GET /api/v1/vms/{id}` answers it (its `vm` member). @throws NotFoundError */
  view(vcenterId: string, moid: string): Promise<VmView>;
}

/** What the refresh use cases need. */
export interface VmRefreshDeps {
  readonly sessions: VcenterSessions;
  readonly limiter: Limiter;
  readonly jobs: JobQueue;
  readonly refreshes: RefreshLog;
  readonly inventory: VmInventory;
  /** How long the route waits for the worker before answering 202. @default 3 s */
  readonly refreshWaitMs?: number;
  /** How long the worker waits for a HIGH slot before handing the job back to its queue. @default 1 s */
  readonly refreshSlotWaitMs?: number;
  /** @default 10 s */
  readonly readTimeoutMs?: number;
}

/** Requests of one VM inside this window share one job (one RetrievePropertiesEx). */
export const refreshWindowMs = 5_000;

/** The route's answer: the VM as just read, or "queued" when the worker did not finish in time. */
export type RefreshAnswer =
  | { readonly status: 'refreshed'; readonly refreshedAt: string; readonly vm: VmView }
  | { readonly status: 'queued'; readonly lastError?: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The route's use case: enqueue the refresh on HIGH (deduplicated per VM and window) and wait briefly for it.
 * @throws BadRequestError for a malformed id, NotFoundError for an unknown vCenter or a VM the vCenter does
 *   not have
 */
export async function refreshVm(deps: VmRefreshDeps, vmId: string): Promise<RefreshAnswer> {
  const ref = parseIdParam(vmId);
  await deps.sessions.identity(ref.vcenterId);
  const now = Date.now();
  // The job of this window (ours, or the one ours collapsed into) was enqueued at or after its start.
  const windowStart = now - (now % refreshWindowMs);
  const job: VmRefreshJob = { v: 1, type: 'vm-refresh', vmId, lane: 'HIGH', enqueuedAt: now };
  await deps.jobs.enqueue(job, `vmrefresh:${vmId}`, refreshWindowMs);
  const deadline = now + (deps.refreshWaitMs ?? 3_000);
  let failed: RefreshRecord | undefined;
  for (let delay = 20; ; delay = Math.min(100, delay * 1.5)) {
    const record = await deps.refreshes.get(vmId);
    if (record && record.enqueuedAt >= windowStart) {
      if (record.outcome === 'done') {
        const vm = await deps.inventory.view(ref.vcenterId, ref.moid);
        return { status: 'refreshed', refreshedAt: new Date(record.refreshedAt).toISOString(), vm };
      }
      if (record.outcome === 'not_found')
        throw new NotFoundError(`No VM ${vmId} on vCenter ${ref.vcenterId}`);
      // Failed upstream: SQS retries it (after 2 s); keep waiting, then say why it is still queued.
      failed = record;
    }
    if (Date.now() + delay > deadline) break;
    await sleep(delay);
  }
  return failed?.error ? { status: 'queued', lastError: failed.error } : { status: 'queued' };
}

function isNotFound(error: unknown): boolean {
  return error instanceof SoapFault && error.faultType === 'ManagedObjectNotFound';
}

function errorCode(error: unknown): string {
  if (error instanceof NetworkError) return error.code ?? 'NetworkError';
  if (error instanceof TimeoutError) return 'timeout';
  return (error as Error).name ?? 'Error';
}

/**
 * The worker's use case: read the VM's inventory properties through the HIGH lane of its vCenter's limiter
 * and store its row. No slot within the short inline wait → `requeue`. Upstream failures are recorded (the
 * waiting route says why) and rethrown, so SQS retries the job.
 */
export async function runVmRefreshJob(deps: VmRefreshDeps, job: VmRefreshJob): Promise<JobOutcome> {
  const ref = parseIdParam(job.vmId);
  const last = await deps.refreshes.get(job.vmId);
  // A redelivered job, or one a later job already covered.
  if (last && last.outcome !== 'failed' && last.enqueuedAt >= job.enqueuedAt) {
    return { kind: 'skipped', why: 'already refreshed' };
  }
  const finish = (outcome: RefreshRecord['outcome'], error?: string) =>
    deps.refreshes.put(job.vmId, {
      enqueuedAt: job.enqueuedAt,
      refreshedAt: Date.now(),
      outcome,
      ...(error ? { error } : {}),
    });
  let client: VsphereClient;
  try {
    // The session first (pooled per process); the slot is taken once the connection is ready.
    client = await deps.sessions.forVcenter(ref.vcenterId);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    await finish('not_found');
    return { kind: 'skipped', why: 'unknown vCenter' };
  }
  const readSince = await deps.inventory.clock();
  let props: Readonly<Record<string, VimValue>> | null;
  try {
    props = await deps.limiter.withAdmission(
      ref.vcenterId,
      'HIGH',
      {
        timeoutMs: deps.refreshSlotWaitMs ?? 1_000,
        requestedAt: job.enqueuedAt,
        onGrant: (lease) => recordLaneWait('HIGH', lease.waitMs),
      },
      (admit) =>
        client.readProperties({ type: 'VirtualMachine', value: ref.moid }, watchedProperties.VirtualMachine, {
          timeoutMs: deps.readTimeoutMs ?? 10_000,
          admit,
        }),
    );
    // An object the collector does not return is not there.
    if (Object.keys(props).length === 0) props = null;
  } catch (error) {
    if (error instanceof LimiterTimeoutError) return { kind: 'requeue', delaySeconds: 1 };
    if (!isNotFound(error)) {
      await finish('failed', errorCode(error)).catch(() => undefined);
      throw error;
    }
    props = null;
  }
  const stored = await deps.inventory.store(ref.vcenterId, ref.moid, props, readSince);
  await finish(stored === 'deleted' || stored === 'vcenter-gone' || props === null ? 'not_found' : 'done');
  return { kind: 'done' };
}

/** Completion records in Redis (`<prefix>ops:vmrefresh:{<vmId>}`), kept a minute. */
export function redisRefreshLog(deps: {
  redis: RedisClient;
  keyPrefix: string;
  ttlSeconds?: number;
}): RefreshLog {
  const key = (vmId: string) => `${deps.keyPrefix}ops:vmrefresh:{${vmId}}`;
  return {
    async get(vmId) {
      const text = await deps.redis.get(key(vmId));
      return text ? (JSON.parse(text) as RefreshRecord) : undefined;
    },
    async put(vmId, record) {
      await deps.redis.set(key(vmId), JSON.stringify(record), 'EX', deps.ttlSeconds ?? 60);
    },
  };
}

/**
 * The inventory in PostgreSQL: one VM's rows written through the sync's own plan and store functions, in a
 * transaction that locks the vCenter's row as the sync's passes do; the new generation is published after
 * COMMIT (once the reader shows it), which moves the query cache's keys for the vCenter on. The answer's VM is
 * read from the reader endpoint, as the query API loads it.
 */
export function postgresVmInventory(deps: {
  writer: () => pg.Pool;
  reader: () => Queryable;
  redis: RedisClient;
}): VmInventory {
  return {
    async clock() {
      const { rows } = await deps.writer().query<{ now: Date }>('SELECT clock_timestamp() AS now');
      return rows[0]?.now ?? new Date();
    },

    async store(vcenterId, moid, props, readSince) {
      const db = await deps.writer().connect();
      let outcome: StoreOutcome;
      let generation: number | undefined;
      try {
        await db.query('BEGIN');
        if (!(await loadSyncRow(db, vcenterId, true))) {
          outcome = 'vcenter-gone';
        } else {
          // Row lock held: a sync pass that wrote this VM after our read began has the newer view.
          const newer = await db.query(
            'SELECT 1 FROM vms WHERE vcenter_id = $1 AND moid = $2 AND updated_at > $3',
            [vcenterId, moid, readSince],
          );
          if (props && (newer.rowCount ?? 0) > 0) {
            outcome = 'superseded';
          } else {
            // A full property set is an `enter` (every column from the properties, as a full sync builds it);
            // a VM the vCenter does not have is a `leave`.
            const plan = await planUpdates(
              [
                props
                  ? {
                      kind: 'enter',
                      type: 'VirtualMachine',
                      moid,
                      changes: Object.entries(props).map(([name, value]) => ({ name, op: 'assign', value })),
                    }
                  : { kind: 'leave', type: 'VirtualMachine', moid, changes: [] },
              ],
              rowLoader(db, vcenterId),
              await loadResolver(db, vcenterId),
            );
            const written = await writePlan(db, vcenterId, plan);
            if (written.changed + written.deleted > 0) {
              await updateCounts(db, vcenterId);
              generation = await nextGeneration(db, vcenterId);
            }
            outcome = props ? 'stored' : 'deleted';
          }
        }
        await db.query('COMMIT');
      } catch (error) {
        await db.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        db.release();
      }
      if (generation !== undefined) {
        const caughtUp = await publishGeneration(vcenterId, generation, {
          reader: deps.reader(),
          client: deps.redis,
        });
        if (!caughtUp) logger.warn('vm refresh: reader lagged behind the write', { vcenterId, moid });
      }
      return outcome;
    },

    async view(vcenterId, moid) {
      const { findVm } = await import('./queries.ts');
      const vm = await findVm(deps.reader(), vcenterId, moid);
      if (!vm) throw new NotFoundError(`No VM ${vcenterId}:${moid}: it may have been deleted meanwhile`);
      return vm;
    },
  };
}

let memo: { ops: OpsService; deps: VmRefreshDeps } | undefined;

/**
 * The refresh's dependencies for the process's ops service (`opsService()`): its sessions, limiter and job
 * queue, the completion log in Redis and the inventory in PostgreSQL. Built once per ops service (the local
 * runtime rebuilds that when it reopens the clients).
 */
export function vmRefreshDeps(ops: OpsService): VmRefreshDeps {
  if (memo?.ops === ops) return memo.deps;
  const client = redis();
  const deps: VmRefreshDeps = {
    sessions: ops.sessions,
    limiter: ops.limiter,
    jobs: ops.jobs,
    refreshes: redisRefreshLog({ redis: client, keyPrefix: keyPrefixFromEnv() }),
    // Pools are looked up per use (lazily, and the local runtime may close and reopen them between runs).
    inventory: postgresVmInventory({
      writer: () => postgres('writer'),
      reader: () => postgres('reader'),
      redis: client,
    }),
  };
  memo = { ops, deps };
  return deps;
}
