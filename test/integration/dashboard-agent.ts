// Test double of the node agent, for what the real one (agent/, tested in agent-dashboard.test.ts) will not
// do: stay silent (the control plane's 202), acknowledge another node's command, report chosen values. It
// speaks the node side of the dashboard protocol over a real WebSocket — `service_command` → `service_ack`,
// `reporter_command` → `reporter_ack` — and reports over HTTPS with its node token. Its services are real
// child processes under a small supervisor (start, stop, restart); the browser tests' fleet
// (test/e2e/dashboard-fleet.ts) uses it too until it moves to the real agent (agent/fleet.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import WebSocket from 'ws';

export type ServiceState = 'running' | 'stopped' | 'error';

/** Runs configured processes: each service is a command line; nothing else can be started. */
export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly configured: Readonly<Record<string, readonly string[]>>) {}

  has(service: string): boolean {
    return Object.hasOwn(this.configured, service);
  }

  state(service: string): ServiceState {
    const child = this.children.get(service);
    if (!child) return 'stopped';
    if (child.exitCode === null && child.signalCode === null) return 'running';
    // Exited by itself with a failure (not stopped by a signal): crashed.
    return child.exitCode !== null && child.exitCode !== 0 ? 'error' : 'stopped';
  }

  pid(service: string): number | undefined {
    return this.state(service) === 'running' ? this.children.get(service)?.pid : undefined;
  }

  states(): Record<string, ServiceState> {
    return Object.fromEntries(Object.keys(this.configured).map((name) => [name, this.state(name)]));
  }

  async start(service: string): Promise<void> {
    if (this.state(service) === 'running') return;
    const [command, ...args] = this.configured[service]!;
    const child = spawn(command!, args, { stdio: 'ignore' });
    await once(child, 'spawn');
    this.children.set(service, child);
  }

  async stop(service: string): Promise<void> {
    const child = this.children.get(service);
    if (!child || this.state(service) !== 'running') return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all(Object.keys(this.configured).map((name) => this.stop(name)));
  }
}

export interface ReporterStats {
  active: boolean;
  total_reports: number;
  failed_reports: number;
  success_rate_percent: number;
  current_interval_seconds: number;
  last_report_status: string | null;
}

export interface TestAgentOptions {
  readonly nodeId: string;
  readonly token: string;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly supervisor: Supervisor;
  /** Leave commands unanswered (to see the control plane's 202). */
  readonly silent?: boolean;
}

export class TestAgent {
  socket: WebSocket | undefined;
  readonly commands: Record<string, unknown>[] = [];
  readonly reporter: ReporterStats = {
    active: true,
    total_reports: 0,
    failed_reports: 0,
    success_rate_percent: 100,
    current_interval_seconds: 60,
    last_report_status: null,
  };
  private seq = 0;
  reportsNow = 0;

  constructor(private readonly options: TestAgentOptions) {}

  get supervisor(): Supervisor {
    return this.options.supervisor;
  }

  async connect(): Promise<void> {
    const socket = new WebSocket(`${this.options.wsUrl}/?token=${encodeURIComponent(this.options.token)}`);
    await once(socket, 'open');
    socket.on('message', (data) => {
      this.onMessage(JSON.parse(data.toString()) as Record<string, unknown>).catch((error: unknown) =>
        console.error('[test agent] command failed:', error),
      );
    });
    this.socket = socket;
  }

  async disconnect(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const closed = once(socket, 'close');
    socket.close();
    await closed;
  }

  private async onMessage(message: Record<string, unknown>): Promise<void> {
    this.commands.push(message);
    if (this.options.silent) return;
    if (message.type === 'service_command') await this.onServiceCommand(message);
    else if (message.type === 'reporter_command') await this.onReporterCommand(message);
  }

  private async onServiceCommand(message: Record<string, unknown>): Promise<void> {
    const service = String(message.service);
    const base = { action: 'service_ack', command_id: message.command_id };
    if (!this.supervisor.has(service)) {
      this.send({
        ...base,
        ok: false,
        error: { code: 'unknown_service', message: `${service} is not configured` },
      });
      return;
    }
    if (message.action === 'stop' || message.action === 'restart') await this.supervisor.stop(service);
    if (message.action === 'start' || message.action === 'restart') await this.supervisor.start(service);
    this.send({ ...base, ok: true, status: this.supervisor.state(service) });
  }

  private async onReporterCommand(message: Record<string, unknown>): Promise<void> {
    if (message.action === 'stop') this.reporter.active = false;
    if (message.action === 'start') this.reporter.active = true;
    if (message.action === 'set_interval')
      this.reporter.current_interval_seconds = Number(message.interval_seconds);
    if (message.action === 'report_now') {
      this.reportsNow++;
      await this.report();
    }
    this.send({
      action: 'reporter_ack',
      command_id: message.command_id,
      ok: true,
      reporter: { ...this.reporter },
    });
  }

  send(frame: Record<string, unknown>): void {
    this.socket?.send(JSON.stringify(frame));
  }

  private post(path: string, body: unknown): Promise<Response> {
    return fetch(`${this.options.httpUrl}/api/v1/nodes/${this.options.nodeId}/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** One metrics report (CPU, memory, disk, its services' states, reporter stats). */
  async report(
    values: { cpu?: number; memory?: number; disk?: number } = {},
  ): Promise<Record<string, unknown>> {
    const response = await this.post('metrics', {
      timestamp: new Date().toISOString(),
      cpu_percent: values.cpu ?? 10,
      memory: {
        percent: values.memory ?? 40,
        total: 8_000_000_000,
        available: 4_800_000_000,
        used: 3_200_000_000,
      },
      disk: {
        percent: values.disk ?? 55,
        mounts: [
          { mount: '/', total: 100_000_000_000, used: 55_000_000_000, free: 45_000_000_000, percent: 55 },
        ],
      },
      services: this.supervisor.states(),
      reporter: this.reporter,
    });
    this.reporter.total_reports++;
    this.reporter.last_report_status = String(response.status);
    if (response.status !== 200)
      throw new Error(`report answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  }

  /** Ships log lines, numbering them with the node's sequence. */
  async log(
    lines: { level?: string; logger?: string; message: string }[],
  ): Promise<{ stored: number; duplicates: number; last_seq: number; sent: Record<string, unknown>[] }> {
    const sent = lines.map((line) => ({
      seq: ++this.seq,
      timestamp: new Date().toISOString(),
      level: line.level ?? 'INFO',
      logger_name: line.logger ?? 'Service.app',
      message: line.message,
      module: 'app',
      funcName: 'run',
      lineno: 42,
    }));
    const response = await this.post('logs', { logs: sent });
    if (response.status !== 200)
      throw new Error(`logs answered ${response.status}: ${await response.text()}`);
    return { ...((await response.json()) as { stored: number; duplicates: number; last_seq: number }), sent };
  }

  /** Sends already-numbered lines again (a retry). */
  async resend(lines: Record<string, unknown>[]): Promise<{ stored: number; duplicates: number }> {
    const response = await this.post('logs', { logs: lines });
    return (await response.json()) as { stored: number; duplicates: number };
  }
}
