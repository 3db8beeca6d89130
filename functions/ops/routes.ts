// Primary adapter — the ops capability's routes, one table per HTTP function (each in its own file, so a
// function's bundle carries only its own handlers), bound to their functions in infra/topology.ts.
export { opsApiRoutes } from './api-routes.ts';
export { opsConsoleRoutes } from './console-routes.ts';
