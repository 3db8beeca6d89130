// Primary adapter — the `opsApi` function's routes: GET /api/v1/vms/{id}/thumbnail (viewer: the PNG from the
// tiered cache, first loads through NORMAL, refreshes through LOW; ETag/304, Cache-Control, X-Cache, Age),
// POST /api/v1/vms/{id}/refresh (viewer: the VM re-read from its vCenter through HIGH; 200 with the VM, or 202
// while the job is still queued), GET /api/v1/queue/stats (viewer) and GET /api/v1/audit/console (operator: the
// console audit trail, newest first, within the caller's vCenter scope).
import type { TieredCache } from '#shared/cache';
import { postgres } from '#shared/clients';
import { callerScope, json, parseInput, type RouteHandler, type RouteTable } from '#shared/http';
import { refreshVm, vmRefreshDeps } from '#shared/inventory';
import {
  consoleAuditQuerySchema,
  getThumbnail,
  listConsoleAudit,
  opsService,
  queueStats,
  type ThumbnailAnswer,
} from '#shared/ops';
import { chargeCaller, upstreamCharge } from '#shared/ratelimit';

function cacheHeaders(answer: ThumbnailAnswer): Record<string, string> {
  return {
    etag: `"${answer.etag}"`,
    // Per user (the route needs a token); a browser may reuse it for what is left of its freshness.
    'cache-control': `private, max-age=${Math.floor(answer.freshForMs / 1000)}`,
    'x-cache': answer.status,
    age: String(Math.floor(answer.ageMs / 1000)),
  };
}

const thumbnail: RouteHandler = async (event) => {
  const answer = await getThumbnail(opsService(), event.pathParameters?.id ?? '', {
    charge: upstreamCharge(event),
  });
  const headers = cacheHeaders(answer);
  const ifNoneMatch = event.headers['if-none-match'];
  if (ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === headers.etag)) {
    return { statusCode: 304, headers };
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'image/png', ...headers },
    body: answer.value.toString('base64'),
    isBase64Encoded: true,
  };
};

const refresh: RouteHandler = async (event) => {
  await chargeCaller(event);
  const answer = await refreshVm(vmRefreshDeps(opsService()), event.pathParameters?.id ?? '');
  return json(answer.status === 'refreshed' ? 200 : 202, answer, { 'cache-control': 'no-store' });
};

const stats: RouteHandler = async (event) => {
  const service = opsService();
  const answer = await queueStats({
    limiter: service.limiter,
    thumbnails: service.cache,
    otherCaches: [service.inventoryCache as TieredCache<unknown>],
    vmListTtlSeconds: service.settings.vmListCacheTtlSeconds,
    queueDepth: (lane) => service.queueDepth(lane),
    // Only the caller's vCenters' figures (VCENTER_SCOPES).
    scope: callerScope(event),
  });
  return json(200, answer, { 'cache-control': 'no-store' });
};

const consoleAudit: RouteHandler = async (event) => {
  const query = parseInput(consoleAuditQuerySchema, event.queryStringParameters ?? {}, 'query');
  const page = await listConsoleAudit(postgres('reader'), query, callerScope(event));
  return json(200, page, { 'cache-control': 'no-store' });
};

/** The `opsApi` function's routes. */
export const opsApiRoutes = {
  'GET /api/v1/vms/{id}/thumbnail': thumbnail,
  'POST /api/v1/vms/{id}/refresh': refresh,
  'GET /api/v1/queue/stats': stats,
  'GET /api/v1/audit/console': consoleAudit,
} satisfies RouteTable;
