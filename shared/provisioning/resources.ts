// Provisioning — use case: the three levels of a provisioning form for one caller. Each kind is served from the
// tiered cache under the caller's identity scope (one load across every process: single-flight), and loaded on
// a miss from the inventory (service account, fresh sync) or live (through the vCenter's limiter, NORMAL for a
// waiting user, LOW for completions), within the kind's deadline. A kind that misses it is aborted, answered
// `timeout` (or `stale` from its last-known-good value) and completed on LOW; one failing kind never fails the
// request. Selective invalidation: a cached kind lists the objects it was built from (tags), and moves on when
// the sync reports one of them changed.
import type { CacheAnswer, CacheKey, CacheTags, TieredCache } from '#shared/cache';
import { CacheLoadError } from '#shared/cache';
import { NotFoundError } from '#shared/http';
import { logger } from '#shared/observability';
import type { JobOutcome, JobQueue, Limiter, ProvisioningLoadJob } from '#shared/ops';
import { jobKey, LimiterTimeoutError } from '#shared/ops';
import { type CallOptions, SoapFault, type VsphereClient } from '#shared/vsphere';
import {
  inventoryCompute,
  inventoryDatacenters,
  inventoryResources,
  type Queryable,
  storedComputeResource,
  storedDatacenterExists,
  syncedThrough,
} from './inventory-source.ts';
import {
  isKind,
  type Kind,
  type KindAnswer,
  type KindValue,
  type ProvisioningAnswer,
  type ResourceKind,
  type ResourcesQuery,
} from './kinds.ts';
import {
  type LiveCall,
  type LiveComputeResource,
  liveCompute,
  liveComputeIndex,
  liveDatacenters,
  liveResources,
} from './live-source.ts';
import { recordAnswer, recordLoad } from './metrics.ts';
import type { ProvisioningSettings } from './settings.ts';

/** Who a caller's answers are loaded as on one vCenter. */
export interface ProvisioningIdentity {
  /** The cache scope: a hash of the vCenter endpoint and the vCenter user (never a secret, never the name). */
  readonly scope: string;
  /** A personal identity is always loaded live; the service account may answer from the inventory. */
  readonly personal: boolean;
  /** The caller whose personal identity it is (carried by completion jobs); absent for the service account. */
  readonly subject?: string;
  /** A logged-in session of this identity (pooled). */
  client(): Promise<VsphereClient>;
}

/** Everything the use case needs, for one process (see service.ts). */
export interface ProvisioningDeps {
  /** The inventory (reader). */
  readonly db: Queryable;
  readonly limiter: Limiter;
  readonly jobs: JobQueue;
  /** One cache per kind (each with its TTL). */
  readonly caches: { readonly [K in Kind]: TieredCache<KindValue> };
  /** The compute resources a live identity can see, by moid (the resources route's existence check). */
  readonly computeIndex: TieredCache<Record<string, LiveComputeResource>>;
  readonly tags: CacheTags;
  readonly settings: ProvisioningSettings;
  /**
   * The identity `subject` (the token's `sub`) loads with on `vcenterId`: their personal one when registered,
   * else the service account. @throws NotFoundError for a vCenter that is not registered
   */
  identity(vcenterId: string, subject: string | undefined): Promise<ProvisioningIdentity>;
}

/** One kind of one target, for one identity, as a request or a completion job sees it. */
interface KindContext {
  readonly vcenterId: string;
  readonly identity: ProvisioningIdentity;
  /** Load from PostgreSQL (service account, fresh sync) rather than live. */
  readonly fromInventory: boolean;
  readonly lane: 'NORMAL' | 'LOW';
  /** Spends the waiting caller's allowance before a live load (see {@link ServeOptions}). */
  readonly charge?: () => Promise<void>;
}

/** A waiting caller's options. */
export interface ServeOptions {
  /**
   * Spends the caller's allowance (shared/ratelimit) before a kind is loaded live or completed on LOW; a 429 it
   * throws is the request's answer. Cache hits and inventory answers spend nothing.
   */
  readonly charge?: () => Promise<void>;
}

const cacheKey = (ctx: KindContext, kind: string, target: string): CacheKey => ({
  scope: ctx.identity.scope,
  key: `${ctx.vcenterId}\n${kind}\n${target}`,
});

const notFound = (what: string) => new NotFoundError(`${what} does not exist or is not visible to you`);

/** Whether a vSphere failure says the object does not exist (or this identity may not see it). */
const isMissing = (error: unknown) =>
  error instanceof SoapFault && ['ManagedObjectNotFound', 'NoPermission'].includes(error.faultType);

/** A LiveCall that takes each call's slot on the vCenter's limiter and carries the kind's signal. */
function limitedCall(
  deps: ProvisioningDeps,
  ctx: KindContext,
  signal: AbortSignal,
  deadline: number,
): LiveCall {
  return (work) =>
    deps.limiter.withAdmission(
      ctx.vcenterId,
      ctx.lane,
      { timeoutMs: Math.max(1, deadline - Date.now()) },
      (admit) => work({ admit, signal, timeoutMs: Math.max(1, deadline - Date.now()) } satisfies CallOptions),
    );
}

/** Whether the inventory may answer for `identity` now: the service account, and a sync within the lag. */
async function inventoryAnswers(deps: ProvisioningDeps, vcenterId: string, identity: ProvisioningIdentity) {
  if (identity.personal) return false;
  const synced = await syncedThrough(deps.db, vcenterId);
  if (!synced) throw notFound(`vCenter ${vcenterId}`);
  return synced.at !== null && Date.now() - synced.at.getTime() <= deps.settings.syncLagSeconds * 1000;
}

async function context(
  deps: ProvisioningDeps,
  vcenterId: string,
  subject: string | undefined,
  lane: KindContext['lane'],
  options: ServeOptions = {},
): Promise<KindContext> {
  const identity = await deps.identity(vcenterId, subject);
  return {
    vcenterId,
    identity,
    fromInventory: await inventoryAnswers(deps, vcenterId, identity),
    lane,
    ...(options.charge ? { charge: options.charge } : {}),
  };
}

/** The compute resource `moid` as the context's source knows it. @throws NotFoundError when it has none */
async function computeResourceOf(
  deps: ProvisioningDeps,
  ctx: KindContext,
  moid: string,
  signal: AbortSignal,
  deadline: number,
): Promise<LiveComputeResource> {
  if (ctx.fromInventory) {
    const stored = await storedComputeResource(deps.db, ctx.vcenterId, moid);
    if (!stored) throw notFound(`Compute resource ${moid}`);
    return { type: stored.type, hosts: [] };
  }
  const key = cacheKey(ctx, 'compute-index', '');
  const load = async () =>
    liveComputeIndex(await ctx.identity.client(), limitedCall(deps, ctx, signal, deadline));
  // A completion loads what it needs itself: a user's load that just timed out must not fail it through the
  // cache's failure marker.
  const cached = ctx.lane === 'LOW' ? await deps.computeIndex.peek(key) : undefined;
  const index =
    ctx.lane === 'NORMAL'
      ? (await deps.computeIndex.get(key, load)).value
      : cached?.freshness === 'fresh'
        ? cached.value
        : (await deps.computeIndex.put(key, await load())).value;
  const found = index[moid];
  if (!found) throw notFound(`Compute resource ${moid}`);
  return found;
}

/** The load of one kind from the context's source. */
function loaderOf(
  deps: ProvisioningDeps,
  ctx: KindContext,
  kind: Kind,
  target: string,
): (signal: AbortSignal, deadline: number) => Promise<KindValue> {
  return async (signal, deadline) => {
    const started = Date.now();
    const source = ctx.fromInventory ? 'inventory' : 'live';
    const value = await (async (): Promise<KindValue> => {
      if (ctx.fromInventory) {
        if (kind === 'datacenters') return inventoryDatacenters(deps.db, ctx.vcenterId);
        if (kind === 'compute') return inventoryCompute(deps.db, ctx.vcenterId, target);
        return inventoryResources(deps.db, ctx.vcenterId, target, kind);
      }
      const call = limitedCall(deps, ctx, signal, deadline);
      const client = await ctx.identity.client();
      try {
        if (kind === 'datacenters') return await liveDatacenters(client, call);
        if (kind === 'compute') return await liveCompute(client, call, target);
        const computeResource = await computeResourceOf(deps, ctx, target, signal, deadline);
        return await liveResources(client, call, target, computeResource, kind);
      } catch (error) {
        if (isMissing(error))
          throw notFound(`${kind === 'compute' ? 'Datacenter' : 'Compute resource'} ${target}`);
        throw error;
      }
    })();
    recordLoad(kind, source, Date.now() - started);
    return value;
  };
}

/** Serves one kind for a waiting user: cache, else a load within the kind's deadline; never throws but 404. */
async function serveKind(
  deps: ProvisioningDeps,
  ctx: KindContext,
  kind: Kind,
  target: string,
): Promise<KindAnswer> {
  const deadlineMs = deps.settings.deadlineMs[kind];
  const deadline = Date.now() + deadlineMs;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deadlineMs);
  const load = loaderOf(deps, ctx, kind, target);
  // Before the cache's load, not inside it: a refusal there would be recorded as the key's failure for everyone.
  if (ctx.charge && !ctx.fromInventory) {
    const cached = await deps.caches[kind].peek(cacheKey(ctx, kind, target));
    if (cached?.freshness !== 'fresh') await ctx.charge();
  }
  let answer: CacheAnswer<KindValue>;
  try {
    answer = await deps.caches[kind].get(
      cacheKey(ctx, kind, target),
      () => load(controller.signal, deadline),
      {
        invalidatedAt: (value) => deps.tags.changedAt(ctx.vcenterId, value.tags),
      },
    );
  } catch (error) {
    const cause = error instanceof CacheLoadError ? error.cause : error;
    if (cause instanceof NotFoundError) throw cause;
    const timedOut = controller.signal.aborted || cause instanceof LimiterTimeoutError;
    recordAnswer(kind, timedOut ? 'timeout' : 'error');
    if (!timedOut)
      logger.warn('provisioning kind failed', { kind, vcenterId: ctx.vcenterId, why: errorKind(cause) });
    await enqueueCompletion(deps, ctx, kind, target);
    return {
      status: timedOut ? 'timeout' : 'error',
      source: ctx.fromInventory ? 'inventory' : 'live',
      ageSeconds: null,
      items: [],
      error: timedOut ? 'timeout' : errorKind(cause),
    };
  } finally {
    clearTimeout(timer);
  }
  const ageSeconds = Math.floor(answer.ageMs / 1000);
  if (answer.status === 'stale') {
    recordAnswer(kind, 'stale');
    await enqueueCompletion(deps, ctx, kind, target);
    return {
      status: 'stale',
      source: 'cache',
      ageSeconds,
      items: answer.value.items,
      ...(answer.error
        ? { error: controller.signal.aborted ? 'timeout' : errorKind({ name: answer.error }) }
        : {}),
      total: answer.value.total,
    };
  }
  // A hit without a tier shared another call's load in this process.
  recordAnswer(kind, answer.status === 'hit' ? `hit-${answer.tier ?? 'shared'}` : 'miss');
  return {
    status: answer.value.partial ? 'partial' : 'ok',
    source: answer.status === 'hit' ? 'cache' : answer.value.source,
    ageSeconds,
    items: answer.value.items,
    total: answer.value.total,
  };
}

/** The failure's kind as the answer names it (no addresses, no credentials). */
function errorKind(error: unknown): string {
  const name = (error as { name?: string })?.name ?? 'Error';
  if (name === 'NetworkError' || name.startsWith('ECONN')) return 'unreachable';
  if (name === 'TimeoutError' || name === 'AbortedError') return 'timeout';
  if (name === 'NotAuthenticatedError' || name === 'InvalidLogin') return 'authentication';
  if (error instanceof SoapFault) return 'vcenter_fault';
  return 'other';
}

/** Enqueues the LOW load that completes a kind; a failed enqueue is logged, never the request's failure. */
async function enqueueCompletion(deps: ProvisioningDeps, ctx: KindContext, kind: Kind, target: string) {
  const job: ProvisioningLoadJob = {
    v: 1,
    type: 'provisioning-load',
    vcenterId: ctx.vcenterId,
    kind,
    target,
    ...(ctx.identity.subject ? { subject: ctx.identity.subject } : {}),
    lane: 'LOW',
    enqueuedAt: Date.now(),
  };
  await deps.jobs.enqueue(job, jobKey(job), 5_000).catch((error: unknown) => {
    logger.warn('provisioning completion not enqueued', { kind, error: error as Error });
  });
}

/** The answer of the kinds, with `cached` (every kind from cache) and `stale` (any kind stale). */
function answerOf(vcenterId: string, kinds: Partial<Record<Kind, KindAnswer>>): ProvisioningAnswer {
  const served = Object.values(kinds);
  return {
    vcenterId,
    kinds,
    cached: served.length > 0 && served.every((kind) => kind.source === 'cache'),
    stale: served.some((kind) => kind.status === 'stale'),
  };
}

/** GET /api/v1/vcenters/{id}/datacenters */
export async function datacentersOf(
  deps: ProvisioningDeps,
  vcenterId: string,
  subject: string | undefined,
  options: ServeOptions = {},
): Promise<ProvisioningAnswer> {
  const ctx = await context(deps, vcenterId, subject, 'NORMAL', options);
  return answerOf(vcenterId, { datacenters: await serveKind(deps, ctx, 'datacenters', '') });
}

/** GET /api/v1/vcenters/{id}/datacenters/{dc}/compute. @throws NotFoundError for an unknown datacenter */
export async function computeOf(
  deps: ProvisioningDeps,
  vcenterId: string,
  datacenter: string,
  subject: string | undefined,
  options: ServeOptions = {},
): Promise<ProvisioningAnswer> {
  const ctx = await context(deps, vcenterId, subject, 'NORMAL', options);
  if (ctx.fromInventory && !(await storedDatacenterExists(deps.db, vcenterId, datacenter))) {
    throw notFound(`Datacenter ${datacenter}`);
  }
  return answerOf(vcenterId, { compute: await serveKind(deps, ctx, 'compute', datacenter) });
}

/** GET /api/v1/vcenters/{id}/compute/{cr}/resources. @throws NotFoundError for an unknown compute resource */
export async function resourcesOf(
  deps: ProvisioningDeps,
  vcenterId: string,
  computeResource: string,
  query: ResourcesQuery,
  subject: string | undefined,
  options: ServeOptions = {},
): Promise<ProvisioningAnswer> {
  const ctx = await context(deps, vcenterId, subject, 'NORMAL', options);
  if (ctx.fromInventory && !(await storedComputeResource(deps.db, vcenterId, computeResource))) {
    throw notFound(`Compute resource ${computeResource}`);
  }
  const served = await Promise.all(
    query.kinds.map(async (kind) => [kind, await serveKind(deps, ctx, kind, computeResource)] as const),
  );
  const kinds: Partial<Record<ResourceKind, KindAnswer>> = {};
  for (const [kind, answer] of served) {
    kinds[kind] =
      kind === 'templates'
        ? {
            ...answer,
            items: answer.items.slice(0, query.limit),
            limit: query.limit,
            truncated: (answer.total ?? answer.items.length) > query.limit,
          }
        : answer;
  }
  return answerOf(vcenterId, kinds);
}

/**
 * The LOW completion of one kind (a `provisioning-load` job): loads it with the completion deadline and stores
 * it, so the next request is complete. A job for a vCenter or object that is gone is skipped.
 */
export async function runProvisioningLoad(
  deps: ProvisioningDeps,
  job: ProvisioningLoadJob,
): Promise<JobOutcome> {
  if (!isKind(job.kind) || (job.kind !== 'datacenters' && job.target === '')) {
    return { kind: 'skipped', why: 'malformed job' };
  }
  const kind = job.kind;
  let ctx: KindContext;
  try {
    ctx = await context(deps, job.vcenterId, job.subject, 'LOW');
  } catch (error) {
    if (error instanceof NotFoundError) return { kind: 'skipped', why: 'unknown vCenter' };
    throw error;
  }
  const deadline = Date.now() + deps.settings.completionDeadlineMs;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), deps.settings.completionDeadlineMs);
  try {
    const startedAt = Date.now();
    const value = await loaderOf(deps, ctx, kind, job.target)(controller.signal, deadline);
    await deps.caches[kind].put(cacheKey(ctx, kind, job.target), value, startedAt);
    return { kind: 'done' };
  } catch (error) {
    if (error instanceof NotFoundError) return { kind: 'skipped', why: 'gone' };
    if (error instanceof LimiterTimeoutError) return { kind: 'requeue', delaySeconds: 1 };
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
