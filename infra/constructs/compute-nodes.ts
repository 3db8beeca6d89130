// Infra construct — the compute nodes: an EC2 Auto Scaling group of one fixed instance type (environment
// config) whose launch template starts the node agent (agent/, bundled, shipped as an asset), scaled on the
// slot metrics the placement janitor publishes; busy nodes are protected from scale-in by the control plane
// (shared/placement/protection.ts), so scale-in only ever removes idle ones. The agents sign heartbeats with
// the instance role (SigV4) for the IAM-authorized node routes.
import { Duration, Stack } from 'aws-cdk-lib';
import { AdjustmentType, AutoScalingGroup, GroupMetrics } from 'aws-cdk-lib/aws-autoscaling';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import {
  BlockDeviceVolume,
  InstanceType,
  type ISecurityGroup,
  type IVpc,
  LaunchTemplate,
  MachineImage,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  UserData,
} from 'aws-cdk-lib/aws-ec2';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { buildAgentBundle } from '../../agent/build.ts';
import { placementMetricNames } from '../../shared/placement/placement.ts';
import { acknowledge, nagReference } from './nag.ts';

/** The port agents listen on for forwarded compute requests. */
export const agentPort = 7070;

export interface ComputeNodesProps {
  readonly envName: string;
  readonly vpc: IVpc;
  /** e.g. `t3.large`: one fixed type, so capacity is a count of slots. */
  readonly instanceType: string;
  readonly minNodes: number;
  readonly maxNodes: number;
  /** Project slots per node (the agent's capacity). */
  readonly slotsPerNode: number;
  /** The HTTP API the agents heartbeat to. */
  readonly controlUrl: string;
  /** The node routes' execute-api ARNs the instance role may call. */
  readonly nodeRouteArns: readonly string[];
  /** @default 'vfleet' (POWERTOOLS_METRICS_NAMESPACE) */
  readonly namespace?: string;
}

export class ComputeNodes extends Construct {
  readonly group: AutoScalingGroup;
  readonly securityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: ComputeNodesProps) {
    super(scope, id);
    if (!(props.minNodes >= 0 && props.maxNodes >= Math.max(1, props.minNodes) && props.slotsPerNode >= 1)) {
      throw new Error('ComputeNodes: need 0 <= minNodes <= maxNodes, maxNodes >= 1 and slotsPerNode >= 1');
    }
    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'vfleet compute nodes: forwarded compute requests from the placement functions only',
    });
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: 'vfleet compute node: heartbeats to the node routes (SigV4), agent bundle, SSM access',
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    role.addToPolicy(
      new PolicyStatement({ actions: ['execute-api:Invoke'], resources: [...props.nodeRouteArns] }),
    );
    acknowledge(
      role,
      'AmazonSSMManagedInstanceCore is the policy AWS documents for Session Manager access to instances, ' +
        'which replaces SSH on the nodes.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
    );

    const bundle = new Asset(this, 'AgentBundle', { path: buildAgentBundle() });
    bundle.grantRead(role);
    acknowledge(
      role,
      '{id} of the node routes is the node itself (the function refuses any other node), and the agent ' +
        "bundle is read through CDK's asset grant (Get*/List* on the asset bucket's objects), nothing more.",
      ...props.nodeRouteArns.map((arn) => `AwsSolutions-IAM5[Resource::${nagReference(this, arn)}]`),
      'AwsSolutions-IAM5[Action::s3:GetBucket*]',
      'AwsSolutions-IAM5[Action::s3:GetObject*]',
      'AwsSolutions-IAM5[Action::s3:List*]',
      `AwsSolutions-IAM5[Resource::${nagReference(this, `${bundle.bucket.bucketArn}/*`)}]`,
    );
    const region = Stack.of(this).region;
    const userData = UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      'dnf install -y nodejs20 unzip',
      'TOKEN=$(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
      'meta() { curl -s -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }',
      'INSTANCE=$(meta instance-id); ADDRESS=$(meta local-ipv4)',
      `aws s3 cp s3://${bundle.s3BucketName}/${bundle.s3ObjectKey} /tmp/agent.zip`,
      'mkdir -p /opt/vfleet-agent && unzip -o /tmp/agent.zip -d /opt/vfleet-agent',
      'cat > /etc/systemd/system/vfleet-agent.service <<UNIT',
      '[Unit]',
      'Description=vfleet node agent',
      'After=network-online.target',
      '[Service]',
      `Environment=AGENT_NODE_ID=$INSTANCE AGENT_INSTANCE_ID=$INSTANCE AGENT_CONTROL_URL=${props.controlUrl}`,
      `Environment=AGENT_ADVERTISED_URL=http://$ADDRESS:${agentPort} AGENT_PORT=${agentPort} AWS_REGION=${region}`,
      `Environment=AGENT_CAPACITY=${props.slotsPerNode} AGENT_COMPUTE_URL=http://127.0.0.1:8080`,
      '# The compute service (the user engine) is installed by the image and listens on 127.0.0.1:8080.',
      'ExecStart=/usr/bin/node /opt/vfleet-agent/agent.mjs',
      'Restart=always',
      '[Install]',
      'WantedBy=multi-user.target',
      'UNIT',
      'systemctl daemon-reload && systemctl enable --now vfleet-agent',
    );
    const template = new LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: new InstanceType(props.instanceType),
      machineImage: MachineImage.latestAmazonLinux2023(),
      role,
      securityGroup: this.securityGroup,
      userData,
      requireImdsv2: true,
      // Encrypted root volume: project data lives on the node.
      blockDevices: [{ deviceName: '/dev/xvda', volume: BlockDeviceVolume.ebs(40, { encrypted: true }) }],
    });
    this.group = new AutoScalingGroup(this, 'Group', {
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      launchTemplate: template,
      minCapacity: props.minNodes,
      maxCapacity: props.maxNodes,
      groupMetrics: [GroupMetrics.all()],
    });
    acknowledge(
      this.group,
      'Nodes are reached only by the placement functions on the agent port; no load balancer fronts them, so ' +
        'there is no ELB health check to use (the control plane expires nodes that stop heartbeating).',
      'AwsSolutions-AS2',
      'AwsSolutions-AS3',
      'AwsSolutions-EC26',
    );

    // Scale on free slots: none free adds a node; more than two nodes' worth free removes one (busy nodes are
    // protected from scale-in, so only an idle one can go).
    const freeSlots = new Metric({
      namespace: props.namespace ?? 'vfleet',
      metricName: placementMetricNames.freeSlots,
      dimensionsMap: { service: 'vfleet' },
      statistic: 'Minimum',
      period: Duration.minutes(1),
    });
    this.group.scaleOnMetric('FreeSlotsScaling', {
      metric: freeSlots,
      adjustmentType: AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { upper: 0, change: +1 },
        { lower: 1, upper: props.slotsPerNode * 2, change: 0 },
        { lower: props.slotsPerNode * 2 + 1, change: -1 },
      ],
      evaluationPeriods: 2,
    });
  }

  /** Lets the placement functions reach the agents. */
  allowFrom(peer: ISecurityGroup): void {
    this.securityGroup.addIngressRule(
      Peer.securityGroupId(peer.securityGroupId),
      Port.tcp(agentPort),
      'placement functions to node agents',
    );
  }
}
