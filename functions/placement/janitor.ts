// Primary adapter — the placement janitor's entry (EventBridge, every minute): expire nodes, cull idle
// projects, remove orphaned assignments, set scale-in protection, publish the slot metrics.
import { metrics } from '#shared/observability';
import { placementDeps, runJanitor } from '#shared/placement';

export const handler = async () => {
  try {
    return await runJanitor(placementDeps());
  } finally {
    metrics.publishStoredMetrics();
  }
};
