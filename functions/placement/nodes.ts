// Primary adapter — the `placementNodes` function's entry: heartbeats and the node list (./node-routes.ts).
import { routeHandler } from '#shared/http';
import { loadPlacementSettings } from '#shared/placement';
import { placementNodeRoutes } from './routes.ts';

loadPlacementSettings();

export const handler = routeHandler(placementNodeRoutes);
