// Unit tests — the CDK pieces of project placement: the compute nodes' Auto Scaling group (fixed instance type
// from the environment config, a launch template that starts the agent, scaling on free slots), IAM-authorized
// node routes beside JWT-authorized ones, scale-in protection permissions scoped to the group, the janitor's
// schedule and the placement alarms, with cdk-nag clean.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { environments, validateConfig } from '../../../infra/config.ts';
import { functions } from '../../../infra/topology.ts';
import { routes as contractRoutes, routeKeys } from '../../../shared/contracts/index.ts';
import { placementMetricNames } from '../../../shared/placement/placement.ts';
import { onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

describe('CDK app: project placement', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('prod', { bundle: false });
  }, 120_000);

  const fn = (name: keyof typeof functions) =>
    onlyResource(s.stateless, 'AWS::Lambda::Function', {
      Description: `vfleet prod: ${functions[name].description}`,
    });

  it('runs the nodes as an Auto Scaling group of the configured instance type, starting the agent', () => {
    const group = onlyResource(s.stateless, 'AWS::AutoScaling::AutoScalingGroup', {});
    expect(group.resource.Properties).toMatchObject({ MinSize: '2', MaxSize: '100' });
    const template = onlyResource(s.stateless, 'AWS::EC2::LaunchTemplate', {});
    const data = template.resource.Properties.LaunchTemplateData as Record<string, unknown>;
    expect(data.InstanceType).toBe(environments.prod.nodes.instanceType);
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required' });
    expect(JSON.stringify(data.UserData)).toMatch(/vfleet-agent.*agent\.mjs/s);
  });

  it('scales the group on the free-slot metric the janitor publishes', () => {
    s.stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: placementMetricNames.freeSlots,
      AlarmActions: Match.arrayWith([Match.objectLike({ Ref: Match.stringLikeRegexp('FreeSlotsScaling') })]),
    });
    expect(Object.keys(s.stateless.findResources('AWS::AutoScaling::ScalingPolicy')).length).toBeGreaterThan(
      0,
    );
  });

  it('authorizes node routes with IAM and every other non-public route with the JWT authorizer', () => {
    const routes = s.stateless.findResources('AWS::ApiGatewayV2::Route');
    const byKey = Object.fromEntries(
      Object.values(routes).map((r) => [
        r.Properties.RouteKey as string,
        r.Properties.AuthorizationType as string,
      ]),
    );
    // Every node route (placement's heartbeat, the dashboard's reports) is the instance role's to call.
    const nodeRouteKeys = routeKeys.filter((key) => contractRoutes[key].role === 'node');
    expect(nodeRouteKeys).toEqual(
      expect.arrayContaining([
        'POST /api/v1/nodes/{id}/heartbeat',
        'POST /api/v1/nodes/{id}/metrics',
        'POST /api/v1/nodes/{id}/logs',
        'POST /api/v1/nodes/{id}/connect-ticket',
      ]),
    );
    for (const key of nodeRouteKeys) expect(byKey[key], key).toBe('AWS_IAM');
    expect(byKey['GET /api/v1/nodes']).toBe('JWT');
    expect(byKey['POST /api/v1/projects/{id}/compute']).toBe('JWT');
    // The node role may call exactly the node routes.
    const { resource } = onlyResource(s.stateless, 'AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('ComputeNodesRole') }],
    });
    const invoke = (
      resource.Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] }
    ).Statement.find((statement) => statement.Action === 'execute-api:Invoke');
    const allowed = JSON.stringify(invoke?.Resource);
    for (const key of nodeRouteKeys) {
      const { method, path } = contractRoutes[key];
      expect(allowed, key).toContain(`/${method}${path.replace(/\{[^}]+\}/g, '*')}`);
    }
    expect(invoke?.Resource).toHaveLength(nodeRouteKeys.length);
  });

  it('lets the placement functions set scale-in protection on the group only, and reach the agents in the VPC', () => {
    for (const name of ['placement', 'placementNodes', 'placementJanitor'] as const) {
      const { resource } = fn(name);
      const vars = (resource.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(vars.NODE_AUTO_SCALING_GROUP).toEqual({ Ref: expect.stringMatching(/ComputeNodesGroup/) });
      expect(resource.Properties.VpcConfig).toBeDefined();
    }
    s.stateless.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['autoscaling:SetInstanceHealth', 'autoscaling:SetInstanceProtection'],
            Resource: Match.anyValue(),
          }),
        ]),
      },
    });
    s.stateless.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: Match.arrayWith([Match.objectLike({ FromPort: 7070, ToPort: 7070 })]),
    });
  });

  it('runs the janitor every minute', () => {
    s.stateless.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [fn('placementJanitor').logicalId, 'Arn'] } }),
    });
  });

  it('alarms on no free slot for 5 minutes, suspect nodes, and the 503 rate', () => {
    s.stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: placementMetricNames.freeSlots,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 5,
    });
    s.stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: placementMetricNames.suspectNodes,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    s.stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: placementMetricNames.rejected,
      Statistic: 'Sum',
    });
  });

  it('passes cdk-nag with every acknowledgement explained', () => {
    expect(s.nagViolations).toEqual([]);
  });

  it('refuses invalid node settings at synth, naming the setting', () => {
    expect(() =>
      validateConfig({ ...environments.dev, nodes: { ...environments.dev.nodes, maxNodes: 0 } }),
    ).toThrow(/nodes\.maxNodes/);
    expect(() =>
      validateConfig({ ...environments.dev, nodes: { ...environments.dev.nodes, instanceType: 'huge' } }),
    ).toThrow(/nodes\.instanceType/);
  });
});
