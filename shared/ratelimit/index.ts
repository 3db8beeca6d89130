// Rate limits — public surface (`#shared/ratelimit`): per-principal token buckets for every route that causes
// vCenter calls or queued work, the process-wide buckets built from the environment, and the two ways a route
// spends a token: always (`chargeCaller`, the route's every call goes upstream) or only when it would go
// upstream (`upstreamCharge`, e.g. a thumbnail that misses the cache). Over the limit is a 429 with Retry-After.
import { redis } from '#shared/clients';
import type { RouteKey } from '#shared/contracts';
import { type HttpEvent, TooManyRequestsError, UnauthorizedError } from '#shared/http';
import { PrincipalBuckets } from './buckets.ts';
import { loadRateLimits, type RateLimitClass } from './settings.ts';

export {
  MemoryBuckets,
  PrincipalBuckets,
  type PrincipalBucketsOptions,
  principalKey,
  type Take,
  type TakeSource,
} from './buckets.ts';
export {
  type BucketLimit,
  defaultRateLimits,
  loadRateLimits,
  type RateLimitClass,
  type RateLimitSettings,
  rateLimitClasses,
  rateLimitDefaultEnvName,
  rateLimitEnvironment,
  rateLimitEnvName,
  validateRateLimits,
} from './settings.ts';

/**
 * The routes that spend a principal's tokens, and of which bucket. Those marked `upstream only` spend one only
 * when the call would go upstream (a cache miss, a live load); the others on every call.
 */
export const upstreamRoutes = {
  'POST /api/v1/vms/{id}/refresh': 'vm-refresh',
  /** upstream only: a first load (miss) is refused, a stale refresh is skipped. */
  'GET /api/v1/vms/{id}/thumbnail': 'thumbnail-load',
  'POST /api/v1/vms/{id}/console': 'console',
  'POST /api/v1/vcenters/{id}/sync': 'sync',
  'POST /api/v1/vcenters': 'vcenter-register',
  /** The personal identity is checked by a login to the vCenter. */
  'PUT /api/v1/vcenters/{id}/credentials/me': 'credential-check',
  /** upstream only: live loads, not the inventory nor the cache. */
  'GET /api/v1/vcenters/{id}/datacenters': 'provisioning-load',
  'GET /api/v1/vcenters/{id}/datacenters/{dc}/compute': 'provisioning-load',
  'GET /api/v1/vcenters/{id}/compute/{cr}/resources': 'provisioning-load',
} as const satisfies Partial<Record<RouteKey, RateLimitClass>>;

export type UpstreamRoute = keyof typeof upstreamRoutes;

let memo: { client: unknown; buckets: PrincipalBuckets } | undefined;

/** The process's buckets (limits from `RATE_LIMIT_*`). @throws ConfigError naming an invalid setting */
export function principalBuckets(): PrincipalBuckets {
  const client = redis();
  if (memo?.client !== client)
    memo = { client, buckets: new PrincipalBuckets({ redis: client, settings: loadRateLimits() }) };
  return memo.buckets;
}

/** Spends one token of `cls` for the caller. @throws TooManyRequestsError when the bucket is empty */
async function charge(event: HttpEvent, cls: RateLimitClass): Promise<void> {
  const claims = event.requestContext.authorizer?.jwt?.claims;
  const subject = typeof claims?.sub === 'string' ? claims.sub : undefined;
  // The role check has already refused a token without a subject; this keeps an unlimited caller impossible.
  if (!subject) throw new UnauthorizedError();
  const issuer = typeof claims?.iss === 'string' ? claims.iss : undefined;
  const taken = await principalBuckets().take({ subject, ...(issuer ? { issuer } : {}) }, cls);
  if (!taken.allowed) {
    throw new TooManyRequestsError(
      `Too many ${cls} requests; try again in ${taken.retryAfterSeconds} s`,
      taken.retryAfterSeconds,
    );
  }
}

/** Spends a token of the route's bucket on every call. @throws TooManyRequestsError over the limit */
export function chargeCaller(event: HttpEvent): Promise<void> {
  return charge(event, classOf(event.routeKey));
}

/**
 * The charge a use case calls just before it would go upstream (enqueue a load, call the vCenter), for routes
 * that often answer without doing so. @throws TooManyRequestsError (from the returned function) over the limit
 */
export function upstreamCharge(event: HttpEvent): () => Promise<void> {
  const cls = classOf(event.routeKey);
  // At most one token per request, however many of its parts would go upstream.
  let spent: Promise<void> | undefined;
  return () => {
    spent ??= charge(event, cls);
    return spent;
  };
}

function classOf(routeKey: string): RateLimitClass {
  const cls = Object.hasOwn(upstreamRoutes, routeKey) ? upstreamRoutes[routeKey as UpstreamRoute] : undefined;
  // A programming error: a route charging a bucket must be listed above (and throttled at the gateway).
  if (!cls) throw new Error(`Route ${routeKey} has no rate-limit class (shared/ratelimit upstreamRoutes)`);
  return cls;
}
