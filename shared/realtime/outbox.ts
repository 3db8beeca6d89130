// Realtime — coalesced pushes: at most one WebSocket message per connection per window (20 ms), shared by
// every Lambda through Redis. A push appends to the connection's outbox and, if no one is flushing it,
// claims the flush (one Lua script, so an append either lands before the flusher's last look or claims the
// next flush itself: nothing is stranded). The flusher sends what is queued as one frame (a `batch` when
// there is more than one message, never over 128 KB), waits out the window, and repeats until the outbox
// is empty (after `maxHoldMs` under a steady stream it offers the flush to a concurrent push). Keys are `<prefix>ws:{<connectionId>}:…`,
// one hash slot per connection.
import { keyPrefixFromEnv } from '#shared/cache';
import type { RedisClient } from '#shared/clients';

/** The coalescing window: a connection receives at most one message per window. */
export const pushWindowMs = 20;

/** `sent`: this call flushed; `queued`: another call is flushing and will send it; `gone`: the client left. */
export type PushOutcome = 'sent' | 'queued' | 'gone';

// Pops queued messages up to the byte budget (ARGV[2]; at least one, which the sender sized within it).
const drainLua = `
local items, total = {}, 0
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  if #items > 0 and total + #head > tonumber(ARGV[2]) then break end
  redis.call('LPOP', KEYS[1])
  items[#items + 1] = head
  total = total + #head
end
return items`;

// Appends messages; if no one is flushing, claims the flush and pops the first frame's worth at once.
const enqueueScript = `
for i = 3, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], 60000)
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return false end
${drainLua}`;

// After a window: ends the flush if nothing is queued (nil); otherwise renews the claim and pops the next frame.
const nextScript = `
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) return false end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
${drainLua}`;

/** Both scripts answer the frame's messages to send now, or null: not this call's to flush / flush over. */
interface Scripts {
  realtimeEnqueue(
    list: string,
    lock: string,
    ttlMs: number,
    budget: number,
    ...messages: string[]
  ): Promise<string[] | null>;
  realtimeNext(list: string, lock: string, ttlMs: number, budget: number): Promise<string[] | null>;
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
  /** How long one call flushes under a steady stream before offering the flush to another push. @default 100 */
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
      client.defineCommand('realtimeNext', { numberOfKeys: 2, lua: nextScript });
    }
    this.client = client as ScriptClient;
    this.prefix = options.keyPrefix ?? keyPrefixFromEnv();
    this.windowMs = options.windowMs ?? pushWindowMs;
    this.maxHoldMs = options.maxHoldMs ?? 100;
    this.budget = options.frameBudgetBytes ?? 128 * 1024 - 64;
  }

  private keys(connectionId: string) {
    const base = `${this.prefix}ws:{${connectionId}}`;
    return { list: `${base}:out`, lock: `${base}:flush` };
  }

  /**
   * Queues messages for a connection (in order, in one frame if they fit) and flushes if no one else is.
   * @throws if a message alone is over the frame budget (the sender splits what can be split)
   */
  async push(connectionId: string, ...messages: unknown[]): Promise<PushOutcome> {
    const texts = messages.map((message) => JSON.stringify(message));
    for (const text of texts) {
      if (Buffer.byteLength(text) > this.budget) {
        throw new Error(`message of ${Buffer.byteLength(text)} bytes is over the frame budget`);
      }
    }
    const { list, lock } = this.keys(connectionId);
    const first = await this.client.realtimeEnqueue(list, lock, claimTtlMs, this.budget, ...texts);
    return first ? this.flush(connectionId, first) : 'queued';
  }

  /** Sends frame after frame, a window apart, until nothing is queued. */
  private async flush(connectionId: string, first: string[]): Promise<PushOutcome> {
    const { list, lock } = this.keys(connectionId);
    let holdingSince = Date.now();
    let items: string[] | null = first;
    while (items) {
      if (items.length > 0 && !(await this.send(connectionId, items))) return this.forget(connectionId);
      await sleep(this.windowMs);
      if (Date.now() - holdingSince >= this.maxHoldMs) {
        // Under a steady stream, offer the flush to a concurrent push (one Lambda should not flush forever):
        // release, then claim again; if a push took it meanwhile, it sends what is queued.
        await this.client.del(lock);
        items = await this.client.realtimeEnqueue(list, lock, claimTtlMs, this.budget);
        if (!items) return 'sent';
        holdingSince = Date.now();
        if (items.length > 0) continue;
      }
      items = await this.client.realtimeNext(list, lock, claimTtlMs, this.budget);
    }
    return 'sent';
  }

  /** Sends messages as one frame (a `batch` when there are several); false if the connection is gone. */
  private send(connectionId: string, items: string[]): Promise<boolean> {
    const frame = items.length === 1 ? items[0]! : `{"type":"batch","messages":[${items.join(',')}]}`;
    return this.options.post(connectionId, frame);
  }

  private async forget(connectionId: string): Promise<'gone'> {
    const { list, lock } = this.keys(connectionId);
    await this.client.del(list, lock);
    return 'gone';
  }
}
