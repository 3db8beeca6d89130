// Placement — domain: the janitor (every minute) and what a heartbeat changes beyond the registry. It marks
// expired nodes, releases the projects of expired and drained suspect nodes, culls idle projects, removes
// orphaned assignments (a project pointing at a node that does not hold it, a node holding a project that
// points elsewhere), sets scale-in protection from what nodes hold, and publishes the slot metrics the
// scaling policy and the alarms read. Everything it needs is in the tables, so a control-plane restart
// leaves no orphan. An expired node's instance is reported unhealthy, so the Auto Scaling group replaces it.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { logger, metrics } from '#shared/observability';
import { freeSlots, isAlive, isDrained, recordHeartbeat } from './nodes.ts';
import { type PlacementDeps, placementMetricNames, releaseProject } from './placement.ts';
import type { Heartbeat, HeartbeatAnswer } from './protocol/index.ts';
import { type NodeItem, type ProjectItem, scanAll } from './store.ts';
import { dropLapsedTickets } from './tickets.ts';

/** What one janitor pass did. */
export interface JanitorReport {
  readonly expiredNodes: string[];
  readonly released: { readonly idle: string[]; readonly lostNode: string[]; readonly orphaned: string[] };
  readonly strayAssignments: string[];
  readonly lapsedTickets: number;
  readonly busySlots: number;
  readonly freeSlots: number;
  readonly suspectNodes: number;
}

export async function runJanitor(deps: PlacementDeps): Promise<JanitorReport> {
  const { store, settings } = deps;
  const now = (deps.now ?? Date.now)();
  const nodes = await scanAll<NodeItem>(store.db, { TableName: store.tables.nodes });
  const byId = new Map(nodes.map((n) => [n.nodeId, n]));

  const expiredNodes: string[] = [];
  for (const node of nodes) {
    if (isAlive(node, now, settings) || node.expiredAt !== undefined) continue;
    await store.db
      .send(
        new UpdateCommand({
          TableName: store.tables.nodes,
          Key: { nodeId: node.nodeId },
          UpdateExpression: 'SET expiredAt = :now',
          // Not if it came back meanwhile.
          ConditionExpression: 'lastHeartbeatAt = :seen',
          ExpressionAttributeValues: { ':now': now, ':seen': node.lastHeartbeatAt },
        }),
      )
      .catch((error: Error) => {
        if (error.name !== 'ConditionalCheckFailedException') throw error;
      });
    expiredNodes.push(node.nodeId);
    // A dead agent on a running instance passes EC2's health check: tell the group to replace it.
    await deps.protection
      .replace(node.instanceId)
      .catch((error: Error) => logger.error('node replacement failed', { nodeId: node.nodeId, error }));
  }

  const projects = await scanAll<ProjectItem>(store.db, { TableName: store.tables.projects });
  const released = { idle: [] as string[], lostNode: [] as string[], orphaned: [] as string[] };
  const placed = projects.filter((p) => p.nodeId !== undefined);
  for (const project of placed) {
    const node = byId.get(project.nodeId as string);
    const why =
      !node || node.assignments?.[project.projectId] !== project.token
        ? 'orphaned'
        : !isAlive(node, now, settings) || isDrained(node, now, settings)
          ? 'lostNode'
          : (project.lastUsedAt ?? 0) < now - settings.idleTimeoutSeconds * 1000
            ? 'idle'
            : undefined;
    if (!why) continue;
    // Only under the token read: a request that moved or used the project meanwhile wins.
    const displaced = why === 'lostNode';
    if (await releaseProject(deps, project.projectId, { reason: why, token: project.token, displaced }))
      released[why].push(project.projectId);
  }

  // A node's slot held for a project that points elsewhere (or nowhere) is freed.
  const tokens = new Map(projects.map((p) => [p.projectId, p]));
  const strayAssignments: string[] = [];
  for (const node of nodes) {
    for (const [projectId, token] of Object.entries(node.assignments ?? {})) {
      const project = tokens.get(projectId);
      if (project?.nodeId === node.nodeId && project.token === token) continue;
      await store.db
        .send(
          new UpdateCommand({
            TableName: store.tables.nodes,
            Key: { nodeId: node.nodeId },
            UpdateExpression: 'REMOVE assignments.#project',
            ConditionExpression: 'assignments.#project = :token',
            ExpressionAttributeNames: { '#project': projectId },
            ExpressionAttributeValues: { ':token': token },
          }),
        )
        .catch((error: Error) => {
          if (error.name !== 'ConditionalCheckFailedException') throw error;
        });
      strayAssignments.push(`${node.nodeId}/${projectId}`);
    }
  }

  const lapsedTickets = await dropLapsedTickets(store, now, settings);

  // Slots after this pass, from a fresh read: the scaling policy's metric.
  const after = await scanAll<NodeItem>(store.db, { TableName: store.tables.nodes });
  const alive = after.filter((n) => isAlive(n, now, settings));
  const busy = alive.reduce((sum, n) => sum + Object.keys(n.assignments ?? {}).length, 0);
  const free = alive.reduce((sum, n) => sum + freeSlots(n, now, settings), 0);
  const suspect = alive.filter((n) => n.suspectSince !== undefined).length;
  for (const node of after) {
    if (!node.instanceId || !isAlive(node, now, settings)) continue;
    await deps.protection
      .update(node.instanceId, Object.keys(node.assignments ?? {}).length)
      .catch((error: Error) => logger.error('scale-in protection failed', { nodeId: node.nodeId, error }));
  }
  metrics.singleMetric().addMetric(placementMetricNames.busySlots, MetricUnit.Count, busy);
  metrics.singleMetric().addMetric(placementMetricNames.freeSlots, MetricUnit.Count, free);
  metrics.singleMetric().addMetric(placementMetricNames.suspectNodes, MetricUnit.Count, suspect);

  const report = {
    expiredNodes,
    released,
    strayAssignments,
    lapsedTickets,
    busySlots: busy,
    freeSlots: free,
    suspectNodes: suspect,
  };
  logger.info('placement janitor', { report });
  return report;
}

/**
 * A node's heartbeat: projects it stopped for being too large (or reports over the limit) are released with
 * their size recorded, so the next request gets a 413; then the registry records the beat and answers.
 */
export async function heartbeat(
  deps: PlacementDeps,
  nodeId: string,
  beat: Heartbeat,
): Promise<HeartbeatAnswer> {
  const { settings } = deps;
  for (const report of beat.projects) {
    if (report.stopped !== 'too_large' && report.sizeBytes <= settings.dataLimitBytes) continue;
    await releaseProject(deps, report.id, { reason: 'too_large', sizeBytes: report.sizeBytes, nodeId });
  }
  const now = (deps.now ?? Date.now)();
  return recordHeartbeat(deps.store, nodeId, beat, {
    now,
    settings,
    signingKey: (await deps.signingKey()).publicPem,
  });
}
