// Primary adapter — the `apiDocs` function's entry: GET /api/v1/openapi.json (./routes.ts).
import { routeHandler } from '#shared/http';
import { docsRoutes } from './routes.ts';

export const handler = routeHandler(docsRoutes);
