// Inventory sync — secondary adapter (SQS FIFO): the sync queue's messages. The message group is the vCenter
// id, so one pass per vCenter runs at a time; deduplication ids name the slot a message belongs to, so a
// dispatcher tick, a repeated "sync now" or a re-enqueued continuation is sent once.
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** The body of a sync message. */
export interface SyncMessage {
  readonly vcenterId: string;
  /**
   * Why: the dispatcher's schedule, a registration, an operator's request, or a streaming worker's
   * continuation.
   */
  readonly reason: 'scheduled' | 'registered' | 'requested' | 'continue';
  /** Force a full sync. */
  readonly full?: boolean;
  /** When the pass was due (epoch ms); the next polling pass is anchored to it. */
  readonly dueAt?: number;
}

/** A message with its deduplication id. */
export interface OutgoingSync {
  readonly message: SyncMessage;
  readonly deduplicationId: string;
}

const reasons: readonly SyncMessage['reason'][] = ['scheduled', 'registered', 'requested', 'continue'];

/** Parses a message body; undefined when it is not a sync message. */
export function parseSyncMessage(body: string): SyncMessage | undefined {
  try {
    const value = JSON.parse(body) as Partial<SyncMessage>;
    if (typeof value.vcenterId !== 'string' || value.vcenterId === '') return undefined;
    const reason = reasons.includes(value.reason as SyncMessage['reason'])
      ? (value.reason as SyncMessage['reason'])
      : 'scheduled';
    return {
      vcenterId: value.vcenterId,
      reason,
      ...(value.full === true ? { full: true } : {}),
      ...(Number.isSafeInteger(value.dueAt) && (value.dueAt as number) > 0 ? { dueAt: value.dueAt } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Deduplication id of a dispatcher message: the claimed slot (its due time, epoch ms). A fixed minute slot
 * swallowed a second pass within the minute (a dispatcher faster than 60 s, a backoff shorter than its slot),
 * leaving the vCenter leased and unsynced until the lease ran out.
 */
export const scheduledDedupId = (vcenterId: string, dueAt: number) => `${vcenterId}:s:${dueAt}`;
/**
 * Deduplication id of an operator's request: repeats within the same 5 s collapse, but never across a
 * completed pass (`lastPass`, the vCenter's synced-through time), so "sync now" right after a pass ends is
 * not swallowed by a request that pass already served.
 */
export const requestedDedupId = (
  vcenterId: string,
  full: boolean,
  now = Date.now(),
  lastPass: string | null = null,
) => `${vcenterId}:r:${full ? 'f' : 'i'}:${Math.floor(now / 5_000)}:${lastPass ?? 'never'}`;
/** Deduplication id of a streaming continuation: the pass sequence number. */
export const continueDedupId = (vcenterId: string, sequence: number) => `${vcenterId}:c:${sequence}`;

/**
 * Sends sync messages in batches of 10; answers the vCenter ids whose message SQS did not take (the caller
 * makes them due again).
 */
export async function sendSyncMessages(
  client: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingSync[],
): Promise<string[]> {
  const failed: string[] = [];
  for (let start = 0; start < messages.length; start += 10) {
    const batch = messages.slice(start, start + 10);
    try {
      const answer = await client.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((entry, index) => ({
            Id: String(index),
            MessageBody: JSON.stringify(entry.message),
            MessageGroupId: entry.message.vcenterId,
            MessageDeduplicationId: entry.deduplicationId,
          })),
        }),
      );
      for (const failure of answer.Failed ?? []) {
        const entry = batch[Number(failure.Id)];
        if (entry) failed.push(entry.message.vcenterId);
      }
    } catch {
      failed.push(...batch.map((entry) => entry.message.vcenterId));
    }
  }
  return failed;
}
