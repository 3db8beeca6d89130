// Unit tests — the cost model (bench/cost): its arithmetic on hand-checked cases, how it scales, the RDS
// Proxy floor, the ElastiCache flavours, X-Ray sampling, input checking, and the facts read from templates.
import { describe, expect, it } from 'vitest';
import { type DeployFacts, factsFromTemplates } from '../../../bench/cost/facts.ts';
import { inputValues, seedScale } from '../../../bench/cost/inputs.ts';
import { costModel, sampledTraces, workload } from '../../../bench/cost/model.ts';
import { priceList, prices } from '../../../bench/cost/prices.ts';
import { topology } from '../../../infra/topology.ts';

const facts: DeployFacts = {
  envName: 'prod',
  functionMemoryMb: Object.fromEntries(
    Object.entries(topology.functions).map(([name, spec]) => [name, spec.memoryMb ?? 256]),
  ),
  alarms: 10,
  alarmMetrics: 12,
  natGateways: 3,
  publicIpv4: 3,
  interfaceEndpoints: 0,
  availabilityZones: 3,
  secrets: 2,
  kmsKeys: 2,
  auroraInstances: 2,
  auroraMinAcu: 2,
  auroraMaxAcu: 64,
  rdsProxy: true,
  redis: { kind: 'replication-group', nodeType: 'cache.r7g.large', nodes: 4 },
  nodeInstanceType: 't3.xlarge',
  nodeMin: 2,
  nodeMax: 100,
  nodeVolumeGb: 40,
  logRetentionDays: 90,
  schedules: topology.schedules.map((s) => ({ function: s.function, everySeconds: s.everySeconds })),
};
const hours = priceList.hoursPerMonth;
const line = (report: ReturnType<typeof costModel>, service: string, item: string) => {
  const found = report.lines.find((l) => l.service === service && l.item === item);
  if (!found) throw new Error(`no line ${service} / ${item}`);
  return found;
};

describe('cost model', () => {
  it('prices the sync worker as passes × billed ms × memory plus requests', () => {
    // Prepare: one vCenter of 1,000 VMs, no full syncs, polled every 60 s.
    const v = inputValues({ fullSyncsPerVcenterDay: 0 });
    // Act
    const report = costModel({ vcenters: 1, vms: 1000, users: 0, nodes: 0 }, v, facts);
    // Assess: 730 h × 60 passes an hour; 128 ms at 1 GB each.
    const passes = hours * 60;
    const expected =
      ((passes * 0.128 * 1024) / 1024) * prices.lambdaGbSecond.usd +
      (passes / 1e6) * prices.lambdaRequestMillion.usd;
    expect(line(report, 'Lambda', 'syncWorker').usd).toBeCloseTo(expected, 2);
    expect(passes).toBe(43_800);
  });

  it('scales the sync with vCenters and the user traffic with users, and keeps the nodes out of the goal', () => {
    const v = inputValues();
    const base = costModel(seedScale, v, facts);
    const moreVcenters = costModel({ ...seedScale, vcenters: 2 * seedScale.vcenters }, v, facts);
    const moreUsers = costModel({ ...seedScale, users: 2 * seedScale.users }, v, facts);
    const sync = (r: typeof base) => line(r, 'Lambda', 'syncWorker').usd;
    const queries = (r: typeof base) => line(r, 'Lambda', 'inventoryQuery').usd;
    expect(sync(moreVcenters)).toBeCloseTo(2 * sync(base), 0);
    expect(queries(moreVcenters)).toBe(queries(base));
    expect(queries(moreUsers)).toBeCloseTo(2 * queries(base), 0);
    expect(sync(moreUsers)).toBe(sync(base));
    // The node group is priced but is not part of the control plane's figure.
    const nodes = base.lines.filter((l) => !l.inGoal);
    expect(nodes.map((l) => l.service)).toEqual(['EC2 Auto Scaling group']);
    const sum = (ls: readonly { usd: number }[]) => ls.reduce((s, l) => s + l.usd, 0);
    expect(base.controlPlaneUsd).toBeCloseTo(sum(base.lines.filter((l) => l.inGoal)), 1);
    expect(base.totalUsd).toBeCloseTo(sum(base.lines), 1);
  });

  it('bills RDS Proxy for at least 8 ACUs when the instances use fewer', () => {
    const v = inputValues({ auroraBusyAcu: 2 });
    const report = costModel(seedScale, v, facts);
    // 2 instances × 2 ACU = 4 ACUs in use all month, billed as 8.
    expect(line(report, 'RDS Proxy', 'on the instances’ ACUs').usd).toBeCloseTo(8 * hours * 0.015, 2);
    const busier = costModel(seedScale, inputValues({ auroraBusyAcu: 10 }), facts);
    // 20 ACUs in the busy hours, the 8-ACU floor otherwise.
    const busy = v.busyHoursPerMonth;
    expect(line(busier, 'RDS Proxy', 'on the instances’ ACUs').usd).toBeCloseTo(
      (20 * busy + 8 * (hours - busy)) * 0.015,
      2,
    );
  });

  it('prices a replication group per node and offers the serverless and one-shard alternatives', () => {
    const report = costModel(seedScale, inputValues(), facts);
    expect(line(report, 'ElastiCache (Valkey)', '4 × cache.r7g.large').usd).toBeCloseTo(
      4 * hours * 0.1752,
      2,
    );
    expect(report.alternatives.map((a) => a.item)).toEqual([
      'alternative: serverless',
      'alternative: 1 shard + 1 replica of cache.r7g.large',
    ]);
    // A serverless config is priced as such, with no alternatives.
    const serverless = costModel(seedScale, inputValues(), { ...facts, redis: { kind: 'serverless' } });
    expect(line(serverless, 'ElastiCache (Valkey)', 'serverless').usd).toBeGreaterThan(0);
    expect(serverless.alternatives).toEqual([]);
  });

  it('samples X-Ray traces as the default rule does: the first each second, then 5 %', () => {
    const month = hours * 3600;
    expect(sampledTraces(1000, 0.05)).toBe(1000);
    expect(sampledTraces(month + 1_000_000, 0.05)).toBeCloseTo(month + 50_000, 6);
  });

  it('fails on a node or cache type without a price, and on a function the stacks do not deploy', () => {
    expect(() => costModel(seedScale, inputValues(), { ...facts, nodeInstanceType: 'x9.huge' })).toThrow(
      /bench\/cost\/prices.ts has no hourly price for x9.huge/,
    );
    const { syncWorker: _, ...withoutSync } = facts.functionMemoryMb;
    expect(() => costModel(seedScale, inputValues(), { ...facts, functionMemoryMb: withoutSync })).toThrow(
      /syncWorker, which the stacks do not deploy/,
    );
  });

  it('rejects unknown and negative inputs', () => {
    expect(() => inputValues({ nope: 1 })).toThrow(/unknown cost input --nope/);
    expect(() => inputValues({ busyHoursPerMonth: -1 })).toThrow(/must be a number >= 0/);
  });

  it('keeps minNodes running outside the busy hours', () => {
    const w = workload({ ...seedScale, nodes: 10 }, inputValues(), facts);
    const busy = inputValues().busyHoursPerMonth;
    expect(w.nodeHours).toBe(10 * busy + 2 * (hours - busy));
  });
});

describe('deploy facts from templates', () => {
  const template = (resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>) => ({
    Resources: resources,
  });
  const minimal = {
    Cluster: {
      Type: 'AWS::RDS::DBCluster',
      Properties: { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 } },
    },
    Group: { Type: 'AWS::AutoScaling::AutoScalingGroup', Properties: { MinSize: '0', MaxSize: '3' } },
    Launch: {
      Type: 'AWS::EC2::LaunchTemplate',
      Properties: {
        LaunchTemplateData: { InstanceType: 't3.large', BlockDeviceMappings: [{ Ebs: { VolumeSize: 40 } }] },
      },
    },
    Fn: {
      Type: 'AWS::Lambda::Function',
      Properties: { Description: 'vfleet dev: does a thing', MemorySize: 512 },
    },
  };

  it('counts alarm metrics (a metric-math alarm per metric), NAT gateways, cache nodes and log retention', () => {
    const facts = factsFromTemplates(
      'dev',
      [
        template(minimal),
        template({
          A1: { Type: 'AWS::CloudWatch::Alarm', Properties: { MetricName: 'Errors' } },
          A2: {
            Type: 'AWS::CloudWatch::Alarm',
            Properties: { Metrics: [{ MetricStat: {} }, { MetricStat: {} }, { Expression: 'a+b' }] },
          },
          N1: { Type: 'AWS::EC2::NatGateway' },
          R: {
            Type: 'AWS::ElastiCache::ReplicationGroup',
            Properties: { CacheNodeType: 'cache.r7g.large', NumNodeGroups: 2, ReplicasPerNodeGroup: 1 },
          },
          L1: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 90 } },
          L2: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 90 } },
          L3: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 731 } },
        }),
      ],
      { thing: 'does a thing' },
    );
    expect(facts.alarms).toBe(2);
    expect(facts.alarmMetrics).toBe(3);
    expect(facts.natGateways).toBe(1);
    expect(facts.redis).toEqual({ kind: 'replication-group', nodeType: 'cache.r7g.large', nodes: 4 });
    expect(facts.logRetentionDays).toBe(90);
    expect(facts.functionMemoryMb).toEqual({ thing: 512 });
    expect(facts).toMatchObject({
      auroraMinAcu: 0.5,
      nodeInstanceType: 't3.large',
      nodeMin: 0,
      nodeVolumeGb: 40,
    });
  });

  it('fails when a topology function is missing from the templates', () => {
    expect(() => factsFromTemplates('dev', [template(minimal)], { other: 'not deployed' })).toThrow(
      /function other not found/,
    );
  });
});
