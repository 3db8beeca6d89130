// Primary adapter — the `opsConsole` function's entry: POST /api/v1/vms/{id}/console (`opsConsoleRoutes` in
// ./routes.ts). Its own function, so thumbnail floods cannot throttle it.
import { routeHandler } from '#shared/http';
import { loadOpsSettings } from '#shared/ops';
import { auditConsoleDenial } from './console-routes.ts';
import { opsConsoleRoutes } from './routes.ts';

// Checked at start-up: a bad ESXI_* value fails the cold start with the variable's name.
loadOpsSettings();

// Denied attempts are audited too: who, which VM, when, from where, and why (the console audit trail).
export const handler = routeHandler(opsConsoleRoutes, { onDenied: auditConsoleDenial });
