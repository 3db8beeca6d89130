// Primary adapter — the `health` function's entry: GET /health (./routes.ts).
import { routeHandler } from '#shared/http';
import { healthRoutes } from './routes.ts';

export const handler = routeHandler(healthRoutes);
