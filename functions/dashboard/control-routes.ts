// Primary adapter — the `dashboardControl` function's routes (operator): service control and reporter
// control on a node, through its agent's WebSocket connection; 200 with the result, or 202 with the
// command id once the wait for the agent's acknowledgement is over.
import { controlServiceSchema, dashboard, reporterControlSchema } from '#shared/dashboard';
import { json, jsonBody, parseInput, type RouteHandler, type RouteTable } from '#shared/http';
import { callerSubject, nodeFromPath } from './params.ts';

const controlService: RouteHandler = async (event) => {
  const request = parseInput(controlServiceSchema, jsonBody(event), 'body');
  const answer = await dashboard().controlService(request, callerSubject(event));
  return json(answer.statusCode, answer.body);
};

const controlReporter: RouteHandler = async (event) => {
  const node = nodeFromPath(event, 'id');
  const request = parseInput(reporterControlSchema, jsonBody(event), 'body');
  const answer = await dashboard().controlReporter(node, request, callerSubject(event));
  return json(answer.statusCode, answer.body);
};

/** The `dashboardControl` function's routes. */
export const dashboardControlRoutes = {
  'POST /api/dashboard/control-service': controlService,
  'POST /api/dashboard/nodes/{id}/reporter': controlReporter,
} satisfies RouteTable;
