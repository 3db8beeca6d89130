// Infra construct — the alarms of interactive VM operations, on the EMF metrics the ops functions publish
// (shared/ops/metrics.ts: `LaneWaitMs` with a `Lane` dimension) and on the lane queues' depth. DLQ alarms are
// the stack's generic per-queue ones.
import { Duration } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { laneQueues, lanes } from '../../shared/ops/lanes.ts';
import { opsMetricNames } from '../../shared/ops/metrics.ts';

export interface OpsAlarmsProps {
  readonly envName: string;
  /** The topology's queues; the four lane queues are read from it. */
  readonly queues: Readonly<Record<string, { readonly queue: IQueue }>>;
  readonly action: IAlarmAction;
  /** @default 'vfleet' (POWERTOOLS_METRICS_NAMESPACE) */
  readonly namespace?: string;
  /** @default 'vfleet' (POWERTOOLS_SERVICE_NAME, a dimension of every EMF metric) */
  readonly service?: string;
}

/** Thresholds from the original design's monitoring guide. */
export const opsAlarmThresholds = {
  /** Average wait of any lane, ms. */
  laneWaitMs: 1_000,
  /** Average wait of CRITICAL (console opens), ms. */
  criticalWaitMs: 500,
  /** Jobs waiting in the lane queues together. */
  waiting: 50,
} as const;

/**
 * Average lane wait > 1 s (one alarm per lane), CRITICAL wait > 0.5 s, and more than 50 jobs waiting in the
 * lanes for two minutes. Returns the alarms, each with `action`.
 */
export function createOpsAlarms(scope: Construct, props: OpsAlarmsProps): Alarm[] {
  const namespace = props.namespace ?? 'vfleet';
  const service = props.service ?? 'vfleet';
  const minute = Duration.minutes(1);
  const wait = (lane: string) =>
    new Metric({
      namespace,
      metricName: opsMetricNames.laneWait,
      dimensionsMap: { service, Lane: lane },
      statistic: 'Average',
      period: minute,
    });
  const present = lanes.filter((lane) => props.queues[laneQueues[lane]] !== undefined);
  // A topology without the ops lanes (some tests build one) gets no ops alarms; a partial one is a mistake.
  if (present.length === 0) return [];
  if (present.length < lanes.length)
    throw new Error('ops alarms: the topology declares only some lane queues');
  const alarms: Alarm[] = [];
  const add = (alarm: Alarm) => {
    alarm.addAlarmAction(props.action);
    alarms.push(alarm);
  };
  for (const lane of lanes) {
    add(
      new Alarm(scope, `OpsLaneWait${lane}Alarm`, {
        metric: wait(lane),
        threshold: opsAlarmThresholds.laneWaitMs,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: `vfleet ${props.envName}: average ${lane} lane wait above 1 s; raise ESXI_MAX_CONCURRENT or the cache TTLs (docs/architecture.md, Interactive VM operations)`,
      }),
    );
  }
  add(
    new Alarm(scope, 'OpsCriticalWaitAlarm', {
      metric: wait('CRITICAL'),
      threshold: opsAlarmThresholds.criticalWaitMs,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `vfleet ${props.envName}: console opens (CRITICAL) wait above 0.5 s for their vCenter slot`,
    }),
  );
  // Waiting = messages the lane workers have not taken yet, summed over the four lanes.
  const usingMetrics: Record<string, Metric> = {};
  for (const lane of lanes) {
    const pair = props.queues[laneQueues[lane]];
    if (!pair) throw new Error(`ops alarms: the topology has no ${laneQueues[lane]} queue`);
    usingMetrics[lane.toLowerCase()] = pair.queue.metricApproximateNumberOfMessagesVisible({
      period: minute,
      statistic: 'Maximum',
    }) as Metric;
  }
  add(
    new Alarm(scope, 'OpsWaitingAlarm', {
      metric: new MathExpression({
        expression: Object.keys(usingMetrics).join(' + '),
        usingMetrics,
        period: minute,
        label: 'ops jobs waiting',
      }),
      threshold: opsAlarmThresholds.waiting,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `vfleet ${props.envName}: more than 50 ops jobs waiting in the lanes for 2 minutes`,
    }),
  );
  return alarms;
}
