// Ops — domain and secondary adapter (SQS, Redis): lane jobs (thumbnails, VM refreshes) and how they are
// enqueued. Identical requests inside a window share one deduplication id (so SQS FIFO keeps one message), and
// a Redis marker for the same window spares most of the duplicate sends altogether.
import { createHash } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RedisClient } from '#shared/clients';
import { isLane, type Lane, laneQueueUrl } from './lanes.ts';

/** Fetch (first load or refresh) one VM's screen thumbnail into the cache. */
export interface ThumbnailJob {
  readonly v: 1;
  readonly type: 'thumbnail';
  /** `<vcenterId>:<moid>` */
  readonly vmId: string;
  readonly lane: Lane;
  /** Epoch ms; the lane wait is measured from here. */
  readonly enqueuedAt: number;
}

/** Re-read one VM's inventory properties from its vCenter into PostgreSQL (a user's "refresh"). HIGH lane. */
export interface VmRefreshJob {
  readonly v: 1;
  readonly type: 'vm-refresh';
  /** `<vcenterId>:<moid>` */
  readonly vmId: string;
  readonly lane: 'HIGH';
  /** Epoch ms; the lane wait is measured from here. */
  readonly enqueuedAt: number;
}

/**
 * Compare one vCenter's current state with its inventory rows (the drift check of
 * shared/inventory/sync/verify.ts). LOW lane; enqueued by the sync dispatcher at most once per
 * SYNC_VERIFY_INTERVAL per vCenter.
 */
export interface InventoryVerifyJob {
  readonly v: 1;
  readonly type: 'inventory-verify';
  readonly vcenterId: string;
  readonly lane: 'LOW';
  /** Epoch ms; the lane wait is measured from here. */
  readonly enqueuedAt: number;
}

/**
 * Load one kind of a provisioning answer into its cache (shared/provisioning): the completion of a kind that
 * missed its deadline for a waiting user, or a warm-up. LOW lane.
 */
export interface ProvisioningLoadJob {
  readonly v: 1;
  readonly type: 'provisioning-load';
  readonly vcenterId: string;
  /** `datacenters`, `compute`, `pools`, `networks`, `datastores` or `templates` (checked by its runner). */
  readonly kind: string;
  /** The datacenter or compute resource moid the kind is of ('' for datacenters). */
  readonly target: string;
  /** The caller whose personal identity loads it; absent for the service account. */
  readonly subject?: string;
  readonly lane: 'LOW';
  /** Epoch ms; the lane wait is measured from here. */
  readonly enqueuedAt: number;
}

export type OpsJob = ThumbnailJob | VmRefreshJob | InventoryVerifyJob | ProvisioningLoadJob;

/** The job types a worker runs. */
export type OpsJobType = OpsJob['type'];

/** Parses a message body; undefined for anything that is not a job this version understands. */
export function parseJob(body: string): OpsJob | undefined {
  try {
    const job = JSON.parse(body) as Partial<
      Record<'v' | 'type' | 'vmId' | 'vcenterId' | 'lane' | 'enqueuedAt', unknown>
    > | null;
    // A verification is only ever a LOW job for one vCenter.
    if (
      job?.v === 1 &&
      job.type === 'inventory-verify' &&
      job.lane === 'LOW' &&
      typeof job.vcenterId === 'string' &&
      job.vcenterId !== '' &&
      typeof job.enqueuedAt === 'number'
    ) {
      return job as unknown as InventoryVerifyJob;
    }
    const load = job as Partial<Record<keyof ProvisioningLoadJob, unknown>> | null;
    if (
      load?.v === 1 &&
      load.type === 'provisioning-load' &&
      load.lane === 'LOW' &&
      typeof load.vcenterId === 'string' &&
      typeof load.kind === 'string' &&
      typeof load.target === 'string' &&
      (load.subject === undefined || typeof load.subject === 'string') &&
      typeof load.enqueuedAt === 'number'
    ) {
      return job as unknown as ProvisioningLoadJob;
    }
    if (
      job?.v === 1 &&
      typeof job.vmId === 'string' &&
      isLane(job.lane) &&
      typeof job.enqueuedAt === 'number'
    ) {
      if (job.type === 'thumbnail') return job as unknown as ThumbnailJob;
      // A refresh is only ever a HIGH job: anything else is not one this version sent.
      if (job.type === 'vm-refresh' && job.lane === 'HIGH') return job as unknown as VmRefreshJob;
    }
  } catch {
    // Not JSON: fall through.
  }
  return undefined;
}

/** The key a job is grouped by: its VM, the vCenter a verification checks, or a provisioning load's entry. */
export function jobKey(job: OpsJob): string {
  if (job.type === 'provisioning-load')
    return `prov:${job.vcenterId}:${job.kind}:${job.target}:${job.subject ?? ''}`;
  return job.type === 'inventory-verify' ? `verify:${job.vcenterId}` : job.vmId;
}

/** Same job, same window → same id; SQS FIFO drops the later sends for five minutes. */
export function deduplicationId(lane: Lane, key: string, windowMs: number, now: number): string {
  const window = Math.floor(now / windowMs);
  return createHash('sha256').update(`${lane}\n${key}\n${window}`).digest('hex');
}

/** What happened to an enqueue. */
export type EnqueueOutcome = 'sent' | 'collapsed';

/** Sends jobs to the lanes. */
export interface JobQueue {
  /**
   * Enqueues `job` unless an identical one (`key`) was enqueued on its lane in the current window of
   * `windowMs`.
   */
  enqueue(job: OpsJob, key: string, windowMs: number): Promise<EnqueueOutcome>;
}

/** The SQS lanes, with a Redis marker per (lane, key, window) in front of them. */
export function sqsJobQueue(deps: { sqs: SQSClient; redis: RedisClient; keyPrefix: string }): JobQueue {
  return {
    async enqueue(job, key, windowMs) {
      const now = Date.now();
      const dedup = deduplicationId(job.lane, key, windowMs, now);
      const marker = `${deps.keyPrefix}ops:pending:{${dedup}}`;
      const remaining = windowMs - (now % windowMs);
      const fresh = await deps.redis.set(marker, '1', 'PX', Math.max(1, remaining), 'NX').catch(() => 'OK');
      if (fresh !== 'OK') return 'collapsed';
      await deps.sqs.send(
        new SendMessageCommand({
          QueueUrl: laneQueueUrl(job.lane),
          MessageBody: JSON.stringify(job),
          // One group per key: jobs for different VMs run in parallel, one per VM at a time.
          MessageGroupId: key.slice(0, 128),
          MessageDeduplicationId: dedup,
        }),
      );
      return 'sent';
    },
  };
}
