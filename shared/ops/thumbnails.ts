// Ops — use cases: VM screen thumbnails. The route answers from the tiered cache: fresh is a hit; stale is
// served (flagged) while a LOW-lane job refreshes it; a miss enqueues a NORMAL-lane job and waits briefly for
// it. The worker runs those jobs through the per-target limiter. While the vCenter is down, the last PNG
// (last-known-good tier) is served, flagged stale.
import {
  type CacheAnswer,
  type CacheKey,
  type CacheStatus,
  credentialScope,
  type TieredCache,
} from '#shared/cache';
import type { ObjectRef } from '#shared/contracts';
import { NotFoundError, parseIdParam, ServiceUnavailableError, TooManyRequestsError } from '#shared/http';
import { logger } from '#shared/observability';
import { NetworkError, SoapFault, TimeoutError } from '#shared/vsphere';
import type { JobQueue, ThumbnailJob } from './jobs.ts';
import type { Lane } from './lanes.ts';
import { type Limiter, LimiterTimeoutError } from './limiter.ts';
import { recordLaneWait } from './metrics.ts';
import type { VcenterSessions } from './sessions.ts';

/** What the thumbnail use cases need. */
export interface ThumbnailDeps {
  readonly cache: TieredCache<Buffer>;
  readonly sessions: VcenterSessions;
  readonly limiter: Limiter;
  readonly jobs: JobQueue;
  /** How long a request waits for a first load before answering 503. @default 4 s */
  readonly firstLoadWaitMs?: number;
  /** How long a worker waits for a slot before handing the job back to its queue, per lane. */
  readonly inlineWaitMs?: Partial<Record<Lane, number>>;
  /** @default 10 s */
  readonly screenTimeoutMs?: number;
}

/** A thumbnail answer: the PNG and how it was served. */
export type ThumbnailAnswer = CacheAnswer<Buffer> & { readonly freshForMs: number };

function answer(
  cache: TieredCache<Buffer>,
  entry: Parameters<TieredCache<Buffer>['answer']>[0],
  status: CacheStatus,
  error?: string,
): ThumbnailAnswer {
  return { ...cache.answer(entry, status, error), freshForMs: Math.max(0, cache.ttlMs - entry.ageMs) };
}

async function thumbnailKey(deps: ThumbnailDeps, ref: ObjectRef): Promise<CacheKey> {
  const identity = await deps.sessions.identity(ref.vcenterId);
  return { scope: credentialScope(identity), key: `${ref.vcenterId}:${ref.moid}` };
}

// Dedup windows: a first load is asked for again after 5 s at most; a refresh once per half TTL (≤ 30 s).
const firstLoadWindowMs = 5_000;
const refreshWindowMs = (cache: TieredCache<Buffer>) => Math.max(1_000, Math.min(30_000, cache.ttlMs / 2));

function job(vmId: string, lane: Lane): ThumbnailJob {
  return { v: 1, type: 'thumbnail', vmId, lane, enqueuedAt: Date.now() };
}

/**
 * The route's use case: the VM's thumbnail from cache, first loads through NORMAL, refreshes through LOW.
 * `charge` spends the caller's allowance before anything is enqueued: a first load over the limit is refused
 * (its error, a 429, propagates), a stale one is served without its refresh.
 * @throws BadRequestError for a malformed id, NotFoundError for an unknown vCenter or VM,
 *   ServiceUnavailableError (Retry-After) when a first load is still running or the vCenter is unreachable
 */
export async function getThumbnail(
  deps: ThumbnailDeps,
  vmId: string,
  options: { readonly charge?: () => Promise<void> } = {},
): Promise<ThumbnailAnswer> {
  const ref = parseIdParam(vmId);
  const key = await thumbnailKey(deps, ref);
  const { cache } = deps;
  const found = await cache.peek(key);
  if (found?.freshness === 'fresh') return answer(cache, found, 'hit');
  if (found?.freshness === 'stale') {
    const allowed = await (options.charge?.() ?? Promise.resolve()).then(
      () => true,
      (error: unknown) => {
        if (error instanceof TooManyRequestsError) return false;
        throw error;
      },
    );
    if (!allowed) return answer(cache, found, 'stale');
    await deps.jobs
      .enqueue(job(vmId, 'LOW'), `thumb:${vmId}`, refreshWindowMs(cache))
      .catch((error: unknown) => {
        logger.warn('thumbnail refresh not enqueued', { vmId, error: error as Error });
      });
    return answer(cache, found, 'stale');
  }
  // A miss, or only the last-known-good PNG: load it through NORMAL, and wait briefly for the worker.
  const failed = await cache.failure(key);
  await options.charge?.();
  await deps.jobs.enqueue(job(vmId, 'NORMAL'), `thumb:${vmId}`, firstLoadWindowMs);
  if (failed && found) return answer(cache, found, 'stale', failed);
  const waited = await cache.waitFor(key, {
    newerThan: found?.meta.storedAt ?? 0,
    timeoutMs: deps.firstLoadWaitMs ?? 4_000,
  });
  if (waited && 'value' in waited) return answer(cache, waited, 'miss');
  if (found) return answer(cache, found, 'stale', waited?.failed ?? 'timeout');
  if (waited?.failed === 'not_found') throw new NotFoundError(`No VM ${vmId} on vCenter ${ref.vcenterId}`);
  if (waited?.failed) {
    throw new ServiceUnavailableError(
      `vCenter ${ref.vcenterId} did not answer (${waited.failed}); try again later`,
      5,
    );
  }
  throw new ServiceUnavailableError('The thumbnail is being fetched; try again in a moment', 1);
}

/** What a worker did with a job. */
export type JobOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'skipped'; readonly why: string }
  | { readonly kind: 'requeue'; readonly delaySeconds: number };

const defaultInlineWaitMs: Record<Lane, number> = { CRITICAL: 2_000, HIGH: 1_000, NORMAL: 1_000, LOW: 250 };

/** Whether an upstream failure means the VM is gone (no retry), rather than the vCenter being unwell. */
function isNotFound(error: unknown): boolean {
  return (
    (error instanceof NetworkError && error.statusCode === 404) ||
    (error instanceof SoapFault && error.faultType === 'ManagedObjectNotFound')
  );
}

/**
 * The worker's use case: fetch the screen unless a fresh one is cached or another loader is at it. The
 * slot is asked for without blocking long: with none free within the lane's short inline wait, the job goes
 * back to its queue. Upstream failures are remembered on the key (waiting routes fall back at once) and
 * rethrown, so SQS retries the job and, after maxReceiveCount, parks it in the DLQ.
 */
export async function runThumbnailJob(deps: ThumbnailDeps, job: ThumbnailJob): Promise<JobOutcome> {
  const ref = parseIdParam(job.vmId);
  const { cache } = deps;
  let key: CacheKey;
  try {
    key = await thumbnailKey(deps, ref);
  } catch (error) {
    if (error instanceof NotFoundError) return { kind: 'skipped', why: 'unknown vCenter' };
    throw error;
  }
  const existing = await cache.peek(key);
  if (existing?.freshness === 'fresh') return { kind: 'skipped', why: 'fresh' };
  const lock = await cache.tryLock(key);
  if (!lock) return { kind: 'skipped', why: 'another loader holds the key' };
  try {
    // Checked again under the lock: a loader that finished between the first look and the lock filled it.
    if ((await cache.peek(key))?.freshness === 'fresh') return { kind: 'skipped', why: 'fresh' };
    let png: Buffer;
    try {
      // The session first (pooled per process; a login happens once); the slot is taken once the connection
      // is ready, so the screen request leaves the moment it is granted (the limiter's spacing assumes that).
      const client = await deps.sessions.forVcenter(ref.vcenterId);
      png = await deps.limiter.withAdmission(
        ref.vcenterId,
        job.lane,
        {
          timeoutMs: deps.inlineWaitMs?.[job.lane] ?? defaultInlineWaitMs[job.lane],
          requestedAt: job.enqueuedAt,
          onGrant: (lease) => recordLaneWait(job.lane, lease.waitMs),
        },
        (admit) =>
          client.screenshot(
            { type: 'VirtualMachine', value: ref.moid },
            { timeoutMs: deps.screenTimeoutMs ?? 10_000, admit },
          ),
      );
    } catch (error) {
      if (error instanceof LimiterTimeoutError) return { kind: 'requeue', delaySeconds: 1 };
      if (isNotFound(error)) {
        await cache.markFailed(key, 'not_found');
        return { kind: 'skipped', why: 'no such VM' };
      }
      const code =
        error instanceof NetworkError
          ? (error.code ?? 'NetworkError')
          : error instanceof TimeoutError
            ? 'timeout'
            : ((error as Error).name ?? 'Error');
      await cache.markFailed(key, code);
      throw error;
    }
    await cache.put(key, png);
    return { kind: 'done' };
  } finally {
    await lock.release();
  }
}
