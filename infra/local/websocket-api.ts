// Local runtime — API Gateway WebSocket API emulation: the $connect authorizer and route, frames routed
// by `$request.body.action` (else `$default`), $disconnect, and the `@connections` management API that
// `ApiGatewayManagementApiClient` posts to.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { APIGatewayAuthorizerResult } from 'aws-lambda';
import { WebSocket, WebSocketServer } from 'ws';
import type { Topology } from '../topology.ts';
import type { Invoke } from './lambda.ts';

/** The stage name in the management endpoint: `http://host:port/<stage>/@connections/<id>`. */
export const localStage = 'local';

interface Connection {
  readonly socket: WebSocket;
  readonly connectedAt: number;
  readonly sourceIp: string;
  readonly authorizer: Record<string, unknown>;
  lastActiveAt: number;
}

export interface LocalWebSocketApi {
  readonly url: string;
  /** Base URL for `ApiGatewayManagementApiClient`'s endpoint. */
  readonly managementEndpoint: string;
  readonly connectionCount: () => number;
  close(): Promise<void>;
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

/** API Gateway connection ids look like `L0SM9cOFvHcCIhw=`. */
const newConnectionId = () => randomBytes(10).toString('base64');

/** What the parts of one API share: its routes, its live connections and the domain its events name. */
interface WsState {
  readonly topology: Topology;
  readonly invoke: Invoke;
  /** Route key → function name. */
  readonly routes: ReadonlyMap<string, string>;
  readonly connections: Map<string, Connection>;
  /** $disconnect invocations still running, awaited by close() so none outlives the API. */
  readonly disconnects: Set<Promise<unknown>>;
  readonly wss: WebSocketServer;
  /** `host:port`, the bound port once listening. */
  domainName: string;
}

export async function startWebSocketApi(options: {
  topology: Topology;
  invoke: Invoke;
  host: string;
  port: number;
}): Promise<LocalWebSocketApi> {
  const { topology, invoke } = options;
  const state: WsState = {
    topology,
    invoke,
    routes: new Map(topology.wsRoutes.map((route) => [route.routeKey, route.function])),
    connections: new Map(),
    disconnects: new Set(),
    wss: new WebSocketServer({ noServer: true }),
    domainName: `${options.host}:${options.port}`,
  };
  const server = createWsServer(state);
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port, options.host, () => resolveListen());
  });
  const { port } = server.address() as AddressInfo;
  state.domainName = `${options.host}:${port}`;
  return {
    url: `ws://${options.host}:${port}`,
    managementEndpoint: `http://${options.host}:${port}/${localStage}`,
    connectionCount: () => state.connections.size,
    close: async () => {
      for (const connection of state.connections.values()) connection.socket.terminate();
      // Terminated sockets close on the next turns; their $disconnect runs before the services go away.
      while (state.connections.size > 0) await new Promise((resolveTurn) => setImmediate(resolveTurn));
      await Promise.allSettled([...state.disconnects]);
      state.wss.close();
      await new Promise<void>((resolveClose) => {
        server.closeAllConnections();
        server.close(() => resolveClose());
      });
    },
  };
}

/**
 * The HTTP server: requests are the management API, upgrades are new connections. Node ignores listeners'
 * promises, so each async listener ends in a catch that logs (a rejection left unhandled would end the
 * process).
 */
function createWsServer(state: WsState): Server {
  const server = createServer((req, res) => {
    handleManagement(state, req, res).catch((error: unknown) => {
      console.error('[ws] management request failed:', error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    // Node drops its own error listener from an upgraded socket: without one, a client resetting while the
    // authorizer runs (or while a refusal is written) would throw from the socket.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!socket.destroyed) socket.destroy();
      if (error.code !== 'ECONNRESET') console.error('[ws] upgrade socket error:', error.message);
    });
    upgrade(state, req, socket, head).catch((error: unknown) => {
      console.error('[ws] upgrade failed:', error);
      socket.destroy();
    });
  });
  return server;
}

/** The `requestContext` of an event, as API Gateway builds it. */
function requestContext(
  state: WsState,
  connectionId: string,
  routeKey: string,
  eventType: string,
  connection?: Connection,
) {
  return {
    routeKey,
    eventType,
    connectionId,
    messageDirection: 'IN',
    stage: localStage,
    domainName: state.domainName,
    apiId: 'local',
    requestId: randomUUID(),
    extendedRequestId: randomUUID(),
    requestTime: new Date().toUTCString(),
    requestTimeEpoch: Date.now(),
    connectedAt: connection?.connectedAt ?? Date.now(),
    identity: { sourceIp: connection?.sourceIp ?? '127.0.0.1' },
    authorizer: connection?.authorizer,
  };
}

/** Refuses an upgrade with an HTTP status and a JSON message. */
function reject(socket: Duplex, status: number, message: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${message}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ message })}`,
  );
}

// Upgrade: the $connect authorizer, then the $connect route, then the connection.

/** Authorizes, runs $connect and accepts the connection, or refuses the upgrade. */
async function upgrade(state: WsState, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const connectionId = newConnectionId();
  const authorizer = await authorize(state, req, url, connectionId);
  if (typeof authorizer === 'number') {
    reject(socket, authorizer, authorizer === 401 ? 'Unauthorized' : 'Forbidden');
    return;
  }
  const connection: Connection = {
    socket: undefined as unknown as WebSocket,
    connectedAt: Date.now(),
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    authorizer,
    lastActiveAt: Date.now(),
  };
  if (!(await runConnect(state, req, url, socket, connectionId, connection))) return;
  state.wss.handleUpgrade(req, socket, head, (ws) => accept(state, ws, connectionId, connection));
}

/** Returns the authorizer context, or a status to refuse the upgrade with. */
async function authorize(
  state: WsState,
  req: IncomingMessage,
  url: URL,
  connectionId: string,
): Promise<Record<string, unknown> | number> {
  const query = Object.fromEntries(url.searchParams);
  const event = {
    type: 'REQUEST',
    methodArn: `arn:aws:execute-api:local:000000000000:local/${localStage}/$connect`,
    headers: headersOf(req),
    queryStringParameters: query,
    stageVariables: {},
    requestContext: requestContext(state, connectionId, '$connect', 'CONNECT'),
  };
  try {
    const result = (await state.invoke(
      state.topology.wsAuthorizerFunction,
      event,
    )) as APIGatewayAuthorizerResult;
    const allowed = result.policyDocument.Statement.some((statement) => statement.Effect === 'Allow');
    if (!allowed) return 403;
    return { ...(result.context ?? {}), principalId: result.principalId };
  } catch (error) {
    if ((error as Error).message === 'Unauthorized') return 401;
    console.error('[ws] authorizer failed:', error);
    return 500;
  }
}

/** Runs the $connect route, if any: false when it refused (the upgrade is then refused too). */
async function runConnect(
  state: WsState,
  req: IncomingMessage,
  url: URL,
  socket: Duplex,
  connectionId: string,
  connection: Connection,
): Promise<boolean> {
  const connectFunction = state.routes.get('$connect');
  if (!connectFunction) return true;
  try {
    const result = (await state.invoke(connectFunction, {
      headers: headersOf(req),
      queryStringParameters: Object.fromEntries(url.searchParams),
      isBase64Encoded: false,
      requestContext: requestContext(state, connectionId, '$connect', 'CONNECT', connection),
    })) as { statusCode?: number } | undefined;
    const status = result?.statusCode ?? 200;
    if (status >= 300) {
      reject(socket, status, 'Forbidden');
      return false;
    }
    return true;
  } catch (error) {
    console.error('[ws] $connect failed:', error);
    reject(socket, 500, 'Internal Server Error');
    return false;
  }
}

/** Registers the upgraded socket: its frames are routed, its close runs $disconnect. */
function accept(state: WsState, ws: WebSocket, connectionId: string, connection: Connection): void {
  const live: Connection = { ...connection, socket: ws };
  state.connections.set(connectionId, live);
  ws.on('message', (data, isBinary) => {
    live.lastActiveAt = Date.now();
    routeFrame(
      state,
      connectionId,
      live,
      isBinary ? (data as Buffer).toString('base64') : data.toString(),
      isBinary,
    ).catch((error: unknown) => console.error('[ws] routing a frame failed:', error));
  });
  ws.on('close', () => {
    state.connections.delete(connectionId);
    const disconnect = state.routes.get('$disconnect');
    if (disconnect) {
      const running = state
        .invoke(disconnect, {
          isBase64Encoded: false,
          requestContext: requestContext(state, connectionId, '$disconnect', 'DISCONNECT', live),
        })
        .catch((error) => console.error('[ws] $disconnect failed:', error))
        .finally(() => state.disconnects.delete(running));
      state.disconnects.add(running);
    }
  });
}

// Frames: routed by `$request.body.action`, else `$default`.

async function routeFrame(
  state: WsState,
  connectionId: string,
  connection: Connection,
  body: string,
  isBinary: boolean,
): Promise<void> {
  let routeKey = '$default';
  if (!isBinary) {
    try {
      const action = (JSON.parse(body) as { action?: unknown }).action;
      if (typeof action === 'string' && state.routes.has(action)) routeKey = action;
    } catch {
      // Not JSON: API Gateway routes it to $default.
    }
  }
  const target = state.routes.get(routeKey);
  if (!target) {
    connection.socket.send(JSON.stringify({ message: 'Forbidden', connectionId, requestId: randomUUID() }));
    return;
  }
  try {
    await state.invoke(target, {
      body,
      isBase64Encoded: isBinary,
      requestContext: requestContext(state, connectionId, routeKey, 'MESSAGE', connection),
    });
  } catch (error) {
    console.error(`[ws] route ${routeKey} failed:`, error);
    connection.socket.send(
      JSON.stringify({ message: 'Internal server error', connectionId, requestId: randomUUID() }),
    );
  }
}

// The @connections management API: POST sends, GET describes, DELETE disconnects.

function gone(res: ServerResponse): void {
  res.writeHead(410, { 'content-type': 'application/json', 'x-amzn-errortype': 'GoneException' });
  res.end(JSON.stringify({ message: null }));
}

async function handleManagement(state: WsState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const match = url.pathname.match(new RegExp(`^/${localStage}/@connections/([^/]+)$`));
  if (!match) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'Not Found' }));
    return;
  }
  const connection = state.connections.get(decodeURIComponent(match[1]!));
  if (!connection || connection.socket.readyState !== WebSocket.OPEN) return gone(res);
  if (req.method === 'POST') {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    connection.socket.send(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200).end();
  } else if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        ConnectedAt: new Date(connection.connectedAt).toISOString(),
        Identity: { SourceIp: connection.sourceIp, UserAgent: '' },
        LastActiveAt: new Date(connection.lastActiveAt).toISOString(),
      }),
    );
  } else if (req.method === 'DELETE') {
    connection.socket.close(1000);
    res.writeHead(204).end();
  } else {
    res.writeHead(405).end();
  }
}
