// Primary adapter — the `me` function's entry: GET /api/v1/me (./routes.ts).
import { routeHandler } from '#shared/http';
import { identityRoutes } from './routes.ts';

export const handler = routeHandler(identityRoutes);
