// Ops — domain: lane wait statistics. The limiter's script counts every grant's wait into a histogram per lane
// (plus count, sum and max); this module holds the bucket bounds and turns the counters into averages and
// percentiles. Pure.
import { type Lane, lanes } from './lanes.ts';

/** Upper bounds (ms, inclusive) of the wait histogram's buckets; one more bucket holds everything above. */
export const waitBucketBoundsMs = [
  1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000,
  20_000, 30_000, 60_000, 120_000, 300_000,
] as const;

/** Counters of one lane, as the limiter script keeps them. */
export interface LaneWaitCounters {
  count: number;
  sumMs: number;
  maxMs: number;
  /** One count per bucket of {@link waitBucketBoundsMs}, plus the overflow bucket. */
  buckets: number[];
}

export function emptyCounters(): LaneWaitCounters {
  return { count: 0, sumMs: 0, maxMs: 0, buckets: new Array(waitBucketBoundsMs.length + 1).fill(0) };
}

/** Reads one lane's counters out of the stats hash (`<lane>:count`, `<lane>:sum`, `<lane>:max`, `<lane>:h<i>`). */
export function countersFromHash(hash: Readonly<Record<string, string>>, laneIdx: number): LaneWaitCounters {
  const c = emptyCounters();
  const num = (field: string) => Number(hash[`${laneIdx}:${field}`] ?? 0) || 0;
  c.count = num('count');
  c.sumMs = num('sum');
  c.maxMs = num('max');
  c.buckets = c.buckets.map((_, i) => num(`h${i}`));
  return c;
}

/** Adds `b` into `a` (several targets into one view). */
export function addCounters(a: LaneWaitCounters, b: LaneWaitCounters): LaneWaitCounters {
  return {
    count: a.count + b.count,
    sumMs: a.sumMs + b.sumMs,
    maxMs: Math.max(a.maxMs, b.maxMs),
    buckets: a.buckets.map((value, i) => value + (b.buckets[i] ?? 0)),
  };
}

/**
 * The `q` quantile (0..1) in ms, interpolated linearly inside its bucket and never above the observed max;
 * 0 without data.
 */
export function quantileMs(c: LaneWaitCounters, q: number): number {
  if (c.count === 0) return 0;
  const rank = q * c.count;
  let seen = 0;
  for (let i = 0; i < c.buckets.length; i++) {
    const inBucket = c.buckets[i] ?? 0;
    if (inBucket > 0 && seen + inBucket >= rank) {
      const lower = i === 0 ? 0 : (waitBucketBoundsMs[i - 1] ?? 0);
      const upper = waitBucketBoundsMs[i] ?? c.maxMs;
      const estimate = lower + ((rank - seen) / inBucket) * (upper - lower);
      return Math.min(estimate, c.maxMs);
    }
    seen += inBucket;
  }
  return c.maxMs;
}

/** Counters per lane. */
export type WaitsByLane = Record<Lane, LaneWaitCounters>;

export function emptyWaitsByLane(): WaitsByLane {
  return Object.fromEntries(lanes.map((lane) => [lane, emptyCounters()])) as WaitsByLane;
}
