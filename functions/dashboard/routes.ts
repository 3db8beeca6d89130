// Primary adapter — the dashboard capability's routes, one table per HTTP function (each in its own file,
// so a function's bundle carries only its own handlers), bound to their functions in infra/topology.ts.
export { dashboardApiRoutes } from './api-routes.ts';
export { dashboardControlRoutes } from './control-routes.ts';
export { dashboardIngestRoutes } from './ingest-routes.ts';
