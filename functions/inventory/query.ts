// Primary adapter — the inventory query API: GET /api/v1/vms, /vms/{id}, /hosts, /datastores, /clusters and
// /stats/summary (viewer). Parses the query string, calls the inventory reader, answers; one function for the
// six read routes so they share one warm reader pool and Redis connection.
import { type HttpResult, httpHandler, NotFoundError } from '#shared/http';
import { inventoryReader, type ListKind, parseListQuery, parseSummaryQuery } from '#shared/inventory';

const lists: Readonly<Record<string, ListKind>> = {
  'GET /api/v1/vms': 'vms',
  'GET /api/v1/hosts': 'hosts',
  'GET /api/v1/datastores': 'datastores',
  'GET /api/v1/clusters': 'clusters',
};

// Browsers and proxies must not keep answers: the server-side cache knows when a sync made them stale.
const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** The reader's body is already JSON text (a cache hit is sent as stored), so it is not serialised again. */
const ok = (answer: { readonly body: string }): HttpResult => ({
  statusCode: 200,
  headers,
  body: answer.body,
});

export const handler = httpHandler(async (event) => {
  const params = event.queryStringParameters ?? {};
  const reader = inventoryReader();
  const kind = lists[event.routeKey];
  if (kind) return ok(await reader.list(parseListQuery(kind, params)));
  if (event.routeKey === 'GET /api/v1/vms/{id}')
    return ok(await reader.getVm(event.pathParameters?.id ?? ''));
  if (event.routeKey === 'GET /api/v1/stats/summary')
    return ok(await reader.summary(parseSummaryQuery(params)));
  throw new NotFoundError(`No inventory route ${event.routeKey}`);
});
