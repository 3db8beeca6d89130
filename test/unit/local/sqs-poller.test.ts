// Unit tests — local runtime, SQS event-source pollers: batch size, maxConcurrency, partial batch responses
// (FIFO group rule), whole-batch failures, redrive and stop(), against the in-process store (no network).
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BatchOutcome,
  type EventSourcePollers,
  startEventSourcePollers,
} from '../../../infra/local/sqs/poller.ts';
import { md5Hex, queueArn, SqsStore } from '../../../infra/local/sqs/store.ts';

const Q = 'lane.fifo';
const DLQ = 'lane-dlq.fifo';

function newStore(visibilityTimeout = 1, maxReceiveCount = 3): SqsStore {
  const store = new SqsStore();
  store.createQueue(DLQ, { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
  store.createQueue(Q, {
    FifoQueue: 'true',
    ContentBasedDeduplication: 'true',
    VisibilityTimeout: String(visibilityTimeout),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn(DLQ), maxReceiveCount }),
  });
  return store;
}

/** Polls `condition` until it holds; fails with `what` after the deadline (robust on a loaded machine). */
async function eventually(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function depth(store: SqsStore, queue: string): number {
  const attributes = store.queueAttributes(queue);
  return (
    Number(attributes.ApproximateNumberOfMessages) + Number(attributes.ApproximateNumberOfMessagesNotVisible)
  );
}

const source = { queue: 'lane', function: 'worker', batchSize: 5, maxConcurrency: 2 };
let pollers: EventSourcePollers | undefined;

afterEach(async () => {
  await pollers?.stop();
  pollers = undefined;
});

describe('SQS event-source pollers', () => {
  it('retries a failing item until the DLQ, deletes the others and never exceeds maxConcurrency', async () => {
    // Prepare: 6 groups × 4 messages, the poison last in its group so nothing queues behind it.
    const store = newStore(1, 3);
    const groups = ['g0', 'g1', 'g2', 'g3', 'g4', 'g5'];
    for (let i = 0; i < 4; i++)
      for (const group of groups) store.send(Q, { body: `${group}-${i}`, groupId: group });
    store.send(Q, { body: 'poison', groupId: 'g3' });

    let active = 0;
    let maxActive = 0;
    let largestBatch = 0;
    let poisonAttempts = 0;
    const processed = new Map<string, string[]>();
    const worker = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      active++;
      maxActive = Math.max(maxActive, active);
      largestBatch = Math.max(largestBatch, event.Records.length);
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const failures: SQSBatchResponse['batchItemFailures'] = [];
        for (const record of event.Records) {
          if (record.body === 'poison') {
            poisonAttempts++;
            failures.push({ itemIdentifier: record.messageId });
            continue;
          }
          const group = record.attributes.MessageGroupId!;
          processed.set(group, [...(processed.get(group) ?? []), record.body]);
        }
        return { batchItemFailures: failures };
      } finally {
        active--;
      }
    };

    // Act
    pollers = startEventSourcePollers({
      store,
      eventSources: [source],
      invoke: async (name, event) => {
        expect(name).toBe('worker');
        return worker(event);
      },
      onBatch: () => {},
    });
    await eventually(
      'the queue drained and the poison in the DLQ',
      () => depth(store, Q) === 0 && depth(store, DLQ) === 1,
    );

    // Assess
    const [dead] = store.receive(DLQ);
    expect(dead).toMatchObject({ body: 'poison', attributes: { ApproximateReceiveCount: '4' } });
    expect(poisonAttempts).toBe(3);
    for (const group of groups) {
      expect(processed.get(group)).toEqual([0, 1, 2, 3].map((i) => `${group}-${i}`));
    }
    expect(largestBatch).toBeLessThanOrEqual(5);
    expect(maxActive).toBe(2);
  });

  it('keeps the items after a failed item of the same group, and deletes other groups', async () => {
    const store = newStore(1, 5);
    store.send(Q, { body: 'a1', groupId: 'a' });
    store.send(Q, { body: 'b1', groupId: 'b' });
    store.send(Q, { body: 'a2', groupId: 'a' });
    store.send(Q, { body: 'a3', groupId: 'a' });
    const outcomes: BatchOutcome[] = [];
    const batches: string[][] = [];
    const bodyOf = new Map<string, string>();

    pollers = startEventSourcePollers({
      store,
      eventSources: [{ ...source, batchSize: 10 }],
      invoke: async (_name, event) => {
        batches.push(event.Records.map((record) => record.body));
        for (const record of event.Records) bodyOf.set(record.messageId, record.body);
        // Reports a1 alone, as a handler unaware of FIFO rules would; a2 and a3 must stay anyway.
        const a1 = event.Records.find((record) => record.body === 'a1');
        return batches.length === 1 && a1 ? { batchItemFailures: [{ itemIdentifier: a1.messageId }] } : {};
      },
      onBatch: (outcome) => outcomes.push(outcome),
    });
    await eventually('the retry batch settled', () => outcomes.length >= 2 && depth(store, Q) === 0);

    const names = (ids: readonly string[]) => ids.map((id) => bodyOf.get(id));
    expect(batches[0]).toEqual(['a1', 'b1', 'a2', 'a3']);
    expect(names(outcomes[0]!.retained)).toEqual(['a1', 'a2', 'a3']);
    expect(names(outcomes[0]!.deleted)).toEqual(['b1']);
    expect(batches[1]).toEqual(['a1', 'a2', 'a3']);
  });

  it('fails the whole batch when the function throws or names a message that is not in the batch', async () => {
    const store = newStore(1, 5);
    store.send(Q, { body: 'x', groupId: 'x' });
    store.send(Q, { body: 'y', groupId: 'y' });
    const outcomes: BatchOutcome[] = [];
    let calls = 0;

    pollers = startEventSourcePollers({
      store,
      eventSources: [{ ...source, batchSize: 10 }],
      invoke: async () => {
        calls++;
        if (calls === 1) throw new Error('handler crashed');
        if (calls === 2) return { batchItemFailures: [{ itemIdentifier: 'no-such-message' }] };
        return undefined;
      },
      onBatch: (outcome) => outcomes.push(outcome),
    });
    await eventually('the third batch succeeded', () => depth(store, Q) === 0);

    expect(outcomes[0]).toMatchObject({ deleted: [], error: new Error('handler crashed') });
    expect(outcomes[0]!.retained).toHaveLength(2);
    expect(outcomes[1]!.deleted).toEqual([]);
    expect(String(outcomes[1]!.error)).toMatch(/not a message of this batch/);
    expect(outcomes[2]!.deleted).toHaveLength(2);
  });

  it('hands the function a Lambda-shaped SQS event', async () => {
    const store = newStore(30, 3);
    store.send(Q, {
      body: '{"vm":"vm-42"}',
      groupId: 'vc-1',
      deduplicationId: 'thumb-vm-42',
      messageAttributes: { lane: { DataType: 'String', StringValue: 'normal' } },
    });
    const records: SQSRecord[] = [];

    pollers = startEventSourcePollers({
      store,
      eventSources: [source],
      invoke: async (_name, event) => {
        records.push(...event.Records);
      },
    });
    await eventually('one record delivered', () => records.length === 1);

    const [record] = records;
    expect(record).toMatchObject({
      body: '{"vm":"vm-42"}',
      md5OfBody: md5Hex('{"vm":"vm-42"}'),
      eventSource: 'aws:sqs',
      eventSourceARN: queueArn(Q),
      awsRegion: 'us-east-1',
      messageAttributes: {
        lane: { stringValue: 'normal', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
      attributes: {
        ApproximateReceiveCount: '1',
        MessageGroupId: 'vc-1',
        MessageDeduplicationId: 'thumb-vm-42',
        SequenceNumber: expect.stringMatching(/^\d{20}$/),
        SentTimestamp: expect.stringMatching(/^\d{13}$/),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d{13}$/),
      },
    });
    expect(record!.md5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(record!.receiptHandle).toBeTruthy();
  });

  it('stop() waits for in-flight invocations and settles their batches', async () => {
    const store = newStore(30, 3);
    store.send(Q, { body: 'slow', groupId: 'g' });
    let release: () => void = () => {};
    const started = new Promise<void>((resolveStarted) => {
      pollers = startEventSourcePollers({
        store,
        eventSources: [source],
        invoke: () => {
          resolveStarted();
          return new Promise((resolve) => {
            release = () => resolve(undefined);
          });
        },
      });
    });
    await started;

    let stopped = false;
    const stopping = pollers!.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);

    release();
    await stopping;
    expect(depth(store, Q)).toBe(0);
  });

  it('refuses event sources AWS would refuse', () => {
    const store = newStore();
    const start = (overrides: object) =>
      startEventSourcePollers({ store, eventSources: [{ ...source, ...overrides }], invoke: async () => {} });

    expect(() => start({ batchSize: 11 })).toThrow(/batchSize/);
    expect(() => start({ maxConcurrency: 1 })).toThrow(/maxConcurrency/);
    expect(() => start({ queue: 'missing' })).toThrow(/does not exist/);
  });
});
