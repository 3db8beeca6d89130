// Primary adapter — the health capability's routes: GET /health (public) answers per-dependency status, 503
// when any dependency is down. Bound to its function in infra/topology.ts; the entry is ./handler.ts.
import { checkHealth } from '#shared/health';
import { json, type RouteHandler, type RouteTable } from '#shared/http';

const health: RouteHandler = async () => {
  const report = await checkHealth();
  return json(report.status === 'ok' ? 200 : 503, report, { 'cache-control': 'no-store' });
};

/** The `health` function's routes. */
export const healthRoutes = { 'GET /health': health } satisfies RouteTable;
