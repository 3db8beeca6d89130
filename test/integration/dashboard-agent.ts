// Test double of the node agent, for what the real one (agent/, tested in agent-dashboard.test.ts) will not
// do: stay silent (the control plane's 202), acknowledge another node's command, report chosen values. It speaks
// the node side of the dashboard protocol over a real WebSocket — `service_command` → `service_ack`,
// `reporter_command` → `reporter_ack` — and reports over HTTPS with its node token. Its services run under the
// agent's own supervisor (agent/supervisor.ts): real child processes, nothing outside the configuration.
import { once } from 'node:events';
import WebSocket from 'ws';
import { type ServiceAction, ServiceError, type Supervisor } from '../../agent/supervisor.ts';

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
    const base = { action: 'service_ack', command_id: message.command_id };
    try {
      const status = await this.supervisor.act(String(message.service), message.action as ServiceAction);
      this.send({ ...base, ok: true, status });
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      this.send({ ...base, ok: false, error: { code: error.code, message: error.message } });
    }
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
      services: await this.supervisor.statuses(),
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
