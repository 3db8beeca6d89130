// Integration tests — project placement over the local runtime, DynamoDB Local and real node agents (each in
// front of a reference compute service): one project per slot at peak, the 503 line with tickets, 413 by
// declared and by reported size, a paused or killed node's project moving after expiry with the old node
// refusing by token, a zombie drained, idle culling, reconciliation, and bad input. Timeouts are settings, so
// they are short here; the tests wait for states (polling), never assert a duration.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '#shared/contracts';
import { scanAll } from '#shared/placement';
import { signForward } from '#shared/placement/protocol';
import { createFileSecretStore } from '#shared/secrets';
import { type LocalFleet, startLocalFleet } from '../../agent/fleet.ts';
import { loadSigningKey } from '../../shared/placement/signing.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';

const limitBytes = 1024 * 1024;
const bigDeclared = Math.round(limitBytes * 4.6);
let harness: TestRuntime;
let viewer: string;
let operator: string;
let dir: string;
let db: DynamoDBDocumentClient;
let fleet: LocalFleet | undefined;
let fleets = 0;

beforeAll(async () => {
  harness = await startTestRuntime('placement', {
    env: {
      NODE_HEARTBEAT_TIMEOUT: '10',
      TICKET_HOLD_SECONDS: '5',
      PROJECT_IDLE_TIMEOUT: '3',
      PROJECT_DATA_LIMIT: String(limitBytes),
      PLACEMENT_FORWARD_TIMEOUT_MS: '8000',
      NODE_STALL_SECONDS: '8',
      NODE_SUSPECT_GRACE: '1',
    },
    // The tests run the janitor themselves, when the state they set up calls for it.
    scheduleOverrides: { 'placement-janitor': { everySeconds: 3_600 } },
  });
  viewer = await harness.issuer.mint(['viewer'], { subject: 'user-1' });
  operator = await harness.issuer.mint(['operator'], { subject: 'op-1' });
  dir = await mkdtemp(join(tmpdir(), 'vfleet-placement-'));
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: harness.runtime.env.AWS_ENDPOINT_URL_DYNAMODB }),
  );
}, 120_000);

afterEach(async () => {
  // Each test has its own nodes and line: the previous nodes are stopped and their registry entries aged past
  // the timeout (so no later test places a project on a node that is gone), and the line is emptied.
  if (!fleet) return;
  const ids = fleet.nodes.map((n) => n.agent.nodeId);
  await fleet.stop();
  fleet = undefined;
  for (const { ticketId } of await scanAll<{ ticketId: string }>(db, {
    TableName: table('placement-tickets'),
  }))
    await db.send(new DeleteCommand({ TableName: table('placement-tickets'), Key: { ticketId } }));
  for (const nodeId of ids) {
    await db.send(
      new UpdateCommand({
        TableName: table('placement-nodes'),
        Key: { nodeId },
        UpdateExpression: 'SET lastHeartbeatAt = :longAgo',
        ExpressionAttributeValues: { ':longAgo': 0 },
      }),
    );
  }
  // Their projects are released (as lost), so they hold no slot the next test would wait for.
  await runJanitor();
});

afterAll(async () => {
  await fleet?.stop();
  db?.destroy();
  await harness?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const table = (name: string) => harness.runtime.env[envNames.tableName(name)] as string;

async function startFleet(count: number, capacity: number, jobDeadlineMs?: number): Promise<LocalFleet> {
  fleets++;
  fleet = await startLocalFleet({
    count,
    capacity,
    prefix: `f${fleets}-n`,
    controlUrl: harness.runtime.httpUrl,
    tokenFor: (nodeId) => harness.issuer.mint(['node'], { subject: nodeId }),
    dir: join(dir, `fleet-${fleets}`),
    heartbeatIntervalMs: 1000,
    jobDeadlineMs,
  });
  const ids = fleet.nodes.map((n) => n.agent.nodeId);
  await until(
    async () => (await nodes()).filter((n) => ids.includes(n.id) && n.state === 'ready').length === count,
  );
  return fleet;
}

/** Polls `check` until it holds (a state to reach, not a time to meet). */
async function until(check: () => Promise<boolean>, what = 'the awaited state'): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`never reached ${what}`);
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

async function call(method: string, path: string, token: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${harness.runtime.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

const computeOn = (projectId: string, request: Record<string, unknown> = { dsl: `append ${projectId}` }) =>
  call('POST', `/api/v1/projects/${projectId}/compute`, viewer, request);

interface NodeView {
  readonly id: string;
  readonly state: string;
  readonly projects: { id: string; token: number }[];
}

async function nodes(): Promise<NodeView[]> {
  return (await call('GET', '/api/v1/nodes', viewer)).body.items as NodeView[];
}

const runJanitor = () => harness.runtime.invoke('placementJanitor', {}) as Promise<Record<string, unknown>>;

describe('placement at peak', () => {
  it('places 100 projects one per slot; the 101st waits in line with a ticket and is served first when a slot frees', async () => {
    const { nodes: fleetNodes } = await startFleet(10, 10);
    const projects = Array.from({ length: 100 }, (_, i) => `peak-${i}`);

    const answers = await Promise.all(projects.map((id) => computeOn(id)));

    // A refusal names its error code, so a failure says why (capacity, contention, a node's timeout).
    expect(answers.map((a) => (a.status === 200 ? 200 : `${a.status} ${String(a.body.error)}`))).toEqual(
      projects.map(() => 200),
    );
    const placed = (await nodes()).filter((n) => n.id.startsWith('f1-'));
    expect(placed.map((n) => n.projects.length)).toEqual(placed.map(() => 10));
    expect(new Set(placed.flatMap((n) => n.projects.map((p) => p.id))).size).toBe(100);
    // Seen at the agents: each project served by exactly one node.
    const servedBy = new Map<string, Set<string>>();
    for (const { agent } of fleetNodes)
      for (const s of agent.served)
        servedBy.set(s.projectId, (servedBy.get(s.projectId) ?? new Set()).add(agent.nodeId));
    expect([...servedBy.values()].every((set) => set.size === 1)).toBe(true);
    expect(servedBy.size).toBe(100);

    const first = await computeOn('late-1');
    const second = await computeOn('late-2');
    expect(first.status).toBe(503);
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(first.body).toMatchObject({
      error: 'capacity',
      activeProjects: 100,
      capacity: 100,
      position: 1,
      ticket: expect.any(String),
    });
    expect(first.body.retryAfterSeconds).toBe(Number(first.headers.get('retry-after')));
    expect(second.body).toMatchObject({ error: 'capacity', position: 2 });

    const released = await call('DELETE', '/api/v1/projects/peak-0/placement', operator);
    expect(released).toMatchObject({ status: 200, body: { placed: false } });
    // The second in line (and a newcomer) may not take the freed slot: it is held for the head of the line.
    const jumping = await computeOn('late-2', { dsl: 'append x', ticket: second.body.ticket });
    expect(jumping.body).toMatchObject({ error: 'capacity', position: 2 });
    expect((await computeOn('newcomer')).body).toMatchObject({ error: 'capacity', position: 3 });
    const head = await computeOn('late-1', { dsl: 'append x', ticket: first.body.ticket });
    expect(head.status).toBe(200);
    const after = await computeOn('late-2', { dsl: 'append x', ticket: second.body.ticket });
    expect(after.body).toMatchObject({ error: 'capacity', position: 1 });
  }, 120_000);

  it('tells a waiting caller to come back soon when a node is still joining', async () => {
    const started = await startFleet(1, 1);
    expect((await computeOn('joining-a')).status).toBe(200);
    const joining = await started.add({ startupMs: 60_000 });
    await until(async () =>
      (await nodes()).some((n) => n.id === joining.agent.nodeId && n.state === 'joining'),
    );
    const waiting = await computeOn('joining-b');
    expect(waiting.body).toMatchObject({ error: 'capacity', retryAfterSeconds: 1 });
  }, 60_000);
});

describe('long work and the line', () => {
  it('answers 202 with a job for work longer than the agent deadline, and the result when polled', async () => {
    await startFleet(1, 1, 300);
    const started = await computeOn('long-work', { dsl: 'sleep 1500' });
    expect(started).toMatchObject({ status: 202, body: { job: expect.any(String), status: 'running' } });
    let polled: Answer = started;
    await until(async () => {
      polled = await computeOn('long-work', { job: started.body.job });
      return polled.status !== 202;
    }, 'the job to finish');
    expect(polled).toMatchObject({ status: 200, body: { project: 'long-work', requests: 1 } });
  }, 60_000);

  it('lets a ticket lapse when it is not renewed, and the next in line moves up', async () => {
    await startFleet(1, 1);
    expect((await computeOn('line-held')).status).toBe(200);
    const first = await computeOn('line-a');
    const second = await computeOn('line-b');
    expect([first.body.position, second.body.position]).toEqual([1, 2]);
    // line-b keeps renewing; line-a does not come back within TICKET_HOLD_SECONDS.
    await sleep(3_000);
    expect((await computeOn('line-b', { dsl: 'append x', ticket: second.body.ticket })).body).toMatchObject({
      position: 2,
    });
    await sleep(2_500);
    expect((await computeOn('line-b', { dsl: 'append x', ticket: second.body.ticket })).body).toMatchObject({
      error: 'capacity',
      position: 1,
      ticket: second.body.ticket,
    });
    // line-a's lapsed ticket no longer holds a place: it rejoins at the end.
    expect((await computeOn('line-a', { dsl: 'append x', ticket: first.body.ticket })).body).toMatchObject({
      position: 2,
    });
  }, 60_000);
});

describe('data limit', () => {
  it('answers 413 for a declared size over the limit before any node is asked', async () => {
    const { nodes: fleetNodes } = await startFleet(1, 1);
    const answer = await computeOn('big-declared', { dsl: 'append x', dataSizeBytes: bigDeclared });
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({
      error: 'project_too_large',
      sizeBytes: bigDeclared,
      limitBytes,
    });
    expect(answer.body.message).toMatch(/^Project big-declared holds 4\.6 MiB; the limit is 1 MiB\./);
    expect(fleetNodes[0]?.agent.served).toEqual([]);
  }, 60_000);

  it('stops a project that grows past the limit at its agent, and answers 413 by the reported size', async () => {
    const { nodes: fleetNodes } = await startFleet(1, 1);
    const agent = fleetNodes[0]?.agent;
    expect((await computeOn('grows', { dsl: `grow ${limitBytes * 2}` })).status).toBe(200);
    await agent?.beat(); // reports the size, stops the project
    await agent?.beat(); // the control plane has released it
    const answer = await computeOn('grows');
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ error: 'project_too_large', limitBytes });
    expect(answer.body.sizeBytes as number).toBeGreaterThan(limitBytes);
    expect(agent?.holding()).toEqual({});
    // The slot is free for others.
    expect((await computeOn('small')).status).toBe(200);
  }, 60_000);
});

describe('lost nodes', () => {
  it("moves a paused node's project after expiry, and the old node refuses the old token", async () => {
    const { nodes: fleetNodes } = await startFleet(2, 1);
    const first = await computeOn('moving');
    expect(first.status).toBe(200);
    const oldId = first.headers.get('x-vfleet-node') as string;
    const old = fleetNodes.find((n) => n.agent.nodeId === oldId)?.agent;
    old?.pause();
    await until(async () => (await nodes()).some((n) => n.id === oldId && n.state === 'expired'));

    const moved = await computeOn('moving');
    expect(moved.status).toBe(200);
    expect(moved.headers.get('x-vfleet-node')).not.toBe(oldId);
    expect(Number(moved.headers.get('x-vfleet-token'))).toBeGreaterThan(
      Number(first.headers.get('x-vfleet-token')),
    );

    // A late request under the old token, signed by the control plane's own key (a control-plane instance
    // that paused after reading the old placement): refused while unconfirmed, and by token once told.
    const key = await loadSigningKey(
      createFileSecretStore(harness.runtime.env.SECRET_STORE?.slice(5) as string),
    );
    const late = async () => {
      const body = JSON.stringify({ dsl: 'append late' });
      const claim = {
        nodeId: oldId,
        projectId: 'moving',
        token: Number(first.headers.get('x-vfleet-token')),
        validUntil: Date.now() + 5_000,
      };
      const response = await fetch(`${old?.url}/compute`, {
        method: 'POST',
        headers: { ...signForward(claim, body, key.privateKey), 'content-type': 'application/json' },
        body,
      });
      return { status: response.status, body: (await response.json()) as { error: string } };
    };
    expect(await late()).toMatchObject({ status: 409, body: { error: 'unconfirmed' } });
    old?.resume();
    await old?.beat();
    expect(await late()).toMatchObject({ status: 409, body: { error: 'stale_token' } });
    expect(old?.served.filter((s) => s.projectId === 'moving')).toHaveLength(1);
  }, 60_000);

  it("keeps a killed node's project until expiry (a failed forward does not reassign), then moves it", async () => {
    const { nodes: fleetNodes } = await startFleet(2, 1);
    const first = await computeOn('killed');
    const oldId = first.headers.get('x-vfleet-node') as string;
    await fleetNodes.find((n) => n.agent.nodeId === oldId)?.agent.stop();
    const failed = await computeOn('killed');
    // Unless it expired already, the forward fails and the project stays (502); after expiry it moves.
    if (failed.status !== 200) expect(failed.body).toMatchObject({ error: 'node_unreachable' });
    await until(async () => (await nodes()).some((n) => n.id === oldId && n.state === 'expired'));
    const moved = await computeOn('killed');
    expect(moved.status).toBe(200);
    expect(moved.headers.get('x-vfleet-node')).not.toBe(oldId);
  }, 60_000);

  it('drains a zombie: heartbeats with pending work and no progress make it suspect, and its project moves', async () => {
    const { nodes: fleetNodes } = await startFleet(2, 1);
    const first = await computeOn('zombie-work');
    const zombieId = first.headers.get('x-vfleet-node') as string;
    const zombie = fleetNodes.find((n) => n.agent.nodeId === zombieId);
    zombie?.compute.hang(true);
    const stuck = await computeOn('zombie-work');
    expect(stuck).toMatchObject({ status: 504, body: { error: 'node_timeout' } });
    await until(async () => (await nodes()).some((n) => n.id === zombieId && n.state === 'suspect'));

    // After the grace, the janitor takes its project off it; the next request finds it a healthy node.
    const other = fleetNodes.find((n) => n.agent.nodeId !== zombieId)?.agent.nodeId;
    await sleep(1_100);
    const report = await runJanitor();
    expect((report.released as { lostNode: string[] }).lostNode).toContain('zombie-work');
    const moved = await computeOn('zombie-work');
    expect(moved.status).toBe(200);
    expect(moved.headers.get('x-vfleet-node')).toBe(other);
    // The zombie has a free slot again, yet takes no new project.
    expect(await computeOn('zombie-other')).toMatchObject({ status: 503, body: { error: 'capacity' } });
    zombie?.compute.hang(false);
  }, 60_000);
});

describe('janitor', () => {
  it('culls idle projects', async () => {
    await startFleet(1, 2);
    expect((await computeOn('idle')).status).toBe(200);
    await until(async () => {
      const report = await runJanitor();
      return (report.released as { idle: string[] }).idle.includes('idle');
    }, 'idle culling');
    const placement = await call('GET', '/api/v1/projects/idle/placement', viewer);
    expect(placement.body).toMatchObject({ placed: false });
    expect((await nodes()).find((n) => n.id.endsWith('-n1') && n.state !== 'expired')?.projects).toEqual([]);
  }, 60_000);

  it('reconciles the placement table and the agents when they disagree', async () => {
    const { nodes: fleetNodes } = await startFleet(2, 2);
    for (const id of ['rec-a', 'rec-b', 'rec-c']) expect((await computeOn(id)).status).toBe(200);
    const holderOf = async (id: string) =>
      (await nodes()).find((n) => n.projects.some((p) => p.id === id))?.id as string;
    const holderA = await holderOf('rec-a');
    const holderB = await holderOf('rec-b');
    // The table forgets rec-a (the agent still runs it); rec-b points at a node that does not exist.
    await db.send(new DeleteCommand({ TableName: table('placement-projects'), Key: { projectId: 'rec-a' } }));
    await db.send(
      new UpdateCommand({
        TableName: table('placement-projects'),
        Key: { projectId: 'rec-b' },
        UpdateExpression: 'SET nodeId = :ghost',
        ExpressionAttributeValues: { ':ghost': 'ghost-node' },
      }),
    );

    const report = await runJanitor();

    expect(report.released).toMatchObject({ orphaned: ['rec-b'] });
    expect((report.strayAssignments as string[]).sort()).toEqual(
      [`${holderA}/rec-a`, `${holderB}/rec-b`].sort(),
    );
    for (const { agent } of fleetNodes) await agent.beat();
    const held = fleetNodes.flatMap(({ agent }) => Object.keys(agent.holding()));
    expect(held).toEqual(['rec-c']);
    const listed = (await nodes())
      .filter((n) => n.state !== 'expired')
      .flatMap((n) => n.projects.map((p) => p.id));
    expect(listed).toEqual(['rec-c']);
    expect((await computeOn('rec-b')).status).toBe(200);
  }, 60_000);
});

describe('bad input and identity', () => {
  it('answers 400 with field errors for bad ids and bodies', async () => {
    expect(await computeOn('Bad Id!')).toMatchObject({
      status: 400,
      body: { fields: { id: expect.any(String) } },
    });
    expect(await computeOn('ok', { dsl: 42 })).toMatchObject({
      status: 400,
      body: { fields: { dsl: expect.any(String) } },
    });
    expect(await computeOn('ok', { dsl: 'x', dataSizeBytes: -1 })).toMatchObject({ status: 400 });
    const node = await harness.issuer.mint(['node'], { subject: 'node-a' });
    const bad = await call('POST', '/api/v1/nodes/node-a/heartbeat', node, {
      address: 'not a url',
      progress: -1,
    });
    expect(bad).toMatchObject({
      status: 400,
      body: { fields: { address: expect.any(String), progress: expect.any(String) } },
    });
  });

  it('refuses a node token that speaks for another node (403)', async () => {
    const node = await harness.issuer.mint(['node'], { subject: 'node-a' });
    const beat = { address: 'http://127.0.0.1:9', agentVersion: 't', progress: 0 };
    expect(await call('POST', '/api/v1/nodes/node-b/heartbeat', node, beat)).toMatchObject({
      status: 403,
      body: { error: 'forbidden' },
    });
    expect(await call('POST', '/api/v1/nodes/node-b/heartbeat', viewer, beat)).toMatchObject({ status: 403 });
  });

  it('registers a node by its heartbeat and shows its address to admins only', async () => {
    const node = await harness.issuer.mint(['node'], { subject: 'node-z' });
    const beat = { address: 'http://127.0.0.1:9', agentVersion: 't', progress: 0, capacity: 2, ready: false };
    const answered = await call('POST', '/api/v1/nodes/node-z/heartbeat', node, beat);
    expect(answered).toMatchObject({
      status: 200,
      body: { nodeId: 'node-z', state: 'joining', assignments: [], revoked: [], heartbeatTimeoutSeconds: 10 },
    });
    expect(answered.body.signingKey).toMatch(/BEGIN PUBLIC KEY/);
    const admin = await harness.issuer.mint(['admin'], { subject: 'admin-1' });
    const seen = async (token: string) =>
      ((await call('GET', '/api/v1/nodes', token)).body.items as Record<string, unknown>[]).find(
        (n) => n.id === 'node-z',
      );
    expect(await seen(viewer)).not.toHaveProperty('address');
    expect(await seen(admin)).toMatchObject({ address: 'http://127.0.0.1:9', capacity: 2, state: 'joining' });
  });
});
