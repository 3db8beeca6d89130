// Primary adapter — the inventory capability's routes, one table per HTTP function (each in its own file, so a
// function's bundle carries only its own handlers), bound to their functions in infra/topology.ts.
export { inventoryQueryRoutes } from './query-routes.ts';
export { vcenterRoutes } from './vcenter-routes.ts';
