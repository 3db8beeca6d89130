// Test client of the dashboard protocol (what the web UI will do): subscribes with filters, unwraps
// `batch` frames, keeps a cursor per node and drops lines at or below it (resume without duplicates),
// and counts what arrived. Used by the dashboard integration tests and by `npm run bench:dashboard`.
import { once } from 'node:events';
import WebSocket from 'ws';

export interface ClientLogLine {
  readonly node_id: string;
  readonly seq: number;
  readonly timestamp: string;
  readonly level: string;
  readonly logger_name: string;
  readonly message: string;
}

export type Message = Record<string, unknown> & { type: string };

export class DashboardClient {
  readonly messages: Message[] = [];
  /** Lines kept (new ones only), in arrival order. */
  readonly lines: ClientLogLine[] = [];
  /** Lines that arrived at or below the cursor (dropped). */
  duplicates = 0;
  /** Frames received (a `batch` is one frame). */
  frames = 0;
  /** node → highest sequence number seen. */
  readonly seen = new Map<string, number>();
  cursor: string | undefined;
  onLines: ((lines: ClientLogLine[], receivedAt: number) => void) | undefined;
  onMessage: ((message: Message, receivedAt: number) => void) | undefined;
  private waiters: { test: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  socket: WebSocket | undefined;

  constructor(
    private readonly wsUrl: string,
    private readonly token: string,
    /** Keep every message and line (tests read them); a benchmark counts through the hooks instead. */
    private readonly keep = true,
  ) {}

  async connect(): Promise<void> {
    const socket = new WebSocket(`${this.wsUrl}/?token=${encodeURIComponent(this.token)}`);
    await once(socket, 'open');
    socket.on('message', (data) => this.onFrame(data.toString()));
    this.socket = socket;
  }

  private onFrame(text: string): void {
    const receivedAt = Date.now();
    this.frames++;
    const frame = JSON.parse(text) as Message;
    const messages = frame.type === 'batch' ? (frame.messages as Message[]) : [frame];
    for (const message of messages) this.handle(message, receivedAt);
  }

  private handle(message: Message, receivedAt: number): void {
    if (this.keep) this.messages.push(message);
    this.onMessage?.(message, receivedAt);
    if (message.type === 'initial') {
      const data = message.data as { logs: ClientLogLine[]; cursor: string };
      this.take(data.logs, receivedAt);
      this.cursor = data.cursor;
    } else if (message.type === 'new_logs') {
      this.take(message.logs as ClientLogLine[], receivedAt);
    }
    for (const waiter of [...this.waiters]) {
      if (waiter.test(message)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  }

  private take(lines: ClientLogLine[], receivedAt: number): void {
    const fresh: ClientLogLine[] = [];
    for (const line of lines) {
      if (line.seq <= (this.seen.get(line.node_id) ?? 0)) {
        this.duplicates++;
        continue;
      }
      this.seen.set(line.node_id, line.seq);
      fresh.push(line);
    }
    if (this.keep) this.lines.push(...fresh);
    if (fresh.length) this.onLines?.(fresh, receivedAt);
  }

  /** The cursor to resume from: the per-node sequence numbers this client holds. */
  resumeCursor(): string {
    return Buffer.from(JSON.stringify(Object.fromEntries(this.seen))).toString('base64url');
  }

  /** Resolves with the first message (from now, or already received if `past`) that passes `test`. */
  next(test: (m: Message) => boolean, options: { past?: boolean } = {}): Promise<Message> {
    const earlier = options.past ? this.messages.find(test) : undefined;
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  nextOfType(type: string): Promise<Message> {
    return this.next((m) => m.type === type);
  }

  send(frame: unknown): void {
    this.socket?.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async subscribe(filters: Record<string, string> = {}, cursor?: string): Promise<Message> {
    const initial = this.nextOfType('initial');
    this.send({ action: 'subscribe', filters, ...(cursor ? { cursor } : {}) });
    return initial;
  }

  /** Waits until `count` lines are held (no deadline: the test's own timeout bounds it). */
  async waitForLines(count: number): Promise<void> {
    while (this.lines.length < count) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const closed = once(socket, 'close');
    socket.close();
    await closed;
  }
}
