// Primary adapter — the identity capability's routes: GET /api/v1/me, who the caller is and which roles the
// token grants, so front-ends can show or hide actions. Bound to its function in infra/topology.ts.
import { parseRoles } from '#shared/auth';
import { json, type RouteHandler, type RouteTable } from '#shared/http';

const me: RouteHandler = async (event) => {
  const claims = event.requestContext.authorizer.jwt.claims;
  return json(200, { subject: claims.sub, roles: parseRoles(claims.roles) });
};

/** The `me` function's routes. */
export const identityRoutes = { 'GET /api/v1/me': me } satisfies RouteTable;
