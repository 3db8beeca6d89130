// Ops — observability: EMF metrics of the lanes (CloudWatch alarms read them). One metric per grant, with the
// lane as dimension, published at once so several lanes can be reported from one invocation.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { metrics } from '#shared/observability';
import type { Lane } from './lanes.ts';

/** Metric names the CDK alarms refer to. */
export const opsMetricNames = {
  laneWait: 'LaneWaitMs',
  requeued: 'LaneJobsRequeued',
  expired: 'LaneJobsExpired',
  consoleOpens: 'ConsoleTickets',
} as const;

/** Records the wait of one granted call on `lane`. */
export function recordLaneWait(lane: Lane, waitMs: number | undefined): void {
  if (waitMs === undefined) return;
  const single = metrics.singleMetric();
  single.addDimension('Lane', lane);
  single.addMetric(opsMetricNames.laneWait, MetricUnit.Milliseconds, waitMs);
}

/** Counts a job event (requeued for want of a slot, dropped as too old). */
export function recordJobEvent(lane: Lane, name: 'requeued' | 'expired'): void {
  const single = metrics.singleMetric();
  single.addDimension('Lane', lane);
  single.addMetric(opsMetricNames[name], MetricUnit.Count, 1);
}

/** Counts a console ticket request by outcome: issued or failed at vCenter, or denied before it (the trail has why). */
export function recordConsoleOpen(outcome: 'issued' | 'failed' | 'denied'): void {
  const single = metrics.singleMetric();
  single.addDimension('Outcome', outcome);
  single.addMetric(opsMetricNames.consoleOpens, MetricUnit.Count, 1);
}
