// Benchmarks — a per-statement profile of sync passes, for the lag bench only (nothing here is loaded by the
// product). `installPassProfiler()` wraps, in this process, pg's Client#query, the vSphere transport's SOAP
// round trip and ioredis' sendCommand; a call is recorded only inside `profiled(...)` (AsyncLocalStorage), so
// the bench's own power-offs, the API's reads and the dispatcher are not counted. A pass's time splits into
// the vSphere share (SOAP round trips: what a real vCenter's latency decides) and vfleet's own share
// (everything else: SQL, Redis, CPU, waits on pools), with each SQL statement, SOAP method and Redis command.
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Transport } from '../../shared/vsphere/transport.ts';

/** One recorded call: what, when it started (ms from the pass's start) and how long it took. */
export interface Call {
  readonly kind: 'sql' | 'soap' | 'redis';
  readonly what: string;
  readonly atMs: number;
  readonly ms: number;
  /** WaitForUpdatesEx: object updates in the answer. */
  readonly objects?: number;
}

/** One profiled pass (for the worker: one invocation). */
export interface PassTiming {
  readonly wallMs: number;
  /** Sum of SOAP round trips (the vSphere share). */
  readonly vsphereMs: number;
  /** wallMs − vsphereMs: vfleet's own share. */
  readonly ownMs: number;
  readonly sqlMs: number;
  readonly redisMs: number;
  /** Object updates the pass received (the sum over its WaitForUpdatesEx answers). */
  readonly objects: number;
  readonly calls: readonly Call[];
}

/** A profiled run while it is still going (its calls grow) and, once done, its timing. */
export interface Store {
  /** performance.now() at the start. */
  readonly started: number;
  readonly calls: Call[];
  timing?: PassTiming;
}

const als = new AsyncLocalStorage<Store>();
let installed = false;

/** SQL text reduced to a stable label: whitespace collapsed, the start of the statement. */
export function statementLabel(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 90 ? `${flat.slice(0, 90)}…` : flat;
}

function record(store: Store, kind: Call['kind'], what: string, started: number, objects?: number): void {
  const end = performance.now();
  store.calls.push({
    kind,
    what,
    atMs: started - store.started,
    ms: end - started,
    ...(objects === undefined ? {} : { objects }),
  });
}

type Node = { name: string; children?: Node[] | undefined };

/** Object updates in a WaitForUpdatesEx answer (UpdateSet → filterSet → objectSet). */
function countObjects(answer: unknown): number {
  const returnvals = (answer as { result?: { returnvals?: Node[] } }).result?.returnvals ?? [];
  let n = 0;
  for (const set of returnvals)
    for (const filter of set.children ?? [])
      if (filter.name === 'filterSet') for (const o of filter.children ?? []) if (o.name === 'objectSet') n++;
  return n;
}

/** Wraps the three call sites once per process. Idempotent. */
export function installPassProfiler(): void {
  if (installed) return;
  installed = true;

  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function profiledQuery(this: pg.Client, ...args: unknown[]) {
    const store = als.getStore();
    if (!store) return query.apply(this, args);
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '(submittable)');
    const started = performance.now();
    const last = args.at(-1);
    if (typeof last === 'function') {
      // Callback form (pg.Pool#query uses it).
      const callback = last as (...r: unknown[]) => void;
      args[args.length - 1] = (...r: unknown[]) => {
        record(store, 'sql', statementLabel(text), started);
        callback(...r);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args) as Promise<unknown> | undefined;
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).finally(() => record(store, 'sql', statementLabel(text), started));
    }
    return result; // a Submittable (COPY): its time stays in the own share's remainder
  } as typeof pg.Client.prototype.query;

  const soap = Transport.prototype.soap;
  Transport.prototype.soap = function profiledSoap(this: Transport, ...args: Parameters<typeof soap>) {
    const store = als.getStore();
    if (!store) return soap.apply(this, args);
    const started = performance.now();
    return soap.apply(this, args).then(
      (answer) => {
        const method = String(args[0]);
        record(
          store,
          'soap',
          method,
          started,
          method === 'WaitForUpdatesEx' ? countObjects(answer) : undefined,
        );
        return answer;
      },
      (error: unknown) => {
        record(store, 'soap', String(args[0]), started);
        throw error;
      },
    );
  };

  const send = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function profiledSend(this: Redis, ...args: Parameters<typeof send>) {
    const store = als.getStore();
    const result = send.apply(this, args);
    if (store) {
      const started = performance.now();
      const command = args[0] as unknown as { name?: string; promise?: Promise<unknown> };
      command.promise
        ?.catch(() => {})
        .finally(() => record(store, 'redis', String(command.name ?? '?').toUpperCase(), started));
    }
    return result;
  };
}

/** Runs `work` with every SQL statement, SOAP round trip and Redis command it makes recorded. */
export async function profiled<T>(
  work: () => Promise<T>,
  onStart?: (live: Store) => void,
): Promise<{ result: T; timing: PassTiming }> {
  const store: Store = { started: performance.now(), calls: [] };
  onStart?.(store);
  const result = await als.run(store, work);
  const wallMs = performance.now() - store.started;
  const sum = (kind: Call['kind']) =>
    store.calls.filter((c) => c.kind === kind).reduce((total, c) => total + c.ms, 0);
  const vsphereMs = sum('soap');
  store.timing = {
    wallMs,
    vsphereMs,
    ownMs: wallMs - vsphereMs,
    sqlMs: sum('sql'),
    redisMs: sum('redis'),
    objects: store.calls.reduce((total, c) => total + (c.objects ?? 0), 0),
    calls: store.calls,
  };
  return { result, timing: store.timing };
}

/** Per-pass mean time and count of each statement / method / command over `passes`. */
export function breakdown(
  passes: readonly PassTiming[],
): { kind: Call['kind']; what: string; perPass: number; meanMs: number; msPerPass: number }[] {
  const totals = new Map<string, { kind: Call['kind']; what: string; n: number; ms: number }>();
  for (const pass of passes) {
    for (const call of pass.calls) {
      const key = `${call.kind}\u0000${call.what}`;
      const entry = totals.get(key) ?? { kind: call.kind, what: call.what, n: 0, ms: 0 };
      entry.n++;
      entry.ms += call.ms;
      totals.set(key, entry);
    }
  }
  const n = Math.max(1, passes.length);
  return [...totals.values()]
    .map((t) => ({ kind: t.kind, what: t.what, perPass: t.n / n, meanMs: t.ms / t.n, msPerPass: t.ms / n }))
    .sort((a, b) => b.msPerPass - a.msPerPass);
}

/**
 * What a streaming invocation spends applying each answer: from the end of a WaitForUpdatesEx that brought
 * objects to the start of the next SOAP call (or the invocation's end), with the SOAP calls inside that gap
 * (none, normally) counted as vSphere share. Answers whose processing ended within [from, to] (performance.now()).
 */
export function applySegments(
  runs: readonly Store[],
  from: number,
  to: number,
): { objects: number; ownMs: number; vsphereMs: number }[] {
  const segments: { objects: number; ownMs: number; vsphereMs: number }[] = [];
  for (const run of runs) {
    const soaps = run.calls.filter((c) => c.kind === 'soap');
    for (const [i, call] of soaps.entries()) {
      if (call.what !== 'WaitForUpdatesEx' || !call.objects) continue;
      const start = run.started + call.atMs + call.ms;
      const next = soaps.slice(i + 1).find((c) => c.what === 'WaitForUpdatesEx');
      const end = next ? run.started + next.atMs : run.timing ? run.started + run.timing.wallMs : undefined;
      if (end === undefined || end < from || end > to) continue;
      const inside = soaps
        .slice(i + 1)
        .filter((c) => c !== next && run.started + c.atMs >= start && run.started + c.atMs < end)
        .reduce((total, c) => total + c.ms, 0);
      segments.push({ objects: call.objects, ownMs: end - start - inside, vsphereMs: inside });
    }
  }
  return segments;
}
