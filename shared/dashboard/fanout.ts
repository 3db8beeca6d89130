// Dashboard — secondary adapter (Redis + realtime pushes): the subscriber index and fan-out. A subscription's
// filters are stored with the connection (the connections table) and indexed by node in Redis
// (`dash:subs:{<node>}`, or `{*}` for every node: connection id → filters), so the subscribers of a node's
// message are two HGETALLs, never a scan of the connections. Pushes go through the coalescing outbox.
import type { RedisClient } from '#shared/clients';
import type { PushOutcome } from '#shared/realtime';
import type { DashboardKeys } from './keys.ts';
import { matcher } from './log-reader.ts';
import type { LogFilters, StoredLogLine } from './schemas.ts';

export interface Subscriber {
  readonly connectionId: string;
  readonly filters: LogFilters;
}

/** Bytes of log lines per `new_logs` message, well under the 128 KB frame (a frame may batch several). */
const logsPerMessageBytes = 60 * 1024;

export interface FanoutDeps {
  readonly redis: RedisClient;
  readonly keys: DashboardKeys;
  readonly push: (connectionId: string, message: unknown) => Promise<PushOutcome>;
  readonly clock: () => number;
}

export class Fanout {
  constructor(private readonly deps: FanoutDeps) {}

  private index(filters: LogFilters): string {
    return this.deps.keys.subscribers(filters.node ?? '*');
  }

  /** Indexes a connection's filters (replacing its previous subscription's entry). */
  async subscribe(connectionId: string, filters: LogFilters, previous?: LogFilters): Promise<void> {
    if (previous) await this.unsubscribe(connectionId, previous);
    await this.deps.redis.hset(this.index(filters), connectionId, JSON.stringify(filters));
  }

  async unsubscribe(connectionId: string, filters: LogFilters): Promise<void> {
    await this.deps.redis.hdel(this.index(filters), connectionId);
  }

  /** The subscribers of one node's messages: those filtered to it and those of every node. */
  async subscribersOf(node: string): Promise<Subscriber[]> {
    const [own, all] = await Promise.all([
      this.deps.redis.hgetall(this.deps.keys.subscribers(node)),
      this.deps.redis.hgetall(this.deps.keys.subscribers('*')),
    ]);
    return [...Object.entries(own), ...Object.entries(all)].map(([connectionId, filters]) => ({
      connectionId,
      filters: JSON.parse(filters) as LogFilters,
    }));
  }

  private async deliver(subscriber: Subscriber, messages: readonly unknown[]): Promise<void> {
    for (const message of messages) {
      if ((await this.deps.push(subscriber.connectionId, message)) === 'gone') {
        await this.unsubscribe(subscriber.connectionId, subscriber.filters);
        return;
      }
    }
  }

  /** Pushes a node's new lines to each subscriber, only the lines its filters match. */
  async publishLogs(node: string, lines: readonly StoredLogLine[]): Promise<number> {
    if (lines.length === 0) return 0;
    const subscribers = await this.subscribersOf(node);
    await Promise.all(
      subscribers.map((subscriber) => {
        const wanted = lines.filter(matcher(subscriber.filters));
        return wanted.length ? this.deliver(subscriber, this.newLogsMessages(node, wanted)) : undefined;
      }),
    );
    return subscribers.length;
  }

  /** `new_logs` messages for lines of one node, split to stay within a frame. */
  newLogsMessages(node: string, lines: readonly StoredLogLine[]): unknown[] {
    const messages: unknown[] = [];
    let chunk: StoredLogLine[] = [];
    let size = 0;
    const flush = () => {
      if (chunk.length === 0) return;
      messages.push({
        type: 'new_logs',
        node_id: node,
        logs: chunk,
        cursor: { [node]: chunk.at(-1)!.seq },
        timestamp: new Date(this.deps.clock()).toISOString(),
      });
      chunk = [];
      size = 0;
    };
    for (const line of lines) {
      const bytes = Buffer.byteLength(JSON.stringify(line));
      if (size + bytes > logsPerMessageBytes) flush();
      chunk.push(line);
      size += bytes;
    }
    flush();
    return messages;
  }

  /** Pushes one message about a node to all its subscribers. */
  async publish(node: string, message: unknown): Promise<void> {
    const subscribers = await this.subscribersOf(node);
    await Promise.all(subscribers.map((subscriber) => this.deliver(subscriber, [message])));
  }
}
