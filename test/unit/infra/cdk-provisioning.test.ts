// Unit tests — the CDK pieces of the provisioning routes: their function (bound to the three routes, with a
// timeout above the templates deadline) and the alarm on the share of kinds that time out.
import { beforeAll, describe, expect, it } from 'vitest';
import { provisioningAlarmThresholds } from '../../../infra/constructs/provisioning-alarms.ts';
import { functions } from '../../../infra/topology.ts';
import { provisioningMetricNames } from '../../../shared/provisioning/metrics.ts';
import { onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

describe('CDK app: provisioning', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('prod', { bundle: false });
  }, 120_000);

  it('deploys the provisioning function with a timeout above the 10 s templates deadline', () => {
    const fn = onlyResource(s.stateless, 'AWS::Lambda::Function', {
      Description: `vfleet prod: ${functions.provisioningApi.description}`,
    });
    expect(fn.resource.Properties.Timeout).toBeGreaterThan(10);
    for (const path of ['datacenters', 'datacenters/{dc}/compute', 'compute/{cr}/resources']) {
      s.stateless.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: `GET /api/v1/vcenters/{id}/${path}`,
      });
    }
  });

  it('keeps personal credentials in their own table, their data keys under a KMS key only the readers may use', () => {
    s.stateful.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    });
    s.stateful.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const fn = onlyResource(s.stateless, 'AWS::Lambda::Function', {
      Description: `vfleet prod: ${functions.provisioningApi.description}`,
    });
    const env = fn.resource.Properties.Environment as { Variables: Record<string, unknown> };
    expect(JSON.stringify(env.Variables.CREDENTIALS_KEY)).toContain('kms:');
    const policies = JSON.stringify(s.stateless.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('kms:GenerateDataKey');
    expect(policies).toContain('kms:Decrypt');
  });

  it('alarms when more than 5 % of the kinds answered in 5 minutes timed out, twice in a row', () => {
    const alarms = Object.values(s.stateless.findResources('AWS::CloudWatch::Alarm')) as {
      Properties: {
        Metrics?: {
          Expression?: string;
          MetricStat?: { Metric: { MetricName: string; Dimensions?: unknown[] } };
        }[];
        Threshold: number;
        EvaluationPeriods: number;
        AlarmActions: unknown[];
      };
    }[];
    const rate = alarms.filter((a) =>
      a.Properties.Metrics?.some((m) => m.MetricStat?.Metric.MetricName === provisioningMetricNames.timeouts),
    );
    expect(rate).toHaveLength(1);
    const alarm = rate[0]?.Properties;
    expect(alarm?.Threshold).toBe(provisioningAlarmThresholds.timeoutPercent);
    expect(alarm?.EvaluationPeriods).toBe(2);
    expect(alarm?.AlarmActions).toHaveLength(1);
    const expression = alarm?.Metrics?.find((m) => m.Expression)?.Expression;
    expect(expression).toBe(
      `IF(answers >= ${provisioningAlarmThresholds.minAnswers}, 100 * timeouts / answers, 0)`,
    );
    const names = alarm?.Metrics?.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
    expect(names?.sort()).toEqual([provisioningMetricNames.answers, provisioningMetricNames.timeouts].sort());
    // The service-wide series: no Kind dimension, which the use case publishes beside the per-kind ones.
    for (const m of alarm?.Metrics ?? []) {
      if (m.MetricStat) expect(JSON.stringify(m.MetricStat.Metric.Dimensions)).not.toContain('Kind');
    }
  });
});
