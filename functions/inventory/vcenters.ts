// Primary adapter — the `vcenters` function's entry: the vCenter registry API (`vcenterRoutes` in ./routes.ts).
import { routeHandler } from '#shared/http';
import { vcenterRoutes } from './routes.ts';

export const handler = routeHandler(vcenterRoutes);
