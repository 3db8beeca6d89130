// Primary adapter — the `opsConsole` function's routes: POST /api/v1/vms/{id}/console (operator), a WebMKS
// ticket fetched synchronously through the CRITICAL lane of the vCenter's limiter, recorded in the console
// audit trail with the caller and where the request came from.
import { parseRoles } from '#shared/auth';
import { postgres } from '#shared/clients';
import { type HttpEvent, json, type RouteHandler, type RouteTable } from '#shared/http';
import { type AuditCaller, openAuditedConsole, opsService } from '#shared/ops';
import { chargeCaller } from '#shared/ratelimit';

/** The caller as the audit records it: the token's subject and roles, API Gateway's source address and agent. */
const auditCaller = (event: HttpEvent): AuditCaller => {
  const claims = event.requestContext.authorizer?.jwt?.claims;
  return {
    subject: String(claims?.sub ?? ''),
    roles: parseRoles(claims?.roles),
    sourceIp: event.requestContext.http?.sourceIp || null,
    userAgent: event.requestContext.http?.userAgent || null,
    requestId: event.requestContext.requestId || null,
  };
};

const consoleTicket: RouteHandler = async (event) => {
  await chargeCaller(event);
  const ticket = await openAuditedConsole(
    { ...opsService(), audit: postgres('writer') },
    event.pathParameters?.id ?? '',
    auditCaller(event),
  );
  // The ticket is a one-time credential: never cached by anyone.
  return json(200, ticket, { 'cache-control': 'no-store' });
};

/** The `opsConsole` function's routes: its own function, so thumbnail floods cannot throttle it. */
export const opsConsoleRoutes = { 'POST /api/v1/vms/{id}/console': consoleTicket } satisfies RouteTable;
