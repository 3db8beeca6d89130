// Primary adapter — the `placement` function's entry: compute and placement routes (./api-routes.ts).
import { routeHandler } from '#shared/http';
import { loadPlacementSettings } from '#shared/placement';
import { placementRoutes } from './routes.ts';

// Checked at start-up: a bad NODE_HEARTBEAT_TIMEOUT/PROJECT_*/TICKET_* value fails the cold start by name.
loadPlacementSettings();

export const handler = routeHandler(placementRoutes);
