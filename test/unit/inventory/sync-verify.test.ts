// Unit tests — the drift check's pure parts and its scheduling: SYNC_VERIFY_INTERVAL (default, refusal naming
// it), verification slots and deduplication ids, the LOW job's shape, parsing and message group, result totals
// and verdicts, the mapping to the ops worker's outcomes, the dispatcher's claim and sends (a fake database and a
// mocked SQS), and the ops worker dispatching `inventory-verify` to its runner without the age limit.
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Queryable } from '../../../shared/inventory/queries.ts';
import {
  dispatchDueVerifications,
  jobOutcome,
  parseVerifyInterval,
  summarize,
  type TableComparison,
  verdict,
  verifyDedupId,
  verifyJob,
} from '../../../shared/inventory/sync/verify.ts';
import { type InventoryVerifyJob, jobKey, parseJob } from '../../../shared/ops/jobs.ts';
import type { JobOutcome } from '../../../shared/ops/thumbnails.ts';
import { processLaneBatch, type WorkerDeps } from '../../../shared/ops/worker.ts';

const table = (counts: Partial<TableComparison> = {}): TableComparison => ({
  vcenter: 10,
  stored: 10,
  missing: 0,
  extra: 0,
  differing: 0,
  ...counts,
});

describe('SYNC_VERIFY_INTERVAL', () => {
  it('defaults to an hour and takes whole seconds from a minute to a week', () => {
    expect(parseVerifyInterval({})).toBe(3_600);
    expect(parseVerifyInterval({ SYNC_VERIFY_INTERVAL: ' ' })).toBe(3_600);
    expect(parseVerifyInterval({ SYNC_VERIFY_INTERVAL: '60' })).toBe(60);
    expect(parseVerifyInterval({ SYNC_VERIFY_INTERVAL: '604800' })).toBe(604_800);
  });

  it('refuses anything else, naming the setting', () => {
    for (const value of ['59', '604801', '90.5', 'hourly', '-1']) {
      expect(() => parseVerifyInterval({ SYNC_VERIFY_INTERVAL: value })).toThrow(
        new RegExp(
          `SYNC_VERIFY_INTERVAL must be a whole number of seconds between 60 and 604800, got "${value}"`,
        ),
      );
    }
  });
});

describe('verification scheduling ids', () => {
  it("deduplicates per vCenter per verify slot (the claim's next_verify_at)", () => {
    const slot = Date.UTC(2026, 11, 2, 10);
    expect(verifyDedupId('vc-1', slot)).toBe(verifyDedupId('vc-1', String(slot)));
    // A verification brought forward within the same hour is another slot, not a duplicate.
    expect(verifyDedupId('vc-1', slot)).not.toBe(verifyDedupId('vc-1', slot - 15 * 60_000));
    expect(verifyDedupId('vc-1', slot)).not.toBe(verifyDedupId('vc-2', slot));
    // Never one of the sync queue's ids (scheduled :s:, requested :r:, continuation :c:).
    expect(verifyDedupId('vc-1', 7)).toBe('vc-1:v:7');
  });

  it('builds a LOW job that parses back, grouped by its vCenter', () => {
    const job = verifyJob('vc-9', 1_000);
    expect(job).toEqual({
      v: 1,
      type: 'inventory-verify',
      vcenterId: 'vc-9',
      lane: 'LOW',
      enqueuedAt: 1_000,
    });
    expect(parseJob(JSON.stringify(job))).toEqual(job);
    expect(jobKey(job)).toBe('verify:vc-9');
    expect(jobKey({ v: 1, type: 'thumbnail', vmId: 'vc-9:vm-1', lane: 'LOW', enqueuedAt: 1 })).toBe(
      'vc-9:vm-1',
    );
  });

  it('refuses a verification on another lane or without a vCenter', () => {
    const job = verifyJob('vc-9', 1_000);
    expect(parseJob(JSON.stringify({ ...job, lane: 'HIGH' }))).toBeUndefined();
    expect(parseJob(JSON.stringify({ ...job, vcenterId: '' }))).toBeUndefined();
    expect(parseJob(JSON.stringify({ ...job, vcenterId: undefined }))).toBeUndefined();
    expect(parseJob(JSON.stringify({ ...job, enqueuedAt: 'now' }))).toBeUndefined();
  });
});

describe('verification results', () => {
  it('totals the tables and calls any missing, extra or differing row drift', () => {
    const counts = summarize({
      vms: table({ differing: 2, extra: 1 }),
      networks: table({ missing: 1 }),
      hosts: table(),
    });
    expect(counts).toMatchObject({ missing: 1, extra: 1, differing: 2 });
    expect(verdict(counts)).toBe('drift');
    expect(verdict(summarize({ vms: table(), hosts: table() }))).toBe('match');
    expect(verdict(summarize({}))).toBe('match');
    for (const one of [{ missing: 1 }, { extra: 1 }, { differing: 1 }]) {
      expect(verdict(summarize({ vms: table(one) }))).toBe('drift');
    }
  });

  it('maps to the ops worker: requeue without a slot, skipped when there is nothing to verify, else done', () => {
    const counts = summarize({});
    expect(jobOutcome({ status: 'requeue' })).toEqual({ kind: 'requeue', delaySeconds: 1 });
    expect(jobOutcome({ status: 'skipped', why: 'no full sync yet' })).toEqual({
      kind: 'skipped',
      why: 'no full sync yet',
    });
    for (const status of ['match', 'drift'] as const) {
      expect(jobOutcome({ status, counts, rechecked: false, samples: {}, durationMs: 1 })).toEqual({
        kind: 'done',
      });
    }
    // A failed verification is recorded on the vCenter, not retried through SQS.
    expect(jobOutcome({ status: 'error', error: 'x', durationMs: 1 })).toEqual({ kind: 'done' });
  });
});

describe('dispatchDueVerifications', () => {
  const sqsMock = mockClient(SQSClient);
  let sqs: SQSClient;
  beforeEach(() => {
    sqsMock.reset();
    sqs = new SQSClient({ region: 'us-east-1' });
  });
  afterEach(() => sqs.destroy());

  /** A database whose claim answers `ids`, recording every statement. */
  const fakeDb = (ids: string[]) => {
    const statements: { text: string; values: unknown[] }[] = [];
    const db = {
      query: async (text: string, values: unknown[] = []) => {
        statements.push({ text, values });
        return {
          rows: text.startsWith('UPDATE vcenters SET next_verify_at = now() +')
            ? ids.map((id, i) => ({ id, slot: String(1_000_000 + i) }))
            : [],
        };
      },
    } as unknown as Queryable;
    return { db, statements };
  };

  it('claims due, fully synced vCenters a whole interval ahead and sends one LOW job each, in batches of 10', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `vc-${i}`);
    const { db, statements } = fakeDb(ids);
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });

    const result = await dispatchDueVerifications(db, {
      sqs,
      queueUrl: 'https://sqs.local/1/ops-low.fifo',
      intervalSeconds: 600,
      limit: 20,
    });

    expect(result).toEqual({ enqueued: 12, failed: [] });
    expect(statements).toHaveLength(1);
    expect(statements[0]?.text).toMatch(/last_full_sync_at IS NOT NULL AND next_verify_at <= now\(\)/);
    expect(statements[0]?.values).toEqual([20, 600]);
    const sends = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .map((c) => c.args[0].input as SendMessageBatchCommandInput);
    expect(sends.map((s) => s.Entries?.length)).toEqual([10, 2]);
    const entries = sends.flatMap((s) => s.Entries ?? []);
    expect(entries[0]).toMatchObject({
      MessageGroupId: 'verify:vc-0',
      MessageDeduplicationId: 'vc-0:v:1000000',
    });
    expect(entries[11]).toMatchObject({
      MessageGroupId: 'verify:vc-11',
      MessageDeduplicationId: 'vc-11:v:1000011',
    });
    expect(statements[0]?.text).toMatch(/RETURNING id, .*next_verify_at.* AS slot/);
    expect(parseJob(entries[11]?.MessageBody ?? '')).toMatchObject({
      type: 'inventory-verify',
      vcenterId: 'vc-11',
    });
    for (const s of sends) expect(s.QueueUrl).toBe('https://sqs.local/1/ops-low.fifo');
  });

  it('makes the vCenters whose job SQS did not take due again at once', async () => {
    const { db, statements } = fakeDb(['vc-a', 'vc-b', 'vc-c']);
    sqsMock.on(SendMessageBatchCommand).resolves({
      Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false }],
    });

    const result = await dispatchDueVerifications(db, { sqs, queueUrl: 'q', intervalSeconds: 3_600 });

    expect(result).toEqual({ enqueued: 2, failed: ['vc-b'] });
    expect(statements[1]).toEqual({
      text: 'UPDATE vcenters SET next_verify_at = now() WHERE id = ANY($1::text[])',
      values: [['vc-b']],
    });
  });

  it('sends nothing when nothing is due', async () => {
    const { db } = fakeDb([]);
    expect(await dispatchDueVerifications(db, { sqs, queueUrl: 'q', intervalSeconds: 3_600 })).toEqual({
      enqueued: 0,
      failed: [],
    });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });
});

describe('ops worker: inventory-verify jobs', () => {
  const record = (job: InventoryVerifyJob): SQSRecord => ({
    messageId: `m-${job.vcenterId}`,
    receiptHandle: 'r',
    body: JSON.stringify(job),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 's',
      ApproximateFirstReceiveTimestamp: '0',
      MessageGroupId: jobKey(job),
      MessageDeduplicationId: 'd',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:ops-low.fifo',
    awsRegion: 'us-east-1',
  });
  const deps = (runner?: (job: InventoryVerifyJob) => Promise<JobOutcome>): WorkerDeps => ({
    sqs: new SQSClient({ region: 'us-east-1' }),
    runners: {
      thumbnail: vi.fn(),
      'vm-refresh': vi.fn(),
      ...(runner ? { 'inventory-verify': runner } : {}),
    },
    maxReceiveCount: () => 3,
    maxJobAgeMs: () => 60_000,
  });

  it('runs them through their runner, however long they waited in the queue', async () => {
    const runner = vi.fn(async () => ({ kind: 'done' }) as const);
    const old = verifyJob('vc-old', Date.now() - 3_600_000);

    const result = await processLaneBatch(deps(runner), { Records: [record(old)] });

    expect(result).toEqual({ batchItemFailures: [] });
    expect(runner.mock.calls).toEqual([[old]]);
  });

  it('leaves them in the queue in a process without the runner', async () => {
    const job = verifyJob('vc-x');
    const result = await processLaneBatch(deps(), { Records: [record(job)] });
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: `m-${job.vcenterId}` }] });
  });
});
