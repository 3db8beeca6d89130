// Unit tests — scale-in protection of busy nodes, against a mocked Auto Scaling client (its only partner, with
// DynamoDB, is an AWS API): placing a project on a node with an instance id protects the instance, releasing
// its last project clears the protection, an expired node is reported unhealthy (so the group replaces it), and
// nodes without an instance (local agents) cost no call.
import {
  AutoScalingClient,
  SetInstanceHealthCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '#shared/config';
import {
  autoScalingProtection,
  type NodeItem,
  type PlacementDeps,
  type PlacementSettings,
  placeProject,
  releaseProject,
  runJanitor,
} from '#shared/placement';

const autoScaling = mockClient(AutoScalingClient);
const dynamo = mockClient(DynamoDBDocumentClient);
const tables = { nodes: 'nodes', projects: 'projects', tickets: 'tickets' };
const now = 1_800_000_000_000;
const settings: PlacementSettings = {
  heartbeatTimeoutSeconds: 60,
  idleTimeoutSeconds: 900,
  ticketHoldSeconds: 30,
  dataLimitBytes: 4 * 1024 ** 3,
  forwardTimeoutMs: 24_000,
  suspectAfterTimeouts: 3,
  stallSeconds: 60,
  suspectGraceSeconds: 30,
};

const node = (assignments: Record<string, number>): NodeItem => ({
  nodeId: 'node-1',
  address: 'http://10.0.0.1:7070',
  instanceId: 'i-0123456789abcdef0',
  capacity: 2,
  agentVersion: '1.0.0',
  ready: true,
  joinedAt: now - 60_000,
  lastHeartbeatAt: now - 1_000,
  progress: 0,
  progressChangedAt: now - 60_000,
  pending: 0,
  reported: [],
  assignments,
  forwardTimeouts: 0,
});

function deps(): PlacementDeps {
  return {
    store: { db: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })), tables },
    settings,
    protection: autoScalingProtection(new AutoScalingClient({ region: 'us-east-1' }), 'vfleet-nodes'),
    signingKey: () => Promise.reject(new Error('not used')),
    now: () => now,
  };
}

const protections = () =>
  autoScaling.commandCalls(SetInstanceProtectionCommand).map((call) => call.args[0].input);

beforeEach(() => {
  autoScaling.reset();
  dynamo.reset();
  autoScaling.on(SetInstanceProtectionCommand).resolves({});
  autoScaling.on(SetInstanceHealthCommand).resolves({});
  dynamo.on(TransactWriteCommand).resolves({});
});

describe('scale-in protection', () => {
  it('protects the node a project is assigned to', async () => {
    dynamo.on(GetCommand, { TableName: 'projects' }).resolves({});
    dynamo.on(ScanCommand, { TableName: 'nodes' }).resolves({ Items: [node({})] });
    dynamo.on(ScanCommand, { TableName: 'tickets' }).resolves({ Items: [] });
    dynamo.on(GetCommand, { TableName: 'nodes' }).resolves({ Item: node({ p1: 1 }) });

    const placed = await placeProject(deps(), 'p1');

    expect(placed).toMatchObject({ token: 1, assigned: true });
    expect(protections()).toEqual([
      {
        AutoScalingGroupName: 'vfleet-nodes',
        InstanceIds: ['i-0123456789abcdef0'],
        ProtectedFromScaleIn: true,
      },
    ]);
  });

  it('clears the protection when the node’s last project is released', async () => {
    dynamo
      .on(GetCommand, { TableName: 'projects' })
      .resolves({ Item: { projectId: 'p1', token: 1, nodeId: 'node-1' } });
    // Before the release the node holds p1; read again after it, it holds nothing.
    dynamo
      .on(GetCommand, { TableName: 'nodes' })
      .resolvesOnce({ Item: node({ p1: 1 }) })
      .resolves({ Item: node({}) });

    expect(await releaseProject(deps(), 'p1', { reason: 'operator' })).toBe(true);

    expect(protections()).toEqual([
      {
        AutoScalingGroupName: 'vfleet-nodes',
        InstanceIds: ['i-0123456789abcdef0'],
        ProtectedFromScaleIn: false,
      },
    ]);
  });

  it('keeps the protection while the node still holds another project', async () => {
    dynamo
      .on(GetCommand, { TableName: 'projects' })
      .resolves({ Item: { projectId: 'p1', token: 1, nodeId: 'node-1' } });
    dynamo
      .on(GetCommand, { TableName: 'nodes' })
      .resolvesOnce({ Item: node({ p1: 1, p2: 4 }) })
      .resolves({ Item: node({ p2: 4 }) });

    await releaseProject(deps(), 'p1', { reason: 'idle' });

    expect(protections().map((input) => input.ProtectedFromScaleIn)).toEqual([true]);
  });

  it('makes no call for a node without an instance, and refuses to guess a missing group', async () => {
    const client = new AutoScalingClient({ region: 'us-east-1' });
    await autoScalingProtection(client, 'vfleet-nodes').update(undefined, 1);
    expect(protections()).toEqual([]);
    await expect(autoScalingProtection(client, undefined).update('i-0123456789abcdef0', 1)).rejects.toThrow(
      ConfigError,
    );
  });

  it('reports an expired node unhealthy, so the group replaces it (scale-in protection does not stop that)', async () => {
    const expired = { ...node({}), lastHeartbeatAt: now - 61_000 };
    dynamo.on(ScanCommand, { TableName: 'nodes' }).resolves({ Items: [expired] });
    dynamo.on(ScanCommand, { TableName: 'projects' }).resolves({ Items: [] });
    dynamo.on(ScanCommand, { TableName: 'tickets' }).resolves({ Items: [] });
    dynamo.on(UpdateCommand).resolves({});

    const report = await runJanitor(deps());

    expect(report.expiredNodes).toEqual(['node-1']);
    expect(autoScaling.commandCalls(SetInstanceHealthCommand).map((call) => call.args[0].input)).toEqual([
      { InstanceId: 'i-0123456789abcdef0', HealthStatus: 'Unhealthy', ShouldRespectGracePeriod: false },
    ]);
    // An expired node's protection is left alone: the replacement takes it away with the instance.
    expect(protections()).toEqual([]);
  });
});
