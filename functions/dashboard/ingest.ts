// Primary adapter — the `dashboardIngest` function's entry: POST /api/v1/nodes/{id}/metrics and /logs (`dashboardIngestRoutes` in ./routes.ts).
import { routeHandler } from '#shared/http';
import { dashboardIngestRoutes } from './routes.ts';

export const handler = routeHandler(dashboardIngestRoutes);
