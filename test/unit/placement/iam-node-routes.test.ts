// Unit tests — in AWS the node routes are IAM-authorized (SigV4 from the instance role): the middleware lets an
// IAM-signed request through on a route whose role is `node`, and nowhere else; a route for humans still needs
// a JWT with its role.
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type HttpEvent, json, routeHandler } from '#shared/http';
import { placementNodeRoutes } from '../../../functions/placement/routes.ts';

const context = { functionName: 'test', awsRequestId: 'req-1' } as unknown as Context;
const handler = routeHandler({
  'POST /api/v1/nodes/{id}/heartbeat': async () => json(200, { reached: true }),
  'GET /api/v1/nodes': async () => json(200, { reached: true }),
});
const iamEvent = (routeKey: string) =>
  ({
    routeKey,
    headers: {},
    requestContext: { authorizer: { iam: { userId: 'AROAEXAMPLE:i-0123456789abcdef0' } } },
  }) as unknown as HttpEvent;

describe('IAM-authorized node routes', () => {
  it('admits an IAM-signed request on a node route', async () => {
    const answer = await handler(iamEvent('POST /api/v1/nodes/{id}/heartbeat'), context);
    expect(answer).toMatchObject({ statusCode: 200 });
  });

  it('refuses an IAM-signed request on a route for people (it needs a JWT)', async () => {
    const answer = await handler(iamEvent('GET /api/v1/nodes'), context);
    expect(answer).toMatchObject({ statusCode: 401 });
  });
});

describe('the heartbeat of an IAM caller', () => {
  it('is refused when the signing instance is not the one the heartbeat speaks for', async () => {
    const event = {
      ...iamEvent('POST /api/v1/nodes/{id}/heartbeat'),
      pathParameters: { id: 'i-0fedcba987654321' },
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        address: 'http://10.0.0.9:7070',
        instanceId: 'i-0fedcba987654321',
        agentVersion: '1.0.0',
        progress: 0,
      }),
    } as unknown as HttpEvent;
    const answer = await routeHandler(placementNodeRoutes)(event, context);
    expect(answer).toMatchObject({ statusCode: 403 });
    expect(JSON.parse(String((answer as { body: string }).body))).toMatchObject({ error: 'forbidden' });
  });
});
