// Unit tests — who calls a node route (shared/placement/identity.ts): a node token names its node; under IAM
// authorization (AWS) the signing instance is the node the registry holds it for, and nothing else. The
// registry is DynamoDB, its only partner, mocked here.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { HttpEvent } from '#shared/http';
import { callerIsNode, nodeCaller, type PlacementStore } from '#shared/placement';

const dynamo = mockClient(DynamoDBDocumentClient);
const store: PlacementStore = {
  db: DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' })),
  tables: { nodes: 'nodes', projects: 'projects', tickets: 'tickets' },
};

const withAuthorizer = (authorizer: unknown) => ({ requestContext: { authorizer } }) as unknown as HttpEvent;

beforeEach(() => dynamo.reset());

describe('nodeCaller', () => {
  it('reads the instance of an IAM caller and the subject of a node token', () => {
    expect(nodeCaller(withAuthorizer({ iam: { userId: 'AROAEXAMPLE:i-0abc123' } }))).toEqual({
      instanceId: 'i-0abc123',
    });
    expect(nodeCaller(withAuthorizer({ jwt: { claims: { sub: 'node-a' } } }))).toEqual({ nodeId: 'node-a' });
    expect(nodeCaller(withAuthorizer(undefined))).toBeUndefined();
  });
});

describe('callerIsNode', () => {
  it('accepts a token only for the node it names, without asking the registry', async () => {
    expect(await callerIsNode(store, { nodeId: 'node-a' }, 'node-a')).toBe(true);
    expect(await callerIsNode(store, { nodeId: 'node-a' }, 'node-b')).toBe(false);
    expect(await callerIsNode(store, undefined, 'node-a')).toBe(false);
    expect(dynamo.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('accepts an instance only for the node the registry holds it for', async () => {
    dynamo
      .on(GetCommand, { TableName: 'nodes', Key: { nodeId: 'node-a' } })
      .resolves({ Item: { nodeId: 'node-a', instanceId: 'i-0abc123' } })
      .on(GetCommand, { TableName: 'nodes', Key: { nodeId: 'node-b' } })
      .resolves({ Item: { nodeId: 'node-b', instanceId: 'i-0def456' } })
      .on(GetCommand, { TableName: 'nodes', Key: { nodeId: 'node-c' } })
      .resolves({});
    expect(await callerIsNode(store, { instanceId: 'i-0abc123' }, 'node-a')).toBe(true);
    expect(await callerIsNode(store, { instanceId: 'i-0abc123' }, 'node-b')).toBe(false);
    // Not registered yet: no node to speak for until its first heartbeat.
    expect(await callerIsNode(store, { instanceId: 'i-0abc123' }, 'node-c')).toBe(false);
  });
});
