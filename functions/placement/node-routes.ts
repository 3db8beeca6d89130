// Primary adapter — the `placementNodes` function's routes: POST /api/v1/nodes/{id}/heartbeat (a node, for
// itself only) and GET /api/v1/nodes (viewer). A node is known by its token's subject locally, and in AWS by
// the EC2 instance whose role signed the request (IAM authorization; the session name is the instance id).
import {
  BadRequestError,
  callerHasRole,
  ForbiddenError,
  json,
  jsonBody,
  parseInput,
  type RouteHandler,
  type RouteTable,
} from '#shared/http';
import { heartbeat, listNodes, nodeCaller, placementDeps } from '#shared/placement';
import { heartbeatSchema, nodeIdSchema } from '#shared/placement/protocol';

const heartbeatRoute: RouteHandler = async (event) => {
  const parsed = nodeIdSchema.safeParse(event.pathParameters?.id ?? '');
  if (!parsed.success)
    throw new BadRequestError('Invalid node id', { id: parsed.error.issues[0]?.message ?? 'invalid' });
  const nodeId = parsed.data;
  const who = nodeCaller(event);
  const beat = parseInput(heartbeatSchema, jsonBody(event), 'body');
  // A node speaks only for itself: its token's subject, or (IAM) the instance it declares and runs on; the
  // registry refuses an id held by another instance (409).
  const itself = who?.instanceId ? who.instanceId === beat.instanceId : who?.nodeId === nodeId;
  if (!itself)
    throw new ForbiddenError(`This caller may only send heartbeats for itself, not for node ${nodeId}`);
  return json(200, await heartbeat(placementDeps(), nodeId, beat), { 'cache-control': 'no-store' });
};

const listRoute: RouteHandler = async (event) =>
  json(200, { items: await listNodes(placementDeps(), { internals: callerHasRole(event, 'admin') }) });

/** The `placementNodes` function's routes. */
export const placementNodeRoutes = {
  'POST /api/v1/nodes/{id}/heartbeat': heartbeatRoute,
  'GET /api/v1/nodes': listRoute,
} satisfies RouteTable;
