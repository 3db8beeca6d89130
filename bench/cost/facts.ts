// Cost model — what the deployed stacks contain, read from a CDK synthesis of one environment (the same
// stacks infra/app.ts builds, without bundling): alarm metrics, NAT gateways, secrets, KMS keys, Aurora
// instances, the RDS Proxy, ElastiCache, the node group, and each function's memory. Counting the templates
// instead of writing the numbers down keeps the model in step with infra/ as it changes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type EnvName, loadConfig } from '../../infra/config.ts';
import { buildVfleet } from '../../infra/stacks/vfleet.ts';
import { topology } from '../../infra/topology.ts';
import { root } from '../ops/harness.ts';

export interface DeployFacts {
  readonly envName: string;
  /** Memory of each topology function, MB (as synthesized). */
  readonly functionMemoryMb: Readonly<Record<string, number>>;
  readonly alarms: number;
  /** Metrics the alarms watch (a metric-math alarm is billed per metric in it). */
  readonly alarmMetrics: number;
  readonly natGateways: number;
  /** Public IPv4 addresses the stacks allocate (the NAT gateways' EIPs). */
  readonly publicIpv4: number;
  readonly interfaceEndpoints: number;
  readonly availabilityZones: number;
  /** Secrets in the templates; the ones functions create on first use are added by the model. */
  readonly secrets: number;
  readonly kmsKeys: number;
  readonly auroraInstances: number;
  readonly auroraMinAcu: number;
  readonly auroraMaxAcu: number;
  readonly rdsProxy: boolean;
  readonly redis:
    | { readonly kind: 'serverless' }
    | { readonly kind: 'replication-group'; readonly nodeType: string; readonly nodes: number };
  readonly nodeInstanceType: string;
  readonly nodeMin: number;
  readonly nodeMax: number;
  readonly nodeVolumeGb: number;
  readonly logRetentionDays: number;
  /** The topology's schedules: which function each invokes, and how often. */
  readonly schedules: readonly { readonly function: string; readonly everySeconds: number }[];
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** Reads the facts from the two synthesized templates (CloudFormation JSON). Pure; tested on small templates. */
export function factsFromTemplates(
  envName: string,
  templates: readonly { Resources?: Resources }[],
  descriptions: Readonly<Record<string, string>>,
  schedules: DeployFacts['schedules'] = [],
): DeployFacts {
  const all = templates.flatMap((t) => Object.values(t.Resources ?? {}));
  const ofType = (type: string) => all.filter((r) => r.Type === type).map((r) => r.Properties ?? {});
  const one = (type: string) => {
    const found = ofType(type);
    if (found.length !== 1)
      throw new Error(`expected one ${type} in the ${envName} stacks, found ${found.length}`);
    return found[0] as Record<string, unknown>;
  };

  const alarms = ofType('AWS::CloudWatch::Alarm');
  const alarmMetrics = alarms.reduce((sum, a) => {
    const metrics = a.Metrics as { MetricStat?: unknown }[] | undefined;
    return sum + (metrics ? metrics.filter((m) => m.MetricStat).length : 1);
  }, 0);

  const functions = ofType('AWS::Lambda::Function');
  const functionMemoryMb: Record<string, number> = {};
  for (const [name, description] of Object.entries(descriptions)) {
    const fn = functions.find((f) => f.Description === `vfleet ${envName}: ${description}`);
    if (!fn) throw new Error(`function ${name} not found in the ${envName} stacks`);
    functionMemoryMb[name] = Number(fn.MemorySize ?? 128);
  }

  const cluster = one('AWS::RDS::DBCluster');
  const scaling = cluster.ServerlessV2ScalingConfiguration as { MinCapacity: number; MaxCapacity: number };
  const replicationGroups = ofType('AWS::ElastiCache::ReplicationGroup');
  const redis: DeployFacts['redis'] =
    replicationGroups.length > 0
      ? {
          kind: 'replication-group',
          nodeType: String(replicationGroups[0]?.CacheNodeType),
          nodes: replicationGroups.reduce(
            (sum, g) => sum + Number(g.NumNodeGroups ?? 1) * (1 + Number(g.ReplicasPerNodeGroup ?? 0)),
            0,
          ),
        }
      : { kind: 'serverless' };

  const group = one('AWS::AutoScaling::AutoScalingGroup');
  const launch = one('AWS::EC2::LaunchTemplate').LaunchTemplateData as {
    InstanceType: string;
    BlockDeviceMappings?: { Ebs?: { VolumeSize?: number } }[];
  };
  const subnets = ofType('AWS::EC2::Subnet').map((s) => JSON.stringify(s.AvailabilityZone));
  const retention = ofType('AWS::Logs::LogGroup')
    .map((g) => Number(g.RetentionInDays ?? 0))
    .filter((d) => d > 0);

  return {
    envName,
    functionMemoryMb,
    alarms: alarms.length,
    alarmMetrics,
    natGateways: ofType('AWS::EC2::NatGateway').length,
    publicIpv4: ofType('AWS::EC2::EIP').length,
    interfaceEndpoints: ofType('AWS::EC2::VPCEndpoint').filter((e) => e.VpcEndpointType === 'Interface')
      .length,
    availabilityZones: new Set(subnets).size,
    secrets: ofType('AWS::SecretsManager::Secret').length,
    kmsKeys: ofType('AWS::KMS::Key').length,
    auroraInstances: ofType('AWS::RDS::DBInstance').length,
    auroraMinAcu: scaling.MinCapacity,
    auroraMaxAcu: scaling.MaxCapacity,
    rdsProxy: ofType('AWS::RDS::DBProxy').length > 0,
    redis,
    nodeInstanceType: launch.InstanceType,
    nodeMin: Number(group.MinSize),
    nodeMax: Number(group.MaxSize),
    nodeVolumeGb: (launch.BlockDeviceMappings ?? []).reduce((sum, b) => sum + (b.Ebs?.VolumeSize ?? 0), 0),
    logRetentionDays: mostCommon(retention),
    schedules,
  };
}

/** The value most log groups share (a few deploy-time helpers keep theirs longer, but log little). */
function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
}

/** Synthesizes `envName`'s stacks in-process (no esbuild: asset contents do not change a price). */
export function synthesizeFacts(envName: EnvName): DeployFacts {
  const cdkContext = (JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context: object })
    .context;
  // An empty list tells NodejsFunction to skip esbuild for every stack.
  const app = new App({ context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] } });
  const stacks = buildVfleet(app, loadConfig(envName));
  const templates = [stacks.stateful, stacks.stateless].map((s) => Template.fromStack(s).toJSON());
  const descriptions = Object.fromEntries(
    Object.entries(topology.functions).map(([name, spec]) => [name, spec.description]),
  );
  const schedules = topology.schedules.map((s) => ({ function: s.function, everySeconds: s.everySeconds }));
  return factsFromTemplates(envName, templates, descriptions, schedules);
}
