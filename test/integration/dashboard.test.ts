// Integration tests — the dashboard back end over the local runtime (real Redis, DynamoDB Local, the local
// WebSocket API): agents' ingest and role checks, the 100-point history ring, log filters and cursors, the
// WebSocket protocol (initial, ping → pong + update, new_logs by filter, resume from a cursor without gaps),
// service and reporter control round trips through a test double of the agent with a real process
// supervisor, the audit trail, and the 202 when the agent does not answer in time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';
import { Supervisor, TestAgent } from './dashboard-agent.ts';
import { DashboardClient, type Message } from './dashboard-client.ts';

// Read once by the control function: a short wait, so the 202 case is quick.
process.env.DASHBOARD_COMMAND_WAIT_SECONDS = '3';

let harness: TestRuntime;
let viewer: string;
let operator: string;
const agents: TestAgent[] = [];
const clients: DashboardClient[] = [];

beforeAll(async () => {
  harness = await startTestRuntime('dash');
  viewer = await harness.issuer.mint(['viewer'], { subject: 'alice' });
  operator = await harness.issuer.mint(['operator'], { subject: 'olga' });
});

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const agent of agents) {
    await agent.disconnect();
    await agent.supervisor.stopAll();
  }
  await harness?.stop();
});

const idle = ['node', '-e', 'setInterval(() => {}, 1000)'];

async function agent(
  nodeId: string,
  options: { silent?: boolean; connect?: boolean } = {},
): Promise<TestAgent> {
  const created = new TestAgent({
    nodeId,
    token: await harness.issuer.mint(['node'], { subject: nodeId }),
    httpUrl: harness.runtime.httpUrl,
    wsUrl: harness.runtime.wsUrl,
    supervisor: new Supervisor({ web: idle, worker: idle }),
    silent: options.silent,
  });
  agents.push(created);
  if (options.connect !== false) await created.connect();
  return created;
}

async function client(token = viewer): Promise<DashboardClient> {
  const created = new DashboardClient(harness.runtime.wsUrl, token);
  clients.push(created);
  await created.connect();
  return created;
}

async function call(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${harness.runtime.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

describe('ingest and history', () => {
  it('keeps the last 100 points per node, oldest first, and shows the node online with its latest report', async () => {
    const node = await agent('hist-1', { connect: false });
    for (let i = 0; i < 105; i++) await node.report({ cpu: i % 100 });
    const history = await call('GET', '/api/dashboard/history/hist-1', viewer);
    expect(history.status).toBe(200);
    const points = history.body.history as { cpu_percent: number }[];
    expect(points).toHaveLength(100);
    expect(points[0]!.cpu_percent).toBe(5);
    expect(points.at(-1)!.cpu_percent).toBe(4); // the 105th report: 104 % 100
    const limited = await call('GET', '/api/dashboard/history/hist-1?limit=3', viewer);
    expect((limited.body.history as { cpu_percent: number }[]).map((p) => p.cpu_percent)).toEqual([2, 3, 4]);

    const metrics = await call('GET', '/api/dashboard/metrics', viewer);
    const view = (metrics.body.nodes as Record<string, Record<string, unknown>>)['hist-1']!;
    expect(view).toMatchObject({ status: 'online', agent_connected: false });
    expect(view.metrics).toMatchObject({ cpu_percent: 4, services: { web: 'stopped', worker: 'stopped' } });

    expect((await call('DELETE', '/api/dashboard/history/hist-1', viewer)).status).toBe(403);
    expect((await call('DELETE', '/api/dashboard/history/hist-1', operator)).status).toBe(204);
    expect((await call('GET', '/api/dashboard/history/hist-1', viewer)).body.history).toEqual([]);
    expect((await call('GET', '/api/dashboard/history/never-seen', viewer)).status).toBe(404);
  });

  it('suggests a long interval to a stable node and a short one to a moving node', async () => {
    const stable = await agent('steady-1', { connect: false });
    let answer: Record<string, unknown> = {};
    for (let i = 0; i < 5; i++) answer = await stable.report({ cpu: 12 });
    expect(answer.suggested_interval_seconds).toBe(300);
    const moving = await agent('busy-1', { connect: false });
    for (const cpu of [10, 60, 15, 80]) answer = await moving.report({ cpu });
    expect(answer.suggested_interval_seconds).toBe(30);
  });

  it('counts workers and services in the stats', async () => {
    const stats = await call('GET', '/api/dashboard/stats', viewer);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({
      active_workers: expect.any(Number),
      total_services: expect.any(Number),
    });
    expect(stats.body.active_workers as number).toBeGreaterThanOrEqual(3);
    expect(stats.body.uptime_seconds).toBeGreaterThanOrEqual(0);
  });
});

describe('role checks', () => {
  it('lets a node speak only for itself, and keeps nodes out of the dashboard and viewers out of control', async () => {
    const nodeA = await harness.issuer.mint(['node'], { subject: 'role-a' });
    const report = {
      logs: [{ seq: 1, timestamp: new Date().toISOString(), level: 'INFO', logger_name: 'x', message: 'm' }],
    };
    expect((await call('POST', '/api/v1/nodes/role-b/logs', nodeA, report)).status).toBe(403);
    expect((await call('POST', '/api/v1/nodes/role-a/logs', nodeA, report)).status).toBe(200);
    expect((await call('POST', '/api/v1/nodes/role-a/logs', viewer, report)).status).toBe(403);
    expect((await call('GET', '/api/dashboard/metrics', nodeA)).status).toBe(403);
    expect((await call('GET', '/api/dashboard/logs', nodeA)).status).toBe(403);
    const control = { worker_id: 'role-a', service_name: 'web', action: 'stop' };
    expect((await call('POST', '/api/dashboard/control-service', viewer, control)).status).toBe(403);
    expect((await call('POST', '/api/dashboard/control-service', nodeA, control)).status).toBe(403);

    // Over the WebSocket: a node cannot subscribe; a viewer cannot acknowledge a command.
    const asNode = await client(nodeA);
    const refusal = asNode.nextOfType('error');
    asNode.send({ action: 'subscribe', filters: {} });
    expect(await refusal).toMatchObject({ error: 'forbidden' });
    const asViewer = await client();
    const ackRefusal = asViewer.nextOfType('error');
    asViewer.send({ action: 'service_ack', command_id: 'cmd-x', ok: true });
    expect(await ackRefusal).toMatchObject({ error: 'forbidden' });
  });
});

describe('logs: filters and cursors', () => {
  it('filters by node, level, logger and text, drops duplicates by sequence, and pages by cursor without gaps', async () => {
    const a = await agent('logs-a', { connect: false });
    const b = await agent('logs-b', { connect: false });
    const first = await a.log([
      { level: 'INFO', logger: 'Service.web', message: 'started web' },
      { level: 'ERROR', logger: 'Service.web', message: 'disk full' },
      { level: 'INFO', logger: 'Service.worker', message: 'job 1 done' },
    ]);
    expect(first).toMatchObject({ stored: 3, duplicates: 0, last_seq: 3 });
    await b.log([
      { level: 'WARNING', logger: 'Service.db', message: 'slow query' },
      { level: 'ERROR', logger: 'Service.db', message: 'Disk FULL on /var' },
    ]);
    // A retry of lines already stored is dropped by sequence number.
    expect(await a.resend(first.sent)).toEqual({ stored: 0, duplicates: 3, last_seq: 3 });

    const messages = async (query: string) =>
      ((await call('GET', `/api/dashboard/logs?${query}`, viewer)).body.logs as { message: string }[]).map(
        (line) => line.message,
      );
    expect(await messages('node=logs-a')).toEqual(['started web', 'disk full', 'job 1 done']);
    expect(await messages('node=logs-a&level=ERROR')).toEqual(['disk full']);
    expect(await messages('logger=Service.db')).toEqual(['slow query', 'Disk FULL on /var']);
    expect((await messages('q=disk%20full')).sort()).toEqual(['Disk FULL on /var', 'disk full']);
    expect((await call('GET', '/api/dashboard/logs?level=LOUD', viewer)).status).toBe(400);
    const badCursor = await call('GET', '/api/dashboard/logs?cursor=not-a-cursor', viewer);
    expect(badCursor).toMatchObject({ status: 400, body: { fields: { cursor: expect.any(String) } } });

    // A cursor from "now", then 25 more lines over two nodes, read back 4 at a time.
    const now = await call('GET', '/api/dashboard/logs?node=logs-a&limit=1', viewer);
    let cursor = now.body.cursor as string;
    for (let i = 0; i < 25; i++) await a.log([{ message: `line ${i}` }]);
    const read: string[] = [];
    for (let page = 0; page < 20; page++) {
      const answer = await call('GET', `/api/dashboard/logs?node=logs-a&limit=4&cursor=${cursor}`, viewer);
      const lines = (answer.body.logs as { message: string }[]).map((line) => line.message);
      cursor = answer.body.cursor as string;
      if (lines.length === 0) break;
      read.push(...lines);
    }
    expect(read).toEqual(Array.from({ length: 25 }, (_, i) => `line ${i}`));
  });
});

describe('logs: paging back', () => {
  type Line = { node_id: string; seq: number; level: string; message: string; timestamp: string };
  const enc = (cursor: Record<string, number>) => Buffer.from(JSON.stringify(cursor)).toString('base64url');

  /** Pages back with `before` from the newest lines until `more` is false; the pages, newest page first. */
  async function pageBack(query: string, limit: number): Promise<Line[][]> {
    const pages: Line[][] = [];
    let before = enc({});
    for (;;) {
      const answer = await call(
        'GET',
        `/api/dashboard/logs?${query}&limit=${limit}&before=${before}`,
        viewer,
      );
      expect(answer.status).toBe(200);
      pages.push(answer.body.logs as Line[]);
      before = answer.body.before as string;
      if (!answer.body.more) return pages;
    }
  }

  it('reads older lines by the before cursor, node by node, with the filters and search, without gaps or repeats', async () => {
    const a = await agent('back-a', { connect: false });
    const b = await agent('back-b', { connect: false });
    // Interleaved in time: 30 lines of a, 20 of b; every third an ERROR.
    for (let i = 1; i <= 30; i++) {
      await a.log([{ level: i % 3 === 0 ? 'ERROR' : 'INFO', message: `backpage a${i}` }]);
      if (i <= 20) await b.log([{ level: i % 3 === 0 ? 'ERROR' : 'INFO', message: `backpage b${i}` }]);
    }
    const byNode = (lines: Line[], node: string) => lines.filter((l) => l.node_id === node).map((l) => l.seq);

    const pages = await pageBack('q=backpage', 7);
    const all = pages.toReversed().flat();
    // Each page is older than the one before it, and together they are every line once, in time order.
    expect(all.map((l) => l.message)).toEqual(
      [...all]
        .sort((x, y) => (x.timestamp < y.timestamp ? -1 : x.timestamp > y.timestamp ? 1 : 0))
        .map((l) => l.message),
    );
    expect(byNode(all, 'back-a')).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(byNode(all, 'back-b')).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(pages.slice(0, -1).every((page) => page.length === 7)).toBe(true);
    // The first page back is the newest lines.
    expect(pages[0]!.at(-1)!.message).toBe('backpage a30');

    // Under a level filter, for one node, from a position the client holds (below its seq 25).
    const errors = (
      await call(
        'GET',
        `/api/dashboard/logs?node=back-a&level=ERROR&limit=3&before=${enc({ 'back-a': 25 })}`,
        viewer,
      )
    ).body;
    expect((errors.logs as Line[]).map((l) => l.message)).toEqual([
      'backpage a18',
      'backpage a21',
      'backpage a24',
    ]);
    expect(errors.more).toBe(true);
    const rest = (
      await call(
        'GET',
        `/api/dashboard/logs?node=back-a&level=ERROR&limit=100&before=${errors.before}`,
        viewer,
      )
    ).body;
    expect((rest.logs as Line[]).map((l) => l.message)).toEqual(
      [3, 6, 9, 12, 15].map((i) => `backpage a${i}`),
    );
    expect(rest.more).toBe(false);

    expect(await call('GET', `/api/dashboard/logs?before=not-a-cursor`, viewer)).toMatchObject({
      status: 400,
      body: { fields: { before: expect.any(String) } },
    });
    expect(
      (await call('GET', `/api/dashboard/logs?before=${enc({})}&cursor=${enc({})}`, viewer)).status,
    ).toBe(400);
  });
});

describe('the WebSocket protocol', () => {
  it('answers subscribe with initial, ping with pong and update, and pushes only the lines a filter matches', async () => {
    const node = await agent('ws-1');
    await node.report({ cpu: 33 });
    const all = await client();
    const errorsOnly = await client();
    const initial = await all.subscribe();
    const data = initial.data as Record<string, unknown>;
    expect(data.metrics).toHaveProperty('ws-1');
    expect(data.log_sources).toMatchObject({ log_levels: ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] });
    await errorsOnly.subscribe({ node: 'ws-1', level: 'ERROR' });

    const allGot = all.next((m) => m.type === 'new_logs' && m.node_id === 'ws-1');
    const errorsGot = errorsOnly.nextOfType('new_logs');
    await node.log([
      { level: 'INFO', message: 'hello' },
      { level: 'ERROR', message: 'boom' },
    ]);
    expect(((await allGot).logs as { message: string }[]).map((l) => l.message)).toEqual(['hello', 'boom']);
    const errors = await errorsGot;
    expect((errors.logs as { message: string; seq: number }[]).map((l) => l.message)).toEqual(['boom']);
    expect(errors.cursor).toEqual({ 'ws-1': 2 });

    const pong = all.nextOfType('pong');
    const update = all.nextOfType('update');
    all.send({ action: 'ping', history: 5 });
    await pong;
    const updateData = (await update).data as {
      metrics: Record<string, unknown>;
      history: Record<string, unknown[]>;
    };
    expect(updateData.metrics['ws-1']).toMatchObject({ status: 'online' });
    expect(updateData.history['ws-1']).toHaveLength(1);
    // The seed's bare-text ping works too.
    const barePong = all.nextOfType('pong');
    all.send('ping');
    await barePong;
  });

  it('resumes a reconnecting client from its cursor: every line once, none missed', async () => {
    const node = await agent('resume-1', { connect: false });
    const first = await client();
    await first.subscribe({ node: 'resume-1' });
    await node.log([{ message: 'a1' }, { message: 'a2' }]);
    await first.waitForLines(2);
    const cursor = first.resumeCursor();
    await first.close();

    // Lines shipped while no client was connected.
    for (let i = 0; i < 5; i++) await node.log([{ message: `gap ${i}` }]);
    const second = await client();
    for (const [nodeId, seq] of first.seen) second.seen.set(nodeId, seq);
    const resumed = await second.subscribe({ node: 'resume-1' }, cursor);
    expect((resumed.data as { logs_complete: boolean }).logs_complete).toBe(true);
    await node.log([{ message: 'live' }]);
    await second.waitForLines(6);
    expect(second.lines.map((line) => line.message)).toEqual([
      'gap 0',
      'gap 1',
      'gap 2',
      'gap 3',
      'gap 4',
      'live',
    ]);
    expect(second.lines.map((line) => line.seq)).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('pushes node_status when an agent connects and disconnects', async () => {
    const node = await agent('status-1', { connect: false });
    await node.report();
    const watcher = await client();
    await watcher.subscribe({ node: 'status-1' });
    const connected = watcher.next((m) => m.type === 'node_status' && m.agent_connected === true);
    await node.connect();
    expect(await connected).toMatchObject({ node_id: 'status-1', status: 'online' });
    const disconnected = watcher.next((m) => m.type === 'node_status' && m.agent_connected === false);
    await node.disconnect();
    expect(await disconnected).toMatchObject({ node_id: 'status-1' });
  });
});

describe('service control through the agent', () => {
  it('starts, stops and restarts a supervised service, tells the dashboards, and keeps an audit trail', async () => {
    const node = await agent('svc-1');
    await node.report();
    const watcher = await client();
    await watcher.subscribe({ node: 'svc-1' });
    const control = (service_name: string, action: string) =>
      call('POST', '/api/dashboard/control-service', operator, { worker_id: 'svc-1', service_name, action });

    const result = watcher.nextOfType('service_result');
    const started = await control('web', 'start');
    expect(started).toMatchObject({ status: 200, body: { success: true, result: { status: 'running' } } });
    expect(node.supervisor.state('web')).toBe('running');
    expect(await result).toMatchObject({
      node_id: 'svc-1',
      service_name: 'web',
      action: 'start',
      success: true,
    });

    const pid = node.supervisor.pid('web');
    expect((await control('web', 'restart')).body).toMatchObject({
      success: true,
      result: { status: 'running' },
    });
    expect(node.supervisor.pid('web')).not.toBe(pid);
    expect((await control('web', 'stop')).body).toMatchObject({
      success: true,
      result: { status: 'stopped' },
    });
    expect(node.supervisor.state('web')).toBe('stopped');

    expect(await control('no-such-service', 'start')).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });
    const unknownNode = await call('POST', '/api/dashboard/control-service', operator, {
      worker_id: 'nobody',
      service_name: 'web',
      action: 'start',
    });
    expect(unknownNode.status).toBe(404);

    const trail = await call('GET', '/api/dashboard/nodes/svc-1/commands', operator);
    expect(trail.status).toBe(200);
    expect(
      (trail.body.commands as Record<string, unknown>[]).map((c) => [c.action, c.status, c.requested_by]),
    ).toEqual([
      ['stop', 'succeeded', 'olga'],
      ['restart', 'succeeded', 'olga'],
      ['start', 'succeeded', 'olga'],
    ]);
    expect((await call('GET', '/api/dashboard/nodes/svc-1/commands', viewer)).status).toBe(403);
  });

  it('answers 409 for a node whose agent is offline', async () => {
    const node = await agent('svc-off');
    await node.report();
    await node.disconnect();
    // $disconnect runs after the close: wait until the dashboard shows the agent gone.
    for (;;) {
      const view = await call('GET', '/api/dashboard/metrics', viewer);
      if (!(view.body.nodes as Record<string, { agent_connected: boolean }>)['svc-off']!.agent_connected)
        break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const answer = await call('POST', '/api/dashboard/control-service', operator, {
      worker_id: 'svc-off',
      service_name: 'web',
      action: 'start',
    });
    expect(answer).toMatchObject({ status: 409, body: { error: 'conflict' } });
  });

  it('answers 202 with the command id when the agent does not acknowledge in time, and records the late result', async () => {
    const node = await agent('svc-slow', { silent: true });
    await node.report();
    const answer = await call('POST', '/api/dashboard/control-service', operator, {
      worker_id: 'svc-slow',
      service_name: 'worker',
      action: 'start',
    });
    expect(answer).toMatchObject({
      status: 202,
      body: { status: 'pending', command_id: expect.any(String) },
    });
    const command = node.commands.find((c) => c.type === 'service_command')!;
    expect(command).toMatchObject({ command_id: answer.body.command_id, service: 'worker', action: 'start' });

    const watcher = await client();
    await watcher.subscribe({ node: 'svc-slow' });
    const result = watcher.nextOfType('service_result');
    node.send({ action: 'service_ack', command_id: command.command_id, ok: true, status: 'running' });
    expect(await result).toMatchObject({ command_id: command.command_id, status: 'succeeded' });
    const trail = await call('GET', '/api/dashboard/nodes/svc-slow/commands', operator);
    expect((trail.body.commands as Record<string, unknown>[])[0]).toMatchObject({ status: 'succeeded' });
  });

  it("refuses a node's acknowledgement of another node's command", async () => {
    const slow = await agent('svc-owner', { silent: true });
    await slow.report();
    const pending = await call('POST', '/api/dashboard/control-service', operator, {
      worker_id: 'svc-owner',
      service_name: 'web',
      action: 'start',
    });
    const intruder = await agent('svc-intruder');
    const refused = new Promise<Message>((resolve) =>
      intruder.socket!.once('message', (data) => resolve(JSON.parse(data.toString()))),
    );
    intruder.send({
      action: 'service_ack',
      command_id: pending.body.command_id,
      ok: true,
      status: 'running',
    });
    expect(await refused).toMatchObject({ type: 'error', error: 'not_found' });
    const trail = await call('GET', '/api/dashboard/nodes/svc-owner/commands', operator);
    expect((trail.body.commands as Record<string, unknown>[])[0]).toMatchObject({ status: 'pending' });
  });
});

describe('reporter control', () => {
  it('relays stop, start, report_now and set_interval to the agent and shows its statistics', async () => {
    const node = await agent('rep-1');
    await node.report();
    const control = (body: Record<string, unknown>) =>
      call('POST', '/api/dashboard/nodes/rep-1/reporter', operator, body);

    expect((await control({ action: 'stop' })).body).toMatchObject({
      success: true,
      result: { reporter: { active: false } },
    });
    expect((await control({ action: 'start' })).body).toMatchObject({
      result: { reporter: { active: true } },
    });
    const reportsBefore = node.reporter.total_reports;
    expect((await control({ action: 'report_now' })).status).toBe(200);
    expect(node.reporter.total_reports).toBe(reportsBefore + 1);
    expect((await control({ action: 'set_interval', interval_seconds: 120 })).body).toMatchObject({
      result: { reporter: { current_interval_seconds: 120 } },
    });
    expect((await control({ action: 'set_interval' })).status).toBe(400);
    expect((await control({ action: 'set_interval', interval_seconds: 10 })).status).toBe(400);

    // The operator's interval overrides the suggestion; GET shows the last reported statistics.
    expect((await node.report()).suggested_interval_seconds).toBe(120);
    const view = await call('GET', '/api/dashboard/nodes/rep-1/reporter', operator);
    expect(view.body).toMatchObject({
      interval_override_seconds: 120,
      agent_connected: true,
      reporter: { active: true, current_interval_seconds: 120 },
    });
    expect((await call('GET', '/api/dashboard/nodes/rep-1/reporter', viewer)).status).toBe(403);
  });
});
