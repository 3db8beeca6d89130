// Node agent — the log shipper: the agent's own lines and its supervised processes' output, each with its
// own timestamp, sent to POST /api/v1/nodes/{id}/logs within 20 ms of the first line of a batch. One batch is
// in flight at a time, so sequence numbers reach the control plane in order. A batch is numbered when it
// leaves (so the stored sequence has no gaps of our making) and the highest number is written to the seq file
// before it is sent, so a restarted agent continues after it; a retry resends the same numbers, and the
// control plane drops what it already holds. While the control plane is unreachable lines wait in a bounded
// buffer that drops its oldest (counted, and said in a WARNING line once delivery resumes).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PostNodeRoute } from './http.ts';

export const logLevels = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type LogLevel = (typeof logLevels)[number];

/** One line as the agent and its services hand it in. */
export interface LogRecord {
  readonly level: LogLevel;
  readonly logger: string;
  readonly message: string;
  readonly module?: string;
  readonly funcName?: string;
  readonly lineno?: number;
  /** The line's own time. @default now */
  readonly timestamp?: Date;
}

/** A line as the protocol ships it. */
export interface WireLine {
  seq: number;
  readonly timestamp: string;
  readonly level: LogLevel;
  readonly logger_name: string;
  readonly message: string;
  readonly module?: string;
  readonly funcName?: string;
  readonly lineno?: number;
}

type Pending = Omit<WireLine, 'seq'>;

export interface LogShipperOptions {
  /** Sends to the control plane (./http.ts `nodeRoutePoster`). */
  readonly post: PostNodeRoute;
  /** Holds the highest sequence number sent; read at start, so a restarted agent continues after it. */
  readonly seqFile?: string;
  /** The longest a line waits for its batch to leave (while nothing is in flight). At most 20. @default 20 */
  readonly batchMs?: number;
  /** Lines kept while the control plane is unreachable; past it the oldest are dropped. @default 10 000 */
  readonly maxBuffered?: number;
  /** @default 500 (the protocol allows 1,000) */
  readonly maxBatchLines?: number;
  /** Retry back-off after a failed send, doubling from min to max. @default 100 / 5 000 */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

export interface LogShipperStats {
  /** Lines the control plane stored. */
  readonly shipped: number;
  /** Lines dropped: buffer full, or a batch the control plane refused as malformed. */
  readonly dropped: number;
  /** Lines of retries the control plane already held. */
  readonly duplicates: number;
  /** Failed sends (each retried). */
  readonly failures: number;
  /** Lines waiting or in flight. */
  readonly pending: number;
  /** The highest sequence number sent. */
  readonly lastSeq: number;
}

/** The protocol's limit of one message, and a budget per batch well below API Gateway's 10 MB. */
const maxMessageChars = 8_000;
const maxBatchBytes = 512 * 1024;

/** Reads the seq file: the highest sequence number sent by an earlier run, 0 if none. */
async function readSeq(file: string | undefined): Promise<number> {
  if (!file) return 0;
  try {
    const value = Number((await readFile(file, 'utf8')).trim());
    return Number.isSafeInteger(value) && value > 0 ? value : 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export class LogShipper {
  private readonly queue: Pending[] = [];
  private inFlight: WireLine[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private closed = false;
  private oldestAt = 0;
  private seq: number;
  private shipped = 0;
  private dropped = 0;
  private droppedToldUpTo = 0;
  private duplicates = 0;
  private failures = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly batchMs: number;

  private constructor(
    private readonly options: LogShipperOptions,
    startSeq: number,
  ) {
    this.seq = startSeq;
    this.batchMs = Math.min(Math.max(options.batchMs ?? 20, 0), 20);
  }

  /** Opens the shipper, continuing the sequence after the seq file's number. */
  static async open(options: LogShipperOptions): Promise<LogShipper> {
    if (options.seqFile) await mkdir(dirname(options.seqFile), { recursive: true });
    return new LogShipper(options, await readSeq(options.seqFile));
  }

  stats(): LogShipperStats {
    return {
      shipped: this.shipped,
      dropped: this.dropped,
      duplicates: this.duplicates,
      failures: this.failures,
      pending: this.queue.length + this.inFlight.length,
      lastSeq: this.seq,
    };
  }

  /** Takes one line; it leaves within `batchMs` unless a send is in flight or retrying. */
  log(record: LogRecord): void {
    if (this.closed) return;
    const message =
      record.message.length > maxMessageChars
        ? `${record.message.slice(0, maxMessageChars - 1)}…`
        : record.message;
    if (this.queue.length === 0) this.oldestAt = Date.now();
    this.queue.push({
      timestamp: (record.timestamp ?? new Date()).toISOString(),
      level: record.level,
      logger_name: record.logger.slice(0, 200) || 'agent',
      message,
      ...(record.module ? { module: record.module.slice(0, 200) } : {}),
      ...(record.funcName ? { funcName: record.funcName.slice(0, 200) } : {}),
      ...(record.lineno !== undefined ? { lineno: record.lineno } : {}),
    });
    const overflow = this.queue.length - (this.options.maxBuffered ?? 10_000);
    if (overflow > 0) {
      this.queue.splice(0, overflow);
      this.dropped += overflow;
    }
    this.wake();
  }

  /** Resolves once every line handed in so far has been sent (or dropped). */
  flushed(): Promise<void> {
    if (this.queue.length === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking lines; sends what is queued for at most `graceMs`, then gives up on the rest. */
  async close(graceMs = 2_000): Promise<void> {
    this.closed = true;
    this.wake(true);
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flushed(),
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timeout);
    clearTimeout(this.timer);
    this.queue.length = 0;
    this.settle();
  }

  /** Starts a send now, or when the oldest line has waited `batchMs`. */
  private wake(now = false): void {
    if (this.sending || this.timer || this.queue.length === 0) return;
    const wait = now ? 0 : Math.max(0, this.batchMs - (Date.now() - this.oldestAt));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, wait);
  }

  private settle(): void {
    if (this.queue.length > 0 || this.sending) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Sends batches until the queue is empty; one at a time, retrying each until it is answered. */
  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        this.noteDropped();
        await this.number(this.takeBatch());
        await this.deliver();
        if (this.closed && this.queue.length === 0) break;
      }
    } finally {
      this.sending = false;
      this.settle();
    }
  }

  /** Once lines flow again, says how many the full buffer dropped (in the stream itself). */
  private noteDropped(): void {
    const unsaid = this.dropped - this.droppedToldUpTo;
    if (unsaid <= 0) return;
    this.droppedToldUpTo = this.dropped;
    this.queue.unshift({
      timestamp: new Date().toISOString(),
      level: 'WARNING',
      logger_name: 'agent.logs',
      message: `dropped ${unsaid} log lines (buffer full while the control plane was unreachable; ${this.dropped} in all)`,
      module: 'agent/logs',
      funcName: 'log',
    });
  }

  private takeBatch(): Pending[] {
    const maxLines = Math.min(this.options.maxBatchLines ?? 500, 1_000);
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && count < maxLines) {
      bytes += this.queue[count]!.message.length + 200;
      if (count > 0 && bytes > maxBatchBytes) break;
      count++;
    }
    return this.queue.splice(0, count);
  }

  /** Numbers a batch after the highest number sent, recorded in the seq file before anything leaves. */
  private async number(lines: Pending[]): Promise<void> {
    this.inFlight = lines.map((line) => ({ ...line, seq: ++this.seq }));
    await this.persist();
  }

  private async persist(): Promise<void> {
    const file = this.options.seqFile;
    if (!file) return;
    const temporary = `${file}.tmp`;
    await writeFile(temporary, `${this.seq}\n`);
    await rename(temporary, file);
  }

  /** Sends the numbered batch until the control plane answers it (or refuses it as malformed). */
  private async deliver(): Promise<void> {
    let backoff = this.options.retryMinMs ?? 100;
    let attempt = 0;
    while (this.inFlight.length > 0) {
      attempt++;
      const answer = await this.options
        .post('logs', { logs: this.inFlight })
        .catch((error: Error) => ({ status: 0, body: error.message }));
      if (answer.status === 200) {
        this.accept(answer.body as { stored: number; duplicates: number; last_seq: number }, attempt);
        return;
      }
      if (answer.status === 400 || answer.status === 413) {
        // A batch the control plane cannot take is a bug here: say so, and do not retry it forever.
        console.error(`[agent] log batch refused (${answer.status}): ${JSON.stringify(answer.body)}`);
        this.dropped += this.inFlight.length;
        this.droppedToldUpTo += this.inFlight.length;
        this.inFlight = [];
        return;
      }
      this.failures++;
      if (this.closed) {
        this.inFlight = [];
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, this.options.retryMaxMs ?? 5_000);
    }
  }

  /**
   * The control plane's answer. On a first attempt every line it counted as a duplicate was below what it
   * already held (our sequence was behind: a lost seq file), and those are the batch's first lines, since the
   * control plane drops each line at or below its last one: they go back to the queue to be numbered after
   * its `last_seq`. On a retry, duplicates are lines the lost earlier attempt had stored.
   */
  private accept(answer: { stored: number; duplicates: number; last_seq: number }, attempt: number): void {
    const lines = this.inFlight;
    this.inFlight = [];
    this.shipped += answer.stored;
    if (answer.last_seq > this.seq) this.seq = answer.last_seq;
    if (attempt === 1 && answer.duplicates > 0) {
      const behind = lines.slice(0, answer.duplicates).map(({ seq: _seq, ...line }) => line);
      this.queue.unshift(...behind);
      return;
    }
    this.duplicates += answer.duplicates;
  }
}
