// Infra construct — the alarms of project placement, on the EMF metrics the placement functions publish
// (shared/placement: free slots and suspect nodes from the janitor every minute, one count per 503 answered).
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { placementMetricNames } from '../../shared/placement/placement.ts';

export interface PlacementAlarmsProps {
  readonly envName: string;
  readonly action: IAlarmAction;
  /** @default 'vfleet' */
  readonly namespace?: string;
  /** @default 'vfleet' */
  readonly service?: string;
}

/** Thresholds: what makes a page. */
export const placementAlarmThresholds = {
  /** Minutes in a row with no free slot (the Auto Scaling group cannot keep up, or is at its maximum). */
  noFreeSlotMinutes: 5,
  /** 503 `capacity` answers per minute, three minutes in a row: users are being turned away. */
  rejectedPerMinute: 10,
} as const;

/** No free slot for 5 minutes, any suspect node, and a sustained rate of 503 answers. */
export function createPlacementAlarms(scope: Construct, props: PlacementAlarmsProps): Alarm[] {
  const metric = (metricName: string, statistic: string) =>
    new Metric({
      namespace: props.namespace ?? 'vfleet',
      metricName,
      dimensionsMap: { service: props.service ?? 'vfleet' },
      statistic,
      period: Duration.minutes(1),
    });
  const alarms = [
    new Alarm(scope, 'PlacementNoFreeSlotAlarm', {
      metric: metric(placementMetricNames.freeSlots, 'Maximum'),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: placementAlarmThresholds.noFreeSlotMinutes,
      // No janitor report at all is no evidence of free slots.
      treatMissingData: TreatMissingData.BREACHING,
      alarmDescription: `vfleet ${props.envName}: no free project slot for ${placementAlarmThresholds.noFreeSlotMinutes} minutes`,
    }),
    new Alarm(scope, 'PlacementSuspectNodesAlarm', {
      metric: metric(placementMetricNames.suspectNodes, 'Maximum'),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `vfleet ${props.envName}: suspect compute nodes (heartbeat without progress, or timeouts)`,
    }),
    new Alarm(scope, 'PlacementRejectedAlarm', {
      metric: metric(placementMetricNames.rejected, 'Sum'),
      threshold: placementAlarmThresholds.rejectedPerMinute,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `vfleet ${props.envName}: more than ${placementAlarmThresholds.rejectedPerMinute} placement 503s a minute`,
    }),
  ];
  for (const alarm of alarms) alarm.addAlarmAction(props.action);
  return alarms;
}
