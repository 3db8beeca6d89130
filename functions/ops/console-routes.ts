// Primary adapter — the `opsConsole` function's routes: POST /api/v1/vms/{id}/console (operator), a WebMKS
// ticket fetched synchronously through the CRITICAL lane of the vCenter's limiter, recorded in the console
// audit trail with the caller and where the request came from; so is every attempt denied on the way (by the
// middleware: token, role, vCenter scope; or by the caller's rate limit).
import { parseRoles } from '#shared/auth';
import { postgres } from '#shared/clients';
import {
  type HttpEvent,
  json,
  type OnDenied,
  type RouteHandler,
  type RouteTable,
  TooManyRequestsError,
} from '#shared/http';
import { logger } from '#shared/observability';
import { type AuditCaller, openAuditedConsole, opsService, recordConsoleDenial } from '#shared/ops';
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

/** Audits a console request the middleware turned away (the `opsConsole` function's `onDenied`). */
export const auditConsoleDenial: OnDenied = async (event, reason) => {
  try {
    await recordConsoleDenial(postgres('writer'), event.pathParameters?.id ?? '', auditCaller(event), reason);
  } catch (error) {
    // The caller gets its denial whatever happens here.
    logger.error('console denial not recorded', { reason, error: error as Error });
  }
};

const consoleTicket: RouteHandler = async (event) => {
  try {
    await chargeCaller(event);
  } catch (error) {
    if (error instanceof TooManyRequestsError) await auditConsoleDenial(event, 'rate_limited');
    throw error;
  }
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
