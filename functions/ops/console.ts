// Primary adapter — POST /api/v1/vms/{id}/console (operator): a WebMKS ticket, fetched synchronously through
// the CRITICAL lane of the vCenter's limiter. Its own function, so thumbnail floods cannot throttle it.
import { httpHandler, json } from '#shared/http';
import { loadOpsSettings, openConsole, opsService } from '#shared/ops';

// Checked at start-up: a bad ESXI_* value fails the cold start with the variable's name.
loadOpsSettings();

export const handler = httpHandler(async (event) => {
  const ticket = await openConsole(opsService(), event.pathParameters?.id ?? '');
  // The ticket is a one-time credential: never cached by anyone.
  return json(200, ticket, { 'cache-control': 'no-store' });
});
