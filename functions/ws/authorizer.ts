// Primary adapter — WebSocket $connect authorizer: a bearer token (query `token` — browsers cannot set
// headers on a WebSocket — or the Authorization header) becomes an IAM policy and the caller's roles. A
// one-time connect ticket (#shared/realtime) stands in for a token in the same place: node agents that
// authenticate with their instance role get one from POST /api/v1/nodes/{id}/connect-ticket.
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { bearerToken, InvalidTokenError, verifyToken } from '#shared/auth';
import { logger } from '#shared/observability';
import { isConnectTicket, redeemConnectTicket } from '#shared/realtime';

export const handler = async (
  event: APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> => {
  const token =
    event.queryStringParameters?.token ??
    bearerToken(event.headers?.Authorization ?? event.headers?.authorization);
  try {
    if (!token) throw new InvalidTokenError('no token');
    const principal = isConnectTicket(token) ? await redeemConnectTicket(token) : await verifyToken(token);
    if (!principal) throw new InvalidTokenError('connect ticket unknown, used or expired');
    if (principal.roles.length === 0) throw new InvalidTokenError('token carries no vfleet role');
    return {
      principalId: principal.subject,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
      },
      // Authorizer context values must be scalars.
      context: { subject: principal.subject, roles: principal.roles.join(',') },
    };
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    logger.info('websocket connect refused', { reason: error.message });
    // API Gateway answers 401 for exactly this error message.
    throw new Error('Unauthorized');
  }
};
