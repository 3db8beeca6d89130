// Primary adapter — the `inventoryQuery` function's routes: GET /api/v1/vms, /vms/{id}, /hosts, /datastores,
// /clusters and /stats/summary (viewer). Parses the query string, calls the inventory reader, answers; one
// function for the six read routes so they share one warm reader pool and Redis connection.
import { callerScope, type HttpResult, type RouteHandler, type RouteTable } from '#shared/http';
import { inventoryReader, type ListKind, parseListQuery, parseSummaryQuery } from '#shared/inventory';

// Browsers and proxies must not keep answers: the server-side cache knows when a sync made them stale.
const queryHeaders = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/** The reader's body is already JSON text (a cache hit is sent as stored), so it is not serialised again. */
const ok = (answer: { readonly body: string }): HttpResult => ({
  statusCode: 200,
  headers: queryHeaders,
  body: answer.body,
});

const list =
  (kind: ListKind): RouteHandler =>
  async (event) =>
    ok(
      await (await inventoryReader()).list(
        parseListQuery(kind, event.queryStringParameters ?? {}, callerScope(event)),
      ),
    );

const getVm: RouteHandler = async (event) =>
  ok(await (await inventoryReader()).getVm(event.pathParameters?.id ?? ''));

const summary: RouteHandler = async (event) =>
  ok(
    await (await inventoryReader()).summary(
      parseSummaryQuery(event.queryStringParameters ?? {}, callerScope(event)),
    ),
  );

/** The `inventoryQuery` function's routes. */
export const inventoryQueryRoutes = {
  'GET /api/v1/vms': list('vms'),
  'GET /api/v1/vms/{id}': getVm,
  'GET /api/v1/hosts': list('hosts'),
  'GET /api/v1/datastores': list('datastores'),
  'GET /api/v1/clusters': list('clusters'),
  'GET /api/v1/stats/summary': summary,
} satisfies RouteTable;
