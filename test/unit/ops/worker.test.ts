// Unit tests — the ops worker's batch processing (processLaneBatch) against a mocked SQS (aws-sdk-client-mock)
// and plain job runners: dispatch by job type, a job without a slot handed back with its visibility delay, a
// fresh re-send at the receive budget, upstream failures backing off 2, 4, 8… s (capped at 30), expired jobs
// dropped, unreadable messages reported and logged, and records of one batch run side by side; and the HIGH
// lane's vm-refresh runner against plain fakes (limiter, vCenter, inventory, completion records).
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  SendMessageCommand,
  SQSClient,
  type SQSClient as SQSClientType,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { envNames } from '../../../infra/topology.ts';
import { watchedProperties } from '../../../shared/inventory/sync/index.ts';
import {
  type RefreshRecord,
  runVmRefreshJob,
  type VmRefreshDeps,
} from '../../../shared/inventory/vm-refresh.ts';
import { logger } from '../../../shared/observability/index.ts';
import type { OpsJob, ThumbnailJob, VmRefreshJob } from '../../../shared/ops/jobs.ts';
import { type Lane, laneQueues } from '../../../shared/ops/lanes.ts';
import { LimiterTimeoutError } from '../../../shared/ops/limiter.ts';
import type { JobOutcome } from '../../../shared/ops/thumbnails.ts';
import { processLaneBatch, type WorkerDeps } from '../../../shared/ops/worker.ts';
import { SoapFault, TimeoutError } from '../../../shared/vsphere/index.ts';

const queueUrl = (lane: Lane) => `https://sqs.local/000000000000/${laneQueues[lane]}.fifo`;
const arn = (queue: string) => `arn:aws:sqs:us-east-1:000000000000:${queue}.fifo`;

let sequence = 0;

/** An SQS record of `lane`'s queue carrying `job` (or a raw body), received `receives` times. */
function record(
  lane: Lane,
  job: OpsJob | string,
  options: { receives?: number; queue?: string; group?: string } = {},
): SQSRecord {
  const id = `msg-${++sequence}`;
  return {
    messageId: id,
    receiptHandle: `receipt-${id}`,
    body: typeof job === 'string' ? job : JSON.stringify(job),
    attributes: {
      ApproximateReceiveCount: String(options.receives ?? 1),
      SentTimestamp: '0',
      SenderId: 'sender',
      ApproximateFirstReceiveTimestamp: '0',
      MessageGroupId: options.group ?? `group-${id}`,
      MessageDeduplicationId: `dedup-${id}`,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn(options.queue ?? laneQueues[lane]),
    awsRegion: 'us-east-1',
  };
}

const thumbnailJob = (vmId = 'vc-1:vm-1', lane: Lane = 'NORMAL'): ThumbnailJob => ({
  v: 1,
  type: 'thumbnail',
  vmId,
  lane,
  enqueuedAt: Date.now(),
});

const refreshJob = (vmId = 'vc-1:vm-2'): VmRefreshJob => ({
  v: 1,
  type: 'vm-refresh',
  vmId,
  lane: 'HIGH',
  enqueuedAt: Date.now(),
});

const batch = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

describe('ops worker batch processing', () => {
  const sqsMock = mockClient(SQSClient);
  let sqs: SQSClientType;
  let thumbnail: ReturnType<typeof vi.fn<(job: ThumbnailJob) => Promise<JobOutcome>>>;
  let vmRefresh: ReturnType<typeof vi.fn<(job: VmRefreshJob) => Promise<JobOutcome>>>;
  let deps: WorkerDeps;

  beforeAll(() => {
    for (const lane of Object.keys(laneQueues) as Lane[]) {
      process.env[envNames.queueUrl(laneQueues[lane])] = queueUrl(lane);
    }
  });

  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'new' });
    sqs = new SQSClient({ region: 'us-east-1' });
    thumbnail = vi.fn(async () => ({ kind: 'done' }) as const);
    vmRefresh = vi.fn(async () => ({ kind: 'done' }) as const);
    deps = {
      sqs,
      runners: { thumbnail, 'vm-refresh': vmRefresh },
      maxReceiveCount: () => 3,
      maxJobAgeMs: () => 60_000,
    };
  });

  afterEach(() => {
    vi.restoreAllMocks();
    sqs.destroy();
  });

  it('dispatches each job to the runner of its type and deletes what they finish', async () => {
    const thumb = thumbnailJob('vc-1:vm-7');
    const refresh = refreshJob('vc-1:vm-8');

    const result = await processLaneBatch(deps, batch(record('NORMAL', thumb), record('HIGH', refresh)));

    expect(result).toEqual({ batchItemFailures: [] });
    expect(thumbnail.mock.calls).toEqual([[thumb]]);
    expect(vmRefresh.mock.calls).toEqual([[refresh]]);
    expect(sqsMock.calls()).toHaveLength(0);
  });

  it('hands a job that got no slot back to its queue with its delay and reports it as a batch item failure', async () => {
    thumbnail.mockResolvedValueOnce({ kind: 'requeue', delaySeconds: 3 });
    const waiting = record('LOW', thumbnailJob('vc-1:vm-1', 'LOW'), { receives: 2 });

    const result = await processLaneBatch(deps, batch(waiting));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: waiting.messageId }] });
    const changes = sqsMock.commandCalls(ChangeMessageVisibilityCommand);
    expect(changes.map((call) => call.args[0].input)).toEqual([
      { QueueUrl: queueUrl('LOW'), ReceiptHandle: waiting.receiptHandle, VisibilityTimeout: 3 },
    ]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('re-sends a job that waited through its receive budget as a fresh message instead of failing it', async () => {
    vmRefresh.mockResolvedValueOnce({ kind: 'requeue', delaySeconds: 1 });
    const waited = record('HIGH', refreshJob(), { receives: 3 });

    const result = await processLaneBatch(deps, batch(waited));

    // Not a failure: Lambda deletes it, and the fresh copy carries on with a new receive count.
    expect(result).toEqual({ batchItemFailures: [] });
    const sends = sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(sends).toEqual([
      {
        QueueUrl: queueUrl('HIGH'),
        MessageBody: waited.body,
        MessageGroupId: waited.attributes.MessageGroupId,
        MessageDeduplicationId: `${waited.messageId}-r3`,
      },
    ]);
    expect(sends[0]?.MessageDeduplicationId).not.toBe(waited.attributes.MessageDeduplicationId);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)).toHaveLength(0);
  });

  it('backs upstream failures off 2, 4, 8 … s, capped at 30 s, and reports them as batch item failures', async () => {
    thumbnail.mockRejectedValue(new Error('vCenter down'));
    const records = [1, 2, 3, 4, 5, 9].map((receives) =>
      record('NORMAL', thumbnailJob(`vc-1:vm-${receives}`), { receives }),
    );

    const result = await processLaneBatch(deps, batch(...records));

    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      records.map((r) => r.messageId).sort(),
    );
    const delays = new Map(
      sqsMock
        .commandCalls(ChangeMessageVisibilityCommand)
        .map((call) => [call.args[0].input.ReceiptHandle, call.args[0].input.VisibilityTimeout]),
    );
    expect(records.map((r) => delays.get(r.receiptHandle))).toEqual([2, 4, 8, 16, 30, 30]);
    expect(
      sqsMock
        .commandCalls(ChangeMessageVisibilityCommand)
        .every((c) => c.args[0].input.QueueUrl === queueUrl('NORMAL')),
    ).toBe(true);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('drops a job older than its lane allows without running it', async () => {
    const old = { ...thumbnailJob(), enqueuedAt: Date.now() - 61_000 };
    const expired = record('NORMAL', old);

    const result = await processLaneBatch(deps, batch(expired));

    expect(result).toEqual({ batchItemFailures: [] });
    expect(thumbnail).not.toHaveBeenCalled();
    expect(sqsMock.calls()).toHaveLength(0);
  });

  it('reports and logs an unreadable message and a message from a queue that is no lane', async () => {
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const garbage = record('HIGH', 'not json');
    const unknownType = record('HIGH', JSON.stringify({ ...refreshJob(), type: 'reboot' }));
    const wrongLane = record('LOW', JSON.stringify({ ...refreshJob(), lane: 'LOW' }));
    const stranger = record('HIGH', refreshJob(), { queue: 'sync' });

    const result = await processLaneBatch(deps, batch(garbage, unknownType, wrongLane, stranger));

    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([
      garbage.messageId,
      unknownType.messageId,
      wrongLane.messageId,
      stranger.messageId,
    ]);
    expect(vmRefresh).not.toHaveBeenCalled();
    expect(thumbnail).not.toHaveBeenCalled();
    expect(sqsMock.calls()).toHaveLength(0);
    const logged = errors.mock.calls.map(([, extra]) => (extra as { messageId: string }).messageId);
    expect(logged).toEqual([
      garbage.messageId,
      unknownType.messageId,
      wrongLane.messageId,
      stranger.messageId,
    ]);
  });

  it('runs the records of one batch side by side and reports only the failed ones', async () => {
    // Each runner waits until all three have started: a worker that ran them one by one would never finish.
    let started = 0;
    let allStarted!: () => void;
    const together = new Promise<void>((resolve) => {
      allStarted = resolve;
    });
    const arrive = async () => {
      if (++started === 3) allStarted();
      await together;
    };
    thumbnail.mockImplementation(async (job) => {
      await arrive();
      if (job.vmId === 'vc-1:vm-bad') throw new Error('boom');
      return { kind: 'done' };
    });
    vmRefresh.mockImplementation(async () => {
      await arrive();
      return { kind: 'done' };
    });
    const ok = record('NORMAL', thumbnailJob('vc-1:vm-ok'));
    const bad = record('NORMAL', thumbnailJob('vc-1:vm-bad'));
    const refreshed = record('HIGH', refreshJob('vc-1:vm-r'));

    const result = await Promise.race([
      processLaneBatch(deps, batch(ok, bad, refreshed)),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('records ran one by one')), 2_000)),
    ]);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }] });
    expect(started).toBe(3);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: queueUrl('NORMAL'), ReceiptHandle: bad.receiptHandle, VisibilityTimeout: 2 },
    ]);
  });

  it('runs one group in order and stops it at a retried record: the same job behind it goes, another comes back with it', async () => {
    // Three jobs of one group (one VM's key) as FIFO delivers them: the first fails upstream, the second asks
    // for the same screen, the third is other work of the group.
    sqsMock.on(DeleteMessageCommand).resolves({});
    const order: string[] = [];
    thumbnail.mockImplementation(async (job) => {
      order.push(`${job.type}:${job.lane}`);
      throw new Error('ECONNRESET');
    });
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const failing = record('NORMAL', thumbnailJob('vc-1:vm-7'), { group: 'vc-1:vm-7' });
    const same = record('NORMAL', thumbnailJob('vc-1:vm-7'), { group: 'vc-1:vm-7' });
    const other = record('NORMAL', thumbnailJob('vc-1:vm-7', 'LOW'), {
      group: 'vc-1:vm-7',
      queue: laneQueues.NORMAL,
    });

    const result = await processLaneBatch(deps, batch(failing, same, other));

    // Only the first ran; it stays with its back-off, and so does the different job behind it, due with it
    // (not after the queue's whole visibility timeout); the identical one is deleted, its retry covers it.
    expect(order).toEqual(['thumbnail:NORMAL']);
    expect(result).toEqual({
      batchItemFailures: [{ itemIdentifier: failing.messageId }, { itemIdentifier: other.messageId }],
    });
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: queueUrl('NORMAL'), ReceiptHandle: failing.receiptHandle, VisibilityTimeout: 2 },
      { QueueUrl: queueUrl('NORMAL'), ReceiptHandle: other.receiptHandle, VisibilityTimeout: 2 },
    ]);
    expect(sqsMock.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: queueUrl('NORMAL'), ReceiptHandle: same.receiptHandle },
    ]);
    expect(warn).toHaveBeenCalled();
  });

  it('runs the records of one group one after another, in their order', async () => {
    const order: number[] = [];
    let running = 0;
    thumbnail.mockImplementation(async (job) => {
      running++;
      expect(running).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      order.push(job.enqueuedAt);
      running--;
      return { kind: 'skipped', why: 'fresh' };
    });
    const now = Date.now();
    const records = [now + 1, now + 2, now + 3].map((enqueuedAt) =>
      record('NORMAL', { ...thumbnailJob('vc-1:vm-1'), enqueuedAt }, { group: 'vc-1:vm-1' }),
    );

    expect(await processLaneBatch(deps, batch(...records))).toEqual({ batchItemFailures: [] });
    expect(order).toEqual([now + 1, now + 2, now + 3]);
  });

  it('still reports a record whose hand-back to SQS failed', async () => {
    thumbnail.mockResolvedValueOnce({ kind: 'requeue', delaySeconds: 1 });
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(new Error('throttled'));
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const waiting = record('NORMAL', thumbnailJob());

    const result = await processLaneBatch(deps, batch(waiting));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: waiting.messageId }] });
    expect(errors).toHaveBeenCalledTimes(1);
  });
});

describe('the HIGH lane vm-refresh job runner', () => {
  const job = refreshJob('vc-1:vm-42');
  const readSince = new Date('2026-01-01T00:00:00Z');

  /** Plain fakes: the limiter runs `read` (or throws `limiterError`), the vCenter answers `readProperties`. */
  function fakes(readProperties: () => Promise<Record<string, unknown>>, limiterError?: Error) {
    const records: RefreshRecord[] = [];
    const stores: unknown[][] = [];
    const admissions: unknown[][] = [];
    const reads: unknown[][] = [];
    const client = {
      readProperties: async (...args: unknown[]) => {
        reads.push(args);
        return readProperties();
      },
    };
    const deps: VmRefreshDeps = {
      sessions: {
        identity: async () => ({ vcenterId: 'vc-1', url: 'u', username: 'x' }),
        forVcenter: async () => client as never,
      },
      limiter: {
        withAdmission: async (
          target: string,
          lane: Lane,
          options: unknown,
          work: (admit: unknown) => Promise<unknown>,
        ) => {
          admissions.push([target, lane, options]);
          if (limiterError) throw limiterError;
          return work('admit-hook');
        },
      } as never,
      jobs: { enqueue: async () => 'sent' },
      refreshes: {
        get: async () => records.at(-1),
        put: async (_vmId, record) => {
          records.push(record);
        },
      },
      inventory: {
        clock: async () => readSince,
        store: async (...args) => {
          stores.push(args);
          return args[2] === null ? 'deleted' : 'stored';
        },
        view: async () => {
          throw new Error('not used by the worker');
        },
      },
    };
    return { deps, records, stores, admissions, reads };
  }

  it('reads the sync property set through the HIGH lane with the admit hook and stores the row', async () => {
    const f = fakes(async () => ({ name: 'web-1', 'runtime.powerState': 'poweredOff' }));

    const outcome = await runVmRefreshJob(f.deps, job);

    expect(outcome).toEqual({ kind: 'done' });
    expect(f.admissions).toEqual([
      ['vc-1', 'HIGH', expect.objectContaining({ timeoutMs: 1_000, requestedAt: job.enqueuedAt })],
    ]);
    expect(f.reads).toEqual([
      [
        { type: 'VirtualMachine', value: 'vm-42' },
        watchedProperties.VirtualMachine,
        { timeoutMs: 10_000, admit: 'admit-hook' },
      ],
    ]);
    expect(f.stores).toEqual([
      ['vc-1', 'vm-42', { name: 'web-1', 'runtime.powerState': 'poweredOff' }, readSince],
    ]);
    expect(f.records).toEqual([
      { enqueuedAt: job.enqueuedAt, refreshedAt: expect.any(Number), outcome: 'done' },
    ]);
  });

  it('hands the job back when no HIGH slot came free, without touching the inventory', async () => {
    const f = fakes(async () => ({}), new LimiterTimeoutError('vc-1', 'HIGH', 1_000));

    expect(await runVmRefreshJob(f.deps, job)).toEqual({ kind: 'requeue', delaySeconds: 1 });
    expect(f.stores).toEqual([]);
    expect(f.records).toEqual([]);
  });

  it('deletes the row of a VM the vCenter does not have and records not_found', async () => {
    const f = fakes(async () => {
      throw new SoapFault({ faultType: 'ManagedObjectNotFound', faultCode: '', faultString: '', detail: {} });
    });

    expect(await runVmRefreshJob(f.deps, job)).toEqual({ kind: 'done' });
    expect(f.stores).toEqual([['vc-1', 'vm-42', null, readSince]]);
    expect(f.records.map((r) => r.outcome)).toEqual(['not_found']);
  });

  it('records an upstream failure and rethrows it so SQS retries the job', async () => {
    const f = fakes(async () => {
      throw new TimeoutError('RetrievePropertiesEx', 10_000);
    });

    await expect(runVmRefreshJob(f.deps, job)).rejects.toBeInstanceOf(TimeoutError);
    expect(f.stores).toEqual([]);
    expect(f.records).toEqual([
      { enqueuedAt: job.enqueuedAt, refreshedAt: expect.any(Number), outcome: 'failed', error: 'timeout' },
    ]);
  });

  it('skips a redelivered job that a completed refresh already covered', async () => {
    const f = fakes(async () => ({ name: 'web-1' }));
    await f.deps.refreshes.put(job.vmId, {
      enqueuedAt: job.enqueuedAt,
      refreshedAt: Date.now(),
      outcome: 'done',
    });

    expect(await runVmRefreshJob(f.deps, job)).toEqual({ kind: 'skipped', why: 'already refreshed' });
    expect(f.reads).toEqual([]);
  });
});
