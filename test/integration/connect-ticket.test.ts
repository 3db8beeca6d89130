// Integration tests — one-time connect tickets for node agents' control connections (#shared/realtime): in AWS
// an agent signs its node routes with its instance role, which a WebSocket $connect cannot carry, so it asks
// POST /api/v1/nodes/{id}/connect-ticket (here authenticated with a `node` token, as the local runtime does)
// and connects with the ticket. A ticket opens one connection, only for the node it was issued to, and not
// after it expired; a real agent given no token gets its control connection this way and runs a command.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { envNames } from '#shared/contracts';
import { type Agent, startAgent } from '../../agent/agent.ts';
import { type ReferenceCompute, startReferenceCompute } from '../../agent/reference-compute.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';

let harness: TestRuntime;
let operator: string;
let viewer: string;
let dir: string;
let db: DynamoDBDocumentClient;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  harness = await startTestRuntime('ticket', { env: { DASHBOARD_COMMAND_WAIT_SECONDS: '10' } });
  operator = await harness.issuer.mint(['operator'], { subject: 'otto' });
  viewer = await harness.issuer.mint(['viewer'], { subject: 'vera' });
  dir = await mkdtemp(join(tmpdir(), 'vfleet-ticket-'));
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: harness.runtime.env.AWS_ENDPOINT_URL_DYNAMODB }),
  );
}, 120_000);

afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  db?.destroy();
  await harness?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${harness.runtime.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const nodeToken = (nodeId: string) => harness.issuer.mint(['node'], { subject: nodeId });

async function ticketFor(nodeId: string): Promise<string> {
  const answer = await call('POST', `/api/v1/nodes/${nodeId}/connect-ticket`, await nodeToken(nodeId));
  expect(answer.status).toBe(201);
  return answer.body.ticket as string;
}

/** Opens a WebSocket with `credential` in the token's place: 'open', or the refused upgrade's status. */
function connect(credential: string): Promise<{ outcome: 'open'; socket: WebSocket } | { outcome: number }> {
  const socket = new WebSocket(`${harness.runtime.wsUrl}/?token=${encodeURIComponent(credential)}`);
  return new Promise((resolve) => {
    socket.once('open', () => {
      stops.push(async () => socket.terminate());
      resolve({ outcome: 'open', socket });
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve({ outcome: response.statusCode ?? 0 });
      socket.terminate();
    });
    socket.once('error', () => {});
  });
}

/** Polls `read` until `test` holds (the test's timeout bounds it). */
async function until<T>(read: () => Promise<T>, test: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (test(value)) return value;
    await sleep(20);
  }
}

describe('connect tickets', () => {
  it('are issued only to the node itself, and the stored record holds a hash, not the ticket', async () => {
    const ticket = await ticketFor('tk-1');
    expect(ticket).toMatch(/^ct_[A-Za-z0-9_-]{43}$/);

    const other = await call('POST', '/api/v1/nodes/tk-2/connect-ticket', await nodeToken('tk-1'));
    expect(other).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    const byViewer = await call('POST', '/api/v1/nodes/tk-1/connect-ticket', viewer);
    expect(byViewer.status).toBe(403);

    const table = harness.runtime.env[envNames.tableName('connect-tickets')];
    const { Items } = await db.send(new ScanCommand({ TableName: table }));
    expect(Items?.length).toBeGreaterThan(0);
    expect(JSON.stringify(Items)).not.toContain(ticket.slice(3));
    expect(Items?.every((item) => item.subject === 'tk-1' && item.roles[0] === 'node')).toBe(true);
  });

  it('open one connection as the node, and are refused when used again, forged or expired', async () => {
    const ticket = await ticketFor('tk-3');
    const first = await connect(ticket);
    expect(first.outcome).toBe('open');
    expect(await connect(ticket)).toEqual({ outcome: 401 });
    expect(await connect(`ct_${'A'.repeat(43)}`)).toEqual({ outcome: 401 });

    // Expired: the record is still in the table (TTL deletes lazily) but its time has passed.
    const late = await ticketFor('tk-3');
    const table = harness.runtime.env[envNames.tableName('connect-tickets')];
    const { Items } = await db.send(new ScanCommand({ TableName: table }));
    for (const item of Items ?? [])
      await db.send(
        new UpdateCommand({
          TableName: table,
          Key: { ticketHash: item.ticketHash },
          UpdateExpression: 'SET expiresAt = :past',
          ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 1 },
        }),
      );
    expect(await connect(late)).toEqual({ outcome: 401 });
  });

  it("give an agent without a token its control connection, through which an operator's command runs", async () => {
    const nodeId = 'tk-agent';
    const token = await nodeToken(nodeId);
    const compute: ReferenceCompute = await startReferenceCompute({ dir: join(dir, nodeId) });
    stops.push(() => compute.stop());
    // Authenticated as its reports are (a bearer token standing in for the instance role's signature), and
    // no `token` for the control connection: each connect asks for a ticket.
    const agent: Agent = await startAgent({
      nodeId,
      controlUrl: harness.runtime.httpUrl,
      authenticate: async () => ({ authorization: `Bearer ${token}` }),
      computeUrl: compute.url,
      heartbeatIntervalMs: 500,
      dashboard: {
        wsUrl: harness.runtime.wsUrl,
        services: { web: { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] } },
        seqFile: join(dir, `${nodeId}.seq`),
      },
    });
    stops.push(() => agent.stop());
    await agent.dashboard!.control!.whenConnected();
    await until(
      () => call('GET', '/api/dashboard/metrics', viewer),
      (answer) =>
        (answer.body.nodes as Record<string, { agent_connected?: boolean }>)[nodeId]?.agent_connected ===
        true,
    );
    const pid = agent.dashboard!.supervisor.pid('web');

    const restarted = await call('POST', '/api/dashboard/control-service', operator, {
      worker_id: nodeId,
      service_name: 'web',
      action: 'restart',
    });

    expect(restarted).toMatchObject({ status: 200, body: { success: true, result: { status: 'running' } } });
    expect(agent.dashboard!.supervisor.pid('web')).not.toBe(pid);
    // A dropped connection comes back with a new ticket (the first was used up).
    agent.dashboard!.control!.dropForTest();
    await until(
      async () => agent.dashboard!.control!.opened,
      (opened) => opened >= 2,
    );
    await agent.dashboard!.control!.whenConnected();
  });
});
