// Local runtime — SQS-compatible FIFO endpoint: the event-source pollers, the local stand-in for Lambda's
// SQS event-source mappings (batch size, maxConcurrency, partial batch responses, redrive via the queue).
//
// The pollers read the store in-process rather than through the HTTP endpoint: on AWS the event-source
// mapping is a service-side poller outside the function, so it has no reason to share the function's
// network path; in-process it can wait on the store's wake-ups (no 20 s HTTP long polls to cut at stop())
// and the semantics are the store's either way. The HTTP endpoint is what handlers and tests use to send.

import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { queueArn, type ReceivedMessage, type SqsStore } from './store.ts';

/** The part of an event-source declaration the pollers need; `EventSourceSpec` from the topology fits. */
export interface PollerSource {
  /** Topology queue key; the physical queue is `<key>.fifo` unless `queueName` says otherwise. */
  readonly queue: string;
  readonly function: string;
  /** 1–10 (the FIFO maximum). */
  readonly batchSize: number;
  /** Most concurrent invocations for this source (AWS: 2–1000). */
  readonly maxConcurrency: number;
}

/**
 * Runs a function with an SQS event, as Lambda would: a rejection fails the whole batch; the result is read
 * as an `SQSBatchResponse` (no result or no `batchItemFailures` is full success, as on Lambda).
 */
export type SqsInvoke = (functionName: string, event: SQSEvent) => Promise<unknown>;

/** What happened to one batch; for logs and tests. */
export interface BatchOutcome {
  readonly functionName: string;
  readonly queue: string;
  readonly messageIds: readonly string[];
  /** Deleted after the invocation. */
  readonly deleted: readonly string[];
  /** Left to reappear after the visibility timeout (reported failures and what follows them in their group). */
  readonly retained: readonly string[];
  /** The invocation's error, or why its response was treated as a whole-batch failure. */
  readonly error?: unknown;
}

/** Where the pollers find the queues: the store itself, or a running local SQS that carries one. */
export type PollerQueues =
  | { readonly store: SqsStore; readonly sqs?: never }
  | { readonly sqs: { readonly store: SqsStore }; readonly store?: never };

export type EventSourcePollerOptions = PollerQueues & {
  readonly eventSources: readonly PollerSource[];
  readonly invoke: SqsInvoke;
  /** Physical queue name of a topology queue key. @default key => `${key}.fifo` */
  readonly queueName?: (queue: string) => string;
  /** Called after every batch. Without it, failed batches are logged to stderr. */
  readonly onBatch?: (outcome: BatchOutcome) => void;
};

/** Running pollers. */
export interface EventSourcePollers {
  /** Stops receiving and resolves once every in-flight invocation has finished and been settled. */
  stop(): Promise<void>;
}

const LONG_POLL_SECONDS = 20;

/**
 * Starts one poller per event source. Each runs `maxConcurrency` receive→invoke→settle loops, so no more
 * than `maxConcurrency` invocations of a source are ever in flight; the FIFO store keeps a message group
 * to one in-flight batch.
 */
export function startEventSourcePollers(options: EventSourcePollerOptions): EventSourcePollers {
  const { invoke } = options;
  const store = options.store ?? options.sqs.store;
  const queueName = options.queueName ?? ((key: string) => `${key}.fifo`);
  const onBatch = options.onBatch ?? logFailures;
  const abort = new AbortController();

  for (const source of options.eventSources) {
    if (!Number.isInteger(source.batchSize) || source.batchSize < 1 || source.batchSize > 10) {
      throw new Error(
        `Event source ${source.queue} → ${source.function}: batchSize must be 1–10 for a FIFO queue.`,
      );
    }
    if (
      !Number.isInteger(source.maxConcurrency) ||
      source.maxConcurrency < 2 ||
      source.maxConcurrency > 1000
    ) {
      throw new Error(
        `Event source ${source.queue} → ${source.function}: maxConcurrency must be 2–1000, as on AWS.`,
      );
    }
    if (!store.hasQueue(queueName(source.queue))) {
      throw new Error(
        `Event source ${source.queue} → ${source.function}: queue ${queueName(source.queue)} does not exist.`,
      );
    }
  }

  // The loops are awaited only by stop(): each keeps going past any error, and a loop that still ends in
  // one is logged at once rather than left as an unhandled rejection until then.
  const loops = options.eventSources.flatMap((source) =>
    Array.from({ length: source.maxConcurrency }, () =>
      pollLoop(source, queueName(source.queue)).catch((error: unknown) =>
        console.error(`local SQS poller: ${source.queue} → ${source.function}: a poll loop ended`, error),
      ),
    ),
  );

  async function pollLoop(source: PollerSource, queue: string): Promise<void> {
    while (!abort.signal.aborted) {
      try {
        await pollOnce(source, queue);
      } catch (error) {
        // Only onBatch (a caller's callback) or a broken record can land here; the loop keeps polling.
        console.error(`local SQS poller: ${queue} → ${source.function}: batch handling failed`, error);
        await sleep(1000, abort.signal);
      }
    }
  }

  async function pollOnce(source: PollerSource, queue: string): Promise<void> {
    let messages: ReceivedMessage[];
    try {
      messages = await store.receiveWait(
        queue,
        { maxNumberOfMessages: source.batchSize, waitSeconds: LONG_POLL_SECONDS },
        abort.signal,
      );
    } catch (error) {
      onBatch({ functionName: source.function, queue, messageIds: [], deleted: [], retained: [], error });
      await sleep(1000, abort.signal);
      return;
    }
    // Received messages are in flight: they are processed and settled even when stop() came meanwhile.
    if (messages.length > 0) onBatch(await processBatch(source, queue, messages));
  }

  async function processBatch(
    source: PollerSource,
    queue: string,
    messages: ReceivedMessage[],
  ): Promise<BatchOutcome> {
    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, queue, store)) };
    const messageIds = messages.map((message) => message.messageId);
    let failed: ReadonlySet<string>;
    let error: unknown;
    try {
      const response = await invoke(source.function, event);
      const verdict = reportedFailures(response, messageIds);
      failed = verdict.failed;
      error = verdict.error;
    } catch (thrown) {
      failed = new Set(messageIds);
      error = thrown;
    }

    // As Lambda does for FIFO: after a failed item, later items of its group stay too, so the group's
    // order survives the retry.
    const failedGroups = new Set<string>();
    const deleted: string[] = [];
    const retained: string[] = [];
    for (const message of messages) {
      const group = message.attributes.MessageGroupId ?? '';
      if (failed.has(message.messageId) || failedGroups.has(group)) {
        failedGroups.add(group);
        retained.push(message.messageId);
        continue;
      }
      try {
        store.deleteMessage(queue, message.receiptHandle);
        deleted.push(message.messageId);
      } catch (deleteError) {
        // The function outlived the visibility timeout: the message is someone else's now, as on AWS.
        retained.push(message.messageId);
        error ??= deleteError;
      }
    }
    return {
      functionName: source.function,
      queue,
      messageIds,
      deleted,
      retained,
      ...(error === undefined ? {} : { error }),
    };
  }

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        abort.abort();
        await Promise.allSettled(loops);
      })();
      return stopped;
    },
  };
}

/**
 * Lambda's reading of a partial batch response: nothing or an empty list is full success; an identifier
 * that is empty or not in the batch makes the whole batch a failure.
 */
function reportedFailures(
  response: unknown,
  messageIds: readonly string[],
): { failed: ReadonlySet<string>; error?: Error } {
  if (response === undefined || response === null) return { failed: new Set() };
  const items = (response as Partial<SQSBatchResponse>).batchItemFailures as unknown;
  if (items === undefined || items === null) return { failed: new Set() };
  const all = new Set(messageIds);
  if (!Array.isArray(items)) {
    return {
      failed: all,
      error: new Error('batchItemFailures is not a list; the whole batch is treated as failed'),
    };
  }
  const failed = new Set<string>();
  for (const item of items) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !all.has(id)) {
      return {
        failed: all,
        error: new Error(
          `batchItemFailures names ${JSON.stringify(id)}, not a message of this batch; the whole batch is treated as failed`,
        ),
      };
    }
    failed.add(id);
  }
  return { failed };
}

function toRecord(message: ReceivedMessage, queue: string, store: SqsStore): SQSRecord {
  const a = message.attributes;
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.messageAttributes)) {
    messageAttributes[name] = {
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType,
    };
  }
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? '',
      SenderId: a.SenderId ?? store.accountId,
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '',
      ...(a.SequenceNumber === undefined ? {} : { SequenceNumber: a.SequenceNumber }),
      ...(a.MessageGroupId === undefined ? {} : { MessageGroupId: a.MessageGroupId }),
      ...(a.MessageDeduplicationId === undefined ? {} : { MessageDeduplicationId: a.MessageDeduplicationId }),
      ...(a.AWSTraceHeader === undefined ? {} : { AWSTraceHeader: a.AWSTraceHeader }),
      ...(a.DeadLetterQueueSourceArn === undefined
        ? {}
        : { DeadLetterQueueSourceArn: a.DeadLetterQueueSourceArn }),
    },
    messageAttributes,
    md5OfBody: message.md5OfBody,
    ...(message.md5OfMessageAttributes === undefined
      ? {}
      : { md5OfMessageAttributes: message.md5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn(queue, store.region, store.accountId),
    awsRegion: store.region,
  };
}

function logFailures(outcome: BatchOutcome): void {
  if (outcome.error === undefined && outcome.retained.length === 0) return;
  console.error(
    `local SQS poller: ${outcome.queue} → ${outcome.functionName}: ${outcome.retained.length} of ${outcome.messageIds.length} message(s) left for retry`,
    outcome.error ?? '',
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
