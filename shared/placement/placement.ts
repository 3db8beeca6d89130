// Placement — domain: find a project's node or assign one, and forward the request to it. The decision is one
// DynamoDB transaction whose conditions hold all of it (the project unchanged since it was read, the slot
// free, the node's heartbeat newer than the cutoff, the node not suspect), retried on cancellation; there is
// no lock. Every change of a project's placement bumps its fencing token, which forwards carry, signed.

import { setTimeout as sleep } from 'node:timers/promises';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { HttpError, NotFoundError } from '#shared/http';
import { logger, metrics } from '#shared/observability';
import { freeSlots, getNode, isAlive, isDrained, nodeState } from './nodes.ts';
import type { NodeProtection } from './protection.ts';
import type { ComputeRequest } from './protocol/index.ts';
import { signForward } from './protocol/index.ts';
import type { PlacementSettings } from './settings.ts';
import type { SigningKey } from './signing.ts';
import { type NodeItem, type PlacementStore, type ProjectItem, scanAll } from './store.ts';
import { dropTicket, holdPlace, liveTickets, ticketOf, ticketsAhead } from './tickets.ts';

/** What placement needs; tests build it with short settings, handlers from the environment. */
export interface PlacementDeps {
  readonly store: PlacementStore;
  readonly settings: PlacementSettings;
  readonly protection: NodeProtection;
  readonly signingKey: () => Promise<SigningKey>;
  readonly now?: () => number;
}

/** Metric names the CDK alarms and the scaling policy read. */
export const placementMetricNames = {
  rejected: 'PlacementCapacityRejected',
  busySlots: 'PlacementBusySlots',
  freeSlots: 'PlacementFreeSlots',
  suspectNodes: 'PlacementSuspectNodes',
} as const;

const clock = (deps: PlacementDeps) => (deps.now ?? Date.now)();

/** Bytes as people read them: `4.6 GiB`, `2 MiB`, `512 KiB`. */
function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}

/** 413: the project holds more data than the limit; no node is asked. */
export class ProjectTooLargeError extends HttpError {
  constructor(projectId: string, sizeBytes: number, limitBytes: number) {
    super(
      413,
      'project_too_large',
      `Project ${projectId} holds ${formatBytes(sizeBytes)}; the limit is ${formatBytes(limitBytes)}. ` +
        'Remove data from the project (or split it) to run it again.',
      {},
      { sizeBytes, limitBytes },
    );
  }
}

/** 503: no slot for the project now; `ticket` keeps the caller's place in line when it retries. */
export class CapacityError extends HttpError {
  constructor(details: {
    activeProjects: number;
    capacity: number;
    retryAfterSeconds: number;
    position: number;
    ticket: string;
  }) {
    super(
      503,
      'capacity',
      `All ${details.capacity} project slots are busy; you are number ${details.position} in line. ` +
        `Retry after ${details.retryAfterSeconds} s with this ticket to keep your place.`,
      { 'retry-after': String(details.retryAfterSeconds) },
      details,
    );
  }
}

export async function getProject(store: PlacementStore, projectId: string): Promise<ProjectItem | undefined> {
  const { Item } = await store.db.send(
    new GetCommand({ TableName: store.tables.projects, Key: { projectId }, ConsistentRead: true }),
  );
  return Item as ProjectItem | undefined;
}

/** Whether `node` may keep serving `project` (alive, not a drained suspect, and holding its current token). */
function holds(node: NodeItem | undefined, project: ProjectItem, now: number, settings: PlacementSettings) {
  return (
    node !== undefined &&
    isAlive(node, now, settings) &&
    !isDrained(node, now, settings) &&
    node.assignments?.[project.projectId] === project.token
  );
}

const isCancelled = (error: unknown): error is TransactionCanceledException =>
  error instanceof TransactionCanceledException || (error as Error)?.name === 'TransactionCanceledException';

/**
 * Moves `project` (as read: its token and node) to `to`, or off any node when `to` is undefined, in one
 * transaction conditioned on the token being unchanged (and, for an assignment, on the slot being free and
 * the node alive and not suspect). Returns the new token, or `undefined` when a condition failed.
 */
async function move(
  deps: PlacementDeps,
  projectId: string,
  read: ProjectItem | undefined,
  from: NodeItem | undefined,
  to: NodeItem | undefined,
  extra: { readonly sizeBytes?: number; readonly clearSize?: boolean; readonly displaced?: boolean } = {},
): Promise<{ token: number; failed?: undefined } | { failed: 'project' | 'node' | 'conflict' }> {
  const { store, settings } = deps;
  const now = clock(deps);
  const token = (read?.token ?? 0) + 1;
  const projectSet = to
    ? 'SET nodeId = :node, #token = :token, since = :now, lastUsedAt = :now'
    : `SET #token = :token, releasedAt = :now${extra.displaced ? ', displacedAt = :now' : ''}`;
  const projectRemove = to
    ? ['releasedAt', 'displacedAt']
    : ['nodeId', 'since', ...(extra.displaced ? [] : ['displacedAt'])];
  if (extra.clearSize) projectRemove.push('sizeBytes');
  const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
    {
      Update: {
        TableName: store.tables.projects,
        Key: { projectId },
        UpdateExpression: `${projectSet}${extra.sizeBytes !== undefined ? ', sizeBytes = :size' : ''} REMOVE ${projectRemove.join(', ')}`,
        ConditionExpression: read ? '#token = :read' : 'attribute_not_exists(projectId)',
        ExpressionAttributeNames: { '#token': 'token' },
        ExpressionAttributeValues: {
          ':token': token,
          ':now': now,
          ...(to ? { ':node': to.nodeId } : {}),
          ...(read ? { ':read': read.token } : {}),
          ...(extra.sizeBytes !== undefined ? { ':size': extra.sizeBytes } : {}),
        },
      },
    },
  ];
  if (to) {
    items.push({
      Update: {
        TableName: store.tables.nodes,
        Key: { nodeId: to.nodeId },
        UpdateExpression: 'SET assignments.#project = :token',
        ConditionExpression:
          'size(assignments) < #capacity AND lastHeartbeatAt > :cutoff AND #ready = :true AND attribute_not_exists(suspectSince)',
        ExpressionAttributeNames: { '#project': projectId, '#capacity': 'capacity', '#ready': 'ready' },
        ExpressionAttributeValues: {
          ':token': token,
          ':cutoff': now - settings.heartbeatTimeoutSeconds * 1000,
          ':true': true,
        },
      },
    });
  }
  if (from && from.nodeId !== to?.nodeId) {
    items.push({
      Update: {
        TableName: store.tables.nodes,
        Key: { nodeId: from.nodeId },
        UpdateExpression: 'REMOVE assignments.#project',
        ConditionExpression: 'attribute_exists(nodeId)',
        ExpressionAttributeNames: { '#project': projectId },
      },
    });
  }
  try {
    await store.db.send(new TransactWriteCommand({ TransactItems: items }));
  } catch (error) {
    if (!isCancelled(error)) throw error;
    // Reasons follow the items: the project first, then the target node.
    const [project, node] = (error.CancellationReasons ?? []).map((reason) => reason.Code);
    if (project === 'ConditionalCheckFailed') return { failed: 'project' };
    if (node === 'ConditionalCheckFailed' && to) return { failed: 'node' };
    return { failed: 'conflict' };
  }
  await Promise.all([
    to ? protect(deps, to, Object.keys(to.assignments ?? {}).length + 1) : undefined,
    from && from.nodeId !== to?.nodeId ? protect(deps, from, undefined) : undefined,
  ]);
  return { token };
}

/**
 * Sets the node's scale-in protection for the projects it holds (re-read when not given). A failure is logged,
 * not thrown: the placement stands, and the janitor's next pass sets protection again.
 */
async function protect(deps: PlacementDeps, node: NodeItem, held: number | undefined): Promise<void> {
  if (!node.instanceId) return;
  try {
    const count = held ?? Object.keys((await getNode(deps.store, node.nodeId))?.assignments ?? {}).length;
    await deps.protection.update(node.instanceId, count);
  } catch (error) {
    logger.error('scale-in protection failed', { nodeId: node.nodeId, error: error as Error });
  }
}

/** Where a project runs: its node and token. */
export interface Placed {
  readonly node: NodeItem;
  readonly token: number;
  readonly assigned: boolean;
}

const maxAttempts = 25;
/** How many of the fullest nodes a placement may start with. */
const spreadOver = 3;

/**
 * The project's node: the one it holds, if that node may keep it, else a newly assigned one.
 * @throws CapacityError when no slot is free for the caller (its place in line is kept by the ticket)
 */
export async function placeProject(
  deps: PlacementDeps,
  projectId: string,
  sentTicket?: string,
): Promise<Placed> {
  const { store, settings } = deps;
  let candidates: NodeItem[] | undefined;
  let heldTicket: string | undefined;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const now = clock(deps);
    const project = await getProject(store, projectId);
    if (project?.sizeBytes !== undefined && project.sizeBytes > settings.dataLimitBytes) {
      throw new ProjectTooLargeError(projectId, project.sizeBytes, settings.dataLimitBytes);
    }
    const current = project?.nodeId ? await getNode(store, project.nodeId) : undefined;
    if (project && current && holds(current, project, now, settings)) {
      return { node: current, token: project.token, assigned: false };
    }
    if (!candidates?.length) {
      const nodes = await scanAll<NodeItem>(store.db, { TableName: store.tables.nodes });
      const open = nodes.filter((n) => freeSlots(n, now, settings) > 0 && n.nodeId !== current?.nodeId);
      const totalFree = open.reduce((sum, n) => sum + freeSlots(n, now, settings), 0);
      // A project its node lost (expired, drained) goes before the line: it was being served, and lost its
      // slot to a failure, not to a competitor. The line leaves room for those still to come back.
      const displaced = current !== undefined || project?.displacedAt !== undefined;
      const awaitingMove = nodes
        .filter((n) => !isAlive(n, now, settings) || isDrained(n, now, settings))
        .reduce((sum, n) => sum + Object.keys(n.assignments ?? {}).length, 0);
      const line = await liveTickets(store, now, settings);
      const mine = ticketOf(line, projectId, sentTicket);
      const ahead = displaced ? 0 : ticketsAhead(line, mine);
      const usable = displaced ? totalFree : totalFree - awaitingMove;
      if (ahead >= usable) throw await capacityError(deps, projectId, nodes, mine, ahead, now);
      // Fullest first: projects pack onto few nodes, so idle ones can be scaled in. The first try is one of
      // the fullest few at random, so a burst of placements does not queue on a single node's item.
      candidates = open.sort(
        (a, b) =>
          freeSlots(a, now, settings) - freeSlots(b, now, settings) || a.nodeId.localeCompare(b.nodeId),
      );
      const pick = Math.floor(Math.random() * Math.min(spreadOver, candidates.length));
      candidates.unshift(...candidates.splice(pick, 1));
      heldTicket = mine?.ticketId;
    }
    const target = candidates.shift() as NodeItem;
    const moved = await move(deps, projectId, project, current, target);
    if (moved.failed === undefined) {
      if (heldTicket) await dropTicket(store, heldTicket);
      if (current) logger.info('project moved', { projectId, from: current.nodeId, to: target.nodeId });
      // Read again: the forward's validity runs from the node's latest heartbeat, not the scan's.
      return { node: (await getNode(store, target.nodeId)) ?? target, token: moved.token, assigned: true };
    }
    // Another request placed or moved the project: read it again (it may now have a node to use).
    if (moved.failed === 'project') candidates = undefined;
    // A concurrent transaction on the same items decided nothing: the same node again, after a short pause.
    if (moved.failed === 'conflict') {
      candidates?.unshift(target);
      await sleep(5 + Math.random() * 20);
    }
  }
  throw new HttpError(503, 'placement_contention', 'Placement is contended; retry in a second', {
    'retry-after': '1',
  });
}

async function capacityError(
  deps: PlacementDeps,
  projectId: string,
  nodes: readonly NodeItem[],
  mine: Parameters<typeof holdPlace>[2],
  ahead: number,
  now: number,
): Promise<CapacityError> {
  const { settings } = deps;
  const alive = nodes.filter((n) => isAlive(n, now, settings));
  const serving = alive.filter((n) => ['ready', 'busy'].includes(nodeState(n, now, settings)));
  const joining = alive.filter((n) => nodeState(n, now, settings) === 'joining');
  const soon = joining.reduce((sum, n) => sum + n.capacity, 0);
  const ticket = await holdPlace(deps.store, projectId, mine, now, settings);
  metrics.singleMetric().addMetric(placementMetricNames.rejected, MetricUnit.Count, 1);
  return new CapacityError({
    activeProjects: alive.reduce((sum, n) => sum + Object.keys(n.assignments ?? {}).length, 0),
    capacity: serving.reduce((sum, n) => sum + n.capacity, 0),
    // Nodes still starting will take the line soon; otherwise come back well within the ticket's hold.
    retryAfterSeconds: soon > ahead ? 1 : Math.max(1, Math.floor(settings.ticketHoldSeconds / 3)),
    position: ahead + 1,
    ticket: ticket.ticketId,
  });
}

/** A node's answer to a forwarded request, buffered. */
export interface ComputeAnswer {
  readonly statusCode: number;
  readonly body: unknown;
  readonly nodeId: string;
  readonly token: number;
}

/**
 * Runs one compute request of a project: the size checks (413 before any node is bothered), placement, then
 * the forward, signed with the assignment's token, within the forward deadline. A failed forward (a timeout,
 * an error, a 404) never reassigns: timeouts in a row make the node suspect, and that moves its projects.
 */
export async function compute(
  deps: PlacementDeps,
  projectId: string,
  request: ComputeRequest,
): Promise<ComputeAnswer> {
  const { settings, store } = deps;
  if (request.dataSizeBytes !== undefined && request.dataSizeBytes > settings.dataLimitBytes) {
    throw new ProjectTooLargeError(projectId, request.dataSizeBytes, settings.dataLimitBytes);
  }
  const { node, token } = await placeProject(deps, projectId, request.ticket);
  const reported = node.reported?.find((p) => p.id === projectId);
  if (reported && reported.sizeBytes > settings.dataLimitBytes) {
    throw new ProjectTooLargeError(projectId, reported.sizeBytes, settings.dataLimitBytes);
  }
  const now = clock(deps);
  await touch(deps, projectId, token, now);
  const body = JSON.stringify({
    ...(request.dsl ? { dsl: request.dsl } : {}),
    ...(request.job ? { job: request.job } : {}),
  });
  const claim = {
    nodeId: node.nodeId,
    projectId,
    token,
    // Never past the node's own expiry as last seen: after it the project may be moved.
    validUntil: Math.min(
      now + settings.forwardTimeoutMs,
      node.lastHeartbeatAt + settings.heartbeatTimeoutSeconds * 1000,
    ),
  };
  const headers = signForward(claim, body, (await deps.signingKey()).privateKey);
  let response: Response;
  try {
    response = await fetch(`${node.address}/compute`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(settings.forwardTimeoutMs),
    });
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') {
      await recordTimeout(deps, node);
      throw new HttpError(504, 'node_timeout', `Node ${node.nodeId} did not answer in time; retry later`);
    }
    throw new HttpError(502, 'node_unreachable', `Node ${node.nodeId} could not be reached; retry later`, {
      'retry-after': '1',
    });
  }
  const text = await response.text();
  if (node.forwardTimeouts > 0) await resetTimeouts(store, node.nodeId);
  const answer = parseJson(text);
  if (response.status === 409) {
    // The agent knows a newer token than this read did: the placement moved meanwhile.
    throw new HttpError(503, 'placement_changed', 'The project moved while this request was sent; retry', {
      'retry-after': '1',
    });
  }
  if (response.status >= 500) {
    throw new HttpError(502, 'node_error', `Node ${node.nodeId} failed the request; retry later`);
  }
  return { statusCode: response.status, body: answer, nodeId: node.nodeId, token };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { result: text };
  }
}

/** Records use (for idle culling), at most every tenth of the idle timeout, and only under the token read. */
async function touch(deps: PlacementDeps, projectId: string, token: number, now: number): Promise<void> {
  await deps.store.db
    .send(
      new UpdateCommand({
        TableName: deps.store.tables.projects,
        Key: { projectId },
        UpdateExpression: 'SET lastUsedAt = :now',
        ConditionExpression: '#token = :token AND lastUsedAt < :stale',
        ExpressionAttributeNames: { '#token': 'token' },
        ExpressionAttributeValues: {
          ':now': now,
          ':token': token,
          ':stale': now - deps.settings.idleTimeoutSeconds * 100,
        },
      }),
    )
    .catch((error: Error) => {
      if (error.name !== 'ConditionalCheckFailedException') throw error;
    });
}

async function recordTimeout(deps: PlacementDeps, node: NodeItem): Promise<void> {
  const { Attributes } = await deps.store.db.send(
    new UpdateCommand({
      TableName: deps.store.tables.nodes,
      Key: { nodeId: node.nodeId },
      UpdateExpression: 'ADD forwardTimeouts :one',
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'ALL_NEW',
    }),
  );
  const updated = Attributes as NodeItem;
  if (updated.forwardTimeouts >= deps.settings.suspectAfterTimeouts && updated.suspectSince === undefined) {
    logger.warn('node suspect: forwards time out', {
      nodeId: node.nodeId,
      timeouts: updated.forwardTimeouts,
    });
    await deps.store.db
      .send(
        new UpdateCommand({
          TableName: deps.store.tables.nodes,
          Key: { nodeId: node.nodeId },
          UpdateExpression: 'SET suspectSince = :now, suspectReason = :reason',
          ConditionExpression: 'attribute_not_exists(suspectSince)',
          ExpressionAttributeValues: { ':now': clock(deps), ':reason': 'timeouts' },
        }),
      )
      .catch((error: Error) => {
        if (error.name !== 'ConditionalCheckFailedException') throw error;
      });
  }
}

async function resetTimeouts(store: PlacementStore, nodeId: string): Promise<void> {
  await store.db.send(
    new UpdateCommand({
      TableName: store.tables.nodes,
      Key: { nodeId },
      UpdateExpression: 'SET forwardTimeouts = :zero',
      ExpressionAttributeValues: { ':zero': 0 },
    }),
  );
}

/**
 * Frees the project's slot (the token moves on, so the node's old assignment is void). Returns whether it
 * was placed; `sizeBytes` records why a node stopped it, `clearSize` forgets a recorded size (an operator's
 * release).
 */
export async function releaseProject(
  deps: PlacementDeps,
  projectId: string,
  options: {
    readonly reason: string;
    readonly sizeBytes?: number;
    readonly clearSize?: boolean;
    /** Only if the project still has this token. */
    readonly token?: number;
    /** Only if the project is on this node. */
    readonly nodeId?: string;
    /** Its node was lost: the project keeps precedence over the line when it comes back. */
    readonly displaced?: boolean;
  },
): Promise<boolean> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const project = await getProject(deps.store, projectId);
    if (!project) return false;
    if (options.token !== undefined && project.token !== options.token) return false;
    if (options.nodeId !== undefined && project.nodeId !== options.nodeId) return false;
    if (!project.nodeId && !options.clearSize && options.sizeBytes === undefined) return false;
    const from = project.nodeId ? await getNode(deps.store, project.nodeId) : undefined;
    const moved = await move(deps, projectId, project, from, undefined, options);
    if (moved.failed === undefined) {
      logger.info('project released', { projectId, nodeId: project.nodeId, reason: options.reason });
      return project.nodeId !== undefined;
    }
  }
  throw new HttpError(503, 'placement_contention', 'Placement is contended; retry in a second', {
    'retry-after': '1',
  });
}

/** A project's placement as `GET /api/v1/projects/{id}/placement` shows it. */
export async function placementView(deps: PlacementDeps, projectId: string) {
  const project = await getProject(deps.store, projectId);
  if (!project) throw new NotFoundError(`Project ${projectId} has never been placed`);
  const node = project.nodeId ? await getNode(deps.store, project.nodeId) : undefined;
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    projectId,
    placed: project.nodeId !== undefined,
    token: project.token,
    ...(project.nodeId
      ? {
          node: project.nodeId,
          nodeState: node ? nodeState(node, clock(deps), deps.settings) : 'unknown',
          since: iso(project.since),
          lastUsedAt: iso(project.lastUsedAt),
        }
      : { releasedAt: iso(project.releasedAt) }),
    ...(project.sizeBytes !== undefined ? { sizeBytes: project.sizeBytes } : {}),
  };
}
