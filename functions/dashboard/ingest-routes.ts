// Primary adapter — the `dashboardIngest` function's routes: POST /api/v1/nodes/{id}/metrics and /logs (role
// node; a node speaks only for itself, as #shared/placement's `callerIsNode` decides for every node route).
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
import { callerIsNode, nodeCaller, placementStore } from '#shared/placement';
import { nodeFromPath } from './params.ts';

/** The path's node, when the caller is that node (its token locally, its instance under IAM in AWS). */
async function reportingNode(event: HttpEvent): Promise<string> {
  const node = nodeFromPath(event, 'id');
  if (!(await callerIsNode(placementStore(), nodeCaller(event), node)))
    throw new ForbiddenError('A node may only report for its own node id');
  return node;
}

const metrics: RouteHandler = async (event) => {
  const node = await reportingNode(event);
  const report = parseInput(metricsReportSchema, jsonBody(event), 'report');
  return json(200, await dashboard().ingestMetrics(node, report));
};

const logs: RouteHandler = async (event) => {
  const node = await reportingNode(event);
  const batch = parseInput(logBatchSchema, jsonBody(event), 'logs');
  return json(200, await dashboard().ingestLogs(node, batch.logs));
};

/** The `dashboardIngest` function's routes. */
export const dashboardIngestRoutes = {
  'POST /api/v1/nodes/{id}/metrics': metrics,
  'POST /api/v1/nodes/{id}/logs': logs,
} satisfies RouteTable;
