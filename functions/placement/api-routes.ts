// Primary adapter — the `placement` function's routes: POST /api/v1/projects/{id}/compute (viewer) places the
// project and forwards the request to its node; GET/DELETE /api/v1/projects/{id}/placement show and free it.
import {
  BadRequestError,
  json,
  jsonBody,
  parseInput,
  type RouteHandler,
  type RouteTable,
} from '#shared/http';
import { CapacityError, compute, placementDeps, placementView, releaseProject } from '#shared/placement';
import { computeRequestSchema, projectIdSchema } from '#shared/placement/protocol';

function projectId(params: Record<string, string | undefined> | undefined): string {
  const parsed = projectIdSchema.safeParse(params?.id ?? '');
  if (!parsed.success)
    throw new BadRequestError('Invalid project id', { id: parsed.error.issues[0]?.message ?? 'invalid' });
  return parsed.data;
}

const computeRoute: RouteHandler = async (event) => {
  const id = projectId(event.pathParameters);
  const request = parseInput(computeRequestSchema, jsonBody(event), 'body');
  let answer: Awaited<ReturnType<typeof compute>>;
  try {
    answer = await compute(placementDeps(), id, request);
  } catch (error) {
    // A full pool is an answer, not a failure: no error log (with its stack) per caller turned away.
    if (error instanceof CapacityError) return json(503, error.toBody(), error.headers);
    throw error;
  }
  return json(answer.statusCode, answer.body, {
    'x-vfleet-node': answer.nodeId,
    'x-vfleet-token': String(answer.token),
    'cache-control': 'no-store',
  });
};

const showPlacement: RouteHandler = async (event) =>
  json(200, await placementView(placementDeps(), projectId(event.pathParameters)));

const releasePlacement: RouteHandler = async (event) => {
  const id = projectId(event.pathParameters);
  const deps = placementDeps();
  await releaseProject(deps, id, { reason: 'operator', clearSize: true });
  return json(200, await placementView(deps, id));
};

/** The `placement` function's routes. */
export const placementRoutes = {
  'POST /api/v1/projects/{id}/compute': computeRoute,
  'GET /api/v1/projects/{id}/placement': showPlacement,
  'DELETE /api/v1/projects/{id}/placement': releasePlacement,
} satisfies RouteTable;
