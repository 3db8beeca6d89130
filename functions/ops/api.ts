// Primary adapter — GET /api/v1/vms/{id}/thumbnail (viewer: the PNG from the tiered cache, first loads through
// NORMAL, refreshes through LOW; ETag/304, Cache-Control, X-Cache, Age), POST /api/v1/vms/{id}/refresh (viewer:
// the VM re-read from its vCenter through HIGH; 200 with the VM, or 202 while the job is still queued) and
// GET /api/v1/queue/stats (viewer).
import type { TieredCache } from '#shared/cache';
import { httpHandler, json, NotFoundError } from '#shared/http';
import { refreshVm, vmRefreshDeps } from '#shared/inventory';
import { getThumbnail, loadOpsSettings, opsService, queueStats, type ThumbnailAnswer } from '#shared/ops';

// Checked at start-up: a bad ESXI_*/…_TTL value fails the cold start with the variable's name.
loadOpsSettings();

function cacheHeaders(answer: ThumbnailAnswer): Record<string, string> {
  return {
    etag: `"${answer.etag}"`,
    // Per user (the route needs a token); a browser may reuse it for what is left of its freshness.
    'cache-control': `private, max-age=${Math.floor(answer.freshForMs / 1000)}`,
    'x-cache': answer.status,
    age: String(Math.floor(answer.ageMs / 1000)),
  };
}

export const handler = httpHandler(async (event) => {
  const service = opsService();
  if (event.routeKey === 'GET /api/v1/vms/{id}/thumbnail') {
    const answer = await getThumbnail(service, event.pathParameters?.id ?? '');
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
  }
  if (event.routeKey === 'POST /api/v1/vms/{id}/refresh') {
    const answer = await refreshVm(vmRefreshDeps(service), event.pathParameters?.id ?? '');
    return json(answer.status === 'refreshed' ? 200 : 202, answer, { 'cache-control': 'no-store' });
  }
  if (event.routeKey === 'GET /api/v1/queue/stats') {
    const stats = await queueStats({
      limiter: service.limiter,
      thumbnails: service.cache,
      otherCaches: [service.inventoryCache as TieredCache<unknown>],
      vmListTtlSeconds: service.settings.vmListCacheTtlSeconds,
      queueDepth: (lane) => service.queueDepth(lane),
    });
    return json(200, stats, { 'cache-control': 'no-store' });
  }
  throw new NotFoundError(`No ops route ${event.routeKey}`);
});
