// Integration tests — real node agents (agent/, started through startLocalFleet) against the local runtime
// (real Redis, DynamoDB Local, the local HTTP and WebSocket APIs): service control round trips through the
// agent's own control connection and supervisor (start, stop, restart, unknown service), a node offline (no
// connection and no heartbeat) answered 409 while a node that still heartbeats gets its command once its
// agent is back, reporter controls and the adaptive interval, logs of a supervised process arriving with
// one gapless sequence across an agent restart, the control connection coming back after a drop and
// renewing itself without the dashboard ever seeing the agent gone; liveness on a moved dashboard clock (a node
// that reports every 300 s but pings stays online, a silent one expires after 60 s and goes after 10 minutes), and
// reports sent over the agent's WebSocket connection (validated as over HTTPS, for the connection's own node).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '#shared/contracts';
import { setDashboardClock } from '#shared/dashboard';
import { type LocalFleet, type LocalFleetOptions, startLocalFleet } from '../../agent/fleet.ts';
import type { SystemSample } from '../../agent/metrics.ts';
import type { ServicesConfig } from '../../agent/supervisor.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';
import { DashboardClient } from './dashboard-client.ts';

let harness: TestRuntime;
let viewer: string;
let operator: string;
let dir: string;
let db: DynamoDBDocumentClient;
const fleets: LocalFleet[] = [];
const clients: DashboardClient[] = [];

beforeAll(async () => {
  harness = await startTestRuntime('agentdash', {
    env: { DASHBOARD_COMMAND_WAIT_SECONDS: '10', NODE_HEARTBEAT_TIMEOUT: '30' },
  });
  viewer = await harness.issuer.mint(['viewer'], { subject: 'vera' });
  operator = await harness.issuer.mint(['operator'], { subject: 'otto' });
  dir = await mkdtemp(join(tmpdir(), 'vfleet-agentdash-'));
  db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: harness.runtime.env.AWS_ENDPOINT_URL_DYNAMODB }),
  );
}, 120_000);

afterAll(async () => {
  for (const client of clients) await client.close();
  for (const fleet of fleets) await fleet.stop();
  db?.destroy();
  await harness?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A process that prints a numbered line every `everyMs` (INFO on stdout, every fifth an ERROR on stderr). */
const chatty = (everyMs: number) => ({
  command: process.execPath,
  args: [
    '-e',
    `let n = 0; setInterval(() => { n++; if (n % 5 === 0) console.error('ERROR tick ' + n); else console.log('tick ' + n); }, ${everyMs});`,
  ],
});
const idle = { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] };

async function fleet(
  prefix: string,
  services: ServicesConfig,
  extra: Partial<LocalFleetOptions> = {},
): Promise<LocalFleet> {
  const started = await startLocalFleet({
    count: 1,
    prefix: `${prefix}-`,
    controlUrl: harness.runtime.httpUrl,
    wsUrl: harness.runtime.wsUrl,
    tokenFor: (nodeId) => harness.issuer.mint(['node'], { subject: nodeId }),
    dir: join(dir, prefix),
    heartbeatIntervalMs: 500,
    services: () => services,
    ...extra,
  });
  fleets.push(started);
  return started;
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

/** Polls `read` until `test` holds (no deadline of its own: the test's timeout bounds it). */
async function until<T>(read: () => Promise<T>, test: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (test(value)) return value;
    await sleep(20);
  }
}

type NodeView = {
  status: string;
  last_seen: string;
  agent_connected: boolean;
  metrics: { services: Record<string, string>; cpu_percent: number; received_at: string } | null;
};
const nodeView = async (nodeId: string) =>
  ((await call('GET', '/api/dashboard/metrics', viewer)).body.nodes as Record<string, NodeView>)[nodeId];

/** Until the dashboard shows the node's agent connected and a report listing its services. */
const ready = (nodeId: string) =>
  until(
    () => nodeView(nodeId),
    (view) => Boolean(view?.agent_connected && view.metrics),
  );

const control = (worker_id: string, service_name: string, action: string) =>
  call('POST', '/api/dashboard/control-service', operator, { worker_id, service_name, action });

async function client(): Promise<DashboardClient> {
  const created = new DashboardClient(harness.runtime.wsUrl, viewer);
  clients.push(created);
  await created.connect();
  return created;
}

describe('service control through a real agent', () => {
  it('starts, stops and restarts supervised processes, reports their states, and refuses an unknown service', async () => {
    const { nodes } = await fleet('svc', { web: idle, worker: { ...idle, autostart: false } });
    const { agent } = nodes[0]!;
    const supervisor = agent.dashboard!.supervisor;
    const view = await ready('svc-1');
    expect(view!.metrics!.services).toEqual({ web: 'running', worker: 'stopped' });

    const started = await control('svc-1', 'worker', 'start');
    expect(started).toMatchObject({
      status: 200,
      body: { success: true, result: { ok: true, status: 'running' } },
    });
    expect(await supervisor.status('worker')).toBe('running');
    const pid = supervisor.pid('worker');
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid!, 0)).not.toThrow();

    const restarted = await control('svc-1', 'worker', 'restart');
    expect(restarted.body).toMatchObject({ success: true, result: { status: 'running' } });
    const newPid = supervisor.pid('worker');
    expect(newPid).not.toBe(pid);
    // The old process is gone, not just forgotten.
    expect(() => process.kill(pid!, 0)).toThrow();

    expect((await control('svc-1', 'worker', 'stop')).body).toMatchObject({
      success: true,
      result: { status: 'stopped' },
    });
    expect(supervisor.pid('worker')).toBeUndefined();
    expect(() => process.kill(newPid!, 0)).toThrow();

    expect(await control('svc-1', 'no-such-service', 'start')).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });

    // The next report shows the states the commands left.
    await call('POST', '/api/dashboard/nodes/svc-1/reporter', operator, { action: 'report_now' });
    expect((await nodeView('svc-1'))!.metrics!.services).toEqual({ web: 'running', worker: 'stopped' });
    const trail = await call('GET', '/api/dashboard/nodes/svc-1/commands', operator);
    expect(
      (trail.body.commands as Record<string, unknown>[])
        .filter((c) => c.kind === 'service')
        .map((c) => [c.action, c.service_name, c.status, c.requested_by]),
    ).toEqual([
      ['stop', 'worker', 'succeeded', 'otto'],
      ['restart', 'worker', 'succeeded', 'otto'],
      ['start', 'worker', 'succeeded', 'otto'],
    ]);
  });

  it('answers 409 for a node with no agent connection and no heartbeat; a node still heartbeating gets the command when its agent is back', async () => {
    const { nodes } = await fleet('off', { web: { ...idle, autostart: false } });
    const { agent } = nodes[0]!;
    await ready('off-1');
    // The premise below is a node whose heartbeats go on: its first one has registered it (the dashboard shows
    // the agent at its first report or $connect, which can come before that).
    await until(
      () => call('GET', '/api/v1/nodes', viewer),
      (answer) => (answer.body.items as { id: string }[]).some((node) => node.id === 'off-1'),
    );

    // Connection dropped (and held away), heartbeats go on: not offline. The command waits for the agent.
    agent.dashboard!.control!.dropForTest(true);
    await until(
      () => nodeView('off-1'),
      (view) => view?.agent_connected === false,
    );
    const answer = control('off-1', 'web', 'start');
    const trail = () => call('GET', '/api/dashboard/nodes/off-1/commands', operator);
    await until(trail, (t) => (t.body.commands as { status: string }[])[0]?.status === 'pending');
    agent.dashboard!.control!.resumeForTest();
    const queued = await answer;
    expect(queued.body).toMatchObject({ service_name: 'web', action: 'start' });
    if (queued.status === 202) {
      // The wait ran out first on a slow machine: the result lands in the audit trail all the same.
      await until(trail, (t) => (t.body.commands as { status: string }[])[0]?.status === 'succeeded');
    } else {
      expect(queued).toMatchObject({ status: 200, body: { success: true, result: { status: 'running' } } });
    }
    expect(await agent.dashboard!.supervisor.status('web')).toBe('running');

    // The agent gone for good and its last heartbeat past the timeout: offline, 409, and nothing recorded.
    await nodes[0]!.agent.stop();
    await until(
      () => nodeView('off-1'),
      (view) => view?.agent_connected === false,
    );
    await db.send(
      new UpdateCommand({
        TableName: harness.runtime.env[envNames.tableName('placement-nodes')],
        Key: { nodeId: 'off-1' },
        UpdateExpression: 'SET lastHeartbeatAt = :longAgo',
        ExpressionAttributeValues: { ':longAgo': 0 },
      }),
    );
    const before = (await call('GET', '/api/dashboard/nodes/off-1/commands', operator)).body
      .commands as unknown[];
    expect(await control('off-1', 'web', 'stop')).toMatchObject({ status: 409, body: { error: 'conflict' } });
    const after = (await call('GET', '/api/dashboard/nodes/off-1/commands', operator)).body
      .commands as unknown[];
    expect(after).toHaveLength(before.length);
  });
});

describe('the reporter', () => {
  /** A sampler whose CPU the test sets. */
  const scripted = () => {
    const state = { cpu: 10, reports: 0 };
    const sample = async (): Promise<SystemSample> => {
      state.reports++;
      return {
        cpu_percent: state.cpu,
        memory: { percent: 40, total: 8_000, available: 4_800, used: 3_200 },
        disk: { percent: 50, mounts: [{ mount: '/', total: 100, used: 50, free: 50, percent: 50 }] },
      };
    };
    return { state, sample };
  };
  const reporterView = async (nodeId: string) =>
    (await call('GET', `/api/dashboard/nodes/${nodeId}/reporter`, operator)).body as {
      reporter: { active: boolean; total_reports: number; current_interval_seconds: number } | null;
      interval_override_seconds: number | null;
    };

  it('lengthens the interval while values are stable and shortens it when they move', async () => {
    const script = scripted();
    // One interval second lasts 2 ms: 30-300 s pass in 60-600 ms.
    await fleet('adapt', {}, { dashboard: { sample: script.sample, reporter: { secondMs: 2 } } });
    await ready('adapt-1');
    await until(
      () => reporterView('adapt-1'),
      (view) => view.reporter?.current_interval_seconds === 300,
    );
    let flip = false;
    const mover = setInterval(() => {
      flip = !flip;
      script.state.cpu = flip ? 85 : 10;
    }, 5);
    try {
      await until(
        () => reporterView('adapt-1'),
        (view) => view.reporter?.current_interval_seconds === 30,
      );
    } finally {
      clearInterval(mover);
    }
  });

  it('stops, starts, reports now and takes an operator interval over the suggestion', async () => {
    const script = scripted();
    const { nodes } = await fleet(
      'rep',
      {},
      { dashboard: { sample: script.sample, reporter: { secondMs: 2 } } },
    );
    const reporter = nodes[0]!.agent.dashboard!.reporter;
    await ready('rep-1');
    const command = (body: Record<string, unknown>) =>
      call('POST', '/api/dashboard/nodes/rep-1/reporter', operator, body);

    const stopped = await command({ action: 'stop' });
    expect(stopped).toMatchObject({
      status: 200,
      body: { success: true, result: { reporter: { active: false } } },
    });
    await reporter.settled();
    const reportsWhenStopped = script.state.reports;
    // Several of the longest intervals (300 s = 600 ms here) pass without a report.
    await sleep(1_500);
    expect(script.state.reports).toBe(reportsWhenStopped);

    const status = await command({ action: 'status' });
    expect(status.body).toMatchObject({ result: { reporter: { active: false } } });
    const now = await command({ action: 'report_now' });
    const total = (now.body.result as { reporter: { total_reports: number } }).reporter.total_reports;
    expect(script.state.reports).toBe(reportsWhenStopped + 1);
    expect((await reporterView('rep-1')).reporter).toMatchObject({ active: false, total_reports: total - 1 });

    expect((await command({ action: 'start' })).body).toMatchObject({
      result: { reporter: { active: true } },
    });
    await until(
      async () => script.state.reports,
      (reports) => reports > reportsWhenStopped + 2,
    );

    // The operator's 45 s wins: the values are stable (the suggestion would be 300 s).
    expect((await command({ action: 'set_interval', interval_seconds: 45 })).body).toMatchObject({
      result: { reporter: { current_interval_seconds: 45 } },
    });
    const seen = script.state.reports;
    await until(
      async () => script.state.reports,
      (reports) => reports >= seen + 4,
    );
    const view = await reporterView('rep-1');
    expect(view).toMatchObject({ interval_override_seconds: 45, reporter: { current_interval_seconds: 45 } });
    expect(reporter.stats().current_interval_seconds).toBe(45);
  });
});

describe('logs from supervised processes', () => {
  it('arrive at a dashboard client live, with one gapless sequence across an agent restart', async () => {
    const started = await fleet('logs', { chatty: chatty(15) });
    await ready('logs-1');
    const watcher = await client();
    await watcher.subscribe({ node: 'logs-1', logger: 'service.chatty' });
    await watcher.waitForLines(10);

    const seqBefore = started.nodes[0]!.agent.dashboard!.logs.stats().lastSeq;
    await started.restart('logs-1');
    const pidAfter = started.nodes[0]!.agent.dashboard!.supervisor.pid('chatty');
    expect(pidAfter).toBeGreaterThan(0);
    const linesAtRestart = watcher.lines.length;
    await watcher.waitForLines(linesAtRestart + 10);

    // The restarted process counts from 1 again, and its lines reach the client live, numbered after the
    // lines of the agent's first run.
    expect(watcher.lines.find((line) => line.message === 'tick 1' && line.seq > seqBefore)).toBeDefined();
    expect(watcher.lines.find((line) => line.message === 'ERROR tick 5')).toMatchObject({
      level: 'ERROR',
      logger_name: 'service.chatty',
    });

    // Every line of the node, read back by cursor: sequence 1, 2, 3 … without a gap or repeat.
    const all: { seq: number; logger_name: string; message: string }[] = [];
    let cursor = Buffer.from(JSON.stringify({ 'logs-1': 0 })).toString('base64url');
    for (;;) {
      const page = await call('GET', `/api/dashboard/logs?node=logs-1&limit=1000&cursor=${cursor}`, viewer);
      const lines = page.body.logs as { seq: number; logger_name: string; message: string }[];
      if (lines.length === 0) break;
      all.push(...lines);
      cursor = page.body.cursor as string;
    }
    expect(all.length).toBeGreaterThan(seqBefore);
    expect(all.map((line) => line.seq)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(all.filter((line) => line.message === 'tick 1')).toHaveLength(2);
    // The agent's own lines share the sequence: one "started" line per run.
    const starts = all.filter(
      (line) => line.logger_name === 'agent.lifecycle' && line.message.includes('started'),
    );
    expect(starts).toHaveLength(2);
  });
});

describe('the control connection', () => {
  it('comes back after a drop, and renews itself before the age limit without the dashboard seeing it gone', async () => {
    const { nodes } = await fleet(
      'conn',
      { web: idle },
      { dashboard: { control: { reconnectMinMs: 50, reconnectMaxMs: 200 } } },
    );
    const connection = nodes[0]!.agent.dashboard!.control!;
    await ready('conn-1');
    const watcher = await client();
    await watcher.subscribe({ node: 'conn-1' });

    const gone = watcher.next((m) => m.type === 'node_status' && m.agent_connected === false);
    const back = gone.then(() => watcher.next((m) => m.type === 'node_status' && m.agent_connected === true));
    const openedBefore = connection.opened;
    connection.dropForTest();
    await back;
    // The control plane announces the agent at its $connect, which can come before the agent sees its 'open'.
    await connection.whenConnected();
    expect(connection.opened).toBe(openedBefore + 1);
    expect((await control('conn-1', 'web', 'restart')).body).toMatchObject({ success: true });
  });

  it('renews before the age limit: the new connection opens before the old one closes', async () => {
    const { nodes } = await fleet('renew', { web: idle }, { dashboard: { control: { maxAgeMs: 300 } } });
    const connection = nodes[0]!.agent.dashboard!.control!;
    await ready('renew-1');
    const watcher = await client();
    await watcher.subscribe({ node: 'renew-1' });
    const statuses: unknown[] = [];
    watcher.onMessage = (message) => {
      if (message.type === 'node_status') statuses.push(message.agent_connected);
    };
    const renewedBefore = connection.renewed;
    const results: number[] = [];
    while (connection.renewed < renewedBefore + 3) {
      results.push((await control('renew-1', 'web', 'restart')).status);
    }
    expect(results.every((status) => status === 200)).toBe(true);
    // Each renewal announced the new connection; none showed the agent gone.
    await until(
      async () => statuses.length,
      (count) => count >= 3,
    );
    expect(statuses.every((connected) => connected === true)).toBe(true);
  });
});

describe('liveness, on the dashboard clock', () => {
  it('keeps a node that reports every 300 s but pings online; a node with neither expires after 60 s and goes after 10 minutes', async () => {
    let now = Date.now();
    const restore = setDashboardClock(() => now);
    try {
      // Reports every 300 s (none on their own during the test: the clock that moves is the dashboard's); the
      // placement heartbeats are placement's own liveness, so they are kept out of the way.
      const every300 = { initialIntervalSeconds: 300, minIntervalSeconds: 300 };
      const live = await fleet(
        'live',
        {},
        { heartbeatIntervalMs: 3_600_000, dashboard: { reporter: every300, control: { pingMs: 50 } } },
      );
      const mute = await fleet(
        'mute',
        {},
        { heartbeatIntervalMs: 3_600_000, dashboard: { reporter: every300 } },
      );
      await ready('live-1');
      await ready('mute-1');
      const watcher = await client();
      await watcher.subscribe({ node: 'mute-1' });
      // The silent node: no reports, no control connection (so no pings).
      const muted = mute.nodes[0]!.agent.dashboard!;
      muted.reporter.stop();
      await muted.reporter.settled();
      await muted.logs.flushed();
      await muted.control!.close();
      await until(
        () => nodeView('mute-1'),
        (view) => view?.agent_connected === false,
      );
      const { control: pinger, reporter } = live.nodes[0]!.agent.dashboard!;
      const startedAt = now;

      /** Moves the dashboard's clock to `t` s after the start, then waits until the live node was seen at it. */
      const moveTo = async (t: number) => {
        now = startedAt + t * 1000;
        const at = new Date(now).toISOString();
        const pongs = pinger!.pongs;
        // Pings go every 50 ms and each pong follows its ping's handling: 20 pongs after the move include pings
        // handled after it, which must have counted.
        const seen = await until(
          async () => ({ view: await nodeView('live-1'), pongs: pinger!.pongs }),
          (read) => read.view?.last_seen === at || read.pongs >= pongs + 20,
        );
        expect(seen.view, `live-1 seen at +${t} s`).toMatchObject({ status: 'online', last_seen: at });
      };
      const janitor = () =>
        harness.runtime.invoke('dashboardJanitor', {}) as Promise<{ expired: string[]; removed: string[] }>;

      for (const t of [20, 40, 60]) await moveTo(t);
      expect((await nodeView('mute-1'))?.status).toBe('online');
      await moveTo(61);
      expect((await nodeView('mute-1'))?.status).toBe('expired');
      const expiredMessage = watcher.next((m) => m.type === 'node_status' && m.status === 'expired', {
        past: true,
      });
      expect((await janitor()).expired).not.toContain('live-1');
      expect(await expiredMessage).toMatchObject({ node_id: 'mute-1', status: 'expired' });

      for (let t = 80; t <= 580; t += 20) {
        await moveTo(t);
        // The node's own 300 s report, between its pings.
        if (t === 300) await reporter.reportNow();
      }
      expect((await nodeView('live-1'))?.metrics?.received_at).toBe(
        new Date(startedAt + 300_000).toISOString(),
      );
      // Silent for 10 minutes exactly: still listed; past them: removed.
      await moveTo(600);
      await janitor();
      expect((await nodeView('mute-1'))?.status).toBe('expired');
      await moveTo(601);
      const removedMessage = watcher.next((m) => m.type === 'node_status' && m.status === 'removed', {
        past: true,
      });
      expect((await janitor()).removed).not.toContain('live-1');
      expect(await removedMessage).toMatchObject({ node_id: 'mute-1', status: 'removed' });
      expect(await nodeView('mute-1')).toBeUndefined();
      expect((await nodeView('live-1'))?.status).toBe('online');
    } finally {
      restore();
    }
  });
});

describe('reports over the agent WebSocket connection', () => {
  const report = (cpu: number) => ({
    timestamp: new Date().toISOString(),
    cpu_percent: cpu,
    memory: { percent: 40, total: 8_000, available: 4_800, used: 3_200 },
    disk: { percent: 50, mounts: [] },
    services: { web: 'running' },
  });
  const line = (seq: number, message: string) => ({
    seq,
    timestamp: new Date().toISOString(),
    level: 'INFO',
    logger_name: 'agent.ws',
    message,
  });

  it('stores metrics and logs sent as frames, for the connection’s own node only, validated as over HTTPS', async () => {
    const agent = new DashboardClient(
      harness.runtime.wsUrl,
      await harness.issuer.mint(['node'], { subject: 'wsrep-1' }),
    );
    clients.push(agent);
    await agent.connect();
    const watcher = await client();
    await watcher.subscribe({ node: 'wsrep-1' });

    const accepted = agent.nextOfType('metrics_accepted');
    agent.send({ action: 'metrics', report: report(12.5) });
    expect(await accepted).toMatchObject({ node_id: 'wsrep-1', accepted: true });
    expect((await accepted).suggested_interval_seconds).toBeGreaterThanOrEqual(30);
    expect(await nodeView('wsrep-1')).toMatchObject({ status: 'online', metrics: { cpu_percent: 12.5 } });

    const stored = agent.nextOfType('logs_accepted');
    agent.send({
      action: 'logs',
      node_id: 'wsrep-1',
      logs: [line(1, 'over ws one'), line(2, 'over ws two')],
    });
    expect(await stored).toMatchObject({ stored: 2, duplicates: 0, last_seq: 2 });
    await watcher.waitForLines(2);
    expect(watcher.lines.map((l) => [l.node_id, l.seq, l.message])).toEqual([
      ['wsrep-1', 1, 'over ws one'],
      ['wsrep-1', 2, 'over ws two'],
    ]);
    const again = agent.nextOfType('logs_accepted');
    agent.send({ action: 'logs', logs: [line(2, 'over ws two')] });
    expect(await again).toMatchObject({ stored: 0, duplicates: 1, last_seq: 2 });

    // Another node's id: refused, and that node never appears.
    const refused = agent.nextOfType('error');
    agent.send({ action: 'metrics', node_id: 'wsrep-2', report: report(99) });
    expect(await refused).toMatchObject({ error: 'forbidden' });
    const refusedLogs = agent.nextOfType('error');
    agent.send({ action: 'logs', node_id: 'wsrep-2', logs: [line(1, 'not mine')] });
    expect(await refusedLogs).toMatchObject({ error: 'forbidden' });
    // A report the HTTPS route would refuse is refused here too, naming the field.
    const invalid = agent.nextOfType('error');
    agent.send({ action: 'metrics', report: { ...report(150) } });
    expect(await invalid).toMatchObject({ error: 'bad_request' });
    expect(JSON.stringify((await invalid).fields)).toContain('cpu_percent');
    // A viewer is no node.
    const viewerRefused = watcher.nextOfType('error');
    watcher.send({ action: 'metrics', report: report(1) });
    expect(await viewerRefused).toMatchObject({ error: 'forbidden' });

    // What was refused changed nothing: the last good report stands, the other node is unknown.
    const last = agent.nextOfType('metrics_accepted');
    agent.send({ action: 'metrics', report: report(20) });
    await last;
    expect((await nodeView('wsrep-1'))?.metrics?.cpu_percent).toBe(20);
    expect(await nodeView('wsrep-2')).toBeUndefined();
    expect(watcher.lines.map((l) => l.message)).not.toContain('not mine');
  });
});
