// Benchmark peer — the seed's read-then-write assignment without its lock: read the project, and if it has no
// live node, read the nodes, pick one with a free slot and write both items, unconditioned. It signs forwards
// like the control plane, so the same agents serve it; what the conditions of shared/placement prevent shows
// up here as one project served by two nodes under one token, and nodes holding more than their capacity.
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { NodeItem, PlacementStore, ProjectItem, SigningKey } from '#shared/placement';
import { scanAll } from '#shared/placement';
import { signForward } from '#shared/placement/protocol';

export interface NaiveResult {
  readonly status: number;
  readonly nodeId?: string;
}

export async function naiveCompute(
  store: PlacementStore,
  key: SigningKey,
  projectId: string,
  heartbeatTimeoutMs: number,
): Promise<NaiveResult> {
  const now = Date.now();
  const { Item } = await store.db.send(
    new GetCommand({ TableName: store.tables.projects, Key: { projectId } }),
  );
  const project = Item as ProjectItem | undefined;
  let node: NodeItem | undefined;
  let token = project?.token ?? 0;
  if (project?.nodeId) {
    const { Item: found } = await store.db.send(
      new GetCommand({ TableName: store.tables.nodes, Key: { nodeId: project.nodeId } }),
    );
    node = found as NodeItem | undefined;
    if (node && node.lastHeartbeatAt < now - heartbeatTimeoutMs) node = undefined;
  }
  if (!node) {
    const nodes = await scanAll<NodeItem>(store.db, { TableName: store.tables.nodes });
    const free = nodes.filter(
      (n) =>
        n.lastHeartbeatAt > now - heartbeatTimeoutMs &&
        n.ready &&
        Object.keys(n.assignments ?? {}).length < n.capacity,
    );
    // Any free node, as the guarded path spreads a burst over the fullest few.
    node = free[Math.floor(Math.random() * free.length)];
    if (!node) return { status: 503 };
    token += 1;
    // The seed's setNode(projectId, nodeId) and setProject(nodeId, projectId), without the lock.
    await store.db.send(
      new PutCommand({
        TableName: store.tables.projects,
        Item: { projectId, token, nodeId: node.nodeId, since: now, lastUsedAt: now },
      }),
    );
    await store.db.send(
      new UpdateCommand({
        TableName: store.tables.nodes,
        Key: { nodeId: node.nodeId },
        UpdateExpression: 'SET assignments.#p = :t',
        ExpressionAttributeNames: { '#p': projectId },
        ExpressionAttributeValues: { ':t': token },
      }),
    );
  }
  const body = JSON.stringify({ dsl: `append ${projectId}` });
  const claim = { nodeId: node.nodeId, projectId, token, validUntil: now + heartbeatTimeoutMs };
  const response = await fetch(`${node.address}/compute`, {
    method: 'POST',
    headers: { ...signForward(claim, body, key.privateKey), 'content-type': 'application/json' },
    body,
  });
  await response.arrayBuffer();
  return { status: response.status, nodeId: node.nodeId };
}
