// Realtime — WebSocket connection registry (DynamoDB) and pushes through the API Gateway management API:
// direct sends (`sendToConnection`) and coalesced pushes (`push`, ./outbox.ts); one-time connect tickets for
// callers that cannot bring a token (./tickets.ts).
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo, redis } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';

import { Outbox, type PushOutcome } from './outbox.ts';

export { Outbox, type OutboxOptions, type PushOutcome, pushWindowMs } from './outbox.ts';
export {
  type ConnectTicket,
  isConnectTicket,
  issueConnectTicket,
  redeemConnectTicket,
  type TicketHolder,
} from './tickets.ts';

/** Connections expire from the table after this long even if $disconnect never arrives (API GW caps at 2 h). */
const connectionTtlSeconds = 2 * 60 * 60;

/** API Gateway's limit on one WebSocket message (128 KB). */
export const maxMessageBytes = 128 * 1024;

export interface ConnectionRecord {
  readonly connectionId: string;
  readonly subject: string;
  readonly roles: readonly string[];
  readonly connectedAt: number;
  readonly expiresAt: number;
  /** What the connection subscribed to (a capability's own shape, e.g. the dashboard's filters). */
  readonly subscription?: Record<string, unknown>;
}

const table = () => requireEnv(envNames.tableName('connections'));

/** Records a new connection with its principal. */
export async function saveConnection(connectionId: string, subject: string, roles: readonly string[]) {
  const now = Math.floor(Date.now() / 1000);
  const item: ConnectionRecord = {
    connectionId,
    subject,
    roles,
    connectedAt: now,
    expiresAt: now + connectionTtlSeconds,
  };
  await dynamo().send(new PutCommand({ TableName: table(), Item: item }));
}

/** The connection's record, if it is still registered. */
export async function getConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
  const result = await dynamo().send(new GetCommand({ TableName: table(), Key: { connectionId } }));
  return result.Item as ConnectionRecord | undefined;
}

/**
 * Stores a subscription with the connection and returns the one it replaces. Refused (undefined) for a
 * connection that is no longer registered.
 */
export async function saveSubscription(
  connectionId: string,
  subscription: Record<string, unknown>,
): Promise<{ previous: Record<string, unknown> | undefined } | undefined> {
  try {
    const result = await dynamo().send(
      new UpdateCommand({
        TableName: table(),
        Key: { connectionId },
        UpdateExpression: 'SET subscription = :s',
        ConditionExpression: 'attribute_exists(connectionId)',
        ExpressionAttributeValues: { ':s': subscription },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return { previous: result.Attributes?.subscription as Record<string, unknown> | undefined };
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
    throw error;
  }
}

/** Forgets a connection; returns the record it had (its subscription tells what to unindex). */
export async function deleteConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
  const result = await dynamo().send(
    new DeleteCommand({ TableName: table(), Key: { connectionId }, ReturnValues: 'ALL_OLD' }),
  );
  return result.Attributes as ConnectionRecord | undefined;
}

let management: ApiGatewayManagementApiClient | undefined;

function managementClient(): ApiGatewayManagementApiClient {
  management ??= new ApiGatewayManagementApiClient({
    endpoint: requireEnv('WS_MANAGEMENT_ENDPOINT'),
    // A fan-out posts to every subscriber at once; the SDK's default of 50 sockets would queue the rest.
    requestHandler: { httpAgent: { maxSockets: 256 }, httpsAgent: { maxSockets: 256 } },
  });
  return management;
}

/**
 * Posts one frame (already serialised) to a connection; false when the connection answers Gone. The
 * record is left to the caller, who knows what else the connection was indexed under.
 */
export async function postFrame(connectionId: string, frame: string): Promise<boolean> {
  if (Buffer.byteLength(frame) > maxMessageBytes) {
    throw new Error(`WebSocket message of ${Buffer.byteLength(frame)} bytes is over the 128 KB limit`);
  }
  try {
    await managementClient().send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
    return true;
  } catch (error) {
    if (error instanceof GoneException) return false;
    throw error;
  }
}

/**
 * Sends a JSON message to one connection at once (no coalescing). Returns false when the connection is
 * gone; the record is then deleted so later broadcasts skip it.
 */
export async function sendToConnection(connectionId: string, message: unknown): Promise<boolean> {
  if (await postFrame(connectionId, JSON.stringify(message))) return true;
  await deleteConnection(connectionId);
  return false;
}

let sharedOutbox: Outbox | undefined;

/**
 * Pushes a message through the connection's outbox: coalesced with whatever else is queued for it, at most
 * one frame per 20 ms (./outbox.ts). A connection that answers Gone is deleted from the table.
 */
export async function push(connectionId: string, ...messages: unknown[]): Promise<PushOutcome> {
  sharedOutbox ??= new Outbox({ redis: redis(), post: postFrame });
  const outcome = await sharedOutbox.push(connectionId, ...messages);
  if (outcome === 'gone') await deleteConnection(connectionId);
  return outcome;
}
