// Unit tests — shared/http: the middleware stack maps roles and errors to the right status and body.
import { gunzipSync } from 'node:zlib';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  BadRequestError,
  type DenialReason,
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

/** Claims as API Gateway hands them over (strings), issued now for an hour unless `times` says otherwise. */
function event(
  routeKey: string,
  claims?: Record<string, string>,
  times: Record<string, string> = { iat: String(now()), exp: String(now() + 3600) },
  request: { body?: string; headers?: Record<string, string> } = {},
): HttpEvent {
  return {
    routeKey,
    headers: request.headers ?? {},
    ...(request.body === undefined ? {} : { body: request.body, isBase64Encoded: false }),
    requestContext: {
      authorizer: claims ? { jwt: { claims: { ...times, ...claims }, scopes: [] } } : undefined,
    },
  } as unknown as HttpEvent;
}
const now = () => Math.floor(Date.now() / 1000);

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

  it('answers 401 for claims without exp or iat, or a lifetime over the cap (vfleet rules beyond the gateway)', async () => {
    const viewer = { sub: 'bob', roles: '[viewer]' };
    const noExp = await ok(event('GET /api/v1/me', viewer, { iat: String(now()) }), context);
    expect([noExp.statusCode, JSON.parse(noExp.body as string).message]).toEqual([
      401,
      'token has no expiry (exp)',
    ]);
    const noIat = await ok(event('GET /api/v1/me', viewer, { exp: String(now() + 60) }), context);
    expect(noIat.statusCode).toBe(401);
    const year = { iat: String(now()), exp: String(now() + 365 * 24 * 3600) };
    const long = await ok(event('GET /api/v1/me', viewer, year), context);
    expect([long.statusCode, JSON.parse(long.body as string).message]).toEqual([
      401,
      'token lifetime exceeds 43200 s',
    ]);
  });

  it('answers a body that is not JSON with 400 invalid_json, and one not sent as JSON with 415', async () => {
    const admin = { sub: 'ada', roles: '[admin]' };
    const asJson = { 'content-type': 'application/json' };
    const broken = await ok(
      event('POST /api/v1/vcenters', admin, undefined, { body: '{"id":', headers: asJson }),
      context,
    );
    expect([broken.statusCode, JSON.parse(broken.body as string)]).toEqual([
      400,
      { error: 'invalid_json', message: 'The body is not valid JSON' },
    ]);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const wrongType = await ok(
      event('POST /api/v1/vcenters', admin, undefined, { body: 'id=x', headers: form }),
      context,
    );
    expect([wrongType.statusCode, JSON.parse(wrongType.body as string).error]).toEqual([
      415,
      'unsupported_media_type',
    ]);
    const charset = { 'content-type': 'application/json; charset=utf-8' };
    const fine = await ok(
      event('POST /api/v1/vcenters', admin, undefined, { body: '{}', headers: charset }),
      context,
    );
    expect(fine.statusCode).toBe(200);
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

describe('compressed answers', () => {
  const big = { items: Array.from({ length: 200 }, (_, i) => ({ id: `vc-1:vm-${i}`, power: 'poweredOn' })) };
  const viewer = { sub: 'bob', roles: '[viewer]' };
  const list = httpHandler(async () => json(200, big));
  const gzipped = (result: Awaited<ReturnType<typeof list>>) =>
    JSON.parse(gunzipSync(Buffer.from(result.body as string, 'base64')).toString('utf8'));

  it('gzips a large JSON answer for a client that accepts gzip, and says so', async () => {
    const result = await list(
      event('GET /api/v1/me', viewer, undefined, { headers: { 'accept-encoding': 'gzip, br' } }),
      context,
    );
    expect(result).toMatchObject({
      statusCode: 200,
      isBase64Encoded: true,
      headers: { 'content-encoding': 'gzip', vary: 'accept-encoding', 'content-type': 'application/json' },
    });
    expect(gzipped(result)).toEqual(big);
    expect(Buffer.from(result.body as string, 'base64').length).toBeLessThan(JSON.stringify(big).length / 4);
  });

  it('leaves small answers, clients without gzip and binary answers as they are', async () => {
    const small = await ok(
      event('GET /api/v1/me', viewer, undefined, { headers: { 'accept-encoding': 'gzip' } }),
      context,
    );
    expect(small).toMatchObject({ body: '{"ok":true}' });
    expect(small.headers?.['content-encoding']).toBeUndefined();

    const identity = await list(event('GET /api/v1/me', viewer), context);
    expect(JSON.parse(identity.body as string)).toEqual(big);
    expect(identity.headers?.['content-encoding']).toBeUndefined();

    const png = Buffer.alloc(4_000, 7).toString('base64');
    const image = httpHandler(async () => ({
      statusCode: 200,
      headers: { 'content-type': 'image/png' },
      body: png,
      isBase64Encoded: true,
    }));
    const picture = await image(
      event('GET /api/v1/me', viewer, undefined, { headers: { 'accept-encoding': 'gzip' } }),
      context,
    );
    expect(picture).toMatchObject({ body: png, headers: { 'content-type': 'image/png' } });
  });

  it('gzips a large error body too', async () => {
    const failing = httpHandler(async () => {
      throw new BadRequestError('x'.repeat(3_000));
    });
    const result = await failing(
      event('GET /api/v1/me', viewer, undefined, { headers: { 'accept-encoding': 'gzip' } }),
      context,
    );
    expect(result).toMatchObject({ statusCode: 400, headers: { 'content-encoding': 'gzip' } });
    expect(gzipped(result)).toMatchObject({ error: 'bad_request' });
  });
});

describe('httpHandler onDenied', () => {
  afterEach(() => vi.unstubAllEnvs());

  const console = 'POST /api/v1/vms/{id}/console';
  const withVm = (e: HttpEvent, id: string) => ({ ...e, pathParameters: { id } }) as HttpEvent;

  it('is told why the middleware denied a request, before the same denial is answered', async () => {
    vi.stubEnv('VCENTER_SCOPES', JSON.stringify({ 'team-a': ['vc-a-*'] }));
    const told: [string | undefined, DenialReason][] = [];
    let handled = 0;
    const handler = httpHandler(
      async () => {
        handled += 1;
        return json(200, { ok: true });
      },
      {
        onDenied: async (e, reason) => {
          told.push([e.pathParameters?.id, reason]);
        },
      },
    );
    const operatorA = { sub: 'op', roles: '[operator]', groups: '[team-a]' };

    const answers = [
      await handler(withVm(event(console), 'vc-a-1:vm-1'), context),
      await handler(
        withVm(event(console, { sub: 'v', roles: '[viewer]', groups: '[team-a]' }), 'vc-a-1:vm-1'),
        context,
      ),
      await handler(withVm(event(console, operatorA), 'vc-b-1:vm-1'), context),
      await handler(withVm(event(console, operatorA), 'vc-a-1:vm-1'), context),
    ].map((answer) => answer.statusCode);

    expect(answers).toEqual([401, 403, 404, 200]);
    expect(told).toEqual([
      ['vc-a-1:vm-1', 'unauthenticated'],
      ['vc-a-1:vm-1', 'forbidden'],
      ['vc-b-1:vm-1', 'out_of_scope'],
    ]);
    // Only the allowed request reached the handler; a denial in scope is not mistaken for the handler's 404.
    expect(handled).toBe(1);
  });

  it('answers the denial even when the hook fails', async () => {
    const handler = httpHandler(async () => json(200, {}), {
      onDenied: async () => {
        throw new Error('audit store down');
      },
    });
    const answer = await handler(
      withVm(event(console, { sub: 'v', roles: '[viewer]' }), 'vc-1:vm-1'),
      context,
    );
    expect(answer.statusCode).toBe(403);
    expect(answer.body).not.toContain('audit store down');
  });
});
