// Primary adapter — the health capability's routes: GET /health (public) answers the overall status of a probe
// round cached per container for a few seconds (no dependency named, no probe per call); GET
// /api/v1/health/details (operator) runs the three probes and names each dependency's status and latency. Both
// answer 503 when a dependency is down. Bound to its function in infra/topology.ts; the entry is ./handler.ts.
import { checkHealth, publicHealth } from '#shared/health';
import { json, type RouteHandler, type RouteTable } from '#shared/http';

const health: RouteHandler = async () => {
  const answer = await publicHealth().get();
  return json(answer.status === 'ok' ? 200 : 503, answer, { 'cache-control': 'no-store' });
};

const details: RouteHandler = async () => {
  const report = await checkHealth();
  return json(report.status === 'ok' ? 200 : 503, report, { 'cache-control': 'no-store' });
};

/** The `health` function's routes. */
export const healthRoutes = {
  'GET /health': health,
  'GET /api/v1/health/details': details,
} satisfies RouteTable;
