// Unit tests — the agent's log shipper against an in-memory control plane that keeps the real one's rule
// (a line at or below the stored sequence is a duplicate): batching, one batch in flight, retries after a
// lost answer, the bounded buffer with its drop counter and notice, the sequence continued across restarts
// through the seq file, and an agent whose seq file was lost catching up with the stored sequence.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteAnswer } from '../../../agent/http.ts';
import { LogShipper, type WireLine } from '../../../agent/logs.ts';

/** The control plane's side: stores lines above its last sequence, counts the rest as duplicates. */
class FakeControlPlane {
  readonly stored: WireLine[] = [];
  readonly posts: WireLine[][] = [];
  lastSeq = 0;
  /** Answers to give before behaving: 'down' (503), 'lost' (stores, then the answer is lost), 'bad' (400). */
  readonly script: ('down' | 'lost' | 'bad')[] = [];
  /** While set, a post waits for it. */
  gate: Promise<void> | undefined;

  post = async (_path: string, body: unknown): Promise<RouteAnswer> => {
    const lines = structuredClone((body as { logs: WireLine[] }).logs);
    this.posts.push(lines);
    await this.gate;
    const next = this.script.shift();
    if (next === 'down') return { status: 503, body: { error: 'unavailable' } };
    if (next === 'bad') return { status: 400, body: { error: 'bad_request' } };
    let stored = 0;
    for (const line of lines) {
      if (line.seq <= this.lastSeq) continue;
      this.stored.push(line);
      this.lastSeq = line.seq;
      stored++;
    }
    if (next === 'lost') throw new Error('socket hang up');
    return { status: 200, body: { stored, duplicates: lines.length - stored, last_seq: this.lastSeq } };
  };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vfleet-agent-logs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (message: string) => ({ level: 'INFO' as const, logger: 'test', message });
const open = (plane: FakeControlPlane, extra: Partial<Parameters<typeof LogShipper.open>[0]> = {}) =>
  LogShipper.open({ post: plane.post, retryMinMs: 1, retryMaxMs: 4, ...extra });

describe('LogShipper', () => {
  it('sends lines handed in together as one batch, numbered from 1, with their own timestamps', async () => {
    const plane = new FakeControlPlane();
    const shipper = await open(plane);
    const at = new Date('2026-12-03T10:00:00.123Z');
    shipper.log({ ...line('a'), timestamp: at, module: 'm', funcName: 'f', lineno: 7 });
    shipper.log(line('b'));
    shipper.log(line('c'));
    await shipper.flushed();
    expect(plane.posts).toHaveLength(1);
    expect(plane.stored.map((l) => [l.seq, l.message])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ]);
    expect(plane.stored[0]).toMatchObject({
      timestamp: at.toISOString(),
      module: 'm',
      funcName: 'f',
      lineno: 7,
    });
    expect(shipper.stats()).toMatchObject({ shipped: 3, pending: 0, lastSeq: 3 });
    await shipper.close();
  });

  it('keeps one batch in flight: lines logged meanwhile follow in the next, in order', async () => {
    const plane = new FakeControlPlane();
    let release!: () => void;
    plane.gate = new Promise((resolve) => {
      release = resolve;
    });
    const shipper = await open(plane);
    shipper.log(line('first'));
    while (plane.posts.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    shipper.log(line('second'));
    shipper.log(line('third'));
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(plane.posts).toHaveLength(1);
    plane.gate = undefined;
    release();
    await shipper.flushed();
    expect(plane.posts.map((batch) => batch.map((l) => l.seq))).toEqual([[1], [2, 3]]);
    await shipper.close();
  });

  it('retries a batch whose answer was lost with the same numbers: stored once, counted as duplicates', async () => {
    const plane = new FakeControlPlane();
    plane.script.push('down', 'lost');
    const shipper = await open(plane);
    for (const message of ['x', 'y']) shipper.log(line(message));
    await shipper.flushed();
    expect(plane.posts.map((batch) => batch.map((l) => l.seq))).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    expect(plane.stored.map((l) => l.message)).toEqual(['x', 'y']);
    expect(shipper.stats()).toMatchObject({ shipped: 0, duplicates: 2, failures: 2, lastSeq: 2 });
    await shipper.close();
  });

  it('drops the oldest lines past the buffer while the control plane is down, and says so when it is back', async () => {
    const plane = new FakeControlPlane();
    let release!: () => void;
    plane.gate = new Promise((resolve) => {
      release = resolve;
    });
    plane.script.push('down');
    const shipper = await open(plane, { maxBuffered: 3 });
    shipper.log(line('sent first'));
    while (plane.posts.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    for (let i = 1; i <= 6; i++) shipper.log(line(`line ${i}`));
    expect(shipper.stats()).toMatchObject({ dropped: 3, pending: 4 });
    plane.gate = undefined;
    release();
    await shipper.flushed();
    expect(plane.stored.map((l) => [l.seq, l.level, l.message.replace(/ \(.*/, '')])).toEqual([
      [1, 'INFO', 'sent first'],
      [2, 'WARNING', 'dropped 3 log lines'],
      [3, 'INFO', 'line 4'],
      [4, 'INFO', 'line 5'],
      [5, 'INFO', 'line 6'],
    ]);
    await shipper.close();
  });

  it('drops a batch the control plane refuses as malformed, counts it, and goes on', async () => {
    const plane = new FakeControlPlane();
    plane.script.push('bad');
    const shipper = await open(plane);
    const errors: unknown[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      shipper.log(line('refused'));
      await shipper.flushed();
    } finally {
      console.error = consoleError;
    }
    shipper.log(line('next'));
    await shipper.flushed();
    expect(errors).toHaveLength(1);
    expect(shipper.stats()).toMatchObject({ dropped: 1, shipped: 1 });
    expect(plane.stored.map((l) => [l.seq, l.message])).toEqual([[2, 'next']]);
    await shipper.close();
  });

  it('continues the sequence after a restart from the seq file', async () => {
    const plane = new FakeControlPlane();
    const seqFile = join(dir, 'restart', 'logs.seq');
    const first = await open(plane, { seqFile });
    for (const message of ['a', 'b', 'c']) first.log(line(message));
    await first.close();
    expect((await readFile(seqFile, 'utf8')).trim()).toBe('3');
    const second = await open(plane, { seqFile });
    second.log(line('d'));
    await second.flushed();
    expect(plane.stored.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    await second.close();
  });

  it('catches up with the stored sequence when its seq file was lost: nothing dropped as a duplicate', async () => {
    const plane = new FakeControlPlane();
    plane.lastSeq = 10;
    const behind = await open(plane);
    for (const message of ['p', 'q']) behind.log(line(message));
    await behind.flushed();
    expect(plane.stored.map((l) => [l.seq, l.message])).toEqual([
      [11, 'p'],
      [12, 'q'],
    ]);
    await behind.close();

    // Partly behind: the lines above the stored sequence land, the rest are renumbered after them.
    const partly = new FakeControlPlane();
    partly.lastSeq = 2;
    const seqFile = join(dir, 'partly.seq');
    await writeFile(seqFile, '0\n');
    const shipper = await open(partly, { seqFile });
    for (const message of ['m1', 'm2', 'm3', 'm4']) shipper.log(line(message));
    await shipper.flushed();
    expect(partly.stored.map((l) => [l.seq, l.message])).toEqual([
      [3, 'm3'],
      [4, 'm4'],
      [5, 'm1'],
      [6, 'm2'],
    ]);
    expect((await readFile(seqFile, 'utf8')).trim()).toBe('6');
    await shipper.close();
  });
});
