// Unit tests — local runtime, SQS event-source pollers: a poll loop outlives a failing batch callback (and
// leaves no unhandled rejection behind), against the in-process store (no network).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type EventSourcePollers, startEventSourcePollers } from '../../../infra/local/sqs/poller.ts';
import { SqsStore } from '../../../infra/local/sqs/store.ts';

const Q = 'lane.fifo';

async function eventually(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let pollers: EventSourcePollers | undefined;
afterEach(async () => {
  await pollers?.stop();
  pollers = undefined;
  vi.restoreAllMocks();
});

describe('SQS event-source pollers, failing callbacks', () => {
  it('keeps every poll loop running when onBatch throws, and logs instead of rejecting', async () => {
    const store = new SqsStore();
    store.createQueue(Q, { FifoQueue: 'true', ContentBasedDeduplication: 'true', VisibilityTimeout: '30' });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const invoked: string[] = [];
    let outcomes = 0;
    try {
      // Both loops (maxConcurrency 2) take a batch whose callback throws; only live loops get the third.
      for (const group of ['g1', 'g2']) store.send(Q, { body: group, groupId: group });
      pollers = startEventSourcePollers({
        store,
        eventSources: [{ queue: 'lane', function: 'worker', batchSize: 1, maxConcurrency: 2 }],
        invoke: async (_name, event) => {
          invoked.push(...event.Records.map((record) => record.body));
        },
        onBatch: () => {
          outcomes++;
          if (outcomes <= 2) throw new Error(`callback failure ${outcomes}`);
        },
      });
      await eventually('both failing callbacks', () => outcomes >= 2);
      store.send(Q, { body: 'g3', groupId: 'g3' });
      await eventually('the third message delivered', () => invoked.includes('g3'));
      await eventually('the third batch settled', () => outcomes >= 3);
      expect(invoked.sort()).toEqual(['g1', 'g2', 'g3']);
      expect(Number(store.queueAttributes(Q).ApproximateNumberOfMessages)).toBe(0);
      expect(
        logged.mock.calls.filter((call) => String(call[0]).includes('batch handling failed')),
      ).toHaveLength(2);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
