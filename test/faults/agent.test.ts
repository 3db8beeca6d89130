// Fault suite — a node agent killed in the middle of a command: a real agent (agent/main.ts, out of process, as
// a compute node runs it) supervises a service whose stop waits on a gate; an operator restarts it, and while the
// agent is inside that stop it is SIGKILLed. A steady load of dashboard reads and other commands runs meanwhile.
// Nothing acknowledged is lost, the command ends `timed_out` in the audit trail instead of pending forever (the
// dashboard janitor finishes it and announces it as `service_result` before anything reads the trail), the
// agent that comes back neither receives nor runs it again (its service's starts and stops are counted), and it
// reconnects and reports.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ReferenceCompute, startReferenceCompute } from '../../agent/reference-compute.ts';
import { DashboardClient } from '../integration/dashboard-client.ts';
import { type FaultStack, type Json, startFaultStack, until } from './harness.ts';
import { startLoad } from './load.ts';

const nodeId = 'fault-node-1';
let stack: FaultStack;
let compute: ReferenceCompute;
let dir: string;
let agent: ChildProcess | undefined;
let watcher: DashboardClient | undefined;
let runs = 0;

// Supervised processes outlive a SIGKILLed agent: these leave once orphaned.
const orphanExit =
  'const parent = process.ppid; setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 100);';
// The service under the command: it marks each start and each SIGTERM in a file; its stop waits until the gate
// file exists (so the test knows the agent is inside the stop when it kills it).
const gated = `${orphanExit}
const fs = require('node:fs');
fs.appendFileSync(process.env.MARKS, 'start ' + process.pid + '\\n');
process.on('SIGTERM', () => {
  fs.appendFileSync(process.env.MARKS, 'term ' + process.pid + '\\n');
  const wait = setInterval(() => { if (fs.existsSync(process.env.GATE)) { clearInterval(wait); process.exit(0); } }, 20);
});
`;
const idle = orphanExit;

beforeAll(async () => {
  stack = await startFaultStack('agent', {
    env: {
      DASHBOARD_COMMAND_WAIT_SECONDS: '3',
      DASHBOARD_COMMAND_TIMEOUT_SECONDS: '10',
      NODE_HEARTBEAT_TIMEOUT: '30',
    },
    // The janitor, not a read of the trail, is what finishes the interrupted command here.
    scheduleOverrides: { 'dashboard-janitor': { everySeconds: 2 } },
  });
  dir = join(stack.dir, 'node');
  await mkdir(dir, { recursive: true });
  compute = await startReferenceCompute({ dir: join(dir, 'compute') });
  await writeFile(join(dir, 'token'), await stack.issuer.mint(['node'], { subject: nodeId }));
  await writeFile(
    join(dir, 'services.json'),
    JSON.stringify({
      gated: {
        command: process.execPath,
        args: ['-e', gated],
        env: { MARKS: join(dir, 'marks'), GATE: join(dir, 'gate') },
      },
      web: { command: process.execPath, args: ['-e', idle] },
    }),
  );
});

afterAll(async () => {
  await watcher?.close();
  agent?.kill('SIGKILL');
  await compute?.stop();
  await stack?.stop();
});

/** Starts the agent as a node runs it (`node agent/main.ts`, settings from the environment). */
function startAgentProcess(): ChildProcess {
  runs++;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(import.meta.dirname, '../../agent/main.ts')],
    {
      env: {
        ...process.env,
        AGENT_NODE_ID: nodeId,
        AGENT_CONTROL_URL: stack.runtime.httpUrl,
        AGENT_WS_URL: stack.runtime.wsUrl,
        AGENT_COMPUTE_URL: compute.url,
        AGENT_HOST: '127.0.0.1',
        AGENT_PORT: '0',
        AGENT_HEARTBEAT_MS: '500',
        AGENT_TOKEN_FILE: join(dir, 'token'),
        AGENT_SERVICES_FILE: join(dir, 'services.json'),
        AGENT_STATE_DIR: dir,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  child.once('exit', (code, signal) => {
    if (signal !== 'SIGKILL') console.error(`agent run ${runs} exited (${code ?? signal})`);
  });
  return child;
}

const nodeView = async (): Promise<Json | undefined> =>
  (await stack.call('GET', '/api/dashboard/metrics')).json.nodes?.[nodeId];
const trail = async (): Promise<Json[]> =>
  (await stack.call('GET', `/api/dashboard/nodes/${nodeId}/commands?limit=100`, stack.tokens.operator)).json
    .commands as Json[];
const marks = async () =>
  existsSync(join(dir, 'marks')) ? (await readFile(join(dir, 'marks'), 'utf8')).trim().split('\n') : [];
const control = (service: string, action: string) =>
  stack.call('POST', '/api/dashboard/control-service', stack.tokens.operator, {
    worker_id: nodeId,
    service_name: service,
    action,
  });

describe('fault: a node agent killed in the middle of a command', () => {
  it('the command ends timed out, is not run again by the agent that comes back, and nothing acknowledged is lost', async () => {
    // Prepare: the agent connected, reporting both services running; a steady load of reads and commands.
    agent = startAgentProcess();
    const first = await until('the agent connected and reporting', async () => {
      const view = await nodeView();
      return view?.agent_connected && view.metrics?.services?.gated === 'running' ? view : undefined;
    });
    const [firstStart] = await marks();
    expect(firstStart).toMatch(/^start \d+$/);
    // A dashboard watching the node: command results reach it as `service_result`.
    watcher = new DashboardClient(stack.runtime.wsUrl, stack.tokens.viewer);
    await watcher.connect();
    await watcher.subscribe({ node: nodeId });
    const reads = startLoad({
      baseUrl: stack.runtime.httpUrl,
      token: stack.tokens.viewer,
      loops: 2,
      pauseMs: 50,
      next: (n) =>
        n % 2 === 0
          ? { kind: 'metrics', method: 'GET', path: '/api/dashboard/metrics' }
          : { kind: 'logs', method: 'GET', path: `/api/dashboard/logs?node=${nodeId}&limit=20` },
    });
    // One operator restarting another service now and then: each command is one the trail must keep.
    const commands = startLoad({
      baseUrl: stack.runtime.httpUrl,
      token: stack.tokens.operator,
      loops: 1,
      pauseMs: 1_000,
      keepJson: ['command'],
      next: () => ({
        kind: 'command',
        method: 'POST',
        path: '/api/dashboard/control-service',
        body: { worker_id: nodeId, service_name: 'web', action: 'restart' },
      }),
    });
    let answer: Awaited<ReturnType<typeof control>>;
    let back: Json;
    let announced: Json;
    try {
      await until('commands acknowledged before the fault', async () =>
        commands.samples.filter((s) => s.status === 200).length >= 3 ? true : undefined,
      );

      // Act: restart the gated service; once the agent is inside its stop (the service got SIGTERM), kill it.
      const answered = control('gated', 'restart');
      await until('the agent inside the stop', async () =>
        (await marks()).includes(`term ${firstStart!.split(' ')[1]}`) ? true : undefined,
      );
      const killed = agent;
      const exited = new Promise((done) => killed.once('exit', done));
      killed.kill('SIGKILL');
      await exited;
      answer = await answered;
      // From now on the service stops at once; the agent comes back (as its unit's restart would).
      await writeFile(join(dir, 'gate'), '');
      await until('the dashboard saw the agent’s connection close', async () =>
        (await nodeView())?.agent_connected === false ? true : undefined,
      );
      agent = startAgentProcess();
      back = await until('the agent back, connected and reporting again', async () => {
        const view = await nodeView();
        return view?.agent_connected && view.metrics?.received_at > first.metrics.received_at
          ? view
          : undefined;
      });
      // Nothing has read the trail yet: the janitor finishes the overdue command and announces it.
      const id = answer.json.command_id as string;
      const seen = watcher;
      announced = await until('the interrupted command’s result announced', async () =>
        seen.messages.find((m) => m.type === 'service_result' && m.command_id === id),
      );
      // The fault is over; the commands' load stops (the trail then holds every command it sent).
      await commands.stop();
      // The interrupted command finishes in the trail, and no command is left pending.
      await until('no command pending in the audit trail', async () =>
        (await trail()).some((c) => c.status === 'pending') ? undefined : true,
      );
    } finally {
      await Promise.all([reads.stop(), commands.stop()]);
    }
    // After the fault: a new restart of the same service reaches the new agent and is done once.
    const after = await control('gated', 'restart');

    // Assess: the interrupted command was recorded, never acknowledged, and ended timed out.
    expect(answer.status).toBe(202);
    expect(answer.json).toMatchObject({ status: 'pending', service_name: 'gated', action: 'restart' });
    const records = await trail();
    const interrupted = records.find((c) => c.command_id === answer.json.command_id);
    expect(interrupted).toMatchObject({ status: 'timed_out', success: false });
    expect(announced).toMatchObject({
      status: 'timed_out',
      success: false,
      service_name: 'gated',
      action: 'restart',
    });
    expect(interrupted?.result).toBeUndefined();
    expect(after).toMatchObject({ status: 200, json: { success: true, result: { status: 'running' } } });
    // The side effects, counted: the first instance's start and the SIGTERM the killed agent sent it, the
    // restarted agent's own start of the service, and the new command's one stop and start. A redelivered
    // restart would have added a stop and a start.
    // (A process marks its start once it runs, a moment after the supervisor saw it spawn.)
    const lines = await until('the last start marked', async () => {
      const now = await marks();
      return now.length >= 5 ? now : undefined;
    });
    expect(lines.map((line) => line.split(' ')[0])).toEqual(['start', 'term', 'start', 'term', 'start']);
    expect(new Set(lines.filter((l) => l.startsWith('start'))).size).toBe(3);
    // Nothing acknowledged was lost: every command answered 200 is in the trail as succeeded with its result,
    // and every other command the load sent ended (succeeded once the agent was back, or timed out).
    const byId = new Map(records.map((c) => [c.command_id as string, c]));
    const sent = commands.samples.filter((s) => s.status === 200 || s.status === 202);
    expect(sent.length).toBeGreaterThan(3);
    expect(records.length).toBeGreaterThan(sent.length);
    expect(records.length).toBeLessThan(100);
    for (const sample of sent) {
      const id = (sample.json as Json).command_id as string;
      const record = byId.get(id);
      if (sample.status === 200) expect(record).toMatchObject({ status: 'succeeded', result: { ok: true } });
      else expect(['succeeded', 'timed_out', 'undeliverable']).toContain(record?.status);
    }
    expect(commands.samples.filter((s) => ![200, 202].includes(s.status))).toEqual([]);
    // The reads kept answering through the fault, and the agent is back: connected, both services running.
    expect(reads.samples.filter((s) => s.status !== 200)).toEqual([]);
    expect(back.metrics.services).toEqual({ gated: 'running', web: 'running' });
    const count = (status: number) => commands.samples.filter((s) => s.status === status).length;
    console.info(
      `agent killed mid-command: ${reads.samples.length} reads all 200; ${sent.length} other commands (${count(200)} acknowledged, ${count(202)} answered 202: ${sent
        .filter((s) => s.status === 202)
        .map((s) => byId.get((s.json as Json).command_id as string)?.status)
        .join(
          ', ',
        )}); the interrupted one ${interrupted?.status} (sent ${interrupted?.requested_at}, finished ${interrupted?.finished_at}); marks ${lines.join(' | ')}`,
    );
  });
});
