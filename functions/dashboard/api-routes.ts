// Primary adapter — the `dashboardApi` function's routes: the dashboard's reads (viewer), clearing a node's
// history, reporter state and the command audit trail (operator).
import { commandsQuerySchema, dashboard, historyQuerySchema, logsQuerySchema } from '#shared/dashboard';
import { json, parseInput, type RouteHandler, type RouteTable } from '#shared/http';
import { nodeFromPath } from './params.ts';

const noStore = { 'cache-control': 'no-store' };

const metrics: RouteHandler = async () => json(200, await dashboard().metrics(), noStore);

const history: RouteHandler = async (event) => {
  const node = nodeFromPath(event, 'node');
  const { limit } = parseInput(historyQuerySchema, event.queryStringParameters, 'query');
  return json(200, await dashboard().history(node, limit), noStore);
};

const clearHistory: RouteHandler = async (event) => {
  await dashboard().clearHistory(nodeFromPath(event, 'node'));
  return { statusCode: 204 };
};

const stats: RouteHandler = async () => json(200, await dashboard().stats(), noStore);

const logs: RouteHandler = async (event) => {
  const query = parseInput(logsQuerySchema, event.queryStringParameters, 'query');
  return json(200, await dashboard().logs(query), noStore);
};

const reporter: RouteHandler = async (event) =>
  json(200, await dashboard().reporter(nodeFromPath(event, 'id')), noStore);

const commands: RouteHandler = async (event) => {
  const node = nodeFromPath(event, 'id');
  const { limit } = parseInput(commandsQuerySchema, event.queryStringParameters, 'query');
  return json(200, await dashboard().commandTrail(node, limit), noStore);
};

/** The `dashboardApi` function's routes. */
export const dashboardApiRoutes = {
  'GET /api/dashboard/metrics': metrics,
  'GET /api/dashboard/history/{node}': history,
  'DELETE /api/dashboard/history/{node}': clearHistory,
  'GET /api/dashboard/stats': stats,
  'GET /api/dashboard/logs': logs,
  'GET /api/dashboard/nodes/{id}/reporter': reporter,
  'GET /api/dashboard/nodes/{id}/commands': commands,
} satisfies RouteTable;
