// Ops — use case: GET /api/v1/queue/stats. Per-lane totals, average and p99 wait (seconds), what is active and
// what is waiting, and the cache counts and TTLs, in the field names of the original single-server design;
// within the caller's vCenter scope (a scoped caller sees only its vCenters' figures).
import { VcenterScope } from '#shared/auth';
import type { TieredCache } from '#shared/cache';
import { type Lane, lanes } from './lanes.ts';
import type { Limiter } from './limiter.ts';
import { addCounters, emptyWaitsByLane, type LaneWaitCounters, quantileMs } from './wait-stats.ts';

/** One lane's figures. */
export interface LaneStats {
  readonly total_requests: number;
  readonly avg_wait_time: number;
  readonly p99_wait_time: number;
  readonly waiting: number;
}

/** The answer of GET /api/v1/queue/stats (times in seconds). */
export interface QueueStats {
  /**
   * `true` when the figures are the caller's vCenters' only (a scoped caller): `waiting` then counts the calls
   * waiting at those vCenters' limiters but not the lanes' queued messages, and the cache's counts and hit ratio
   * are `null`: none of those can be told apart by vCenter, and the fleet's would show others' activity.
   */
  readonly scoped: boolean;
  readonly max_concurrent: number;
  readonly min_interval: number;
  readonly total_requests: number;
  readonly avg_wait_time: number;
  readonly p99_wait_time: number;
  readonly active_requests: number;
  readonly waiting_requests: number;
  readonly by_priority: Record<Lane, LaneStats>;
  readonly cache: {
    readonly thumbnail_count: number | null;
    readonly thumbnail_ttl: number;
    readonly vm_list_ttl: number;
    readonly hit_ratio: number | null;
  };
}

const seconds = (ms: number) => Math.round(ms) / 1000;

function laneFigures(c: LaneWaitCounters) {
  return {
    total_requests: c.count,
    avg_wait_time: c.count === 0 ? 0 : seconds(c.sumMs / c.count),
    p99_wait_time: seconds(quantileMs(c, 0.99)),
  };
}

/**
 * Sums every target (vCenter) the limiter has seen that `scope` allows. `waiting` per lane is the lane's queue
 * depth (messages not yet done) less the lane's active calls, plus callers waiting synchronously (console
 * opens); for a scoped caller only the latter (see {@link QueueStats.scoped}).
 */
export async function queueStats(deps: {
  limiter: Limiter;
  thumbnails: TieredCache<Buffer>;
  /** Other caches whose answers count in the hit ratio (the inventory's). */
  otherCaches?: readonly TieredCache<unknown>[];
  vmListTtlSeconds: number;
  /** Messages in the lane's queue, visible or in flight. */
  queueDepth: (lane: Lane) => Promise<number>;
  /** The caller's vCenter scope. @default everything */
  scope?: VcenterScope;
}): Promise<QueueStats> {
  const scope = deps.scope ?? VcenterScope.everything;
  const scoped = !scope.all;
  const targets = (await deps.limiter.targets()).filter((target) => scope.allows(target));
  const snapshots = await Promise.all(targets.map((target) => deps.limiter.snapshot(target)));
  const waits = emptyWaitsByLane();
  const active = Object.fromEntries(lanes.map((lane) => [lane, 0])) as Record<Lane, number>;
  const waiters = { ...active };
  for (const snapshot of snapshots) {
    for (const lane of lanes) {
      waits[lane] = addCounters(waits[lane], snapshot.waits[lane]);
      active[lane] += snapshot.activeByLane[lane];
      waiters[lane] += snapshot.waitersByLane[lane];
    }
  }
  const depths = scoped
    ? lanes.map(() => 0)
    : await Promise.all(lanes.map((lane) => deps.queueDepth(lane).catch(() => 0)));
  const byPriority = {} as Record<Lane, LaneStats>;
  let all = emptyWaitsByLane().LOW;
  let waitingTotal = 0;
  lanes.forEach((lane, i) => {
    all = addCounters(all, waits[lane]);
    const waiting = Math.max(0, (depths[i] ?? 0) - active[lane]) + waiters[lane];
    waitingTotal += waiting;
    byPriority[lane] = { ...laneFigures(waits[lane]), waiting };
  });
  const caches = [deps.thumbnails as TieredCache<unknown>, ...(deps.otherCaches ?? [])];
  const counts = scoped ? [] : await Promise.all(caches.map((cache) => cache.counts()));
  const served = counts.reduce((sum, c) => sum + c.hit + c.stale, 0);
  const answered = counts.reduce((sum, c) => sum + c.hit + c.stale + c.miss, 0);
  return {
    scoped,
    max_concurrent: deps.limiter.maxConcurrent,
    min_interval: seconds(deps.limiter.minIntervalMs),
    ...laneFigures(all),
    active_requests: lanes.reduce((sum, lane) => sum + active[lane], 0),
    waiting_requests: waitingTotal,
    by_priority: byPriority,
    cache: {
      thumbnail_count: scoped ? null : await deps.thumbnails.size(),
      thumbnail_ttl: deps.thumbnails.ttlMs / 1000,
      vm_list_ttl: deps.vmListTtlSeconds,
      hit_ratio: scoped ? null : answered === 0 ? 0 : Math.round((served / answered) * 1000) / 1000,
    },
  };
}
