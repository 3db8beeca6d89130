// Inventory sync — use cases: getting passes onto the sync queue. The scheduled dispatcher claims the vCenters
// whose next_sync_at has come (a lease pushes it forward, so the next tick does not claim them again while
// their pass runs) and enqueues one message each, naming the slot it was due for; a request (registration,
// "sync now") enqueues at once and takes the same lease. The worker sets the real next_sync_at when the pass
// ends, anchored to that slot.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { numberEnv } from '#shared/config';
import { NotFoundError } from '#shared/http';
import type { Queryable } from '../queries.ts';
import {
  type OutgoingSync,
  requestedDedupId,
  type SyncMessage,
  scheduledDedupId,
  sendSyncMessages,
} from './queue.ts';

/**
 * The sync dispatcher's period in seconds (`SYNC_DISPATCH_SECONDS`, set by both builders from the topology's
 * schedule, default 60): the shortest polling interval that can be honoured. Read once. @throws ConfigError
 */
export function dispatchPeriodSeconds(): number {
  periodMemo ??= numberEnv(dispatchPeriodEnv, 60, { min: 1, max: 3_600 });
  return periodMemo;
}

/** The variable that carries the dispatcher's period to the functions (the topology's `periodEnv`). */
export const dispatchPeriodEnv = 'SYNC_DISPATCH_SECONDS';

let periodMemo: number | undefined;

/** How long a claim holds before the vCenter is due again without news from the worker. */
const defaultLeaseSeconds = 960;

/** Options of {@link dispatchDueVcenters}. */
export interface DispatchOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Most vCenters claimed per call. @default 5_000 */
  readonly limit?: number;
  /** @default 960 */
  readonly leaseSeconds?: number;
  /**
   * How often the dispatcher runs. A vCenter due within half a period is claimed now: ticks fire a little
   * early or late, and a pass anchored to its slot must not slip to the tick after. @default 60
   */
  readonly periodSeconds?: number;
}

/** Enqueues every due vCenter; answers how many were enqueued and which could not be. */
export async function dispatchDueVcenters(
  db: Queryable,
  options: DispatchOptions,
): Promise<{ enqueued: number; failed: string[] }> {
  const { rows } = await db.query<{ id: string; due_ms: number }>(
    `WITH due AS (
       SELECT id, next_sync_at FROM vcenters
        WHERE next_sync_at <= now() + make_interval(secs => $3)
        ORDER BY next_sync_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     UPDATE vcenters v SET next_sync_at = now() + make_interval(secs => $2)
       FROM due WHERE v.id = due.id
     RETURNING v.id, (extract(epoch FROM due.next_sync_at) * 1000)::float8 AS due_ms`,
    [options.limit ?? 5_000, options.leaseSeconds ?? defaultLeaseSeconds, (options.periodSeconds ?? 60) / 2],
  );
  const messages: OutgoingSync[] = rows.map((row) => {
    const dueAt = Math.floor(row.due_ms);
    return {
      message: { vcenterId: row.id, reason: 'scheduled', dueAt },
      // One message per claimed slot: a repeated send of this claim collapses; any other slot of the vCenter's
      // schedule, however close (a backoff, a dispatcher running every second), is a pass of its own.
      deduplicationId: scheduledDedupId(row.id, dueAt),
    };
  });
  const failed = await sendSyncMessages(options.sqs, options.queueUrl, messages);
  // Not enqueued: due again at once, for the next tick.
  if (failed.length > 0) {
    await db.query('UPDATE vcenters SET next_sync_at = now() WHERE id = ANY($1::text[])', [failed]);
  }
  return { enqueued: messages.length - failed.length, failed };
}

/** Options of {@link requestSync}. */
export interface RequestOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly reason: Extract<SyncMessage['reason'], 'registered' | 'requested'>;
  /** @default false */
  readonly full?: boolean;
  /** @default 960 */
  readonly leaseSeconds?: number;
}

/** What a request put on the queue. */
export interface RequestedSync {
  readonly vcenterId: string;
  readonly reason: RequestOptions['reason'];
  readonly full: boolean;
  /** False when the queue did not take the message; the vCenter is then due for the dispatcher's next tick. */
  readonly queued: boolean;
  readonly deduplicationId: string;
}

/**
 * Enqueues a pass for one vCenter now and moves its next_sync_at on as the dispatcher's claim does, so the
 * next tick does not enqueue a second pass. @throws NotFoundError for an unknown vCenter
 */
export async function requestSync(
  db: Queryable,
  vcenterId: string,
  options: RequestOptions,
): Promise<RequestedSync> {
  const { rows } = await db.query<{ synced_through_at: Date | null; requested_ms: number }>(
    `UPDATE vcenters SET next_sync_at = now() + make_interval(secs => $2) WHERE id = $1
     RETURNING synced_through_at, (extract(epoch FROM now()) * 1000)::float8 AS requested_ms`,
    [vcenterId, options.leaseSeconds ?? defaultLeaseSeconds],
  );
  const row = rows[0];
  if (!row) throw new NotFoundError(`No vCenter ${vcenterId}`);
  const full = options.full === true;
  const dueAt = Math.floor(row.requested_ms);
  const deduplicationId = requestedDedupId(
    vcenterId,
    full,
    dueAt,
    row.synced_through_at?.toISOString() ?? null,
  );
  const message: SyncMessage = { vcenterId, reason: options.reason, dueAt, ...(full ? { full: true } : {}) };
  const failed = await sendSyncMessages(options.sqs, options.queueUrl, [{ message, deduplicationId }]);
  const queued = failed.length === 0;
  if (!queued) await db.query('UPDATE vcenters SET next_sync_at = now() WHERE id = $1', [vcenterId]);
  return { vcenterId, reason: options.reason, full, queued, deduplicationId };
}
