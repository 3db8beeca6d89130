// Primary adapter — who sent a WebSocket event: the `$connect` authorizer's context, which API Gateway
// hands to every later event of the connection.
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import type { WsCaller } from '#shared/dashboard';

interface AuthorizerContext {
  readonly subject?: string;
  readonly roles?: string;
}

export function callerOf(event: APIGatewayProxyWebsocketEventV2): WsCaller {
  const context = (event.requestContext as { authorizer?: AuthorizerContext }).authorizer ?? {};
  return {
    connectionId: event.requestContext.connectionId,
    subject: context.subject ?? 'unknown',
    roles: context.roles ? context.roles.split(',') : [],
  };
}
