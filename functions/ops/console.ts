// Primary adapter — the `opsConsole` function's entry: POST /api/v1/vms/{id}/console (`opsConsoleRoutes` in
// ./routes.ts). Its own function, so thumbnail floods cannot throttle it.
import { routeHandler } from '#shared/http';
import { loadOpsSettings } from '#shared/ops';
import { opsConsoleRoutes } from './routes.ts';

// Checked at start-up: a bad ESXI_* value fails the cold start with the variable's name.
loadOpsSettings();

export const handler = routeHandler(opsConsoleRoutes);
