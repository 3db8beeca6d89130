// Local runtime — API Gateway HTTP API emulation: matches topology routes, verifies bearer tokens as the
// JWT authorizer does, turns requests into payload-format-2.0 events and writes back the handler's result.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { decodeJwt } from 'jose';
import { bearerToken, InvalidTokenError, type Principal, verifyToken } from '#shared/auth';
import type { Topology } from '../topology.ts';
import { type Invoke, ThrottledError } from './lambda.ts';

/** API Gateway's request payload limit. */
const maxBodyBytes = 10 * 1024 * 1024;

/**
 * The answers API Gateway makes itself, before any function runs, exactly as it words them (no `error`
 * field): the JWT authorizer's 401, the payload limit's 413, throttling's 429. The API document lists them.
 */
const gatewayAnswers = {
  unauthorized: { message: 'Unauthorized' },
  tooLarge: { message: 'Request Entity Too Large' },
  throttled: { message: 'Too Many Requests' },
} as const;

interface CompiledRoute {
  readonly method: string;
  readonly path: string;
  readonly pattern: RegExp;
  readonly params: readonly string[];
  readonly function: string;
  readonly secured: boolean;
}

function compile(route: Topology['httpRoutes'][number]): CompiledRoute {
  const params: string[] = [];
  const source = route.path
    .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
    .replace(/\\?\{(\w+)(\+?)\\?\}/g, (_, name, greedy) => {
      params.push(name);
      return greedy ? '(.+)' : '([^/]+)';
    });
  return {
    method: route.method,
    path: route.path,
    pattern: new RegExp(`^${source}$`),
    params,
    function: route.function,
    secured: route.role !== null,
  };
}

/**
 * Verified tokens, kept until they expire: API Gateway verifies a JWT in its own fleet, so the emulation
 * should not spend the handlers' event loop re-checking the same ECDSA signature on every request.
 */
function createTokenCache(maxEntries = 1_000) {
  const verified = new Map<string, { principal: Principal; expiresAtMs: number }>();
  return async (token: string): Promise<Principal> => {
    const hit = verified.get(token);
    if (hit && hit.expiresAtMs > Date.now()) return hit.principal;
    verified.delete(token);
    const principal = await verifyToken(token);
    const exp = Number(decodeJwt(token).exp);
    if (Number.isFinite(exp)) {
      if (verified.size >= maxEntries) verified.delete(verified.keys().next().value as string);
      verified.set(token, { principal, expiresAtMs: exp * 1000 });
    }
    return principal;
  };
}

/** A JSON answer. */
export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The request's body, or `'too-large'` past `maxBytes` (API Gateway's payload limit unless told). */
export async function readBody(req: IncomingMessage, maxBytes = maxBodyBytes): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** As API Gateway does, claims reach the function as strings; arrays are flattened to `[a b]`. */
function stringifyClaims(claims: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(claims).map(([key, value]) => [
      key,
      Array.isArray(value) ? `[${value.join(' ')}]` : String(value),
    ]),
  );
}

const textTypes = /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript))/;

function toEvent(
  req: IncomingMessage,
  url: URL,
  route: CompiledRoute,
  match: RegExpMatchArray,
  body: Buffer,
  claims: Record<string, unknown> | undefined,
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && name !== 'cookie')
      headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = name in query ? `${query[name]},${value}` : value;
  const pathParameters = Object.fromEntries(
    route.params.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]),
  );
  const isText = body.length === 0 || textTypes.test(headers['content-type'] ?? 'application/json');
  const now = new Date();
  const routeKey = `${route.method} ${route.path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies: req.headers.cookie?.split(/;\s*/),
    headers,
    queryStringParameters: url.search ? query : undefined,
    pathParameters: route.params.length ? pathParameters : undefined,
    body: body.length ? body.toString(isText ? 'utf8' : 'base64') : undefined,
    isBase64Encoded: !isText,
    stageVariables: undefined,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: req.headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      authorizer: claims
        ? { principalId: '', integrationLatency: 0, jwt: { claims: stringifyClaims(claims), scopes: [] } }
        : (undefined as never),
    },
  };
}

function writeResult(res: ServerResponse, result: unknown) {
  // Payload format 2.0: a result without statusCode is a 200 JSON body.
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    send(res, 200, result);
    return;
  }
  const {
    statusCode = 200,
    headers = {},
    body = '',
    isBase64Encoded,
    cookies,
  } = result as APIGatewayProxyStructuredResultV2;
  const outHeaders: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) outHeaders[name.toLowerCase()] = String(value);
  if (cookies?.length) outHeaders['set-cookie'] = cookies;
  res.writeHead(statusCode, outHeaders);
  res.end(isBase64Encoded ? Buffer.from(body, 'base64') : body);
}

/** Something served beside the API on the same origin (the dev issuer's OIDC endpoints, the dashboard). */
export interface LocalMount {
  /** Answers the request and resolves true when the path is its own; false leaves it to the API. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export interface LocalHttpApi {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts the HTTP API on `host:port` (0 for a free port). */
export async function startHttpApi(options: {
  topology: Topology;
  invoke: Invoke;
  host: string;
  port: number;
  /** Tried in order before the API's routes. */
  mounts?: readonly LocalMount[];
}): Promise<LocalHttpApi> {
  const routes = options.topology.httpRoutes.map(compile);
  const verified = createTokenCache();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      for (const mount of options.mounts ?? []) if (await mount.handle(req, res, url)) return;
      const candidates = routes
        .map((route) => ({ route, match: url.pathname.match(route.pattern) }))
        .filter((candidate) => candidate.match);
      const found = candidates.find((candidate) => candidate.route.method === req.method);
      if (!found?.match) {
        if (candidates.length)
          send(res, 405, { error: 'method_not_allowed', message: `${req.method} is not allowed here` });
        else send(res, 404, { error: 'not_found', message: `No route for ${req.method} ${url.pathname}` });
        return;
      }
      let claims: Record<string, unknown> | undefined;
      const token = bearerToken(req.headers.authorization);
      if (found.route.secured) {
        // The JWT authorizer's job; the role itself is checked by the function (shared/http).
        try {
          if (!token) throw new InvalidTokenError('no bearer token');
          const principal = await verified(token);
          // API Gateway hands the function every claim (groups for the vCenter scope, the times the role
          // check re-reads).
          claims = { ...decodeJwt(token), sub: principal.subject, roles: principal.roles };
        } catch (error) {
          if (!(error instanceof InvalidTokenError)) throw error;
          // API Gateway's own answer, body and all (clients must handle it without {error}); the reason
          // is for the developer's console only, as it is for CloudWatch in AWS.
          console.warn(`[http] 401 ${req.method} ${url.pathname}: ${error.message}`);
          send(res, 401, gatewayAnswers.unauthorized, { 'www-authenticate': 'Bearer' });
          return;
        }
      }
      const body = await readBody(req);
      if (body === 'too-large') {
        send(res, 413, gatewayAnswers.tooLarge);
        return;
      }
      const result = await options.invoke(
        found.route.function,
        toEvent(req, url, found.route, found.match, body, claims),
      );
      writeResult(res, result);
    } catch (error) {
      if (error instanceof ThrottledError) {
        send(res, 429, gatewayAnswers.throttled, { 'retry-after': '1' });
        return;
      }
      console.error('[http] handler failed:', error);
      if (!res.headersSent) send(res, 500, { error: 'internal_error', message: 'Internal Server Error' });
      else res.end();
    }
  };
  // The server ignores a listener's promise: a throw while answering an error is caught here, not unhandled.
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error('[http] could not answer:', error);
      res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    server,
    close: () =>
      new Promise((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      }),
  };
}
