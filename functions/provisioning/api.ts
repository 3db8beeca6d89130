// Primary adapter — the `provisioningApi` function's entry: the provisioning hierarchy routes
// (`provisioningRoutes` in ./routes.ts).
import { routeHandler } from '#shared/http';
import { loadProvisioningSettings } from '#shared/provisioning';
import { provisioningRoutes } from './routes.ts';

// Checked at start-up: a bad PROVISIONING_* value fails the cold start with the variable's name.
loadProvisioningSettings();

export const handler = routeHandler(provisioningRoutes);
