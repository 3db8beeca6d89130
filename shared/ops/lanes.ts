// Ops — domain: the four priority lanes every call to a vCenter/ESXi goes through, their queues, and the
// headroom each lane leaves to the ones above it in the per-target limiter.

import { requireEnv } from '#shared/config';
import { envNames, type Lane, laneQueues, lanes } from '#shared/contracts';

// The lanes and their queues are contracts (shared with the deployment's queues and event sources).
export { type Lane, laneQueues, lanes };

/** 0 for CRITICAL … 3 for LOW: the limiter's priority order. */
export function laneIndex(lane: Lane): number {
  return lanes.indexOf(lane);
}

/** The URL of `lane`'s queue, from the environment both builders set. */
export function laneQueueUrl(lane: Lane): string {
  return requireEnv(envNames.queueUrl(laneQueues[lane]));
}

/** Whether `value` names a lane. */
export function isLane(value: unknown): value is Lane {
  return typeof value === 'string' && (lanes as readonly string[]).includes(value);
}

/**
 * Slots of a target's `maxConcurrent` that `lane` may fill. CRITICAL may take every slot; HIGH and NORMAL
 * leave CRITICAL at least one (an eighth of the slots); LOW leaves at least two (a quarter), so LOW never takes
 * the last slots and a CRITICAL call always finds one free of lower lanes. With 8 slots: 8 / 7 / 7 / 6.
 */
export function laneCapacity(lane: Lane, maxConcurrent: number): number {
  if (lane === 'CRITICAL') return maxConcurrent;
  const headroom =
    lane === 'LOW' ? Math.max(2, Math.ceil(maxConcurrent / 4)) : Math.max(1, Math.ceil(maxConcurrent / 8));
  return Math.max(1, maxConcurrent - headroom);
}
