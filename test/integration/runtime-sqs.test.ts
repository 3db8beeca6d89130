// Integration tests — an SQS FIFO round trip through the local runtime: send with @aws-sdk/client-sqs →
// event-source poller → handler; the item the handler fails is retried and, after maxReceiveCount
// receives, redriven to the DLQ; the others are processed exactly once.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Topology, topology } from '#infra/topology';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

const root = resolve(import.meta.dirname, '../..');
const lane = 'ops-low';
let ns: TestNamespace;
let runtime: LocalRuntime;
let sqs: SQSClient;
let redis: Redis;

const testTopology: Topology = {
  ...topology,
  functions: {
    ...topology.functions,
    flaky: {
      entry: 'test/fixtures/functions/flaky-consumer.ts',
      description: 'test',
      serves: 'queue',
      needs: ['redis'],
    },
  },
  eventSources: [{ queue: lane, function: 'flaky', batchSize: 5, maxConcurrency: 2 }],
};

beforeAll(async () => {
  ns = await freshNamespace('sqs');
  runtime = await startLocalRuntime({
    root,
    issuer: await loadTestIssuer(await mkdtemp(join(tmpdir(), 'vfleet-issuer-'))),
    services: ns.services,
    topology: testTopology,
    tablePrefix: `vfleet-${ns.id}`,
    // Retries after one second instead of the lane's minute.
    queueOverrides: { [lane]: { visibilityTimeoutSeconds: 1 } },
    env: { FIXTURE_PREFIX: ns.id },
  });
  sqs = new SQSClient({
    endpoint: runtime.sqsEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  redis = new Redis(ns.services.redisUrl);
});

afterAll(async () => {
  sqs?.destroy();
  redis?.disconnect();
  await runtime?.stop();
  await ns?.dispose();
});

describe('SQS FIFO round trip through the local runtime', () => {
  it('processes good items once and redrives the failing one to the DLQ after maxReceiveCount', async () => {
    const maxReceiveCount = topology.queues[lane]!.maxReceiveCount;
    const messages = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id, fail: id === 'c' }));
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: runtime.queueUrl(lane),
        Entries: messages.map((message) => ({
          Id: message.id,
          MessageBody: JSON.stringify(message),
          // c fails; putting it in its own group lets its failure hold back only itself.
          MessageGroupId: message.fail ? 'failing' : 'vc-1',
        })),
      }),
    );

    const dlqUrl = runtime.deadLetterQueueUrl(lane);
    const deadline = Date.now() + 30_000;
    let dead: { Body?: string }[] = [];
    while (dead.length === 0 && Date.now() < deadline) {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 1 }));
      dead = received.Messages ?? [];
    }
    expect(dead.map((message) => JSON.parse(message.Body ?? '{}').id)).toEqual(['c']);

    const deliveries = await redis.lrange(`${ns.id}:deliveries`, 0, -1);
    const count = (id: string) => deliveries.filter((entry) => entry.startsWith(`${id}#`)).length;
    for (const id of ['a', 'b', 'd', 'e', 'f']) expect(count(id), id).toBe(1);
    expect(count('c')).toBe(maxReceiveCount);
    expect(deliveries.filter((entry) => entry.startsWith('c#'))).toEqual(
      Array.from({ length: maxReceiveCount }, (_, i) => `c#${i + 1}`),
    );
    // Order within the good group is the send order.
    expect(deliveries.filter((entry) => !entry.startsWith('c#'))).toEqual([
      'a#1',
      'b#1',
      'd#1',
      'e#1',
      'f#1',
    ]);
  });
});
