// Primary adapter — the `dashboardIngest` function's routes: POST /api/v1/nodes/{id}/metrics, /logs and
// /connect-ticket (role node; a node speaks only for itself, as #shared/placement's `callerIsNode` decides for
// every node route).
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
import { issueConnectTicket } from '#shared/realtime';
import { nodeFromPath } from './params.ts';

/** The path's node, when the caller is that node (its token locally, its instance under IAM in AWS). */
async function reportingNode(event: HttpEvent): Promise<string> {
  const node = nodeFromPath(event, 'id');
  if (!(await callerIsNode(placementStore(), nodeCaller(event), node)))
    throw new ForbiddenError('A node may only speak for its own node id');
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

/**
 * A one-time ticket for the node's control connection: in AWS the agent signs this request with its instance
 * role, which a WebSocket $connect cannot carry, and connects with the ticket in place of a token.
 */
const connectTicket: RouteHandler = async (event) => {
  const node = await reportingNode(event);
  const { ticket, expiresAt } = await issueConnectTicket({ subject: node, roles: ['node'] });
  return json(201, { ticket, expires_at: new Date(expiresAt * 1000).toISOString() });
};

/** The `dashboardIngest` function's routes. */
export const dashboardIngestRoutes = {
  'POST /api/v1/nodes/{id}/metrics': metrics,
  'POST /api/v1/nodes/{id}/logs': logs,
  'POST /api/v1/nodes/{id}/connect-ticket': connectTicket,
} satisfies RouteTable;
