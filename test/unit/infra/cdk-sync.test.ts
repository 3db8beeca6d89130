// Unit tests — the CDK pieces of the inventory sync: the sync queue feeding the worker (batch 1, reserved
// concurrency as the hard cap), the dispatcher schedule, the migration step, per-vCenter secret grants and
// the sync-failure alarm.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { environments } from '../../../infra/config.ts';
import { functions } from '../../../infra/topology.ts';
import { onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

describe('CDK app: inventory sync', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('prod', { bundle: false });
  }, 120_000);

  const fn = (name: keyof typeof functions) =>
    onlyResource(s.stateless, 'AWS::Lambda::Function', {
      Description: `vfleet prod: ${functions[name].description}`,
    });

  it('feeds the sync worker from the sync FIFO queue one message at a time, below its reserved concurrency', () => {
    const worker = fn('syncWorker');

    expect(worker.resource.Properties.Timeout).toBe(900);
    expect(worker.resource.Properties.ReservedConcurrentExecutions).toBeGreaterThan(0);
    s.stateless.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: worker.logicalId },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 50 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('runs the dispatcher every minute and the migrations as a deploy step', () => {
    const dispatcher = fn('syncDispatcher');

    s.stateless.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [dispatcher.logicalId, 'Arn'] } }),
    });
    s.stateless.resourceCountIs('Custom::VfleetDeployStep', 1);
  });

  it('grants the worker read and the registry write access to the vCenter secrets prefix only', () => {
    const policies = s.stateless.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } })
          .Properties.PolicyDocument.Statement,
    );
    const onPrefix = statements.filter((st) =>
      JSON.stringify(st.Resource).includes('secret:vfleet/prod/vcenters/*'),
    );

    expect(onPrefix.some((st) => JSON.stringify(st.Action).includes('secretsmanager:CreateSecret'))).toBe(
      true,
    );
    expect(onPrefix.every((st) => JSON.stringify(st.Action).includes('secretsmanager:GetSecretValue'))).toBe(
      true,
    );
    const worker = fn('syncWorker').resource as {
      Properties: { Environment: { Variables: Record<string, unknown> } };
    };
    expect(worker.Properties.Environment.Variables.VCENTER_SECRET_PREFIX).toBe('vfleet/prod/vcenters/');
  });

  it('alarms on sync failures sustained for 15 minutes', () => {
    s.stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SyncFailures',
      Namespace: 'vfleet',
      Period: 300,
      EvaluationPeriods: 3,
      Threshold: 0,
    });
  });

  it('alarms when more inventory watches are lost in an hour than the environment allows', () => {
    s.stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SyncWatchLost',
      Namespace: 'vfleet',
      Dimensions: [{ Name: 'service', Value: 'vfleet' }],
      Statistic: 'Sum',
      Period: 3_600,
      EvaluationPeriods: 1,
      Threshold: environments.prod.syncWatchLostPerHour,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: Match.anyValue(),
    });
  });

  it('tells every function the dispatcher period, the shortest polling interval', () => {
    for (const name of ['vcenters', 'syncDispatcher', 'syncWorker'] as const) {
      const variables = (
        fn(name).resource as { Properties: { Environment: { Variables: Record<string, unknown> } } }
      ).Properties.Environment.Variables;
      expect(variables.SYNC_DISPATCH_SECONDS).toBe('60');
    }
  });

  it('seals saved sessions under their own rotating KMS key, usable by the sync functions only', () => {
    // Prepare: the key, and every function role's policy statements that name it.
    const keys = s.stateful.findResources('AWS::KMS::Key', {
      Properties: { Description: Match.stringLikeRegexp('saved vSphere sessions') },
    });
    expect(Object.values(keys)).toHaveLength(1);
    const keyId = Object.keys(keys)[0] as string;
    expect((keys[keyId] as { Properties: { EnableKeyRotation: boolean } }).Properties.EnableKeyRotation).toBe(
      true,
    );
    const namesKey = (value: unknown) => JSON.stringify(value).includes(keyId);
    const roleOf = (name: keyof typeof functions) =>
      (fn(name).resource.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const policies = Object.values(s.stateless.findResources('AWS::IAM::Policy')) as {
      Properties: {
        Roles: { Ref: string }[];
        PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] };
      };
    }[];
    const grants = new Map<string, string[]>();
    for (const policy of policies) {
      for (const statement of policy.Properties.PolicyDocument.Statement.filter((st) =>
        namesKey(st.Resource),
      )) {
        for (const role of policy.Properties.Roles)
          grants.set(role.Ref, [...(grants.get(role.Ref) ?? []), ...[statement.Action].flat()]);
      }
    }

    // Assess: exactly the worker and the registry, each with the keyring's two calls and its settings.
    expect([...grants.keys()].sort()).toEqual([roleOf('syncWorker'), roleOf('vcenters')].sort());
    for (const actions of grants.values())
      expect(actions.sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    for (const name of ['syncWorker', 'vcenters'] as const) {
      const variables = (
        fn(name).resource as { Properties: { Environment: { Variables: Record<string, unknown> } } }
      ).Properties.Environment.Variables;
      expect(JSON.stringify(variables.SESSION_KEY)).toMatch(/^"kms:|"kms:"/);
      expect(namesKey(variables.SESSION_KEY)).toBe(true);
      expect(variables.SESSION_KEY_VERSION).toBe(String(environments.prod.sessionKeyVersion));
    }
    expect(
      (fn('inventoryQuery').resource.Properties.Environment as { Variables: object }).Variables,
    ).not.toHaveProperty('SESSION_KEY');
  });

  it('leaves no unacknowledged cdk-nag finding', () => {
    expect(s.nagViolations).toEqual([]);
  });
});
