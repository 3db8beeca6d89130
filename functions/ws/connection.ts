// Primary adapter — WebSocket $connect/$disconnect: keeps the connection registry current.
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { logger } from '#shared/observability';
import { deleteConnection, saveConnection } from '#shared/realtime';

interface AuthorizerContext {
  readonly subject?: string;
  readonly roles?: string;
}

export const handler = async (event: APIGatewayProxyWebsocketEventV2): Promise<APIGatewayProxyResultV2> => {
  const { connectionId, eventType } = event.requestContext;
  if (eventType === 'CONNECT') {
    const context = (event.requestContext as { authorizer?: AuthorizerContext }).authorizer ?? {};
    const roles = context.roles ? context.roles.split(',') : [];
    await saveConnection(connectionId, context.subject ?? 'unknown', roles);
    logger.info('websocket connected', { connectionId, roles });
  } else {
    await deleteConnection(connectionId);
    logger.info('websocket disconnected', { connectionId });
  }
  return { statusCode: 200 };
};
