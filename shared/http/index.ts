// HTTP — primary-adapter plumbing for API handlers: one middy stack (logging, role check, error mapping)
// and input parsing with field errors, so handlers only parse, call shared/ and answer.
import { gzipSync } from 'node:zlib';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type {
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import type { z } from 'zod';
import {
  checkTokenTimes,
  InvalidTokenError,
  parseRoles,
  roleSatisfies,
  type VcenterScope,
  vcenterScopeFor,
} from '#shared/auth';
import { type ObjectRef, parseId, type Role, type RouteKey, routes } from '#shared/contracts';
import { logger } from '#shared/observability';
import { BadRequestError, ForbiddenError, HttpError, NotFoundError, UnauthorizedError } from './errors.ts';

export * from './errors.ts';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** A JSON response. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

const requiredRoles = new Map<string, Role | null>(
  Object.entries(routes).map(([key, route]) => [key, route.role]),
);

/**
 * What a route's `{id}` names, read from its path: `/api/v1/vms/{id}…` a VM (`<vcenterId>:<moid>`),
 * `/api/v1/vcenters/{id}…` a vCenter. Every such route is scoped by the middleware, so a route added under
 * either prefix is scoped without a line of its own.
 */
export function scopedParamOf(path: string): 'vm' | 'vcenter' | undefined {
  if (path.startsWith('/api/v1/vms/{id}')) return 'vm';
  if (path.startsWith('/api/v1/vcenters/{id}')) return 'vcenter';
  return undefined;
}

const scopedParams = new Map(Object.entries(routes).map(([key, route]) => [key, scopedParamOf(route.path)]));

/** Each event's caller scope, as the middleware computed it. */
const scopes = new WeakMap<HttpEvent, VcenterScope>();

/**
 * The vCenters the caller may see and act on (`VCENTER_SCOPES`, shared/auth): lists filter with it; routes on
 * one VM or vCenter are already refused with a 404 by the middleware when it is outside.
 */
export function callerScope(event: HttpEvent): VcenterScope {
  let scope = scopes.get(event);
  if (!scope) {
    scope = vcenterScopeFor(event.requestContext.authorizer?.jwt?.claims);
    scopes.set(event, scope);
  }
  return scope;
}

/** A vCenter outside the caller's scope is answered as if it did not exist: a 404 that reveals nothing. */
export function requireInScope(scope: VcenterScope, vcenterId: string, what = `vCenter ${vcenterId}`): void {
  if (!scope.allows(vcenterId)) throw new NotFoundError(`No ${what} is visible to you`);
}

/** The route's `{id}` checked against the caller's scope (a malformed id is left to the handler's 400). */
function checkScope(event: HttpEvent): void {
  const kind = scopedParams.get(event.routeKey);
  const id = event.pathParameters?.id;
  if (!kind || id === undefined) return;
  const vcenterId = kind === 'vm' ? parseId(id)?.vcenterId : id;
  if (vcenterId === undefined) return;
  // Same words for "not there" and "not yours".
  requireInScope(callerScope(event), vcenterId, kind === 'vm' ? `VM ${id}` : `vCenter ${id}`);
}

/** Why the middleware turned a request away before its handler ran (and a rate limit, which handlers apply). */
export type DenialReason = 'unauthenticated' | 'forbidden' | 'out_of_scope' | 'rate_limited';

/**
 * Called when the middleware denies a request, before the denial is answered: for routes that must record
 * refused attempts too (the console audit). Its own failure is logged, never answered: the caller still gets
 * the denial.
 */
export type OnDenied = (event: HttpEvent, reason: DenialReason) => Promise<void>;

/** The denial checks of {@link authorize}, each error tagged with its reason. */
function deny(event: HttpEvent): void {
  const required = requiredRoles.get(event.routeKey);
  if (required === undefined) throw new HttpError(500, 'internal_error', 'Route is not in the topology');
  if (required === null) return;
  // In AWS the node routes use IAM authorization: API Gateway has verified the SigV4 signature and the
  // policy that only node instance roles hold; the handler maps the caller to its node.
  if (required === 'node' && (event.requestContext.authorizer as { iam?: unknown } | undefined)?.iam) return;
  const claims = event.requestContext.authorizer?.jwt?.claims;
  if (!claims?.sub) throw denied(new UnauthorizedError(), 'unauthenticated');
  // API Gateway's JWT authorizer checks signature, issuer, audience and expiry; the lifetime cap, a
  // required exp and iat are vfleet's own rules, so they are checked here too.
  try {
    checkTokenTimes(claims);
  } catch (error) {
    if (error instanceof InvalidTokenError)
      throw denied(new UnauthorizedError(error.message), 'unauthenticated');
    throw error;
  }
  if (!roleSatisfies(parseRoles(claims.roles), required)) {
    throw denied(new ForbiddenError(`This route needs the ${required} role`), 'forbidden');
  }
  try {
    checkScope(event);
  } catch (error) {
    throw error instanceof NotFoundError ? denied(error, 'out_of_scope') : error;
  }
}

const denials = new WeakMap<Error, DenialReason>();
function denied<E extends Error>(error: E, reason: DenialReason): E {
  denials.set(error, reason);
  return error;
}

/** Checks the caller's roles against the role the contract declares for the route (`event.routeKey`). */
const authorize = (onDenied?: OnDenied): MiddlewareObj<HttpEvent, HttpResult> => ({
  before: async ({ event }) => {
    try {
      deny(event);
    } catch (error) {
      const reason = error instanceof Error ? denials.get(error) : undefined;
      if (reason && onDenied) {
        await onDenied(event, reason).catch((failure: unknown) =>
          logger.error('denial not recorded', { reason, error: failure as Error }),
        );
      }
      throw error;
    }
  },
});

const isJson = (contentType: string | undefined) =>
  /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType?.trim() ?? '');

/**
 * A body must be JSON, declared as such: anything else is a 415, and text that does not parse is a 400
 * `invalid_json` with a plain message, on every route, before a handler reads it. The body reaches the
 * handler decoded (never base64).
 */
/** Bodies as the middleware parsed them, so a handler's {@link jsonBody} does not parse them again. */
const parsedBodies = new WeakMap<HttpEvent, unknown>();

const jsonBodies = (): MiddlewareObj<HttpEvent, HttpResult> => ({
  before: ({ event }) => {
    if (!event.body) return;
    if (!isJson(event.headers?.['content-type'])) {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'Send the body as JSON (content-type: application/json)',
      );
    }
    const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
    try {
      parsedBodies.set(event, JSON.parse(text));
    } catch {
      throw new HttpError(400, 'invalid_json', 'The body is not valid JSON');
    }
    event.body = text;
    event.isBase64Encoded = false;
  },
});

/** Maps typed errors to their status; anything else is logged and answered as a generic 500. */
const errorResponses = (): MiddlewareObj<HttpEvent, HttpResult> => ({
  onError: (request) => {
    const { error } = request;
    if (error instanceof HttpError) {
      if (error.statusCode >= 500) logger.error('request failed', { error });
      request.response = json(error.statusCode, error.toBody(), error.headers);
      return;
    }
    logger.error('unhandled error', { error: error as Error });
    request.response = json(500, { error: 'internal_error', message: 'Something went wrong on our side' });
  },
});

/** Below this a compressed body saves less than its headers and the CPU cost (about one TCP segment). */
const compressAboveBytes = 1_400;
const isCompressible = (contentType: string | undefined) =>
  isJson(contentType) || /^text\//i.test(contentType?.trim() ?? '');

/**
 * gzip for text answers when the client accepts it: the HTTP API (unlike REST APIs) does not compress, and
 * answers are most of the data sent to the internet (docs/cost.md). Binary answers (thumbnails) are left alone.
 */
const compressedResponses = (): MiddlewareObj<HttpEvent, HttpResult> => {
  const compress = ({ event, response }: { event: HttpEvent; response: HttpResult | null }) => {
    if (!response || typeof response.body !== 'string' || response.isBase64Encoded) return;
    if (Buffer.byteLength(response.body) < compressAboveBytes) return;
    const headers = response.headers ?? {};
    if (headers['content-encoding'] || !isCompressible(String(headers['content-type'] ?? ''))) return;
    if (!/\bgzip\b/i.test(event.headers?.['accept-encoding'] ?? '')) return;
    response.body = gzipSync(response.body).toString('base64');
    response.isBase64Encoded = true;
    response.headers = { ...headers, 'content-encoding': 'gzip', vary: 'accept-encoding' };
  };
  return { after: compress, onError: compress };
};

/** Options of {@link httpHandler} and {@link routeHandler}. */
export interface HttpHandlerOptions {
  /** Told of every request the middleware denies (unauthenticated, wrong role, outside the scope). */
  readonly onDenied?: OnDenied;
}

/** Wraps an HTTP API handler with the project's middleware. */
export function httpHandler(
  fn: (event: HttpEvent, context: Context) => Promise<HttpResult>,
  options: HttpHandlerOptions = {},
) {
  return middy<HttpEvent, HttpResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(authorize(options.onDenied))
    .use(jsonBodies())
    .use(compressedResponses())
    .use(errorResponses())
    .handler(fn);
}

/** One route's handler: the HTTP API (payload 2.0) event in, its answer out. */
export type RouteHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

/**
 * A function's routes: contract route keys (`<METHOD> <path>`, what `event.routeKey` carries) to their
 * handlers. Declare a table `satisfies RouteTable`, so a key the contract does not declare fails the
 * type-check; infra/topology.ts reads the tables' keys to bind each route to exactly one function.
 */
export type RouteTable = Partial<Record<RouteKey, RouteHandler>>;

/**
 * The Lambda handler of a function that serves `table`: the project's middleware (`httpHandler`: logging,
 * role check, JSON bodies, error mapping) around a dispatch on `event.routeKey`. A key of the contract that
 * this function does not serve is a 404 (the gateway only sends it what the topology binds to it).
 */
export function routeHandler(table: RouteTable, options: HttpHandlerOptions = {}) {
  return httpHandler(async (event, context) => {
    const handle = Object.hasOwn(table, event.routeKey) ? table[event.routeKey as RouteKey] : undefined;
    if (!handle) throw new NotFoundError(`No route ${event.routeKey} in this function`);
    return handle(event, context);
  }, options);
}

/** The request body as JSON (`{}` when there is none); the middleware has already refused anything else. */
export function jsonBody(event: HttpEvent): unknown {
  return parsedBodies.has(event) ? parsedBodies.get(event) : {};
}

/** Whether the caller's token carries `role` (or one that includes it); the route's own role is checked already. */
export function callerHasRole(event: HttpEvent, role: Role): boolean {
  return roleSatisfies(parseRoles(event.requestContext.authorizer?.jwt?.claims?.roles), role);
}

/** Validates input with a zod schema; failures become a 400 naming each field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what = 'request'): z.infer<T> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) fields[issue.path.join('.') || what] ??= issue.message;
  throw new BadRequestError(`Invalid ${what}: ${Object.keys(fields).join(', ')}`, fields);
}

/**
 * Parses an object id path parameter (`<vcenterId>:<moid>`, the contract's one id parser).
 * @throws BadRequestError naming the `id` field
 */
export function parseIdParam(text: string, what = 'VM'): ObjectRef {
  const ref = parseId(text);
  if (!ref)
    throw new BadRequestError(`Invalid ${what} id`, { id: 'must be <vcenterId>:<moid>, e.g. vc-1:vm-42' });
  return ref;
}
