// Primary adapter — the `dashboardApi` function's entry: the dashboard reads (`dashboardApiRoutes` in ./routes.ts).
import { routeHandler } from '#shared/http';
import { dashboardApiRoutes } from './routes.ts';

export const handler = routeHandler(dashboardApiRoutes);
