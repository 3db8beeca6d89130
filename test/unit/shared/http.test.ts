// Unit tests — shared/http: the middleware stack maps roles and errors to the right status and body.
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BadRequestError,
  type HttpEvent,
  httpHandler,
  json,
  parseInput,
  ServiceUnavailableError,
} from '#shared/http';

const context = {
  functionName: 'test',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 1000,
} as unknown as Context;

function event(routeKey: string, claims?: Record<string, string>): HttpEvent {
  return {
    routeKey,
    requestContext: { authorizer: claims ? { jwt: { claims, scopes: [] } } : undefined },
  } as unknown as HttpEvent;
}

const ok = httpHandler(async () => json(200, { ok: true }));

describe('httpHandler', () => {
  it('serves the public route without claims', async () => {
    const result = await ok(event('GET /health'), context);
    expect(result.statusCode).toBe(200);
  });

  it('answers 401 on a protected route without claims and 403 with the wrong role', async () => {
    const unauthenticated = await ok(event('GET /api/v1/me'), context);
    expect(unauthenticated.statusCode).toBe(401);
    expect(JSON.parse(unauthenticated.body as string)).toMatchObject({ error: 'unauthorized' });

    const nodeOnly = await ok(event('GET /api/v1/me', { sub: 'agent-1', roles: '[node]' }), context);
    expect(nodeOnly.statusCode).toBe(403);
    expect(JSON.parse(nodeOnly.body as string)).toEqual({
      error: 'forbidden',
      message: 'This route needs the viewer role',
    });

    const viewer = await ok(event('GET /api/v1/me', { sub: 'bob', roles: '[viewer]' }), context);
    expect(viewer.statusCode).toBe(200);
  });

  it('refuses a route the topology does not declare', async () => {
    const result = await ok(event('GET /not/declared', { sub: 'a', roles: '[admin]' }), context);
    expect(result.statusCode).toBe(500);
  });

  it('maps typed errors to their status, headers and body', async () => {
    const unavailable = httpHandler(async () => {
      throw new ServiceUnavailableError('Every node is busy', 30, { capacity: 4 });
    });
    const result = await unavailable(event('GET /health'), context);
    expect(result.statusCode).toBe(503);
    expect(result.headers).toMatchObject({ 'retry-after': '30' });
    expect(JSON.parse(result.body as string)).toEqual({
      error: 'service_unavailable',
      message: 'Every node is busy',
      capacity: 4,
    });
  });

  it('hides the details of unexpected errors', async () => {
    const failing = httpHandler(async () => {
      throw new Error('password=hunter2 at db.internal:5432');
    });
    const result = await failing(event('GET /health'), context);
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('hunter2');
    expect(JSON.parse(result.body as string)).toMatchObject({ error: 'internal_error' });
  });
});

describe('parseInput', () => {
  const schema = z.object({
    limit: z.coerce.number().int().min(1).max(1000),
    q: z.string().min(3).optional(),
  });

  it('returns parsed values', () => {
    expect(parseInput(schema, { limit: '50' })).toEqual({ limit: 50 });
  });

  it('throws a 400 naming every bad field', () => {
    try {
      parseInput(schema, { limit: '0', q: 'ab' }, 'query');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BadRequestError);
      const body = (error as BadRequestError).toBody();
      expect(body.error).toBe('bad_request');
      expect(Object.keys(body.fields ?? {}).sort()).toEqual(['limit', 'q']);
    }
  });
});
