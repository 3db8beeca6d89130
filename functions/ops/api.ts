// Primary adapter — the `opsApi` function's entry: thumbnails, VM refresh and queue stats (`opsApiRoutes` in
// ./routes.ts).
import { routeHandler } from '#shared/http';
import { loadOpsSettings } from '#shared/ops';
import { opsApiRoutes } from './routes.ts';

// Checked at start-up: a bad ESXI_*/…_TTL value fails the cold start with the variable's name.
loadOpsSettings();

export const handler = routeHandler(opsApiRoutes);
