// Primary adapter — the `opsConsole` function's routes: POST /api/v1/vms/{id}/console (operator), a WebMKS
// ticket fetched synchronously through the CRITICAL lane of the vCenter's limiter.
import { json, type RouteHandler, type RouteTable } from '#shared/http';
import { openConsole, opsService } from '#shared/ops';
import { chargeCaller } from '#shared/ratelimit';

const consoleTicket: RouteHandler = async (event) => {
  await chargeCaller(event);
  const ticket = await openConsole(opsService(), event.pathParameters?.id ?? '');
  // The ticket is a one-time credential: never cached by anyone.
  return json(200, ticket, { 'cache-control': 'no-store' });
};

/** The `opsConsole` function's routes: its own function, so thumbnail floods cannot throttle it. */
export const opsConsoleRoutes = { 'POST /api/v1/vms/{id}/console': consoleTicket } satisfies RouteTable;
