// Unit tests — local runtime, SQS FIFO store: ordering, group blocking, deduplication, visibility, receipt
// handles and redrive, driven by a fake clock (no network, no waiting).
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { SqsError } from '../../../infra/local/sqs/errors.ts';
import { md5Hex, md5OfMessageAttributes, queueArn, SqsStore } from '../../../infra/local/sqs/store.ts';

const Q = 'work.fifo';
const DLQ = 'work-dlq.fifo';

let clock: number;
let store: SqsStore;

function setup(attributes: Record<string, string> = {}, maxReceiveCount = 3): void {
  clock = 1_700_000_000_000;
  store = new SqsStore({ now: () => clock });
  store.createQueue(DLQ, { FifoQueue: 'true' });
  store.createQueue(Q, {
    FifoQueue: 'true',
    ContentBasedDeduplication: 'true',
    VisibilityTimeout: '30',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn(DLQ), maxReceiveCount }),
    ...attributes,
  });
}

function sendAll(entries: readonly [group: string, body: string][]): void {
  for (const [groupId, body] of entries) store.send(Q, { body, groupId });
}

function bodies(messages: readonly { body: string }[]): string[] {
  return messages.map((message) => message.body);
}

function sqsError(action: () => unknown): SqsError {
  try {
    action();
  } catch (error) {
    if (error instanceof SqsError) return error;
    throw error;
  }
  throw new Error('expected an SqsError');
}

beforeEach(() => setup());

describe('SQS FIFO store: ordering and message groups', () => {
  it('delivers in send order, several messages of a group together and in order', () => {
    sendAll([
      ['a', 'a1'],
      ['b', 'b1'],
      ['a', 'a2'],
      ['b', 'b2'],
      ['a', 'a3'],
    ]);

    const received = store.receive(Q, { maxNumberOfMessages: 10 });

    expect(bodies(received)).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
    expect(received.map((m) => Number(m.attributes.SequenceNumber))).toEqual([1, 2, 3, 4, 5]);
  });

  it('holds back a whole group while one of its messages is in flight, and serves other groups', () => {
    sendAll([
      ['a', 'a1'],
      ['a', 'a2'],
      ['b', 'b1'],
    ]);

    const first = store.receive(Q, { maxNumberOfMessages: 1 });
    const second = store.receive(Q, { maxNumberOfMessages: 10 });
    const third = store.receive(Q, { maxNumberOfMessages: 10 });

    expect(bodies(first)).toEqual(['a1']);
    expect(bodies(second)).toEqual(['b1']);
    expect(third).toEqual([]);

    store.deleteMessage(Q, first[0]!.receiptHandle);
    expect(bodies(store.receive(Q, { maxNumberOfMessages: 10 }))).toEqual(['a2']);
  });

  it('keeps a group behind a delayed head when the queue has a delivery delay', () => {
    setup({ DelaySeconds: '10' });
    store.send(Q, { body: 'late', groupId: 'a' });
    clock += 10_000;
    store.send(Q, { body: 'later', groupId: 'a' });

    expect(bodies(store.receive(Q, { maxNumberOfMessages: 10 }))).toEqual(['late']);
    expect(store.queueAttributes(Q).ApproximateNumberOfMessagesDelayed).toBe('1');
  });
});

describe('SQS FIFO store: deduplication', () => {
  it('swallows a repeated deduplication id within five minutes and returns the original id', () => {
    const original = store.send(Q, { body: 'one', groupId: 'g', deduplicationId: 'same' });
    clock += 4 * 60_000;
    const repeat = store.send(Q, { body: 'two', groupId: 'g', deduplicationId: 'same' });

    expect(repeat.duplicate).toBe(true);
    expect(repeat.messageId).toBe(original.messageId);
    expect(repeat.md5OfMessageBody).toBe(md5Hex('two'));
    expect(bodies(store.receive(Q, { maxNumberOfMessages: 10 }))).toEqual(['one']);
  });

  it('accepts the same deduplication id again once the window has passed, even after a delete', () => {
    const original = store.send(Q, { body: 'one', groupId: 'g', deduplicationId: 'same' });
    const [received] = store.receive(Q);
    store.deleteMessage(Q, received!.receiptHandle);
    clock += 60_000;
    expect(store.send(Q, { body: 'one', groupId: 'g', deduplicationId: 'same' }).duplicate).toBe(true);

    clock += 4 * 60_000;
    const fresh = store.send(Q, { body: 'one', groupId: 'g', deduplicationId: 'same' });

    expect(fresh.duplicate).toBe(false);
    expect(fresh.messageId).not.toBe(original.messageId);
  });

  it('deduplicates by SHA-256 of the body under content-based deduplication', () => {
    const first = store.send(Q, { body: 'thumbnail vm-1', groupId: 'g1' });
    const again = store.send(Q, { body: 'thumbnail vm-1', groupId: 'g2' });
    const other = store.send(Q, { body: 'thumbnail vm-2', groupId: 'g1' });

    expect(again).toMatchObject({ duplicate: true, messageId: first.messageId });
    expect(other.duplicate).toBe(false);
    const [message] = store.receive(Q);
    expect(message!.attributes.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('requires a deduplication id when content-based deduplication is off', () => {
    setup({ ContentBasedDeduplication: 'false' });

    expect(sqsError(() => store.send(Q, { body: 'x', groupId: 'g' })).code).toBe('InvalidParameterValue');
  });
});

describe('SQS FIFO store: visibility and receipt handles', () => {
  it('makes an undeleted message reappear after the visibility timeout with a new handle', () => {
    store.send(Q, { body: 'job', groupId: 'g' });
    const [first] = store.receive(Q);
    clock += 29_999;
    expect(store.receive(Q)).toEqual([]);

    clock += 1;
    const [second] = store.receive(Q);

    expect(second!.messageId).toBe(first!.messageId);
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle);
    expect(second!.attributes.ApproximateReceiveCount).toBe('2');
    expect(second!.attributes.ApproximateFirstReceiveTimestamp).toBe(
      first!.attributes.ApproximateFirstReceiveTimestamp,
    );
  });

  it('refuses a stale handle, and a handle whose visibility ran out, but not the current one', () => {
    store.send(Q, { body: 'job', groupId: 'g' });
    const [first] = store.receive(Q, { visibilityTimeoutSeconds: 5 });
    clock += 5_000;
    const expired = sqsError(() => store.deleteMessage(Q, first!.receiptHandle));
    expect(expired.code).toBe('InvalidParameterValue');
    expect(expired.message).toMatch(/receipt handle has expired/);

    const [second] = store.receive(Q);
    expect(sqsError(() => store.deleteMessage(Q, first!.receiptHandle)).code).toBe('InvalidParameterValue');
    store.deleteMessage(Q, second!.receiptHandle);

    expect(store.queueAttributes(Q).ApproximateNumberOfMessagesNotVisible).toBe('0');
    expect(store.receive(Q)).toEqual([]);
  });

  it('rejects a handle that is not one', () => {
    expect(sqsError(() => store.deleteMessage(Q, 'not-a-handle')).code).toBe('ReceiptHandleIsInvalid');
  });

  it('releases a message at once when its visibility is changed to 0, and extends it otherwise', () => {
    store.send(Q, { body: 'job', groupId: 'g' });
    const [first] = store.receive(Q);
    store.changeVisibility(Q, first!.receiptHandle, 0);
    const [second] = store.receive(Q);
    expect(second!.messageId).toBe(first!.messageId);

    store.changeVisibility(Q, second!.receiptHandle, 100);
    clock += 60_000;
    expect(store.receive(Q)).toEqual([]);
    clock += 40_000;
    expect(store.receive(Q)).toHaveLength(1);
  });

  it('counts visible, in-flight and delayed messages', () => {
    sendAll([
      ['a', 'a1'],
      ['b', 'b1'],
      ['c', 'c1'],
    ]);
    store.receive(Q);

    const attributes = store.queueAttributes(Q);

    expect(attributes.ApproximateNumberOfMessages).toBe('2');
    expect(attributes.ApproximateNumberOfMessagesNotVisible).toBe('1');
  });
});

describe('SQS FIFO store: redrive', () => {
  it('moves a message to the DLQ on the receive that would exceed maxReceiveCount, and frees its group', () => {
    sendAll([
      ['g', 'poison'],
      ['g', 'next'],
    ]);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [message] = store.receive(Q);
      expect(message).toMatchObject({
        body: 'poison',
        attributes: { ApproximateReceiveCount: String(attempt) },
      });
      clock += 30_000;
    }

    const afterRedrive = store.receive(Q, { maxNumberOfMessages: 10 });
    const [dead] = store.receive(DLQ);

    expect(bodies(afterRedrive)).toEqual(['next']);
    expect(dead).toMatchObject({
      body: 'poison',
      attributes: {
        ApproximateReceiveCount: '4',
        MessageGroupId: 'g',
        DeadLetterQueueSourceArn: queueArn(Q),
      },
    });
  });

  it('refuses a redrive policy whose DLQ does not exist', () => {
    const error = sqsError(() =>
      store.createQueue('other.fifo', {
        FifoQueue: 'true',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn('missing.fifo'), maxReceiveCount: 2 }),
      }),
    );
    expect(error.code).toBe('InvalidParameterValue');
  });
});

describe('SQS FIFO store: FIFO rules and queue management', () => {
  it('requires a message group id and refuses a per-message delay, as SQS does on FIFO queues', () => {
    expect(sqsError(() => store.send(Q, { body: 'x' })).code).toBe('MissingParameter');
    expect(sqsError(() => store.send(Q, { body: 'x', groupId: 'g', delaySeconds: 5 })).code).toBe(
      'InvalidParameterValue',
    );
    expect(sqsError(() => store.send(Q, { body: '\u0001', groupId: 'g' })).code).toBe(
      'InvalidMessageContents',
    );
  });

  it('answers an unknown queue with QueueDoesNotExist', () => {
    expect(sqsError(() => store.receive('nope.fifo')).code).toBe('QueueDoesNotExist');
  });

  it('makes CreateQueue idempotent for identical attributes and refuses different ones', () => {
    expect(store.createQueue(Q, { VisibilityTimeout: '30', ContentBasedDeduplication: 'true' })).toEqual({
      created: false,
    });
    expect(sqsError(() => store.createQueue(Q, { VisibilityTimeout: '31' })).code).toBe('QueueNameExists');
    expect(sqsError(() => store.createQueue('standard', {})).code).toBe('InvalidParameterValue');
  });

  it('purges every message, in flight or not', () => {
    sendAll([
      ['a', 'a1'],
      ['b', 'b1'],
    ]);
    store.receive(Q);

    store.purge(Q);

    expect(store.queueAttributes(Q)).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });
});

describe('SQS message digests', () => {
  it('computes the body MD5 and the attribute MD5 as SQS does', () => {
    // Digest reported by SQS for these attributes (a recorded ReceiveMessage response).
    const attributes = {
      Hello: { DataType: 'String', StringValue: 'There' },
      General: { DataType: 'String', StringValue: 'Kenobi' },
    };

    expect(md5OfMessageAttributes(attributes)).toBe('fca026605781cb4126a1e9044df24232');
    expect(md5OfMessageAttributes({})).toBeUndefined();
    expect(md5Hex('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
  });

  it('returns the digests on send and carries the attributes to the receiver', () => {
    const binary = { DataType: 'Binary', BinaryValue: Uint8Array.from([0, 1, 2, 255]) };
    const sent = store.send(Q, {
      body: 'with attributes',
      groupId: 'g',
      messageAttributes: { blob: binary },
    });
    const [received] = store.receive(Q);

    expect(sent.md5OfMessageBody).toBe(md5Hex('with attributes'));
    expect(received!.md5OfMessageAttributes).toBe(sent.md5OfMessageAttributes);
    expect(received!.messageAttributes.blob).toEqual(binary);
  });
});

describe('SQS FIFO store: long polling', () => {
  it('returns as soon as a message arrives, and empty when the wait ends', async () => {
    // On a fake clock, time moves only as the test moves it: when each wait answers is exact.
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    try {
      const live = new SqsStore();
      live.createQueue(Q, { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
      const answeredAt = (wait: Promise<readonly { body: string }[]>) =>
        wait.then((messages) => ({ messages, at: Date.now() }));

      // setImmediate stays real: awaiting it lets every promise that can settle settle.
      const settle = () => new Promise((resolve) => setImmediate(resolve));

      const started = Date.now();
      let woken: { messages: readonly { body: string }[]; at: number } | undefined;
      void answeredAt(live.receiveWait(Q, { waitSeconds: 20 })).then((answer) => {
        woken = answer;
      });
      setTimeout(() => live.send(Q, { body: 'wake', groupId: 'g' }), 20);
      await vi.advanceTimersByTimeAsync(20);
      await settle();
      // At the send, 20 ms into a 20 s wait.
      expect(woken?.at).toBe(started + 20);
      expect(bodies(woken?.messages ?? [])).toEqual(['wake']);

      // Nothing deliverable (the message is in flight): empty at the end of the wait, and not before.
      const emptyStart = Date.now();
      let ended = false;
      const ending = answeredAt(live.receiveWait(Q, { waitSeconds: 1 })).finally(() => {
        ended = true;
      });
      await vi.advanceTimersByTimeAsync(999);
      await settle();
      expect(ended).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      const empty = await ending;
      expect(empty.messages).toEqual([]);
      expect(empty.at - emptyStart).toBe(1_000);
      expect(await live.receiveWait(Q, { waitSeconds: 0 })).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends the wait when its signal aborts', async () => {
    const live = new SqsStore();
    live.createQueue(Q, { FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    const abort = new AbortController();

    const waiting = live.receiveWait(Q, { waitSeconds: 20 }, abort.signal);
    setTimeout(() => abort.abort(), 20);

    expect(await waiting).toEqual([]);
  });
});

describe('duplicate delivery injection (the fault suite)', () => {
  beforeEach(() => setup());

  it('loses every 10th delete once, so that message comes back with its id and body, and never a third time', () => {
    store.injectDuplicates(10);
    sendAll(Array.from({ length: 20 }, (_, i) => [`g${i}`, `m${i}`] as [string, string]));
    const deliveries: { id: string; body: string; receives: string | undefined }[] = [];
    for (;;) {
      const [message] = store.receive(Q);
      if (!message) break;
      deliveries.push({
        id: message.messageId,
        body: message.body,
        receives: message.attributes.ApproximateReceiveCount,
      });
      store.deleteMessage(Q, message.receiptHandle);
    }

    const twice = deliveries.filter((d) => d.receives === '2');
    expect(deliveries).toHaveLength(22);
    expect(twice.map((d) => d.body)).toEqual(['m9', 'm19']);
    expect(new Set(twice.map((d) => d.id))).toEqual(new Set(store.injectedDuplicates().messageIds));
    expect(deliveries.filter((d) => d.receives === '3')).toEqual([]);
    expect(store.queueAttributes(Q).ApproximateNumberOfMessages).toBe('0');
  });
});
