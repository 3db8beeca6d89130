// Ops — use case: one batch of a lane's queue, for the ops worker Lambdas. Message groups run side by side (see
// below); each job asks the limiter for a slot without blocking long. A job that gets none goes back to its queue with a short
// visibility delay (ChangeMessageVisibility) and is reported as a batch item failure, so the Lambda is free for
// the next batch; near the end of its receive budget it is re-sent as a fresh message instead, because waiting
// for a slot is not a failure and must not land a job in the DLQ. Upstream failures back off and, after
// maxReceiveCount receives, go to the DLQ. Jobs are dispatched by type to the runners in the deps
// (thumbnail → runThumbnailJob, wired by the composition root; the inventory's vm-refresh → runVmRefreshJob
// and inventory-verify → runInventoryVerifyJob, wired by the worker handler).
//
// The lanes are FIFO queues grouped by key (one VM, one vCenter …): a batch runs its groups side by side and
// each group's records in order, and a group stops at its first record that stays in the queue, as Lambda's
// FIFO contract asks (it keeps every later record of that group too). Those later records would otherwise sit
// out the queue's whole visibility timeout and block their group that long — after a vCenter outage, every VM
// asked for during it waited a minute or more for its thumbnail. So each later record either goes with the one
// that stays (an identical job, deleted: the retry covers it) or comes back with it (the same visibility delay).
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { logger } from '#shared/observability';
import { jobKey, type OpsJob, type OpsJobType, parseJob } from './jobs.ts';
import { type Lane, laneQueues, laneQueueUrl, lanes } from './lanes.ts';
import { recordJobEvent } from './metrics.ts';
import type { JobOutcome } from './thumbnails.ts';

type Runner<T extends OpsJobType> = (job: Extract<OpsJob, { type: T }>) => Promise<JobOutcome>;

/**
 * One runner per job type: what the worker does with a job it could read. The drift check's runner is wired
 * by the worker handler (functions/ops/worker.ts), so processes that never receive LOW jobs go without it.
 */
export type JobRunners = {
  readonly [T in Exclude<OpsJobType, InventoryJobType>]: Runner<T>;
} & { readonly [T in InventoryJobType]?: Runner<T> };

/** The jobs of capabilities above ops (shared/inventory, shared/provisioning), wired by the worker handler. */
type InventoryJobType = 'vm-refresh' | 'inventory-verify' | 'provisioning-load';

export interface WorkerDeps {
  readonly sqs: SQSClient;
  readonly runners: JobRunners;
  /** Receives before SQS moves a message of `lane` to its DLQ. */
  readonly maxReceiveCount: (lane: Lane) => number;
  /** Jobs older than this are dropped (their requester has long moved on). */
  readonly maxJobAgeMs: (lane: Lane) => number;
}

/** The lane whose queue a record came from (`…:ops-low.fifo`). */
export function laneOfRecord(record: SQSRecord): Lane | undefined {
  const queue = record.eventSourceARN
    .split(':')
    .pop()
    ?.replace(/\.fifo$/, '');
  return lanes.find((lane) => laneQueues[lane] === queue);
}

async function changeVisibility(
  deps: WorkerDeps,
  lane: Lane,
  record: SQSRecord,
  seconds: number,
): Promise<void> {
  await deps.sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: laneQueueUrl(lane),
      ReceiptHandle: record.receiptHandle,
      VisibilityTimeout: seconds,
    }),
  );
}

function runJob(runners: JobRunners, job: OpsJob): Promise<JobOutcome> {
  switch (job.type) {
    case 'thumbnail':
      return runners.thumbnail(job);
    case 'vm-refresh': {
      const run = runners['vm-refresh'];
      if (!run) return Promise.reject(new Error('no vm-refresh runner in this process'));
      return run(job);
    }
    case 'inventory-verify': {
      const run = runners['inventory-verify'];
      if (!run) return Promise.reject(new Error('no inventory-verify runner in this process'));
      return run(job);
    }
    case 'provisioning-load': {
      const run = runners['provisioning-load'];
      if (!run) return Promise.reject(new Error('no provisioning-load runner in this process'));
      return run(job);
    }
  }
}

/**
 * What became of one record: done with (deleted once the batch returns), or left in the queue, due again in
 * `retryInSeconds` when the worker set its visibility (undefined: the queue's visibility timeout).
 */
type RecordResult = { readonly done: true } | { readonly done: false; readonly retryInSeconds?: number };

/** Processes one record. */
async function processRecord(deps: WorkerDeps, record: SQSRecord): Promise<RecordResult> {
  const done = { done: true } as const;
  const lane = laneOfRecord(record);
  const job = parseJob(record.body);
  if (!lane || !job) {
    logger.error('ops worker: unreadable message left for the DLQ', {
      messageId: record.messageId,
      queue: record.eventSourceARN.split(':').pop(),
    });
    return { done: false };
  }
  // A verification checks the present whenever it runs: a backlog delays it but never makes it pointless.
  if (job.type !== 'inventory-verify' && Date.now() - job.enqueuedAt > deps.maxJobAgeMs(lane)) {
    recordJobEvent(lane, 'expired');
    return done;
  }
  const receives = Number(record.attributes.ApproximateReceiveCount) || 1;
  let outcome: JobOutcome;
  try {
    outcome = await runJob(deps.runners, job);
  } catch (error) {
    logger.warn('ops job failed upstream; SQS will retry it', {
      lane,
      type: job.type,
      ...('vmId' in job ? { vmId: job.vmId } : { vcenterId: job.vcenterId }),
      receives,
      error: (error as Error).name,
    });
    // Back off 2, 4, 8 … s (capped) so a vCenter that is down is not hammered by retries.
    const retryInSeconds = Math.min(30, 2 ** receives);
    const set = await changeVisibility(deps, lane, record, retryInSeconds).then(
      () => true,
      () => false,
    );
    return set ? { done: false, retryInSeconds } : { done: false };
  }
  if (outcome.kind !== 'requeue') return done;
  recordJobEvent(lane, 'requeued');
  if (receives >= deps.maxReceiveCount(lane)) {
    // Its receive budget is spent by waiting, not by failing: a fresh copy keeps it out of the DLQ.
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: laneQueueUrl(lane),
        MessageBody: record.body,
        MessageGroupId: record.attributes.MessageGroupId ?? jobKey(job),
        MessageDeduplicationId: `${record.messageId}-r${receives}`,
      }),
    );
    return done;
  }
  await changeVisibility(deps, lane, record, outcome.delaySeconds);
  return { done: false, retryInSeconds: outcome.delaySeconds };
}

/** Whether `later` asks for exactly what `first` does (same type, key and lane), so a retry of one covers both. */
function sameWork(first: SQSRecord, later: SQSRecord): boolean {
  const a = parseJob(first.body);
  const b = parseJob(later.body);
  return (
    a !== undefined &&
    b !== undefined &&
    a.type === b.type &&
    a.lane === b.lane &&
    jobKey(a) === jobKey(b) &&
    laneOfRecord(first) === laneOfRecord(later)
  );
}

/**
 * A record behind one that stays in the queue, in the same group: deleted when the retry covers it, else due
 * again with it. Returns whether it stays (a batch item failure).
 */
async function settleBehind(
  deps: WorkerDeps,
  stays: SQSRecord,
  retryInSeconds: number | undefined,
  record: SQSRecord,
): Promise<boolean> {
  const lane = laneOfRecord(record);
  if (!lane) return true;
  const queueUrl = laneQueueUrl(lane);
  try {
    if (sameWork(stays, record)) {
      await deps.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle }),
      );
      return false;
    }
    if (retryInSeconds !== undefined) await changeVisibility(deps, lane, record, retryInSeconds);
  } catch (error) {
    logger.warn('ops worker: a record behind a retried one keeps its visibility timeout', {
      messageId: record.messageId,
      error: (error as Error).name,
    });
  }
  return true;
}

/** Runs one message group's records in order; returns those left in the queue. */
async function processGroup(deps: WorkerDeps, records: readonly SQSRecord[]): Promise<string[]> {
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    let result: RecordResult;
    try {
      result = await processRecord(deps, record);
    } catch (error) {
      logger.error('ops worker: record failed', { messageId: record.messageId, error: error as Error });
      result = { done: false };
    }
    if (result.done) continue;
    const stay = [record.messageId];
    for (const later of records.slice(i + 1)) {
      if (await settleBehind(deps, record, result.retryInSeconds, later)) stay.push(later.messageId);
    }
    return stay;
  }
  return [];
}

/** Runs a batch (its message groups side by side, each in order) and reports what stays as batch item failures. */
export async function processLaneBatch(deps: WorkerDeps, event: SQSEvent): Promise<SQSBatchResponse> {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of event.Records) {
    const group = record.attributes.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  const stays = (
    await Promise.all([...groups.values()].map((records) => processGroup(deps, records)))
  ).flat();
  return { batchItemFailures: stays.map((id) => ({ itemIdentifier: id })) };
}
