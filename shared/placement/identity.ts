// Placement — who is calling a node route. Locally (and in tests) a node agent carries a dev-issuer `node`
// token whose subject is its node id; in AWS the node routes use IAM authorization, so the caller is the EC2
// instance whose role signed the request, and the registry says which node that instance is. Every node route
// (heartbeats here, the dashboard's reports) asks the same question through `callerIsNode`.
import type { HttpEvent } from '#shared/http';
import { getNode } from './nodes.ts';
import type { PlacementStore } from './store.ts';

/** A node token's subject, or the instance of an IAM (SigV4) caller. */
export type NodeCaller =
  | { readonly nodeId: string; readonly instanceId?: undefined }
  | { readonly instanceId: string; readonly nodeId?: undefined };

/**
 * The caller of a node route. Under IAM authorization API Gateway gives the role session's user id
 * `<role id>:<session name>`, and an instance profile's session name is the instance id.
 */
export function nodeCaller(event: HttpEvent): NodeCaller | undefined {
  const authorizer = event.requestContext.authorizer as
    | { iam?: { userId?: string }; jwt?: { claims?: Record<string, unknown> } }
    | undefined;
  const session = authorizer?.iam?.userId?.split(':')[1];
  if (session) return { instanceId: session };
  const subject = authorizer?.jwt?.claims?.sub;
  return typeof subject === 'string' && subject ? { nodeId: subject } : undefined;
}

/**
 * Whether the caller is node `nodeId` (a node speaks only for itself): the token names it, or the registry
 * holds the calling instance for it. An instance unknown to the registry is no node yet: its first heartbeat
 * registers it (the heartbeat checks the instance it declares itself).
 */
export async function callerIsNode(
  store: PlacementStore,
  caller: NodeCaller | undefined,
  nodeId: string,
): Promise<boolean> {
  if (!caller) return false;
  if (caller.nodeId !== undefined) return caller.nodeId === nodeId;
  const node = await getNode(store, nodeId);
  return node?.instanceId !== undefined && node.instanceId === caller.instanceId;
}
