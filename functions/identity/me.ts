// Primary adapter — GET /api/v1/me: who the caller is and which roles the token grants, so front-ends can
// show or hide actions.
import { parseRoles } from '#shared/auth';
import { httpHandler, json } from '#shared/http';

export const handler = httpHandler(async (event) => {
  const claims = event.requestContext.authorizer.jwt.claims;
  return json(200, { subject: claims.sub, roles: parseRoles(claims.roles) });
});
