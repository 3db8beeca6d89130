// Fault suite — a steady, bounded load: a fixed number of loops, each sending one request, waiting for its
// answer and pausing, so the load neither stops while a fault lasts nor grows with it. Every answer is kept
// (what was asked, when, the status, and what the test reads of it) for the assertions afterwards.
import { setTimeout as sleep } from 'node:timers/promises';

/** One request of the load, chosen afresh for every send. */
export interface LoadRequest {
  /** A name to group answers by in assertions ('read', 'thumbnail' …). */
  readonly kind: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** One answer (or a transport error, status 0) of the load. */
export interface LoadSample {
  readonly kind: string;
  readonly path: string;
  /** Order of the request's start, over every loop. */
  readonly seq: number;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly status: number;
  /** The JSON answer's `cached` flag, when it has one. */
  readonly cached?: boolean;
  /** The JSON answer's `error` code, when it has one. */
  readonly error?: string;
  /** The `X-Cache` header, when there is one. */
  readonly xCache?: string;
  /** The transport error, for status 0. */
  readonly failure?: string;
  /** The parsed JSON answer, when the load keeps answers (`keepJson`). */
  readonly json?: unknown;
}

export interface Load {
  readonly samples: readonly LoadSample[];
  /** Marks the current point: answers to requests started after it are `since(mark)`. */
  mark(): number;
  since(mark: number, until?: number): LoadSample[];
  /** Stops the loops and waits for their requests in flight. */
  stop(): Promise<readonly LoadSample[]>;
}

export interface LoadOptions {
  readonly baseUrl: string;
  readonly token: string;
  /** Concurrent loops. */
  readonly loops: number;
  /** Pause after each answer, per loop. */
  readonly pauseMs: number;
  /** Picks the next request; `n` counts sends over every loop. */
  readonly next: (n: number) => LoadRequest;
  /** Keep the parsed JSON answers of these kinds in the samples. */
  readonly keepJson?: readonly string[];
  /** A request that takes longer is abandoned and recorded as status 0. @default 30_000 */
  readonly requestTimeoutMs?: number;
}

export function startLoad(options: LoadOptions): Load {
  const samples: LoadSample[] = [];
  const abort = new AbortController();
  let seq = 0;
  const loop = async () => {
    while (!abort.signal.aborted) {
      const n = seq++;
      const request = options.next(n);
      const startedAt = Date.now();
      const base = { kind: request.kind, path: request.path, seq: n, startedAt };
      try {
        const res = await fetch(`${options.baseUrl}${request.path}`, {
          method: request.method,
          headers: {
            authorization: `Bearer ${options.token}`,
            ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
          signal: AbortSignal.timeout(options.requestTimeoutMs ?? 30_000),
        });
        const text = await res.text();
        let json: { cached?: unknown; error?: unknown } = {};
        if (res.headers.get('content-type')?.includes('json') && text) json = JSON.parse(text);
        samples.push({
          ...base,
          endedAt: Date.now(),
          status: res.status,
          ...(typeof json.cached === 'boolean' ? { cached: json.cached } : {}),
          ...(typeof json.error === 'string' ? { error: json.error } : {}),
          ...(res.headers.get('x-cache') ? { xCache: res.headers.get('x-cache') as string } : {}),
          ...(options.keepJson?.includes(request.kind) ? { json } : {}),
        });
      } catch (error) {
        samples.push({ ...base, endedAt: Date.now(), status: 0, failure: String(error) });
      }
      await sleep(options.pauseMs, undefined, { signal: abort.signal }).catch(() => undefined);
    }
  };
  const running = Array.from({ length: options.loops }, () => loop());
  return {
    samples,
    mark: () => seq,
    since: (mark, until = Number.POSITIVE_INFINITY) =>
      samples.filter((s) => s.seq >= mark && s.seq < until).sort((a, b) => a.seq - b.seq),
    async stop() {
      abort.abort();
      await Promise.all(running);
      return samples;
    },
  };
}
