// Infra construct — the alarm of the provisioning routes, on the EMF metrics shared/provisioning/metrics.ts
// publishes: the share of kinds answered `timeout` (all kinds together, the service-wide series without the
// Kind dimension). A vCenter that is slow for its users shows here before they give up on the form.
import { Duration } from 'aws-cdk-lib';
import type { IAlarmAction } from 'aws-cdk-lib/aws-cloudwatch';
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { provisioningMetricNames } from '../../shared/provisioning/metrics.ts';

export interface ProvisioningAlarmsProps {
  readonly envName: string;
  readonly action: IAlarmAction;
  /** @default 'vfleet' (POWERTOOLS_METRICS_NAMESPACE) */
  readonly namespace?: string;
  /** @default 'vfleet' (POWERTOOLS_SERVICE_NAME, a dimension of every EMF metric) */
  readonly service?: string;
}

export const provisioningAlarmThresholds = {
  /** Percent of kinds answered `timeout` over 5 minutes, twice in a row. */
  timeoutPercent: 5,
  /** Fewer answers than this in 5 minutes are too few to judge (one slow form is not an incident). */
  minAnswers: 20,
} as const;

/** The timeout-rate alarm, with `action`. */
export function createProvisioningAlarms(scope: Construct, props: ProvisioningAlarmsProps): Alarm[] {
  const sum = (metricName: string) =>
    new Metric({
      namespace: props.namespace ?? 'vfleet',
      metricName,
      dimensionsMap: { service: props.service ?? 'vfleet' },
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
  const { timeoutPercent, minAnswers } = provisioningAlarmThresholds;
  const alarm = new Alarm(scope, 'ProvisioningTimeoutRateAlarm', {
    metric: new MathExpression({
      expression: `IF(answers >= ${minAnswers}, 100 * timeouts / answers, 0)`,
      usingMetrics: {
        answers: sum(provisioningMetricNames.answers),
        timeouts: sum(provisioningMetricNames.timeouts),
      },
      period: Duration.minutes(5),
      label: 'provisioning kinds timed out (%)',
    }),
    threshold: timeoutPercent,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 2,
    treatMissingData: TreatMissingData.NOT_BREACHING,
    alarmDescription: `vfleet ${props.envName}: more than ${timeoutPercent} % of provisioning kinds timed out for 10 minutes; check the vCenters' latency and PROVISIONING_TIMEOUT_* (docs/architecture.md, Provisioning resources)`,
  });
  alarm.addAlarmAction(props.action);
  return [alarm];
}
