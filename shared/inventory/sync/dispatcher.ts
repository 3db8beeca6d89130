// Inventory sync — use case: the scheduled dispatcher. Claims the vCenters whose next_sync_at has come (a
// lease pushes it forward, so the next tick does not claim them again while their pass runs) and enqueues one
// message each; the worker sets the real next_sync_at when the pass ends.
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Queryable } from '../queries.ts';
import { type OutgoingSync, scheduledDedupId, sendSyncMessages } from './queue.ts';

/** Options of {@link dispatchDueVcenters}. */
export interface DispatchOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Most vCenters claimed per call. @default 5_000 */
  readonly limit?: number;
  /** How long a claim holds before the vCenter is due again without news from the worker. @default 960 */
  readonly leaseSeconds?: number;
  /** Schedule slot length, for deduplication ids. @default 60 */
  readonly slotSeconds?: number;
}

/** Enqueues every due vCenter; answers how many were enqueued and which could not be. */
export async function dispatchDueVcenters(
  db: Queryable,
  options: DispatchOptions,
): Promise<{ enqueued: number; failed: string[] }> {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE vcenters SET next_sync_at = now() + make_interval(secs => $2)
      WHERE id IN (SELECT id FROM vcenters WHERE next_sync_at <= now()
                    ORDER BY next_sync_at LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    [options.limit ?? 5_000, options.leaseSeconds ?? 960],
  );
  const slot = Math.floor(Date.now() / ((options.slotSeconds ?? 60) * 1000));
  const messages: OutgoingSync[] = rows.map(({ id }) => ({
    message: { vcenterId: id, reason: 'scheduled' },
    deduplicationId: scheduledDedupId(id, slot),
  }));
  const failed = await sendSyncMessages(options.sqs, options.queueUrl, messages);
  // Not enqueued: due again at once, for the next tick.
  if (failed.length > 0) {
    await db.query('UPDATE vcenters SET next_sync_at = now() WHERE id = ANY($1::text[])', [failed]);
  }
  return { enqueued: messages.length - failed.length, failed };
}
