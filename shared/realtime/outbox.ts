// Realtime — coalesced pushes: at most one WebSocket message per connection per window (20 ms), shared by
// every Lambda through Redis. A push appends to the connection's outbox and, if no one is flushing it,
// claims the flush (one Lua script, so an append either lands before the flusher's last look or claims the
// next flush itself: nothing is stranded). The flusher sends what is queued as one frame (a `batch` when
// there is more than one message, never over 128 KB), waits out the window, and repeats until the outbox
// is empty. Keys are `<prefix>ws:{<connectionId>}:…`, one hash slot per connection.
import { keyPrefixFromEnv } from '#shared/cache';
import type { RedisClient } from '#shared/clients';

/** The coalescing window: a connection receives at most one message per window. */
export const pushWindowMs = 20;

/** `sent`: this call flushed; `queued`: another call is flushing and will send it; `gone`: the client left. */
export type PushOutcome = 'sent' | 'queued' | 'gone';

const enqueueScript = `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 60000)
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;

// Pops queued messages up to the byte budget (at least one, which the sender sized within the limit).
const drainScript = `
local items, total = {}, 0
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  if #items > 0 and total + #head > tonumber(ARGV[1]) then break end
  redis.call('LPOP', KEYS[1])
  items[#items + 1] = head
  total = total + #head
end
return items`;

// Ends the flush if nothing is queued; otherwise keeps the claim (renewed) for another round.
const releaseScript = `
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) return 1 end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 0`;

interface Scripts {
  realtimeEnqueue(list: string, lock: string, message: string, ttlMs: number): Promise<number>;
  realtimeDrain(list: string, budget: number): Promise<string[]>;
  realtimeRelease(list: string, lock: string, ttlMs: number): Promise<number>;
}
type ScriptClient = RedisClient & Scripts;

export interface OutboxOptions {
  readonly redis: RedisClient;
  /** Posts one frame; false when the connection is gone. */
  readonly post: (connectionId: string, frame: string) => Promise<boolean>;
  /** @default `VFLEET_KEY_PREFIX` */
  readonly keyPrefix?: string;
  /** @default pushWindowMs */
  readonly windowMs?: number;
  /** The longest one call keeps flushing under a steady stream before handing over. @default 1000 */
  readonly maxHoldMs?: number;
  /** Bytes per frame, under API Gateway's 128 KB. @default 128 KB less the batch envelope */
  readonly frameBudgetBytes?: number;
}

// A flusher that crashed leaves its claim for this long; the next push then claims the flush.
const claimTtlMs = 2_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Outbox {
  private readonly client: ScriptClient;
  private readonly prefix: string;
  private readonly windowMs: number;
  private readonly maxHoldMs: number;
  private readonly budget: number;

  constructor(private readonly options: OutboxOptions) {
    const client = options.redis as RedisClient & Partial<Scripts>;
    if (!client.realtimeEnqueue) {
      client.defineCommand('realtimeEnqueue', { numberOfKeys: 2, lua: enqueueScript });
      client.defineCommand('realtimeDrain', { numberOfKeys: 1, lua: drainScript });
      client.defineCommand('realtimeRelease', { numberOfKeys: 2, lua: releaseScript });
    }
    this.client = client as ScriptClient;
    this.prefix = options.keyPrefix ?? keyPrefixFromEnv();
    this.windowMs = options.windowMs ?? pushWindowMs;
    this.maxHoldMs = options.maxHoldMs ?? 1_000;
    this.budget = options.frameBudgetBytes ?? 128 * 1024 - 64;
  }

  private keys(connectionId: string) {
    const base = `${this.prefix}ws:{${connectionId}}`;
    return { list: `${base}:out`, lock: `${base}:flush` };
  }

  /** Queues a message for a connection and flushes if no one else is. */
  async push(connectionId: string, message: unknown): Promise<PushOutcome> {
    const text = JSON.stringify(message);
    if (Buffer.byteLength(text) > this.budget) {
      throw new Error(`message of ${Buffer.byteLength(text)} bytes is over the frame budget`);
    }
    const { list, lock } = this.keys(connectionId);
    const claimed = await this.client.realtimeEnqueue(list, lock, text, claimTtlMs);
    return claimed === 1 ? this.flush(connectionId) : 'queued';
  }

  private async flush(connectionId: string): Promise<PushOutcome> {
    const { list, lock } = this.keys(connectionId);
    const started = Date.now();
    for (;;) {
      if (!(await this.sendQueued(connectionId))) return this.forget(connectionId);
      await sleep(this.windowMs);
      if ((await this.client.realtimeRelease(list, lock, claimTtlMs)) === 1) return 'sent';
      if (Date.now() - started >= this.maxHoldMs) {
        // Hand over: a push from now on claims the next flush; what is queued now goes at once.
        await this.client.del(lock);
        return (await this.sendQueued(connectionId)) ? 'sent' : this.forget(connectionId);
      }
    }
  }

  /** Sends what is queued as one frame; false if the connection is gone. */
  private async sendQueued(connectionId: string): Promise<boolean> {
    const items = await this.client.realtimeDrain(this.keys(connectionId).list, this.budget);
    if (items.length === 0) return true;
    const frame = items.length === 1 ? items[0]! : `{"type":"batch","messages":[${items.join(',')}]}`;
    return this.options.post(connectionId, frame);
  }

  private async forget(connectionId: string): Promise<'gone'> {
    const { list, lock } = this.keys(connectionId);
    await this.client.del(list, lock);
    return 'gone';
  }
}
