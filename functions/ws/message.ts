// Primary adapter — WebSocket frames: `ping` answers `{"type":"pong"}`; anything unrouted gets an error frame.
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { sendToConnection } from '#shared/realtime';

export const handler = async (event: APIGatewayProxyWebsocketEventV2): Promise<APIGatewayProxyResultV2> => {
  const { connectionId, routeKey } = event.requestContext;
  if (routeKey === 'ping') {
    await sendToConnection(connectionId, { type: 'pong' });
  } else {
    await sendToConnection(connectionId, {
      type: 'error',
      error: 'unknown_action',
      message: 'Send JSON frames with an "action" field; known actions: ping',
    });
  }
  return { statusCode: 200 };
};
