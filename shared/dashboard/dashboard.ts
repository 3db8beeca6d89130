// Dashboard — use cases: ingest from agents, the dashboard's reads, operator commands, the janitor, and
// the WebSocket protocol (`initial`, `ping` → `pong` + `update`, `new_logs`, `node_status`,
// `service_result`; agents' `ping`, `metrics`, `logs`, `service_ack` / `reporter_ack`). Handlers call these and
// nothing below. A node is seen at every authenticated contact of its own, not only at its reports.
import { roleSatisfies } from '#shared/contracts';
import { BadRequestError, ForbiddenError, NotFoundError, parseInput } from '#shared/http';
import type { PushOutcome } from '#shared/realtime';
import type { CommandRecord, Commands } from './commands.ts';
import type { Fanout } from './fanout.ts';
import { decodeCursor, encodeCursor } from './log-reader.ts';
import {
  ackFrameSchema,
  type ControlServiceRequest,
  type LogFilters,
  type LogLine,
  type LogsQuery,
  logsFrameSchema,
  type MetricsReport,
  metricsFrameSchema,
  nodeId,
  pingFrameSchema,
  type ReporterControlRequest,
  subscribeFrameSchema,
} from './schemas.ts';
import type { DashboardStore, NodeView } from './store.ts';

/** Lines an `initial` message carries: the recent ones, or those after a resuming client's cursor. */
const initialLogLines = 200;
/**
 * How long one container reuses the `update` it built: every client pings (every 4 s), and N pings within a
 * second cost one read of every node, not N.
 */
const updateSnapshotMs = 1_000;
/** Message budget for `initial` and `update` (the frame limit is 128 KB). */
const messageBudgetBytes = 120 * 1024;

export interface DashboardDeps {
  readonly store: DashboardStore;
  readonly fanout: Fanout;
  readonly commands: Commands;
  /** Coalesced push to a dashboard client. */
  readonly push: (connectionId: string, ...messages: unknown[]) => Promise<PushOutcome>;
  /** Stores filters with the connection; returns the previous ones, or undefined if the connection is gone. */
  readonly saveSubscription: (
    connectionId: string,
    filters: LogFilters,
  ) => Promise<{ previous: LogFilters | undefined } | undefined>;
}

/** The caller of a WebSocket frame, as the `$connect` authorizer described it. */
export interface WsCaller {
  readonly connectionId: string;
  readonly subject: string;
  readonly roles: readonly string[];
}

/** A node's service-control or reporter answer: finished (200) or still pending (202). */
export interface CommandAnswer {
  readonly statusCode: 200 | 202;
  readonly body: Record<string, unknown>;
}

export class Dashboard {
  private snapshot: { at: number; points: number; update: Promise<unknown> } | undefined;

  constructor(private readonly deps: DashboardDeps) {}

  private get store() {
    return this.deps.store;
  }

  private nodeStatus(view: NodeView | { node_id: string; status: 'removed' }) {
    return {
      type: 'node_status',
      node_id: view.node_id,
      status: view.status,
      ...('last_seen' in view ? { last_seen: view.last_seen, agent_connected: view.agent_connected } : {}),
      timestamp: new Date(this.store.now()).toISOString(),
    };
  }

  private async announce(node: string): Promise<void> {
    const view = await this.store.node(node);
    if (view) await this.deps.fanout.publish(node, this.nodeStatus(view));
  }

  // Ingest (role node, subject = node id: checked by the handler).

  /**
   * Any authenticated contact of the node itself (a ping, an acknowledgement, its connection): it is not
   * silent, even between reports 300 s apart. Announces it if it was new or had expired.
   */
  async nodeSeen(node: string): Promise<void> {
    const { cameOnline } = await this.store.markSeen(node);
    if (cameOnline) await this.announce(node);
  }

  async ingestMetrics(node: string, report: MetricsReport) {
    const { cameOnline, suggestedIntervalSeconds } = await this.store.recordMetrics(node, report);
    if (cameOnline) await this.announce(node);
    return { accepted: true, suggested_interval_seconds: suggestedIntervalSeconds };
  }

  async ingestLogs(node: string, lines: readonly LogLine[]) {
    const { stored, duplicates, cameOnline } = await this.store.appendLogs(node, lines);
    if (cameOnline) await this.announce(node);
    await this.deps.fanout.publishLogs(node, stored);
    const [lastSeq] = Object.values(await this.store.heads([node]));
    return { stored: stored.length, duplicates, last_seq: lastSeq ?? 0 };
  }

  // Reads.

  async metrics() {
    const nodes = await this.store.nodes();
    return { nodes: Object.fromEntries(nodes.map((node) => [node.node_id, node])) };
  }

  private async requireNode(node: string): Promise<NodeView> {
    const view = await this.store.node(node);
    if (!view)
      throw new NotFoundError(`No node ${node} on the dashboard (it never reported, or was removed)`);
    return view;
  }

  async history(node: string, limit: number) {
    await this.requireNode(node);
    return { node_id: node, history: await this.store.history(node, limit) };
  }

  async clearHistory(node: string): Promise<void> {
    await this.requireNode(node);
    await this.store.clearHistory(node);
  }

  stats() {
    return this.store.stats();
  }

  /**
   * `GET /api/dashboard/logs`: the most recent lines, the lines after `cursor`, or (paging back) the lines
   * older than `before` with the `before` of the next older page and whether there is one.
   */
  async logs(query: LogsQuery) {
    const { cursor: after, before, ...rest } = query;
    if (after && before) {
      throw new BadRequestError('Pass either cursor (newer lines) or before (older lines), not both', {
        before: 'leave out cursor to page back',
      });
    }
    if (before) {
      const page = await this.store.olderLogs({ ...rest, before: decodeCursor(before, 'before') });
      return { logs: page.logs, before: encodeCursor(page.before), more: page.more };
    }
    const cursor = after ? decodeCursor(after) : undefined;
    const page = await this.store.logs({ ...rest, cursor });
    return { logs: page.logs, cursor: encodeCursor(page.cursor) };
  }

  // Commands (operator).

  async controlService(request: ControlServiceRequest, requestedBy: string): Promise<CommandAnswer> {
    const node = await this.requireNode(request.worker_id);
    if (!node.metrics || !(request.service_name in node.metrics.services)) {
      throw unknownService(request.worker_id, request.service_name);
    }
    const { record, finished } = await this.deps.commands.run(
      request.worker_id,
      { kind: 'service', action: request.action, service: request.service_name },
      requestedBy,
    );
    if (finished && record.result?.error?.code === 'unknown_service') {
      throw unknownService(request.worker_id, request.service_name);
    }
    return commandAnswer(record, finished);
  }

  async controlReporter(node: string, request: ReporterControlRequest, requestedBy: string) {
    await this.requireNode(node);
    if (request.interval_seconds !== undefined) {
      await this.store.setIntervalOverride(node, request.interval_seconds);
    }
    const { record, finished } = await this.deps.commands.run(
      node,
      { kind: 'reporter', action: request.action, interval_seconds: request.interval_seconds },
      requestedBy,
    );
    return commandAnswer(record, finished);
  }

  async reporter(node: string) {
    const view = await this.requireNode(node);
    return {
      node_id: node,
      status: view.status,
      agent_connected: view.agent_connected,
      last_report_at: view.metrics?.received_at ?? null,
      reporter: view.metrics?.reporter ?? null,
      interval_override_seconds: await this.store.intervalOverride(node),
    };
  }

  async commandTrail(node: string, limit: number) {
    // The trail is true when it is read: commands overdue for their acknowledgement show timed out.
    await this.announceResults(await this.deps.commands.expireUnacknowledged(node));
    return { node_id: node, commands: (await this.deps.commands.list(node, limit)).map(commandView) };
  }

  // The janitor.

  private async announceResults(records: readonly CommandRecord[]): Promise<void> {
    for (const record of records) {
      await this.deps.fanout.publish(record.nodeId, { type: 'service_result', ...commandView(record) });
    }
  }

  async sweep() {
    const { expired, removed } = await this.store.sweep();
    for (const node of expired) await this.announce(node);
    for (const node of removed) {
      await this.deps.fanout.publish(node, this.nodeStatus({ node_id: node, status: 'removed' }));
    }
    await this.announceResults(await this.deps.commands.expireAllUnacknowledged());
    return { expired, removed };
  }

  // WebSocket frames.

  /** `subscribe` (viewer): stores the filters with the connection, indexes them, answers `initial`. */
  async subscribe(caller: WsCaller, frame: unknown): Promise<void> {
    requireViewer(caller);
    const { filters, cursor } = parseInput(subscribeFrameSchema, frame, 'frame');
    const resumeFrom = cursor ? decodeCursor(cursor) : undefined;
    const saved = await this.deps.saveSubscription(caller.connectionId, filters);
    if (!saved) return;
    // Indexed before the backlog is read: a line stored meanwhile is pushed as well as read, never missed;
    // clients drop lines at or below their cursor.
    await this.deps.fanout.subscribe(caller.connectionId, filters, saved.previous);
    const [metrics, page, sources] = await Promise.all([
      this.metrics(),
      this.store.logs({ ...filters, limit: initialLogLines, cursor: resumeFrom }),
      this.store.logSources(),
    ]);
    const data = {
      metrics: metrics.nodes,
      logs: page.logs,
      log_sources: sources,
      cursor: encodeCursor(page.cursor),
      // A resuming client that was away long: the rest follows through GET /api/dashboard/logs?cursor=.
      logs_complete: !resumeFrom || page.logs.length < initialLogLines,
    };
    await this.deps.push(caller.connectionId, withinFrame({ type: 'initial', data }, 'logs'));
  }

  /** `ping`: `pong`, and for a dashboard client `update` (latest metrics and history), in one frame. */
  async ping(caller: WsCaller, frame: unknown): Promise<void> {
    const { history: points = 20 } = parseInput(pingFrameSchema, frame ?? { action: 'ping' }, 'frame');
    if (!isViewer(caller)) {
      const node = agentNode(caller);
      // Seen before the pong: an agent that has its pong has been counted.
      if (node) await this.nodeSeen(node);
      await this.deps.push(caller.connectionId, { type: 'pong' });
      // A node agent pings as soon as it connects: commands queued while it was away go now.
      if (node) await this.deps.commands.deliverQueued(node, caller.connectionId);
      return;
    }
    await this.deps.push(caller.connectionId, { type: 'pong' }, await this.update(points));
  }

  /** The `update` message, built at most once per second per container and history length. */
  private update(points: number): Promise<unknown> {
    const now = this.store.now();
    const recent = this.snapshot;
    if (recent && recent.points === points && now - recent.at < updateSnapshotMs) return recent.update;
    const update = this.buildUpdate(points);
    this.snapshot = { at: now, points, update };
    // A failed read is not cached: the next ping tries again.
    update.catch(() => {
      if (this.snapshot?.update === update) this.snapshot = undefined;
    });
    return update;
  }

  private async buildUpdate(points: number) {
    const nodes = await this.store.nodes();
    const history = Object.fromEntries(
      await Promise.all(
        nodes.map(async (node) => [node.node_id, await this.store.history(node.node_id, points)] as const),
      ),
    );
    return fitHistory({
      type: 'update',
      data: { metrics: Object.fromEntries(nodes.map((node) => [node.node_id, node])), history },
      timestamp: new Date(this.store.now()).toISOString(),
    });
  }

  /**
   * `metrics` over the agent's own connection (node role): the HTTPS report's validation and storage for the
   * connection's own node; answered with `metrics_accepted` (the suggested interval) on that connection.
   */
  async reportFrame(caller: WsCaller, frame: unknown): Promise<void> {
    const node = reportingNode(caller, frame);
    const { report } = parseInput(metricsFrameSchema, frame, 'frame');
    const answer = await this.ingestMetrics(node, report);
    await this.deps.push(caller.connectionId, { type: 'metrics_accepted', node_id: node, ...answer });
  }

  /** `logs` over the agent's own connection (node role): as `POST …/logs`; answered with `logs_accepted`. */
  async logsFrame(caller: WsCaller, frame: unknown): Promise<void> {
    const node = reportingNode(caller, frame);
    const batch = parseInput(logsFrameSchema, frame, 'frame');
    const answer = await this.ingestLogs(node, batch.logs);
    await this.deps.push(caller.connectionId, { type: 'logs_accepted', node_id: node, ...answer });
  }

  /** `service_ack` / `reporter_ack` (node role): completes the command and tells the dashboards. */
  async acknowledge(caller: WsCaller, frame: unknown): Promise<void> {
    const node = agentNode(caller);
    if (!node) throw new ForbiddenError('Only a node agent acknowledges commands');
    const ack = parseInput(ackFrameSchema, frame, 'frame');
    await this.nodeSeen(node);
    const answer = await this.deps.commands.acknowledge(node, ack);
    if (!answer) throw new NotFoundError(`No command ${ack.command_id} for node ${node}`);
    if (!answer.first) return;
    await this.deps.fanout.publish(node, {
      type: 'service_result',
      ...commandView(answer.record),
    });
  }

  /** `$connect` of a node agent: its connection is where commands go, and the node is seen. */
  async agentConnected(node: string, connectionId: string): Promise<void> {
    await this.deps.commands.agentConnected(node, connectionId);
    if (nodeId.safeParse(node).success) await this.store.markSeen(node);
    await this.announce(node);
  }

  /** `$disconnect`: unindexes a dashboard client, or forgets an agent's connection. */
  async connectionClosed(record: {
    connectionId: string;
    subject: string;
    roles: readonly string[];
    subscription?: Record<string, unknown>;
  }): Promise<void> {
    if (record.subscription) {
      await this.deps.fanout.unsubscribe(record.connectionId, record.subscription as LogFilters);
    }
    if (
      record.roles.includes('node') &&
      (await this.deps.commands.agentDisconnected(record.subject, record.connectionId))
    ) {
      await this.announce(record.subject);
    }
  }
}

function unknownService(node: string, service: string): NotFoundError {
  return new NotFoundError(`Node ${node} has no service ${service} in its agent's configuration`);
}

const isViewer = (caller: WsCaller) => roleSatisfies(caller.roles, 'viewer');

/** The node a connection speaks for: its token's subject, for the node role only (and a valid node id). */
function agentNode(caller: WsCaller): string | undefined {
  return caller.roles.includes('node') && nodeId.safeParse(caller.subject).success
    ? caller.subject
    : undefined;
}

/** The connection's own node for a report frame; a frame naming another node is refused (403). */
function reportingNode(caller: WsCaller, frame: unknown): string {
  const node = agentNode(caller);
  if (!node) throw new ForbiddenError('Only a node agent reports');
  const named = (frame as { node_id?: unknown } | null)?.node_id;
  if (named !== undefined && named !== node) {
    throw new ForbiddenError('A node may only report for its own node id');
  }
  return node;
}

function requireViewer(caller: WsCaller): void {
  if (!isViewer(caller)) throw new ForbiddenError('Subscribing to the dashboard needs the viewer role');
}

/** What the API and `service_result` show of a command. */
function commandView(record: CommandRecord) {
  return {
    command_id: record.commandId,
    node_id: record.nodeId,
    kind: record.kind,
    action: record.action,
    ...(record.service ? { service_name: record.service } : {}),
    ...(record.interval_seconds ? { interval_seconds: record.interval_seconds } : {}),
    requested_by: record.requestedBy,
    requested_at: record.requestedAt,
    status: record.status,
    success: record.status === 'succeeded',
    ...(record.result ? { result: record.result } : {}),
    ...(record.finishedAt ? { finished_at: record.finishedAt } : {}),
  };
}

function commandAnswer(record: CommandRecord, finished: boolean): CommandAnswer {
  return { statusCode: finished ? 200 : 202, body: commandView(record) };
}

const size = (message: unknown) => Buffer.byteLength(JSON.stringify(message));

/** Drops the oldest entries of `data[field]` until the message fits a frame, and says so. */
function withinFrame<M extends { data: Record<string, unknown> }>(message: M, field: string): M {
  const list = message.data[field] as unknown[];
  let drop = 0;
  while (size(message) > messageBudgetBytes && drop < list.length) {
    drop = Math.max(1, drop * 2);
    message = { ...message, data: { ...message.data, [field]: list.slice(drop), truncated: true } };
  }
  return message;
}

/** Halves the history points per node until the `update` fits a frame. */
function fitHistory<M extends { data: { history: Record<string, unknown[]> } }>(message: M): M {
  let points = Math.max(0, ...Object.values(message.data.history).map((list) => list.length));
  while (size(message) > messageBudgetBytes && points > 0) {
    points = Math.floor(points / 2);
    const history = Object.fromEntries(
      Object.entries(message.data.history).map(([node, list]) => [node, list.slice(list.length - points)]),
    );
    message = { ...message, data: { ...message.data, history, truncated: true } };
  }
  return message;
}
