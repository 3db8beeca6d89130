// Primary adapter — the `dashboardIngest` function's routes: POST /api/v1/nodes/{id}/metrics and /logs (role
// node; a node speaks only for itself: the token's subject must be the path's node id).
import { dashboard, logBatchSchema, metricsReportSchema } from '#shared/dashboard';
import {
  ForbiddenError,
  type HttpEvent,
  json,
  jsonBody,
  parseInput,
  type RouteHandler,
  type RouteTable,
} from '#shared/http';
import { callerSubject, nodeFromPath } from './params.ts';

function reportingNode(event: HttpEvent): string {
  const node = nodeFromPath(event, 'id');
  if (callerSubject(event) !== node)
    throw new ForbiddenError('A node token may only report for its own node id');
  return node;
}

const metrics: RouteHandler = async (event) => {
  const node = reportingNode(event);
  const report = parseInput(metricsReportSchema, jsonBody(event), 'report');
  return json(200, await dashboard().ingestMetrics(node, report));
};

const logs: RouteHandler = async (event) => {
  const node = reportingNode(event);
  const batch = parseInput(logBatchSchema, jsonBody(event), 'logs');
  return json(200, await dashboard().ingestLogs(node, batch.logs));
};

/** The `dashboardIngest` function's routes. */
export const dashboardIngestRoutes = {
  'POST /api/v1/nodes/{id}/metrics': metrics,
  'POST /api/v1/nodes/{id}/logs': logs,
} satisfies RouteTable;
