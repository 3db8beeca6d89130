// Integration tests — the local WebSocket API over a real socket: the $connect authorizer, the connection
// registry in DynamoDB Local, `ping` → pong (+ update) through the @connections management API, $default, $disconnect.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { dynamo } from '#shared/clients';
import type { DevIssuer } from '../../infra/local/dev-issuer.ts';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

const root = resolve(import.meta.dirname, '../..');
let ns: TestNamespace;
let issuer: DevIssuer;
let runtime: LocalRuntime;

beforeAll(async () => {
  ns = await freshNamespace('ws');
  issuer = await loadTestIssuer(await mkdtemp(join(tmpdir(), 'vfleet-issuer-')));
  runtime = await startLocalRuntime({ root, issuer, services: ns.services, tablePrefix: `vfleet-${ns.id}` });
});

afterAll(async () => {
  await runtime?.stop();
  await ns?.dispose();
});

/** Opens a socket and resolves once open, or rejects with the HTTP status of a refused upgrade. */
function connect(query: string): Promise<WebSocket> {
  return new Promise((resolveOpen, reject) => {
    const socket = new WebSocket(`${runtime.wsUrl}/${query}`);
    socket.once('open', () => resolveOpen(socket));
    socket.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error('refused'), { status: res.statusCode })),
    );
    socket.once('error', reject);
  });
}

function nextMessage(socket: WebSocket): Promise<unknown> {
  return new Promise((resolveMessage) =>
    socket.once('message', (data) => resolveMessage(JSON.parse(data.toString()))),
  );
}

async function waitFor<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const connectionItem = (connectionId: string) =>
  dynamo()
    .send(new GetCommand({ TableName: runtime.env.TABLE_CONNECTIONS, Key: { connectionId } }))
    .then((result) => result.Item);

describe('$connect authorizer', () => {
  it('refuses a connection without a token or with a bad one with 401', async () => {
    await expect(connect('')).rejects.toMatchObject({ status: 401 });
    await expect(connect('?token=not-a-jwt')).rejects.toMatchObject({ status: 401 });
    const foreign = await (await loadTestIssuer(await mkdtemp(join(tmpdir(), 'vfleet-other-')))).mint([
      'admin',
    ]);
    await expect(connect(`?token=${foreign}`)).rejects.toMatchObject({ status: 401 });
  });
});

describe('an authorised connection', () => {
  it('is recorded with its roles, answers ping with pong, errors on unknown frames and is forgotten on close', async () => {
    const socket = await connect(`?token=${await issuer.mint(['viewer'], { subject: 'dash-1' })}`);

    // A viewer's ping is answered with pong and the dashboard's update, in one frame (shared/dashboard).
    const pong = nextMessage(socket);
    socket.send(JSON.stringify({ action: 'ping' }));
    expect(await pong).toMatchObject({
      type: 'batch',
      messages: [{ type: 'pong' }, { type: 'update', data: { metrics: {}, history: {} } }],
    });

    const unknown = nextMessage(socket);
    socket.send('hello');
    expect(await unknown).toMatchObject({ type: 'error', error: 'unknown_action' });

    const unrouted = nextMessage(socket);
    socket.send(JSON.stringify({ action: 'no-such-action' }));
    expect(await unrouted).toMatchObject({ type: 'error', error: 'unknown_action' });

    socket.close();
    await new Promise((r) => socket.once('close', r));
  });

  it('keeps a DynamoDB record for the life of the connection', async () => {
    const socket = await connect(`?token=${await issuer.mint(['operator'], { subject: 'ops-7' })}`);
    // The connection id is known only server-side, as in AWS: find the record by its subject.
    const scan = await dynamo().send(new ScanCommand({ TableName: runtime.env.TABLE_CONNECTIONS }));
    const mine = (scan.Items ?? []).filter((item) => item.subject === 'ops-7');
    expect(mine).toHaveLength(1);
    const record = mine[0]!;
    expect(record.roles).toEqual(['operator']);
    expect(record.expiresAt).toBeGreaterThan(Date.now() / 1000);

    socket.close();
    const after = await waitFor(
      () => connectionItem(record.connectionId as string),
      (item) => item === undefined,
    );
    expect(after).toBeUndefined();
  });
});
