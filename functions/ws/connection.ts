// Primary adapter — WebSocket $connect/$disconnect: keeps the connection registry current; a node agent's
// connection is where its commands go, and a closing dashboard client leaves the subscriber index.
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { dashboard } from '#shared/dashboard';
import { logger } from '#shared/observability';
import { deleteConnection, saveConnection } from '#shared/realtime';
import { callerOf } from './caller.ts';

export const handler = async (event: APIGatewayProxyWebsocketEventV2): Promise<APIGatewayProxyResultV2> => {
  const { connectionId, eventType } = event.requestContext;
  if (eventType === 'CONNECT') {
    const { subject, roles } = callerOf(event);
    await saveConnection(connectionId, subject, roles);
    if (roles.includes('node')) await dashboard().agentConnected(subject, connectionId);
    logger.info('websocket connected', { connectionId, roles });
  } else {
    const record = await deleteConnection(connectionId);
    if (record) await dashboard().connectionClosed(record);
    logger.info('websocket disconnected', { connectionId });
  }
  return { statusCode: 200 };
};
