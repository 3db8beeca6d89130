// Node agent — the control connection: the agent's own WebSocket to the control plane's WebSocket API
// (`?token=<node token or one-time connect ticket>`, as the $connect authorizer reads it), where operators'
// commands arrive. It pings every 20 s: within API Gateway's 10-minute idle window and, three times over, within
// the dashboard's 60 s expiry (a ping counts as contact, so a node reporting only every 300 s stays online). It
// replaces a connection that stopped answering, reconnects with capped exponential back-off and jitter, and
// renews the connection before API Gateway's 2-hour limit: the new one opens before the old one closes (the
// control plane sends to the newest), so no command falls between them. It pings at once on each new
// connection, which is when the control plane hands over commands queued while the agent was away. Commands
// are answered as docs/architecture.md's node-side table says: `service_command` → `service_ack`,
// `reporter_command` → `reporter_ack`, each with its `command_id`; a repeated command id gets the same answer
// again without acting twice.
import WebSocket from 'ws';
import type { LogLevel } from './logs.ts';
import type { Reporter, ReporterStats } from './reporter.ts';
import { type ServiceAction, ServiceError, type Supervisor, serviceActions } from './supervisor.ts';

type Frame = Record<string, unknown>;

export interface ControlConnectionOptions {
  /** The WebSocket API, e.g. `ws://127.0.0.1:3001` (`wss://…/<stage>` in AWS). */
  readonly wsUrl: string;
  /** The node token or a fresh connect ticket, asked for at each connect (a token file may be renewed). */
  readonly token: () => Promise<string>;
  /** Answers one command frame; undefined: nothing to answer. */
  readonly onCommand: (frame: Frame) => Promise<Frame | undefined>;
  /**
   * Application ping period: within API Gateway's 10-minute idle limit and the dashboard's 60 s expiry (each
   * ping counts as the node's contact). @default 20 000
   */
  readonly pingMs?: number;
  /** Renew the connection after this long, before API Gateway's 2-hour limit. @default 110 minutes */
  readonly maxAgeMs?: number;
  /** Reconnect back-off, doubling from min to max, with jitter. @default 500 / 30 000 */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  readonly log?: (level: LogLevel, message: string) => void;
}

/** Up to ±25 % of `ms`, so a fleet that lost the control plane at once does not come back at once. */
const jitter = (ms: number) => Math.round(ms * (0.75 + Math.random() * 0.5));

export class ControlConnection {
  private current: WebSocket | undefined;
  private closed = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly answered = new Map<string, Frame>();
  private readonly openWaiters: (() => void)[] = [];
  /** Connections opened so far (reconnects and renewals included). */
  opened = 0;
  /** Renewals before the age limit so far. */
  renewed = 0;
  /** `pong`s received so far: each one follows the control plane's handling of a ping. */
  pongs = 0;

  constructor(private readonly options: ControlConnectionOptions) {
    this.backoffMs = options.reconnectMinMs ?? 500;
  }

  get connected(): boolean {
    return this.current?.readyState === WebSocket.OPEN;
  }

  start(): void {
    void this.connect();
  }

  /** Resolves when a connection is open (at once if one is). */
  whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.openWaiters.push(resolve));
  }

  /** While set, no reconnect is scheduled (tests hold the agent away). */
  private held = false;

  /**
   * Drops the current connection as a network failure would; for tests. The agent reconnects, unless
   * `hold`: then only after `resumeForTest()`.
   */
  dropForTest(hold = false): void {
    this.held = hold;
    this.current?.terminate();
  }

  resumeForTest(): void {
    this.held = false;
    if (!this.current) void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const socket = this.current;
    this.current = undefined;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const gone = new Promise((resolve) => socket.once('close', resolve));
    socket.close(1000, 'agent stopping');
    const force = setTimeout(() => socket.terminate(), 2_000);
    await gone;
    clearTimeout(force);
  }

  private async open(): Promise<WebSocket> {
    const token = await this.options.token();
    const socket = new WebSocket(`${this.options.wsUrl}/?token=${encodeURIComponent(token)}`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      // A refused upgrade (401, 403) or a network failure: 'error', then 'close'.
      socket.once('error', reject);
    });
    socket.on('error', (error) =>
      this.options.log?.('WARNING', `control connection error: ${error.message}`),
    );
    return socket;
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let socket: WebSocket;
    try {
      socket = await this.open();
    } catch (error) {
      this.options.log?.('WARNING', `control connection failed: ${(error as Error).message}`);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      socket.close(1000, 'agent stopping');
      return;
    }
    this.adopt(socket);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.held) return;
    clearTimeout(this.reconnectTimer);
    const wait = jitter(this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs ?? 30_000);
    this.reconnectTimer = setTimeout(() => void this.connect(), wait);
  }

  /** Makes `socket` the connection commands arrive on, with its pings, liveness check and renewal. */
  private adopt(socket: WebSocket): void {
    const previous = this.current;
    this.current = socket;
    this.opened++;
    this.backoffMs = this.options.reconnectMinMs ?? 500;
    const pingMs = this.options.pingMs ?? 20_000;
    let heardAt = Date.now();
    socket.on('message', (data) => {
      heardAt = Date.now();
      this.receive(socket, data.toString());
    });
    const pinger = setInterval(() => {
      // No answer to two pings and more: the connection is dead without having closed.
      if (Date.now() - heardAt > pingMs * 2.5) {
        this.options.log?.('WARNING', 'control connection stopped answering; reconnecting');
        socket.terminate();
        return;
      }
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ action: 'ping' }));
    }, pingMs);
    const renewal = setTimeout(() => void this.renew(socket), jitter(this.options.maxAgeMs ?? 110 * 60_000));
    socket.once('close', () => {
      clearInterval(pinger);
      clearTimeout(renewal);
      if (this.current !== socket) return;
      this.current = undefined;
      if (!this.closed) {
        this.options.log?.('WARNING', 'control connection closed; reconnecting');
        this.scheduleReconnect();
      }
    });
    // At once: the control plane delivers commands queued while the agent was away on its ping.
    socket.send(JSON.stringify({ action: 'ping' }));
    for (const resolve of this.openWaiters.splice(0)) resolve();
    if (previous && previous !== socket) previous.close(1000, 'renewed');
  }

  /** Opens the successor before closing `socket` (which stays in use until then). */
  private async renew(socket: WebSocket): Promise<void> {
    if (this.closed || this.current !== socket) return;
    try {
      const next = await this.open();
      if (this.closed || this.current !== socket) {
        next.close(1000, 'not needed');
        return;
      }
      this.renewed++;
      this.adopt(next);
    } catch (error) {
      // The old connection serves until API Gateway closes it; its close reconnects.
      this.options.log?.('WARNING', `control connection renewal failed: ${(error as Error).message}`);
    }
  }

  private receive(socket: WebSocket, text: string): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    const frames =
      frame.type === 'batch' && Array.isArray(frame.messages) ? (frame.messages as Frame[]) : [frame];
    for (const message of frames) {
      if (message.type === 'pong') this.pongs++;
      if (message.type === 'error') {
        this.options.log?.('WARNING', `control plane refused a frame: ${String(message.message)}`);
      }
      if (typeof message.command_id !== 'string') continue;
      void this.answer(socket, message);
    }
  }

  private async answer(socket: WebSocket, command: Frame): Promise<void> {
    const id = command.command_id as string;
    let reply = this.answered.get(id);
    if (!reply) {
      reply = await this.options.onCommand(command).catch((error: Error) => {
        this.options.log?.('ERROR', `command ${id} failed: ${error.message}`);
        return undefined;
      });
      if (!reply) return;
      this.answered.set(id, reply);
      // Remembers the last thousand: enough for any redelivery.
      if (this.answered.size > 1_000) this.answered.delete(this.answered.keys().next().value as string);
    }
    // The connection it came on, or its successor if that one closed meanwhile.
    const target = socket.readyState === WebSocket.OPEN ? socket : this.current;
    target?.send(JSON.stringify(reply));
  }
}

/** The protocol's answers to operators' commands, carried out on this node's supervisor and reporter. */
export function commandHandler(supervisor: Supervisor, reporter: Reporter) {
  return async (frame: Frame): Promise<Frame | undefined> => {
    if (frame.type === 'service_command') return serviceAck(supervisor, frame);
    if (frame.type === 'reporter_command') return reporterAck(reporter, frame);
    return undefined;
  };
}

async function serviceAck(supervisor: Supervisor, frame: Frame): Promise<Frame> {
  const base = { action: 'service_ack', command_id: frame.command_id };
  const service = typeof frame.service === 'string' ? frame.service : '';
  const action = frame.action as ServiceAction;
  if (!serviceActions.includes(action)) {
    return {
      ...base,
      ok: false,
      error: { code: 'failed', message: `unknown action ${String(frame.action)}` },
    };
  }
  try {
    return { ...base, ok: true, status: await supervisor.act(service, action) };
  } catch (error) {
    const code = error instanceof ServiceError ? error.code : 'failed';
    const status = supervisor.has(service) ? await supervisor.status(service) : undefined;
    return {
      ...base,
      ok: false,
      ...(status ? { status } : {}),
      error: { code, message: (error as Error).message.slice(0, 2_000) },
    };
  }
}

async function reporterAck(reporter: Reporter, frame: Frame): Promise<Frame> {
  const base = { action: 'reporter_ack', command_id: frame.command_id };
  const ok = (stats: ReporterStats) => ({ ...base, ok: true, reporter: stats });
  switch (frame.action) {
    case 'stop':
      return ok(reporter.stop());
    case 'start':
      return ok(reporter.start());
    case 'status':
      return ok(reporter.stats());
    case 'report_now':
      return ok(await reporter.reportNow());
    case 'set_interval': {
      const seconds = frame.interval_seconds;
      if (typeof seconds === 'number' && seconds >= 30 && seconds <= 300)
        return ok(reporter.setInterval(seconds));
      break;
    }
  }
  return {
    ...base,
    ok: false,
    reporter: reporter.stats(),
    error: { code: 'failed', message: `cannot ${String(frame.action)} with ${JSON.stringify(frame)}` },
  };
}
