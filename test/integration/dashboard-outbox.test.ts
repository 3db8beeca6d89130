// Integration tests — coalesced pushes (shared/realtime's outbox) on real Redis: concurrent pushes to one
// connection arrive complete, in order, with at most one frame per 20 ms window; frames never exceed the
// budget; a connection that answers Gone is forgotten. The post function records frames (the management
// API's transport is covered by the runtime's WebSocket tests).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, pushWindowMs } from '#shared/realtime';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

let ns: TestNamespace;
let redis: Redis;

beforeAll(async () => {
  ns = await freshNamespace('dashout');
  redis = new Redis(ns.services.redisUrl);
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.dispose();
});

interface Frame {
  readonly at: number;
  readonly text: string;
}

function recorder(gone = new Set<string>()) {
  const frames = new Map<string, Frame[]>();
  const post = async (connectionId: string, text: string) => {
    if (gone.has(connectionId)) return false;
    const list = frames.get(connectionId) ?? [];
    list.push({ at: performance.now(), text });
    frames.set(connectionId, list);
    return true;
  };
  return { frames, post };
}

const unwrap = (text: string): { n: number }[] => {
  const frame = JSON.parse(text) as { type: string; messages?: { n: number }[]; n?: number };
  return frame.type === 'batch' ? frame.messages! : [frame as { n: number }];
};

describe('the outbox', () => {
  it('delivers every message of concurrent pushes once, in order, at most one frame per window', async () => {
    const { frames, post } = recorder();
    // Two outboxes on one Redis: two "Lambdas" pushing to the same connection.
    const a = new Outbox({ redis, post, keyPrefix: ns.redisKeyPrefix });
    const second = new Redis(ns.services.redisUrl);
    const b = new Outbox({ redis: second, post, keyPrefix: ns.redisKeyPrefix });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, n) => (n % 2 ? a : b).push('conn-1', { type: 'm', n })),
    );
    const list = frames.get('conn-1')!;
    const received = list.flatMap((frame) => unwrap(frame.text)).map((m) => m.n);
    expect(received.sort((x, y) => x - y)).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(new Set(received).size).toBe(200);
    expect(outcomes.filter((o) => o === 'sent').length).toBeGreaterThan(0);
    expect(list.length).toBeLessThan(200);
    // Frames of one flusher are a window apart (timer granularity may shave a millisecond).
    for (let i = 1; i < list.length; i++)
      expect(list[i]!.at - list[i - 1]!.at).toBeGreaterThanOrEqual(pushWindowMs - 1);
    // Nothing left behind.
    expect(await redis.keys(`${ns.redisKeyPrefix}ws:{conn-1}:*`)).toEqual([]);
    second.disconnect();
  });

  it('keeps each frame within the budget, spreading a backlog over several windows', async () => {
    const { frames, post } = recorder();
    const outbox = new Outbox({ redis, post, keyPrefix: ns.redisKeyPrefix, frameBudgetBytes: 1_000 });
    const payload = 'x'.repeat(300);
    await Promise.all(Array.from({ length: 10 }, (_, n) => outbox.push('conn-2', { type: 'm', n, payload })));
    const list = frames.get('conn-2')!;
    expect(list.length).toBeGreaterThan(3);
    for (const frame of list) expect(Buffer.byteLength(frame.text)).toBeLessThanOrEqual(1_000 + 40);
    expect(
      list
        .flatMap((frame) => unwrap(frame.text))
        .map((m) => m.n)
        .sort((x, y) => x - y),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await expect(outbox.push('conn-2', { payload: 'y'.repeat(2_000) })).rejects.toThrow(
      /over the frame budget/,
    );
  });

  it('offers the flush to concurrent pushes under a steady stream, stranding nothing', async () => {
    const { frames, post } = recorder();
    const outbox = new Outbox({ redis, post, keyPrefix: ns.redisKeyPrefix, maxHoldMs: 25 });
    const pushes: Promise<unknown>[] = [];
    for (let n = 0; n < 40; n++) {
      pushes.push(outbox.push('conn-4', { type: 'm', n }));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await Promise.all(pushes);
    const received = frames
      .get('conn-4')!
      .flatMap((frame) => unwrap(frame.text))
      .map((m) => m.n);
    expect(received).toEqual(Array.from({ length: 40 }, (_, n) => n));
    expect(await redis.keys(`${ns.redisKeyPrefix}ws:{conn-4}:*`)).toEqual([]);
  });

  it('answers gone for a connection that left, and drops what was queued for it', async () => {
    const { post } = recorder(new Set(['conn-3']));
    const outbox = new Outbox({ redis, post, keyPrefix: ns.redisKeyPrefix });
    expect(await outbox.push('conn-3', { type: 'm' })).toBe('gone');
    expect(await redis.keys(`${ns.redisKeyPrefix}ws:{conn-3}:*`)).toEqual([]);
  });
});
