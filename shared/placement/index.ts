// Placement — the capability's public entry (`#shared/placement`): project placement on compute nodes (a
// DynamoDB transaction with a fencing token per project, no lock), the node registry, the line for a full
// pool, the janitor. The wire protocol shared with the node agent is `#shared/placement/protocol`.

import type { PlacementDeps } from './placement.ts';
import { nodeProtection } from './protection.ts';
import { loadPlacementSettings, type PlacementSettings } from './settings.ts';
import { signingKey } from './signing.ts';
import { placementStore } from './store.ts';

export { callerIsNode, type NodeCaller, nodeCaller } from './identity.ts';
export { heartbeat, type JanitorReport, runJanitor } from './janitor.ts';
export { getNode, listNodes, type NodeState, nodeState, nodeStates, nodeView } from './nodes.ts';
export {
  CapacityError,
  type ComputeAnswer,
  compute,
  getProject,
  type PlacementDeps,
  ProjectTooLargeError,
  placementMetricNames,
  placementView,
  placeProject,
  releaseProject,
} from './placement.ts';
export { autoScalingProtection, type NodeProtection } from './protection.ts';
export { loadPlacementSettings, type PlacementSettings } from './settings.ts';
export { loadSigningKey, type SigningKey } from './signing.ts';
export { type NodeItem, type PlacementStore, type ProjectItem, placementStore, scanAll } from './store.ts';

let deps: PlacementDeps | undefined;

/** The process's placement dependencies, from the environment (settings checked once, at first use). */
export function placementDeps(settings: PlacementSettings = loadPlacementSettings()): PlacementDeps {
  deps ??= { store: placementStore(), settings, protection: nodeProtection(), signingKey };
  return deps;
}
