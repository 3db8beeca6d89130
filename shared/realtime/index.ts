// Realtime — WebSocket connection registry (DynamoDB) and pushes through the API Gateway management API.
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';

/** Connections expire from the table after this long even if $disconnect never arrives (API GW caps at 2 h). */
const connectionTtlSeconds = 2 * 60 * 60;

export interface ConnectionRecord {
  readonly connectionId: string;
  readonly subject: string;
  readonly roles: readonly string[];
  readonly connectedAt: number;
  readonly expiresAt: number;
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

/** Forgets a connection. */
export async function deleteConnection(connectionId: string): Promise<void> {
  await dynamo().send(new DeleteCommand({ TableName: table(), Key: { connectionId } }));
}

let management: ApiGatewayManagementApiClient | undefined;

function managementClient(): ApiGatewayManagementApiClient {
  management ??= new ApiGatewayManagementApiClient({ endpoint: requireEnv('WS_MANAGEMENT_ENDPOINT') });
  return management;
}

/**
 * Sends a JSON message to one connection. Returns false when the connection is gone; the record is
 * then deleted so later broadcasts skip it.
 */
export async function sendToConnection(connectionId: string, message: unknown): Promise<boolean> {
  try {
    await managementClient().send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(message) }),
    );
    return true;
  } catch (error) {
    if (error instanceof GoneException) {
      await deleteConnection(connectionId);
      return false;
    }
    throw error;
  }
}
