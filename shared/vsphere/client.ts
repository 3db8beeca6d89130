// vSphere adapter — client: one vim25 session per (vCenter, credential), shared by every caller in the
// process, serialisable for the next Lambda invocation, re-logged in once when the server forgets it.
// This file is the session (pool, login/resume, `call`); what runs in it lives beside it: `retrieve.ts`
// (property reads, paged retrieval), `watch.ts` (the update watcher), `actions.ts` (VM actions). The
// methods below that delegate there keep the client's API in one place. At the end, `openVcenter`: the one
// way to open a session to a registered vCenter from its registry row (pooled or the caller's own).

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  acquireWebMksTicket,
  getInSession,
  screenshot,
  startTask,
  type TaskResult,
  type WebMksTicket,
  waitForTask,
} from './actions.ts';
import { NetworkError, NotAuthenticatedError, redact, toTypedFault, VsphereError } from './errors.ts';
import { child, childText, toMoRef, type XNode } from './parse.ts';
import {
  type CollectedObject,
  type CollectOptions,
  collectObjects,
  type RetrieveOptions,
  readProperties,
  retrieveObjects,
  type WithSubtypes,
} from './retrieve.ts';
import { type CallOptions, type HttpAnswer, Transport, type TransportOptions } from './transport.ts';
import type { AnyInventoryObject, InventoryType, MoRef, VimValue } from './types.ts';
import { createWatcher, UpdateWatcher, type WatcherRef } from './watch.ts';
import { el, envelope, strings, type Xml } from './xml.ts';

/** The ServiceContent references the client uses, plus `about`. Plain JSON. */
export interface ServiceContentRefs {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  viewManager: MoRef;
  sessionManager: MoRef;
  about: { fullName: string; apiType: string; apiVersion: string; instanceUuid: string };
}

/** A session as plain JSON: what a later invocation needs to resume it (the cookie is a secret). */
export interface SerializedSession {
  v: 1;
  url: string;
  username: string;
  cookie: string;
  serviceContent: ServiceContentRefs;
}

/** Options of {@link VsphereClient.connect}. */
export interface ClientOptions extends TransportOptions {
  username: string;
  password?: string;
  /** Extra attempts for idempotent reads after a network failure. @default 2 */
  retries?: number;
  /** Base of the exponential, fully jittered retry backoff. @default 200 */
  retryBaseMs?: number;
  /**
   * Share one client (one session) per (url, username) in this process. Turn off only for a session
   * that must stay separate (tools, tests). @default true
   */
  pooled?: boolean;
}

/** Per-call options of {@link VsphereClient.call}. */
export interface InvokeOptions extends CallOptions {
  /** Safe to repeat after a network failure (reads). @default false */
  idempotent?: boolean;
  /** Children of `returnval` to hand to `onItem` as they are parsed instead of returning them. */
  stream?: ReadonlySet<string>;
  onItem?: (node: XNode) => void;
}

const SERVICE_INSTANCE: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' };
const pool = new Map<string, Promise<VsphereClient>>();
// The settled clients of `pool`, so a client can tell synchronously whether the entry is its own.
const pooledClients = new Map<string, VsphereClient>();
/**
 * One pooled session per URL, user and TLS settings: a client that skips certificate checks, or trusts a
 * private CA, is never handed to a caller that asked for other verification.
 */
function poolKey(url: string, username: string, tls: Pick<TransportOptions, 'insecure' | 'ca'>): string {
  const ca =
    tls.ca === undefined ? '' : createHash('sha256').update([tls.ca].flat().join('\u0000')).digest('hex');
  return [new URL(url).href, username, tls.insecure === true ? 'insecure' : 'verified', ca].join('\u0000');
}

/**
 * A vim25 SOAP client bound to one session. Get one with {@link VsphereClient.connect} (pooled per
 * URL, username and TLS settings, so a process holds one session per credential) or {@link VsphereClient.resume}.
 */
export class VsphereClient {
  readonly transport: Transport;
  readonly username: string;
  readonly url: string;
  #password: string | undefined;
  #cookie: string | undefined;
  #content: ServiceContentRefs | undefined;
  #relogin: Promise<void> | undefined;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private closed = false;
  private readonly pooled: boolean;
  /** This client's entry in the pool (URL, user and TLS settings). */
  private readonly poolKey: string;

  private constructor(opts: ClientOptions) {
    this.transport = new Transport(opts);
    this.url = opts.url;
    this.username = opts.username;
    this.#password = opts.password;
    this.retries = opts.retries ?? 2;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.pooled = opts.pooled !== false;
    this.poolKey = poolKey(opts.url, opts.username, opts);
  }

  /**
   * Returns the process's client for (url, username), logging in on first use. Concurrent callers
   * share one login. A failed login is not cached. A different password for the same user (a rotated
   * credential) is verified by a fresh login before its session replaces the pooled one: the pool never
   * hands a session to a caller whose password it has not seen work.
   */
  static connect(opts: ClientOptions): Promise<VsphereClient> {
    if (opts.pooled === false) {
      const c = new VsphereClient(opts);
      return c.login().then(() => c);
    }
    const key = poolKey(opts.url, opts.username, opts);
    const existing = pool.get(key);
    if (existing) {
      return existing.then((c) => {
        if (opts.password === undefined || c.#password === opts.password) return c;
        return VsphereClient.loginInto(key, opts, c);
      });
    }
    return VsphereClient.loginInto(key, opts, undefined);
  }

  private static loginInto(
    key: string,
    opts: ClientOptions,
    previous: VsphereClient | undefined,
  ): Promise<VsphereClient> {
    const created = (async () => {
      const c = new VsphereClient(opts);
      await c.login();
      pooledClients.set(key, c);
      return c;
    })();
    if (!previous) {
      pool.set(key, created);
      created.catch(() => pool.delete(key));
      return created;
    }
    // Swap only after the new credential has worked; then log the old session out.
    return created.then((c) => {
      if (pooledClients.get(key) === c) pool.set(key, created);
      if (previous !== c) void previous.close();
      return c;
    });
  }

  /**
   * Resumes a serialised session without a network call (the server is asked only when the session is
   * used). With `password` in `opts` the client can log in again if the session has expired. The
   * process's pooled client for that URL and user is returned instead when it holds the same cookie
   * or the same password.
   */
  static resume(serialized: SerializedSession, opts: Partial<ClientOptions> = {}): Promise<VsphereClient> {
    const key = poolKey(serialized.url, serialized.username, opts);
    const pooledClient = opts.pooled === false ? undefined : pooledClients.get(key);
    if (
      pooledClient &&
      !pooledClient.closed &&
      (pooledClient.#cookie === serialized.cookie ||
        (opts.password !== undefined && pooledClient.#password === opts.password))
    ) {
      return Promise.resolve(pooledClient);
    }
    const c = new VsphereClient({ ...opts, url: serialized.url, username: serialized.username });
    c.#cookie = serialized.cookie;
    c.#content = serialized.serviceContent;
    if (c.pooled && !pool.has(key)) {
      pool.set(key, Promise.resolve(c));
      pooledClients.set(key, c);
    }
    return Promise.resolve(c);
  }

  /** Logs out and closes every pooled client (process shutdown). */
  static async closeAll(): Promise<void> {
    const clients = await Promise.allSettled([...pool.values()]);
    await Promise.allSettled(clients.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  }

  /** The ServiceContent references (after login or resume). */
  get serviceContent(): ServiceContentRefs {
    if (!this.#content) throw new VsphereError('not connected: call VsphereClient.connect() first');
    return this.#content;
  }

  /** The session as plain JSON for {@link VsphereClient.resume}. Contains the session cookie: store it as a secret. */
  serialize(): SerializedSession {
    if (!this.#cookie) throw new VsphereError('no session to serialise');
    return {
      v: 1,
      url: this.url,
      username: this.username,
      cookie: this.#cookie,
      serviceContent: this.serviceContent,
    };
  }

  /** Keeps the cookie and password out of console.log / JSON. */
  toJSON(): object {
    return { url: this.url, username: this.username, loggedIn: this.#cookie !== undefined };
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `VsphereClient ${JSON.stringify(this.toJSON())}`;
  }

  /** Reads ServiceContent and logs in with the configured credentials. */
  async login(): Promise<void> {
    if (this.#password === undefined) {
      throw new NotAuthenticatedError(
        {
          faultType: 'NotAuthenticated',
          faultCode: 'ClientFault',
          faultString: 'no password to log in with',
          detail: {},
        },
        'Login',
      );
    }
    if (!this.#content) this.#content = await this.retrieveServiceContent();
    // Sent without the old cookie: a fresh session, not a rebind of a dead one. Concurrent calls keep
    // using the old cookie until the new one is set.
    await this.invoke(
      'Login',
      this.serviceContent.sessionManager,
      el('userName', this.username) + el('password', this.#password),
      {},
      null,
    );
  }

  private async retrieveServiceContent(): Promise<ServiceContentRefs> {
    const [ret] = await this.invoke('RetrieveServiceContent', SERVICE_INSTANCE, '', { idempotent: true });
    const ref = (name: string): MoRef => {
      const n = child(ret, name);
      if (!n) throw new VsphereError(`ServiceContent lacks ${name}`, { method: 'RetrieveServiceContent' });
      return toMoRef(n);
    };
    const about = child(ret, 'about');
    return {
      rootFolder: ref('rootFolder'),
      propertyCollector: ref('propertyCollector'),
      viewManager: ref('viewManager'),
      sessionManager: ref('sessionManager'),
      about: {
        fullName: childText(about, 'fullName') ?? '',
        apiType: childText(about, 'apiType') ?? '',
        apiVersion: childText(about, 'apiVersion') ?? '',
        instanceUuid: childText(about, 'instanceUuid') ?? '',
      },
    };
  }

  /** Logs out (best effort: an already dead session is fine) and closes sockets; removes the client from the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unpool();
    try {
      if (this.#cookie && this.#content)
        await this.invoke('Logout', this.#content.sessionManager, '', { timeoutMs: 10_000 });
    } catch {
      // Logout of an expired session faults; nothing to release then.
    } finally {
      this.#cookie = undefined;
      this.transport.close();
    }
  }

  /**
   * Leaves the session open for a later invocation (see {@link VsphereClient.serialize}) and forgets
   * the client in this process: removed from the pool, sockets closed, no Logout.
   */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.unpool();
    this.transport.close();
  }

  private unpool(): void {
    const key = this.poolKey;
    const entry = pool.get(key);
    // Only this client's own entry: a non-pooled client must not evict the pooled one.
    if (entry && pooledClients.get(key) === this) {
      pool.delete(key);
      pooledClients.delete(key);
    }
  }

  /** The server's key of this session (UserSession.key), read from SessionManager.currentSession. */
  async sessionKey(opts: CallOptions = {}): Promise<string> {
    const read = async () => {
      const v = await this.readProperty(this.serviceContent.sessionManager, 'currentSession', opts);
      const key =
        v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, VimValue>).key : undefined;
      return typeof key === 'string' ? key : undefined;
    };
    const cookieUsed = this.#cookie;
    let key = await read();
    // Some servers (vcsim) answer property reads without a session instead of faulting: no current
    // session means the same as NotAuthenticated.
    if (key === undefined && this.#password !== undefined) {
      await this.reloginOnce(cookieUsed);
      key = await read();
    }
    if (key === undefined) {
      throw new NotAuthenticatedError(
        { faultType: 'NotAuthenticated', faultCode: '', faultString: 'no current session', detail: {} },
        'sessionKey',
      );
    }
    return key;
  }

  /** SessionManager.TerminateSession: ends other sessions by key (an administrator's call). */
  async terminateSessions(keys: readonly string[], opts: CallOptions = {}): Promise<void> {
    await this.call('TerminateSession', this.serviceContent.sessionManager, strings('sessionId', keys), opts);
  }

  /**
   * Invokes any vim25 method and returns its `returnval` elements (decode them with `decodeValue`).
   * Re-logs in once on NotAuthenticated when the client has a password; retries network failures of
   * `idempotent` calls with jittered backoff.
   */
  async call(method: string, self: MoRef, args: Xml = '', opts: InvokeOptions = {}): Promise<XNode[]> {
    const cookieUsed = this.#cookie;
    try {
      return await this.invoke(method, self, args, opts);
    } catch (e) {
      if (!(e instanceof NotAuthenticatedError) || this.#password === undefined) throw e;
      await this.reloginOnce(cookieUsed);
      return this.invoke(method, self, args, opts);
    }
  }

  // One re-login for all callers that saw the same dead cookie.
  private reloginOnce(deadCookie: string | undefined): Promise<void> {
    if (this.#relogin) return this.#relogin;
    if (this.#cookie !== deadCookie) return Promise.resolve(); // someone already logged in again
    this.#relogin ??= this.login().finally(() => {
      this.#relogin = undefined;
    });
    return this.#relogin;
  }

  private async invoke(
    method: string,
    self: MoRef,
    args: Xml,
    opts: InvokeOptions,
    cookie?: null,
  ): Promise<XNode[]> {
    const body = envelope(method, self, args);
    for (let attempt = 0; ; attempt++) {
      try {
        const sent = cookie === null ? undefined : this.#cookie;
        const { result, sessionCookie } = await this.transport.soap(method, body, sent, opts);
        if (sessionCookie) this.#cookie = sessionCookie;
        if (result.fault) throw toTypedFault(result.fault);
        return result.returnvals;
      } catch (e) {
        const err = this.scrub(e);
        const retryable =
          opts.idempotent === true &&
          err instanceof NetworkError &&
          (err.statusCode === undefined || err.statusCode >= 500) &&
          err.code !== 'BAD_RESPONSE' &&
          attempt < this.retries &&
          !opts.signal?.aborted;
        if (!retryable) throw err;
        await sleep(Math.random() * this.retryBaseMs * 2 ** attempt);
      }
    }
  }

  // Secrets never leave in an error message, whatever the server or the OS put there.
  private scrub(e: unknown): unknown {
    if (e instanceof Error) e.message = redact(e.message, [this.#password, this.#cookie?.split('=')[1]]);
    return e;
  }

  /**
   * GET of a non-SOAP path (the screen) with the session cookie; logs in again once on 401/403 when the
   * client has a password. Keyed by a symbol that `index.ts` does not export (see `actions.ts`).
   */
  async [getInSession](path: string, opts: CallOptions): Promise<HttpAnswer> {
    let cookieUsed = this.#cookie;
    let res = await this.transport.get(path, cookieUsed, opts);
    if ((res.status === 401 || res.status === 403) && this.#password !== undefined) {
      await this.reloginOnce(cookieUsed);
      cookieUsed = this.#cookie;
      res = await this.transport.get(path, cookieUsed, opts);
    }
    return res;
  }

  // Retrieval (retrieve.ts).

  /** Reads properties of one object (RetrievePropertiesEx, no traversal). Unset properties are absent. */
  readProperties(
    obj: MoRef,
    paths: readonly string[],
    opts: CallOptions = {},
  ): Promise<Record<string, VimValue>> {
    return readProperties(this, obj, paths, opts);
  }

  /** Reads one property of one object (`undefined` when unset). */
  async readProperty(obj: MoRef, path: string, opts: CallOptions = {}): Promise<VimValue | undefined> {
    return (await this.readProperties(obj, [path], opts))[path];
  }

  /**
   * Retrieves every object of the given kinds (a kind includes its subtypes, as in vim25: `Network`
   * also yields DistributedVirtualPortgroups) under a container, page by page (CreateContainerView +
   * RetrievePropertiesEx/ContinueRetrievePropertiesEx), yielding objects as each page is parsed. The
   * next page is requested while the caller consumes the current one; at most two pages are in memory.
   * The view is destroyed (and an unfinished result cancelled) when iteration ends or breaks.
   */
  retrieve<T extends InventoryType>(
    opts: RetrieveOptions<T>,
  ): AsyncGenerator<AnyInventoryObject<WithSubtypes<T>>, void, undefined> {
    return retrieveObjects(this, opts);
  }

  /**
   * Reads the objects a ContainerView over `from`, or a traversal from it, reaches, with the given properties
   * per type, in one PropertyCollector retrieval (continued while the server pages); any managed type.
   */
  collect(opts: CollectOptions): Promise<CollectedObject[]> {
    return collectObjects(this, opts);
  }

  // The update watcher (watch.ts).

  /**
   * Starts a watch for incremental sync: a dedicated PropertyCollector (versions belong to it), a
   * ContainerView and a PropertyFilter. Poll it with {@link UpdateWatcher.waitForUpdates}.
   */
  createWatcher<T extends InventoryType>(
    opts: Omit<RetrieveOptions<T>, 'maxObjects'>,
  ): Promise<UpdateWatcher> {
    return createWatcher(this, opts);
  }

  /** Re-attaches to a watch created by an earlier invocation in the same session. */
  resumeWatcher(ref: WatcherRef): UpdateWatcher {
    return new UpdateWatcher(this, ref);
  }

  // VM actions (actions.ts).

  /** VirtualMachine.AcquireTicket('webmks'): a console ticket. */
  acquireWebMksTicket(vm: MoRef, opts: CallOptions = {}): Promise<WebMksTicket> {
    return acquireWebMksTicket(this, vm, opts);
  }

  /** The VM's screen as PNG (`GET /screen?id=<moid>` with the session cookie). */
  screenshot(vm: MoRef, opts: CallOptions = {}): Promise<Buffer> {
    return screenshot(this, vm, opts);
  }

  /** PowerOnVM_Task; returns the Task reference (see {@link VsphereClient.waitForTask}). */
  powerOnVm(vm: MoRef, opts: CallOptions = {}): Promise<MoRef> {
    return startTask(this, 'PowerOnVM_Task', vm, opts);
  }

  /** PowerOffVM_Task; returns the Task reference. */
  powerOffVm(vm: MoRef, opts: CallOptions = {}): Promise<MoRef> {
    return startTask(this, 'PowerOffVM_Task', vm, opts);
  }

  /** Destroy_Task on any managed entity; returns the Task reference. */
  destroy(entity: MoRef, opts: CallOptions = {}): Promise<MoRef> {
    return startTask(this, 'Destroy_Task', entity, opts);
  }

  /**
   * Polls a task's `info` (state, result, error) through the PropertyCollector until it succeeds
   * (returning its result) or fails (throwing {@link TaskError}). Polls back off from 100 ms to 1 s.
   */
  waitForTask(task: MoRef, opts: CallOptions & { pollMs?: number } = {}): Promise<TaskResult> {
    return waitForTask(this, task, opts);
  }
}

/** The columns of a vCenter's registry row (`vcenters`) a session is opened from; none of them is secret. */
export interface VcenterEndpointRow {
  readonly url: string;
  readonly username: string;
  /** Where the service account's password is kept (a Secrets Manager ARN, or a key of the local store). */
  readonly secret_ref: string;
  readonly tls_insecure: boolean;
  readonly ca_pem: string | null;
}

/** Reads a secret by reference (a Secrets Manager ARN, or a key of the local secret store). */
export interface SecretReader {
  get(ref: string): Promise<string>;
}

/** Options of {@link openVcenter}. */
export interface OpenVcenterOptions {
  /**
   * `true`: the process's pooled session for the row's credential and TLS settings, shared by every caller
   * (VM operations). `false`: a session of the caller's own, never put in the pool nor taken from it (the
   * sync: its watch lives in that session, so no one else may use it or log it out). No default: every
   * caller says which.
   */
  readonly pooled: boolean;
  /** The password, when the caller holds it already (the sync also unseals its saved session with it). */
  readonly password?: string;
  /** Where the password is read (at `row.secret_ref`) when none is given. */
  readonly secrets?: SecretReader;
  /**
   * A saved session of this vCenter to resume instead of logging in (no network call). Without a password
   * the resumed client cannot log in again: an expired session surfaces as NotAuthenticatedError.
   */
  readonly session?: SerializedSession;
  readonly timeoutMs?: number;
}

/** The TLS trust of a vCenter's registry row, as client options. */
export function vcenterTls(row: VcenterEndpointRow): { insecure: boolean; ca?: string } {
  return { insecure: row.tls_insecure, ...(row.ca_pem ? { ca: row.ca_pem } : {}) };
}

/**
 * The one way to open a session to a registered vCenter from its row: the row gives the endpoint, the user
 * and the TLS trust; the password is the one given or read from the secret store; the session is a saved one
 * resumed, or a fresh login. Whether it is pooled is the caller's explicit choice (see
 * {@link OpenVcenterOptions.pooled}).
 */
export async function openVcenter(
  row: VcenterEndpointRow,
  options: OpenVcenterOptions,
): Promise<VsphereClient> {
  const password =
    options.password ?? (options.secrets ? await options.secrets.get(row.secret_ref) : undefined);
  const common = {
    ...vcenterTls(row),
    pooled: options.pooled,
    ...(password === undefined ? {} : { password }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  };
  if (options.session) return VsphereClient.resume(options.session, common);
  if (password === undefined) throw new Error(`A login to ${row.url} needs a password or a secret store`);
  return VsphereClient.connect({ url: row.url, username: row.username, ...common });
}
