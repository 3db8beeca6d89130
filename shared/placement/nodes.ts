// Placement — domain: the node registry. Heartbeats record a node's address, capacity and what it runs, and
// are answered with what the node holds (the assignments the placement transactions wrote onto its item) and
// what it must drop; the state a node shows is derived from its item and the clock.
import { BatchGetCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '#shared/http';
import type { PlacementDeps } from './placement.ts';
import type { Assignment, Heartbeat, HeartbeatAnswer } from './protocol/index.ts';
import type { PlacementSettings } from './settings.ts';
import { type NodeItem, type PlacementStore, type ProjectItem, scanAll } from './store.ts';

export const nodeStates = ['joining', 'ready', 'busy', 'suspect', 'expired'] as const;
export type NodeState = (typeof nodeStates)[number];

/** Whether the node's last heartbeat is within the timeout at `now`. */
export function isAlive(node: NodeItem, now: number, settings: PlacementSettings): boolean {
  return node.lastHeartbeatAt > now - settings.heartbeatTimeoutSeconds * 1000;
}

/** Whether a suspect node's projects may be moved (its grace is over). */
export function isDrained(node: NodeItem, now: number, settings: PlacementSettings): boolean {
  return node.suspectSince !== undefined && now - node.suspectSince >= settings.suspectGraceSeconds * 1000;
}

export function nodeState(node: NodeItem, now: number, settings: PlacementSettings): NodeState {
  if (!isAlive(node, now, settings)) return 'expired';
  if (node.suspectSince !== undefined) return 'suspect';
  if (!node.ready) return 'joining';
  return Object.keys(node.assignments ?? {}).length >= node.capacity ? 'busy' : 'ready';
}

/** Free slots of a node that may take projects now (alive, ready, not suspect). */
export function freeSlots(node: NodeItem, now: number, settings: PlacementSettings): number {
  const state = nodeState(node, now, settings);
  if (state !== 'ready') return 0;
  return node.capacity - Object.keys(node.assignments ?? {}).length;
}

export async function getNode(store: PlacementStore, nodeId: string): Promise<NodeItem | undefined> {
  const { Item } = await store.db.send(
    new GetCommand({ TableName: store.tables.nodes, Key: { nodeId }, ConsistentRead: true }),
  );
  return Item as NodeItem | undefined;
}

/**
 * Records a heartbeat and answers with the node's assignments. A node whose progress stands still while it
 * has work pending for `stallSeconds` becomes suspect (a zombie: alive, not working); progress clears it.
 * @throws ConflictError when the id is registered to another EC2 instance
 */
export async function recordHeartbeat(
  store: PlacementStore,
  nodeId: string,
  beat: Heartbeat,
  context: { readonly now: number; readonly settings: PlacementSettings; readonly signingKey: string },
): Promise<HeartbeatAnswer> {
  const { now, settings } = context;
  const previous = await getNode(store, nodeId);
  if (previous?.instanceId && beat.instanceId && previous.instanceId !== beat.instanceId) {
    throw new ConflictError(`Node ${nodeId} is registered to another instance`);
  }
  const moved = !previous || previous.progress !== beat.progress;
  // The stall clock runs from the last progress, or from when work began after an idle spell.
  const progressChangedAt = moved || previous.pending === 0 ? now : previous.progressChangedAt;
  const stalled = beat.pending > 0 && now - progressChangedAt >= settings.stallSeconds * 1000;
  const suspect = moved
    ? undefined
    : stalled
      ? { since: previous?.suspectSince ?? now, reason: previous?.suspectReason ?? ('stalled' as const) }
      : previous?.suspectSince !== undefined
        ? { since: previous.suspectSince, reason: previous.suspectReason ?? ('timeouts' as const) }
        : undefined;
  // Every attribute by placeholder: DynamoDB reserves many plain words (capacity, pending …).
  const fields: Record<string, unknown> = {
    address: beat.address,
    capacity: beat.capacity,
    agentVersion: beat.agentVersion,
    ready: beat.ready,
    lastHeartbeatAt: now,
    progress: beat.progress,
    progressChangedAt,
    pending: beat.pending,
    reported: beat.projects,
    // Progress proves the node works: its timeout streak starts over.
    forwardTimeouts: moved ? 0 : (previous?.forwardTimeouts ?? 0),
    ...(beat.instanceId ? { instanceId: beat.instanceId } : {}),
    ...(suspect ? { suspectSince: suspect.since, suspectReason: suspect.reason } : {}),
  };
  const names = Object.keys(fields);
  const removed = suspect ? ['expiredAt'] : ['expiredAt', 'suspectSince', 'suspectReason'];
  const { Attributes } = await store.db.send(
    new UpdateCommand({
      TableName: store.tables.nodes,
      Key: { nodeId },
      UpdateExpression:
        `SET ${names.map((name) => `#${name} = :${name}`).join(', ')}, ` +
        '#joinedAt = if_not_exists(#joinedAt, :lastHeartbeatAt), #assignments = if_not_exists(#assignments, :empty) ' +
        `REMOVE ${removed.map((name) => `#${name}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(
        [...names, ...removed, 'joinedAt', 'assignments'].map((name) => [`#${name}`, name]),
      ),
      ExpressionAttributeValues: {
        ...Object.fromEntries(names.map((name) => [`:${name}`, fields[name]])),
        ':empty': {},
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  const node = Attributes as NodeItem;
  const assignments = Object.entries(node.assignments ?? {}).map(([projectId, token]) => ({
    projectId,
    token,
  }));
  const strays = beat.projects.map((p) => p.id).filter((id) => !(id in (node.assignments ?? {})));
  return {
    nodeId,
    state: nodeState(node, now, settings),
    assignments,
    revoked: await currentTokens(store, strays),
    heartbeatTimeoutSeconds: settings.heartbeatTimeoutSeconds,
    dataLimitBytes: settings.dataLimitBytes,
    signingKey: context.signingKey,
  };
}

/** The current tokens of projects (0 for a project never placed). */
async function currentTokens(store: PlacementStore, projectIds: readonly string[]): Promise<Assignment[]> {
  if (projectIds.length === 0) return [];
  const { Responses } = await store.db.send(
    new BatchGetCommand({
      RequestItems: {
        [store.tables.projects]: {
          Keys: projectIds.map((projectId) => ({ projectId })),
          ConsistentRead: true,
        },
      },
    }),
  );
  const found = new Map(
    ((Responses?.[store.tables.projects] ?? []) as ProjectItem[]).map((p) => [p.projectId, p.token]),
  );
  return projectIds.map((projectId) => ({ projectId, token: found.get(projectId) ?? 0 }));
}

/** A node as `GET /api/v1/nodes` shows it; its address and instance only to admins (internal addresses). */
export function nodeView(node: NodeItem, now: number, settings: PlacementSettings, internals = false) {
  return {
    id: node.nodeId,
    state: nodeState(node, now, settings),
    ...(internals
      ? { address: node.address, ...(node.instanceId ? { instanceId: node.instanceId } : {}) }
      : {}),
    capacity: node.capacity,
    agentVersion: node.agentVersion,
    projects: Object.entries(node.assignments ?? {}).map(([id, token]) => {
      const report = node.reported?.find((p) => p.id === id);
      return { id, token, ...(report ? { sizeBytes: report.sizeBytes, progress: report.progress } : {}) };
    }),
    progress: node.progress,
    pending: node.pending,
    lastHeartbeatAgeSeconds: Math.max(0, Math.round((now - node.lastHeartbeatAt) / 100) / 10),
    ...(node.suspectSince !== undefined
      ? { suspectSince: new Date(node.suspectSince).toISOString(), suspectReason: node.suspectReason }
      : {}),
    ...(node.expiredAt !== undefined ? { expiredAt: new Date(node.expiredAt).toISOString() } : {}),
  };
}

/** Every node as `GET /api/v1/nodes` shows it, by id. */
export async function listNodes(deps: PlacementDeps, options: { readonly internals?: boolean } = {}) {
  const now = (deps.now ?? Date.now)();
  const nodes = await scanAll<NodeItem>(deps.store.db, { TableName: deps.store.tables.nodes });
  return nodes
    .sort((a, b) => a.nodeId.localeCompare(b.nodeId))
    .map((node) => nodeView(node, now, deps.settings, options.internals));
}
