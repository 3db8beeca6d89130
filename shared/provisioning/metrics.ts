// Provisioning — observability: EMF metrics of the resource answers (per kind load time by source, cache answers
// by tier, timeouts, stale answers); the CDK alarm on the timeout rate reads them (infra/constructs).
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { metrics } from '#shared/observability';
import type { Kind } from './kinds.ts';

/** Metric names the CDK alarms and dashboards refer to. */
export const provisioningMetricNames = {
  /** Milliseconds one kind took to load from its source (dimensions Kind, Source). */
  loadMs: 'ProvisioningLoadMs',
  /** One kind answered (dimensions Kind, Served: hit-l1 | hit-l2 | hit-l3 | hit-shared | miss | stale | timeout | error). */
  answers: 'ProvisioningAnswers',
  /** A kind missed its deadline for a waiting user (dimension Kind). */
  timeouts: 'ProvisioningTimeouts',
  /** A kind served from its last-known-good value (dimension Kind). */
  stale: 'ProvisioningStale',
} as const;

const single = (kind: Kind) => {
  const metric = metrics.singleMetric();
  metric.addDimension('Kind', kind);
  return metric;
};

/** One load from a source, with its duration. */
export function recordLoad(kind: Kind, source: string, ms: number): void {
  const metric = single(kind);
  metric.addDimension('Source', source);
  metric.addMetric(provisioningMetricNames.loadMs, MetricUnit.Milliseconds, ms);
}

/**
 * One kind answered, and how (a timeout and a stale answer are also counted on their own metrics). Answers
 * and timeouts are also published without the Kind dimension: the service-wide series the timeout-rate alarm
 * divides (CloudWatch does not sum across dimension values).
 */
export function recordAnswer(kind: Kind, served: string): void {
  const metric = single(kind);
  metric.addDimension('Served', served);
  metric.addMetric(provisioningMetricNames.answers, MetricUnit.Count, 1);
  metrics.singleMetric().addMetric(provisioningMetricNames.answers, MetricUnit.Count, 1);
  if (served === 'timeout') {
    single(kind).addMetric(provisioningMetricNames.timeouts, MetricUnit.Count, 1);
    metrics.singleMetric().addMetric(provisioningMetricNames.timeouts, MetricUnit.Count, 1);
  }
  if (served === 'stale') single(kind).addMetric(provisioningMetricNames.stale, MetricUnit.Count, 1);
}
