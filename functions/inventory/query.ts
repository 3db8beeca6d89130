// Primary adapter — the `inventoryQuery` function's entry: the six viewer read routes of the inventory
// (`inventoryQueryRoutes` in ./routes.ts).
import { routeHandler } from '#shared/http';
import { inventoryQueryRoutes } from './routes.ts';

export const handler = routeHandler(inventoryQueryRoutes);
