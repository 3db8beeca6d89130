// Primary adapter — the `dashboardControl` function's entry: service and reporter control (`dashboardControlRoutes` in ./routes.ts).
import { routeHandler } from '#shared/http';
import { dashboardControlRoutes } from './routes.ts';

export const handler = routeHandler(dashboardControlRoutes);
