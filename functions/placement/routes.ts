// Primary adapter — the placement capability's routes, one table per HTTP function (each in its own file, so
// a function's bundle carries only its own handlers), bound to their functions in infra/topology.ts.
export { placementRoutes } from './api-routes.ts';
export { placementNodeRoutes } from './node-routes.ts';
