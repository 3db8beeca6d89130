// Integration tests — local runtime, SQS FIFO endpoint: the real `@aws-sdk/client-sqs` over a loopback
// socket (send, receive, delete, batches, deduplication, visibility, redrive, long polling, errors), and the
// FIFO round trip send → poller → handler → failed item retried → DLQ.
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalSqs, startEventSourcePollers, startLocalSqs } from '../../infra/local/sqs/index.ts';
import { queues } from '../../infra/topology.ts';

let sqs: LocalSqs;
let client: SQSClient;
let url: string;

beforeAll(async () => {
  sqs = await startLocalSqs({
    queues,
    overrides: { 'ops-normal': { visibilityTimeoutSeconds: 1 }, 'ops-low': { visibilityTimeoutSeconds: 1 } },
  });
  client = new SQSClient({
    endpoint: sqs.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  url = sqs.queueUrl('ops-high');
});

afterAll(async () => {
  client?.destroy();
  await sqs?.stop();
});

beforeEach(async () => {
  for (const queue of ['ops-high', 'ops-normal', 'ops-low']) {
    await client.send(new PurgeQueueCommand({ QueueUrl: sqs.queueUrl(queue) }));
    await client.send(new PurgeQueueCommand({ QueueUrl: sqs.deadLetterQueueUrl(queue) }));
  }
});

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function counts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

async function rejection(promise: Promise<unknown>): Promise<SQSServiceException> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SQSServiceException) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('local SQS endpoint through @aws-sdk/client-sqs', () => {
  it('serves the topology queues with their DLQs and redrive policies', async () => {
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: 'ops-critical.fifo' }));
    const { QueueUrls } = await client.send(new ListQueuesCommand({ QueueNamePrefix: 'ops-' }));
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
    );

    expect(QueueUrl).toBe(`${sqs.endpoint}/000000000000/ops-critical.fifo`);
    expect(QueueUrls).toHaveLength(8);
    expect(Attributes).toMatchObject({
      FifoQueue: 'true',
      ContentBasedDeduplication: 'true',
      VisibilityTimeout: '60',
      QueueArn: 'arn:aws:sqs:us-east-1:000000000000:ops-critical.fifo',
    });
    expect(JSON.parse(Attributes!.RedrivePolicy!)).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:ops-critical-dlq.fifo',
      maxReceiveCount: 3,
    });
    expect(sqs.environment.QUEUE_URL_OPS_CRITICAL).toBe(QueueUrl);
  });

  it('creates a queue idempotently and refuses one with different attributes', async () => {
    const attributes = { FifoQueue: 'true', VisibilityTimeout: '45' };
    const first = await client.send(
      new CreateQueueCommand({ QueueName: 'scratch.fifo', Attributes: attributes }),
    );
    const again = await client.send(
      new CreateQueueCommand({ QueueName: 'scratch.fifo', Attributes: attributes }),
    );
    const conflict = await rejection(
      client.send(
        new CreateQueueCommand({ QueueName: 'scratch.fifo', Attributes: { VisibilityTimeout: '46' } }),
      ),
    );

    expect(again.QueueUrl).toBe(first.QueueUrl);
    expect(conflict.name).toBe('QueueNameExists');
  });

  it('sends, receives with attributes and deletes, with digests the SDK verifies', async () => {
    const sent = await client.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: '{"op":"console","vm":"vc-1:vm-7"} ✓',
        MessageGroupId: 'vc-1',
        MessageDeduplicationId: 'console-vm-7',
        MessageAttributes: {
          lane: { DataType: 'String', StringValue: 'high' },
          'trace.id': { DataType: 'Binary', BinaryValue: Uint8Array.from([1, 2, 3]) },
          skip: { DataType: 'Number', StringValue: '42' },
        },
      }),
    );
    const { Messages } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: [
          'ApproximateReceiveCount',
          'SentTimestamp',
          'MessageGroupId',
          'SequenceNumber',
          'MessageDeduplicationId',
        ],
        MessageAttributeNames: ['lane', 'trace.*'],
      }),
    );

    expect(Messages).toHaveLength(1);
    const [message] = Messages!;
    expect(message).toMatchObject({
      MessageId: sent.MessageId,
      Body: '{"op":"console","vm":"vc-1:vm-7"} ✓',
      Attributes: {
        ApproximateReceiveCount: '1',
        MessageGroupId: 'vc-1',
        MessageDeduplicationId: 'console-vm-7',
        SequenceNumber: sent.SequenceNumber,
      },
    });
    expect(message!.Attributes).not.toHaveProperty('SenderId');
    expect(Object.keys(message!.MessageAttributes!).sort()).toEqual(['lane', 'trace.id']);
    expect(message!.MessageAttributes!['trace.id']!.BinaryValue).toEqual(Uint8Array.from([1, 2, 3]));
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);

    await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message!.ReceiptHandle }));
    expect(await counts(url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('deduplicates repeated sends within the window, by id and by content', async () => {
    const first = await client.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: 'thumb vm-1', MessageGroupId: 'g' }),
    );
    const sameContent = await client.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: 'thumb vm-1', MessageGroupId: 'g' }),
    );
    const batch = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: 'a', MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'dup' },
          { Id: 'b', MessageBody: 'y', MessageGroupId: 'g', MessageDeduplicationId: 'dup' },
          { Id: 'c', MessageBody: 'z' },
        ],
      }),
    );

    expect(sameContent.MessageId).toBe(first.MessageId);
    const byId = Object.fromEntries((batch.Successful ?? []).map((entry) => [entry.Id, entry.MessageId]));
    expect(byId.a).toBeDefined();
    expect(byId.b).toBe(byId.a);
    expect(batch.Failed).toEqual([
      expect.objectContaining({ Id: 'c', Code: 'MissingParameter', SenderFault: true }),
    ]);
    expect((await counts(url)).visible).toBe(2);
  });

  it('hides a received message for the visibility timeout and refuses its stale handle afterwards', async () => {
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'vis', MessageGroupId: 'g' }));
    const first = (await client.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 1 })))
      .Messages!;
    expect(first).toHaveLength(1);
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toBeUndefined();

    const again = await eventually('the message to reappear', async () => {
      const { Messages } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      return Messages?.[0];
    });
    const stale = await rejection(
      client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first[0]!.ReceiptHandle })),
    );
    const invalid = await rejection(
      client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'bogus' })),
    );

    expect(again.MessageId).toBe(first[0]!.MessageId);
    expect(again.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(stale.name).toBe('InvalidParameterValue');
    expect(stale.message).toMatch(/receipt handle has expired/);
    expect(invalid).toBeInstanceOf(ReceiptHandleIsInvalid);

    await client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: again.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages?.[0]?.MessageId).toBe(
      again.MessageId,
    );
  });

  it('settles batch deletes and visibility changes entry by entry', async () => {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: ['a', 'b', 'c'].map((id) => ({ Id: id, MessageBody: `batch-${id}`, MessageGroupId: id })),
      }),
    );
    const { Messages } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }),
    );
    expect(Messages?.map((message) => message.Body)).toEqual(['batch-a', 'batch-b', 'batch-c']);
    const [a, b, c] = Messages!;

    const changed = await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: 'c', ReceiptHandle: c!.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'bad', ReceiptHandle: 'bogus', VisibilityTimeout: 0 },
        ],
      }),
    );
    const deleted = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          { Id: 'a', ReceiptHandle: a!.ReceiptHandle },
          { Id: 'b', ReceiptHandle: b!.ReceiptHandle },
          { Id: 'bad', ReceiptHandle: 'bogus' },
        ],
      }),
    );

    expect(changed.Successful?.map((entry) => entry.Id)).toEqual(['c']);
    expect(changed.Failed?.map((entry) => [entry.Id, entry.Code])).toEqual([
      ['bad', 'ReceiptHandleIsInvalid'],
    ]);
    expect(deleted.Successful?.map((entry) => entry.Id)).toEqual(['a', 'b']);
    expect(deleted.Failed?.map((entry) => entry.Id)).toEqual(['bad']);
    expect(await counts(url)).toEqual({ visible: 1, inFlight: 0 });
  });

  it('moves a message to the DLQ on the receive after maxReceiveCount', async () => {
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'poison', MessageGroupId: 'g' }));
    for (let attempt = 1; attempt <= 3; attempt++) {
      // VisibilityTimeout 0 hands the message straight back, so each receive is one more attempt.
      const { Messages } = await client.send(
        new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 0 }),
      );
      expect(Messages?.[0]?.Body).toBe('poison');
    }

    const fourth = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    const dead = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: sqs.deadLetterQueueUrl('ops-high'),
        AttributeNames: ['All'],
      }),
    );

    expect(fourth.Messages).toBeUndefined();
    expect(dead.Messages?.[0]).toMatchObject({
      Body: 'poison',
      Attributes: { DeadLetterQueueSourceArn: 'arn:aws:sqs:us-east-1:000000000000:ops-high.fifo' },
    });
  });

  it('long-polls: answers when a message arrives, and empty when the wait ends', async () => {
    let answered = false;
    const started = Date.now();
    const waiting = client
      .send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 10 }))
      .finally(() => {
        answered = true;
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false); // nothing to deliver yet: still waiting
    await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late', MessageGroupId: 'g' }));

    const { Messages } = await waiting;
    expect(Messages?.[0]?.Body).toBe('late');
    // The send woke it: a wait that ran its 10 s out would deliver the message too, but only then (the
    // bound is the wait itself, 30x the 300 ms after which the message came).
    expect(Date.now() - started).toBeLessThan(10_000);

    const emptyStart = Date.now();
    const empty = await client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
    expect(empty.Messages).toBeUndefined();
    expect(Date.now() - emptyStart).toBeGreaterThanOrEqual(900);
  });

  it('answers errors as SQS does: unknown queue, FIFO rules', async () => {
    const unknownUrl = await rejection(client.send(new GetQueueUrlCommand({ QueueName: 'missing.fifo' })));
    const unknownSend = await rejection(
      client.send(
        new SendMessageCommand({
          QueueUrl: `${sqs.endpoint}/000000000000/missing.fifo`,
          MessageBody: 'x',
          MessageGroupId: 'g',
        }),
      ),
    );
    const delay = await rejection(
      client.send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageGroupId: 'g', DelaySeconds: 5 }),
      ),
    );
    const noGroup = await rejection(client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })));

    expect(unknownUrl).toBeInstanceOf(QueueDoesNotExist);
    expect(unknownUrl.$metadata.httpStatusCode).toBe(400);
    expect(unknownSend).toBeInstanceOf(QueueDoesNotExist);
    expect(delay.name).toBe('InvalidParameterValue');
    expect(noGroup.name).toBe('MissingParameter');
  });
});

describe('SQS event-source poller round trip', () => {
  it('retries the failing item, redrives it to the DLQ after maxReceiveCount and deletes the rest', async () => {
    // Prepare: ops-normal has a 1 s visibility timeout here, maxReceiveCount 3 from the topology.
    const queueUrl = sqs.queueUrl('ops-normal');
    const bodies = Array.from({ length: 12 }, (_, i) => `job-${i}`);
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies
          .slice(0, 10)
          .map((body, i) => ({ Id: `e${i}`, MessageBody: body, MessageGroupId: `vc-${i % 4}` })),
      }),
    );
    for (const body of [...bodies.slice(10), 'poison']) {
      await client.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: 'vc-poison' }),
      );
    }

    let active = 0;
    let maxActive = 0;
    const poisonReceives: string[] = [];
    const done = new Set<string>();
    const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
        for (const record of event.Records) {
          if (record.body === 'poison') {
            poisonReceives.push(record.attributes.ApproximateReceiveCount);
            batchItemFailures.push({ itemIdentifier: record.messageId });
          } else done.add(record.body);
        }
        return { batchItemFailures };
      } finally {
        active--;
      }
    };

    // Act
    const pollers = startEventSourcePollers({
      sqs,
      eventSources: [{ queue: 'ops-normal', function: 'fixture-worker', batchSize: 3, maxConcurrency: 2 }],
      invoke: async (_name, event) => handler(event),
      onBatch: () => {},
    });
    try {
      const dead = await eventually('the poison message in the DLQ', async () => {
        const { Messages } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: sqs.deadLetterQueueUrl('ops-normal'),
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
        );
        return Messages?.[0];
      });

      // Assess
      expect(dead.Body).toBe('poison');
      expect(poisonReceives).toEqual(['1', '2', '3']);
      expect([...done].sort()).toEqual([...bodies].sort());
      expect(await counts(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
      expect(maxActive).toBeLessThanOrEqual(2);
    } finally {
      await pollers.stop();
    }
  });
});
