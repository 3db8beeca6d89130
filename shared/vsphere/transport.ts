// vSphere adapter — transport: SOAP-over-HTTPS with a keep-alive socket pool, a cap on in-flight
// requests, per-call timeouts and AbortSignals; responses are decoded chunk by chunk as they arrive.

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { AbortedError, NetworkError, TimeoutError } from './errors.ts';
import { SoapResponseParser, type SoapResult, type XNode } from './parse.ts';
import { policyLookup, type TargetPolicy, TargetRefusedError, targetPolicyFromEnv } from './targets.ts';

/** Connection settings shared by every call of one client. */
export interface TransportOptions {
  /** SDK endpoint, e.g. `https://vcenter.example.com/sdk`. */
  url: string;
  /** PEM CA bundle to trust instead of the system store (e.g. the vCenter's VMCA root). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Skip TLS certificate verification. Off by default; only for lab endpoints with self-signed certs. */
  insecure?: boolean;
  /** Sockets kept per client (keep-alive pool). @default 8 */
  maxSockets?: number;
  /** In-flight SOAP requests per client; further calls queue. @default maxSockets */
  maxConcurrent?: number;
  /** Per-call timeout in ms (from queueing to the last byte). @default 60000 */
  timeoutMs?: number;
  /** vim25 version sent in SOAPAction. @default '7.0' (understood by vCenter/ESXi 7 and 8) */
  apiVersion?: string;
  /** The endpoints it may connect to, checked on every connection. @default VCENTER_ALLOWED_TARGETS */
  targets?: TargetPolicy;
}

/** Per-call settings. */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Admission to the server (e.g. a slot of a shared rate limiter), awaited before the request takes a socket,
   * with a connected socket made ready meanwhile (a pooled idle one, or a spare connection opened while
   * admission is pending), so connection set-up does not lie between admission and the request leaving, and a
   * caller waiting for admission holds no pooled socket and no in-flight slot. The request is written from the socket's own event, right
   * after checking the admission's `sendBy`; past it (a busy event loop, a connection made anew), the admission
   * is withdrawn and asked for again. It is also asked again on a retry of the same call; whatever it throws
   * fails the call, nothing having been sent.
   */
  admit?: () => Promise<Admission | undefined>;
}

/** What an admission grants. */
export interface Admission {
  /** `performance.now()` by which the request must be written, else it is {@link withdraw}n unsent. */
  readonly sendBy?: number;
  /** Gives back an admission whose request was not sent. */
  withdraw?(): Promise<void>;
}

/** A counting semaphore: the in-flight request cap. */
class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  get inFlight(): number {
    return this.active;
  }
  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }
}

/** A raw HTTP answer (GET requests such as the screen PNG). */
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
}

/** One SOAP call's outcome plus the session cookie the server set, if any. */
export interface SoapAnswer {
  result: SoapResult;
  sessionCookie: string | undefined;
}

const STALE_SOCKET = Symbol('stale keep-alive socket');

const SESSION_COOKIE = /(?:^|[;,]\s*)(vmware_soap_session=[^;]+)/;

/** Sends SOAP envelopes and GETs over one pooled agent. */
export class Transport {
  readonly url: URL;
  readonly timeoutMs: number;
  readonly apiVersion: string;
  private readonly agent: http.Agent;
  private readonly sem: Semaphore;
  /** Connections made ready for admitted calls; the agent hands them out before connecting anew. */
  private readonly spares: net.Socket[] = [];
  private readonly handedOut = new WeakSet<net.Socket>();
  /** Calls between readying a socket and taking it: each counts on one idle or spare socket. */
  private admitting = 0;
  /** Set when the URL's host is an address outside the allow-list: every call fails without connecting. */
  private readonly refused: TargetRefusedError | undefined;

  constructor(opts: TransportOptions) {
    this.url = new URL(opts.url);
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.apiVersion = opts.apiVersion ?? '7.0';
    const maxSockets = opts.maxSockets ?? 8;
    this.sem = new Semaphore(opts.maxConcurrent ?? maxSockets);
    // Idle pooled sockets are dropped after 30 s, before servers' own keep-alive limits close them.
    // Every connection (the agent's and the spares, which reuse its options) resolves through the allow-list
    // and connects to the address it checked. An address in the URL is never looked up, so it is checked here.
    const targets = opts.targets ?? targetPolicyFromEnv();
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    this.refused =
      net.isIP(host) !== 0 && !targets.open && !targets.allowsAddress(host)
        ? new TargetRefusedError(`${host} is not in VCENTER_ALLOWED_TARGETS`)
        : undefined;
    const common = {
      keepAlive: true,
      maxSockets,
      maxFreeSockets: maxSockets,
      scheduling: 'lifo' as const,
      timeout: 30_000,
      lookup: policyLookup(targets),
    };
    this.agent =
      this.url.protocol === 'http:'
        ? new http.Agent(common)
        : new https.Agent({ ...common, ca: opts.ca, rejectUnauthorized: opts.insecure !== true });
    const connect = this.agent.createConnection.bind(this.agent);
    this.agent.createConnection = (options, callback) => this.takeSpare() ?? connect(options, callback);
  }

  private takeSpare(): net.Socket | undefined {
    for (let socket = this.spares.pop(); socket; socket = this.spares.pop()) {
      if (socket.destroyed) continue;
      socket.setTimeout(0);
      this.handedOut.add(socket);
      return socket;
    }
    return undefined;
  }

  /** Opens a connection (TCP, and TLS with the agent's options) into `spares`, for the agent to hand out. */
  private connectSpare(label: string, timeoutMs: number): Promise<void> {
    const host = this.url.hostname;
    const port = Number(this.url.port) || (this.url.protocol === 'http:' ? 80 : 443);
    const options = (this.agent as http.Agent & { options: tls.ConnectionOptions }).options;
    return new Promise((resolve, reject) => {
      const socket =
        this.url.protocol === 'http:'
          ? net.connect({ host, port })
          : tls.connect({ ...options, host, port, servername: net.isIP(host) ? '' : host });
      const fail = (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new NetworkError(`${label}: ${e.code ?? 'network error'}: ${e.message}`, {
            method: label,
            code: e.code,
            cause: e,
          }),
        );
      };
      const timer = setTimeout(
        () => fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
        timeoutMs,
      );
      socket.once('error', fail);
      socket.once(this.url.protocol === 'http:' ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        socket.removeListener('error', fail);
        // An unused spare that fails or idles for 30 s (like pooled sockets) is dropped; once handed out, the
        // agent and its request look after it.
        const drop = () => {
          if (this.spares.includes(socket)) socket.destroy();
        };
        socket.on('error', drop);
        socket.setTimeout(30_000, drop);
        this.spares.push(socket);
        resolve();
      });
    });
  }

  /** Admission, and a connected socket ready for the call (see CallOptions.admit). */
  private async admitted(
    label: string,
    admit: () => Promise<Admission | undefined>,
    timeoutMs: number,
  ): Promise<Admission | undefined> {
    this.admitting++;
    try {
      // Connecting and waiting for admission overlap; a grant that outlives its deadline meanwhile is
      // withdrawn and asked for again at the socket (see `sendBy`).
      // The connection's outcome is made a settled value at once: it may fail while admit() is still
      // pending, and a rejection with no handler by then is unhandled (it ends a Lambda's process).
      const connecting =
        this.idleSockets() + this.spares.length < this.admitting
          ? this.connectSpare(label, timeoutMs).then(
              () => undefined,
              (error: unknown) => ({ error }),
            )
          : undefined;
      let admission: Admission | undefined;
      try {
        admission = await admit();
      } catch (error) {
        await connecting; // the spare (if it connected) stays pooled; the call fails with admit's error
        throw error;
      }
      const failed = await connecting;
      if (failed) {
        await admission?.withdraw?.();
        throw failed.error;
      }
      return admission;
    } finally {
      this.admitting--;
    }
  }

  /** Connected, idle sockets to the server in the keep-alive pool (the next requests take them). */
  idleSockets(): number {
    // The agent files sockets under a name made of the request's and its own TLS options (Agent#addRequest).
    const name = this.agent.getName({
      host: this.url.hostname,
      port: Number(this.url.port) || undefined,
      ...(this.agent as http.Agent & { options: object }).options,
    });
    return this.agent.freeSockets[name]?.length ?? 0;
  }

  /** Requests currently on the wire. */
  get inFlight(): number {
    return this.sem.inFlight;
  }

  /**
   * POSTs one envelope. Items named in `stream` (children of `returnval`) go to `onItem` as they are
   * parsed; the rest of the response comes back decoded. SOAP faults are returned, not thrown.
   */
  async soap(
    method: string,
    envelope: string,
    cookie: string | undefined,
    opts: CallOptions & { stream?: ReadonlySet<string>; onItem?: (n: XNode) => void } = {},
  ): Promise<SoapAnswer> {
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'text/xml; charset=utf-8',
      soapaction: `urn:vim25/${this.apiVersion}`,
      'content-length': Buffer.byteLength(envelope),
    };
    if (cookie) headers.cookie = cookie;
    return this.request(
      method,
      'POST',
      this.url.pathname + this.url.search,
      headers,
      envelope,
      opts,
      (res) => {
        const parser = new SoapResponseParser(opts.stream, opts.onItem);
        res.setEncoding('utf8'); // the decoder keeps multi-byte characters split across chunks intact
        return {
          onData: (chunk: string | Buffer) => parser.write(chunk as string),
          onEnd: () => {
            const setCookie = res.headers['set-cookie'];
            const m = setCookie?.map((c) => SESSION_COOKIE.exec(c)).find((x) => x);
            return { result: parser.end(method), sessionCookie: m?.[1] };
          },
        };
      },
    );
  }

  /** GETs a path relative to the server root (e.g. `/screen?id=vm-42`), with the session cookie. */
  async get(path: string, cookie: string | undefined, opts: CallOptions = {}): Promise<HttpAnswer> {
    const headers: http.OutgoingHttpHeaders = cookie ? { cookie } : {};
    return this.request(`GET ${path.split('?')[0]}`, 'GET', path, headers, undefined, opts, (res) => {
      const chunks: Buffer[] = [];
      return {
        onData: (c: string | Buffer) => chunks.push(c as Buffer),
        onEnd: () => ({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks),
        }),
        acceptAnyStatus: true,
      };
    });
  }

  private async request<T>(
    label: string,
    httpMethod: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    body: string | undefined,
    opts: CallOptions,
    handle: (res: http.IncomingMessage) => {
      onData: (c: string | Buffer) => void;
      onEnd: () => T;
      acceptAnyStatus?: boolean;
    },
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const signal = opts.signal;
    if (this.refused) {
      throw new NetworkError(`${label}: ${this.refused.code}: ${this.refused.message}`, {
        method: label,
        code: this.refused.code,
        cause: this.refused,
      });
    }
    if (signal?.aborted) throw new AbortedError(`${label} aborted`, { method: label, cause: signal.reason });
    // Admission first, holding nothing; the call's timeout runs from there.
    const admission = opts.admit ? await this.admitted(label, opts.admit, timeoutMs) : undefined;
    const started = Date.now();
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      await this.sem.acquire(AbortSignal.any(signal ? [signal, deadline] : [deadline]));
    } catch {
      if (signal?.aborted)
        throw new AbortedError(`${label} aborted`, { method: label, cause: signal.reason });
      throw new TimeoutError(label, timeoutMs);
    }
    try {
      // A keep-alive socket the server closed while idle fails on reuse before any answer; the request
      // never reached the server, so it is sent once more on a fresh socket whatever the method.
      for (let attempt = 0; ; attempt++) {
        const out = await this.attempt(
          label,
          httpMethod,
          path,
          headers,
          body,
          { ...opts, admission },
          handle,
          started,
          timeoutMs,
          attempt === 0,
        );
        if (out !== STALE_SOCKET) return out;
      }
    } finally {
      this.sem.release();
    }
  }

  private attempt<T>(
    label: string,
    httpMethod: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    body: string | undefined,
    opts: CallOptions & { admission?: Admission | undefined },
    handle: (res: http.IncomingMessage) => {
      onData: (c: string | Buffer) => void;
      onEnd: () => T;
      acceptAnyStatus?: boolean;
    },
    started: number,
    timeoutMs: number,
    mayRetryStale: boolean,
  ): Promise<T | typeof STALE_SOCKET> {
    const signal = opts.signal;
    return new Promise<T | typeof STALE_SOCKET>((resolve, reject) => {
      let settled = false;
      let answered = false;
      const finish = (err: Error | undefined, value?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value as T);
      };
      // The timeout counts from the call, so time spent queued for a slot is part of it.
      const remaining = Math.max(1, timeoutMs - (Date.now() - started));
      const timer = setTimeout(() => finish(new TimeoutError(label, timeoutMs)), remaining);
      const onAbort = () =>
        finish(new AbortedError(`${label} aborted`, { method: label, cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      const req = (this.url.protocol === 'http:' ? http : https).request({
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port,
        method: httpMethod,
        path,
        headers,
        agent: this.agent,
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (
          mayRetryStale &&
          !answered &&
          req.reusedSocket &&
          (e.code === 'ECONNRESET' || e.code === 'EPIPE')
        ) {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(STALE_SOCKET);
          return;
        }
        finish(
          new NetworkError(`${label}: ${e.code ?? 'network error'}: ${e.message}`, {
            method: label,
            code: e.code,
            cause: e,
          }),
        );
      });
      req.on('response', (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        const type = String(res.headers['content-type'] ?? '');
        const h = handle(res);
        // SOAP faults arrive as HTTP 500 with an XML body; anything else non-2xx is an HTTP failure.
        if (
          !h.acceptAnyStatus &&
          !(status >= 200 && status < 300) &&
          !(status === 500 && type.includes('xml'))
        ) {
          res.resume();
          finish(
            new NetworkError(`${label}: HTTP ${status}`, {
              method: label,
              code: `HTTP_${status}`,
              statusCode: status,
            }),
          );
          return;
        }
        res.on('data', (c: string | Buffer) => {
          try {
            h.onData(c);
          } catch (e) {
            finish(
              new NetworkError(`${label}: bad response: ${(e as Error).message}`, {
                method: label,
                code: 'BAD_RESPONSE',
                cause: e,
              }),
            );
          }
        });
        res.on('end', () => {
          try {
            finish(undefined, h.onEnd());
          } catch (e) {
            finish(
              e instanceof NetworkError
                ? e
                : new NetworkError(`${label}: bad response: ${(e as Error).message}`, {
                    method: label,
                    code: 'BAD_RESPONSE',
                    cause: e,
                  }),
            );
          }
        });
        res.on('error', (e: NodeJS.ErrnoException) =>
          finish(
            new NetworkError(`${label}: ${e.code ?? 'network error'}: ${e.message}`, {
              method: label,
              code: e.code,
              cause: e,
            }),
          ),
        );
      });
      const admit = opts.admit;
      if (!admit) {
        req.end(body);
        return;
      }
      req.once('socket', (socket) => {
        // Written from here, synchronously after the last look at the admission's deadline.
        const send = (admission: Admission | undefined) => {
          if (settled) return;
          if (admission?.sendBy !== undefined && performance.now() > admission.sendBy) {
            // One handler for all three steps, so a throwing send cannot leave a rejection unhandled.
            Promise.resolve(admission.withdraw?.())
              .then(admit)
              .then(send)
              .catch((error: Error) => finish(error));
            return;
          }
          req.end(body);
        };
        const ready = () => send(opts.admission);
        // A new connection (not a spare, e.g. for a resend after a stale socket) is set up first.
        if (req.reusedSocket || this.handedOut.has(socket)) ready();
        else socket.once(this.url.protocol === 'http:' ? 'connect' : 'secureConnect', ready);
      });
    });
  }

  /** Closes pooled and spare sockets. */
  close(): void {
    for (const socket of this.spares.splice(0)) socket.destroy();
    this.agent.destroy();
  }
}
