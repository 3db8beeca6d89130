// Dashboard — secondary adapter (Redis): node registry, latest report, the 100-point history ring, the
// bounded per-node log stream with its sequence numbers, and the janitor's expiry and removal. A node's
// registry entry is its last contact of any kind (report, logs, ping, acknowledgement, connection). Every read
// and write names one node's keys at a time (./keys.ts); the clock is injected so tests can move it.
import type { RedisClient } from '#shared/clients';
import { suggestInterval } from './interval.ts';
import { type DashboardKeys, dashboardKeys } from './keys.ts';
import { type LogCursor, readLogs, readOlderLogs, recentLogs } from './log-reader.ts';
import type { LogLine, LogsQuery, MetricsReport, StoredLogLine } from './schemas.ts';
import { logLevels } from './schemas.ts';

/** Points kept per node for charts. */
export const historyPoints = 100;
/** A node silent this long (no report, no ping, no other authenticated contact) shows as expired. */
export const expireAfterMs = 60_000;
/** A node silent this long is removed by the janitor. */
export const removeAfterMs = 10 * 60_000;

export interface HistoryPoint {
  readonly timestamp: string;
  readonly received_at: string;
  readonly cpu_percent: number;
  readonly memory_percent: number;
  readonly disk_percent: number;
}

export type NodeStatus = 'online' | 'expired';

export interface NodeView {
  readonly node_id: string;
  readonly status: NodeStatus;
  readonly last_seen: string;
  readonly agent_connected: boolean;
  /** The latest report, null for a node that so far only shipped logs. */
  readonly metrics: (MetricsReport & { readonly received_at: string }) | null;
}

export interface DashboardStoreOptions {
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  /** @default Date.now */
  readonly clock?: () => number;
  /** Lines kept per node (approximately: Redis trims whole stream nodes). @default 10,000 */
  readonly logLinesPerNode?: number;
}

interface Scripts {
  dashboardAppendLogs(stream: string, loggers: string, lastSeq: string, ...args: string[]): Promise<string[]>;
  dashboardRemoveIfSilent(nodes: string, node: string, cutoff: number): Promise<number>;
}
type ScriptClient = RedisClient & Scripts;

// Appends lines in sequence order, skipping any at or below the stored sequence (retries, duplicates).
const appendScript = `
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
local stored = {}
for i = 2, #ARGV, 3 do
  if tonumber(ARGV[i]) > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[i] .. '-1', 'l', ARGV[i + 1])
    redis.call('SADD', KEYS[2], ARGV[i + 2])
    last = tonumber(ARGV[i])
    redis.call('SET', KEYS[3], ARGV[i])
    stored[#stored + 1] = ARGV[i]
  end
end
return stored`;

// Removes a node from the registry only if it is still silent (a report may have just arrived).
const removeScript = `
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not seen or tonumber(seen) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1`;

export class DashboardStore {
  readonly keys: DashboardKeys;
  private readonly redis: ScriptClient;
  private readonly clock: () => number;
  private readonly logLinesPerNode: number;

  constructor(options: DashboardStoreOptions) {
    const client = options.redis as RedisClient & Partial<Scripts>;
    if (!client.dashboardAppendLogs) {
      client.defineCommand('dashboardAppendLogs', { numberOfKeys: 3, lua: appendScript });
      client.defineCommand('dashboardRemoveIfSilent', { numberOfKeys: 1, lua: removeScript });
    }
    this.redis = client as ScriptClient;
    this.keys = dashboardKeys(options.keyPrefix);
    this.clock = options.clock ?? Date.now;
    this.logLinesPerNode = options.logLinesPerNode ?? 10_000;
  }

  now(): number {
    return this.clock();
  }

  /**
   * Marks the node seen now: a report, a ping or any other authenticated contact of its own. Returns whether
   * it was new or had expired (its status then changes to online).
   */
  async markSeen(node: string): Promise<{ cameOnline: boolean }> {
    const now = this.clock();
    const [previous] = await Promise.all([
      this.redis.zscore(this.keys.nodes, node),
      this.redis.set(this.keys.startedAt, String(now), 'NX'),
    ]);
    await this.redis.zadd(this.keys.nodes, now, node);
    const wasAnnounced = (await this.redis.zrem(this.keys.expired, node)) === 1;
    const cameOnline = previous === null || wasAnnounced || now - Number(previous) > expireAfterMs;
    return { cameOnline };
  }

  /** Stores a report: the latest, a history point (the ring keeps 100), and the node's registry entry. */
  async recordMetrics(
    node: string,
    report: MetricsReport,
  ): Promise<{ cameOnline: boolean; suggestedIntervalSeconds: number }> {
    const receivedAt = new Date(this.clock()).toISOString();
    const point: HistoryPoint = {
      timestamp: report.timestamp,
      received_at: receivedAt,
      cpu_percent: report.cpu_percent,
      memory_percent: report.memory.percent,
      disk_percent: report.disk.percent,
    };
    const { cameOnline } = await this.markSeen(node);
    const [, , , override, recent] = (await this.redis
      .multi()
      .set(this.keys.latest(node), JSON.stringify({ ...report, received_at: receivedAt }))
      .lpush(this.keys.history(node), JSON.stringify(point))
      .ltrim(this.keys.history(node), 0, historyPoints - 1)
      .get(this.keys.interval(node))
      .lrange(this.keys.history(node), 0, 9)
      .exec()) as [unknown, unknown, unknown, [Error | null, string | null], [Error | null, string[]]];
    const suggestedIntervalSeconds = override[1]
      ? Number(override[1])
      : suggestInterval(recent[1].map((text) => JSON.parse(text) as HistoryPoint));
    return { cameOnline, suggestedIntervalSeconds };
  }

  /**
   * Appends log lines to the node's stream in sequence order; lines at or below the stored sequence are
   * dropped as duplicates. Returns the lines stored, for fan-out.
   */
  async appendLogs(
    node: string,
    lines: readonly LogLine[],
  ): Promise<{ stored: StoredLogLine[]; duplicates: number; cameOnline: boolean }> {
    const { cameOnline } = await this.markSeen(node);
    const sorted = [...lines].sort((a, b) => a.seq - b.seq);
    const bySeq = new Map<number, StoredLogLine>();
    const args: string[] = [];
    for (const line of sorted) {
      if (bySeq.has(line.seq)) continue;
      const stored: StoredLogLine = { node_id: node, ...line };
      bySeq.set(line.seq, stored);
      args.push(String(line.seq), JSON.stringify(stored), line.logger_name);
    }
    const storedSeqs = await this.redis.dashboardAppendLogs(
      this.keys.logs(node),
      this.keys.loggers(node),
      this.keys.lastSeq(node),
      String(this.logLinesPerNode),
      ...args,
    );
    const stored = storedSeqs.map((seq) => bySeq.get(Number(seq))!);
    return { stored, duplicates: lines.length - stored.length, cameOnline };
  }

  /** Every registered node, with its status and latest report. */
  async nodes(): Promise<NodeView[]> {
    const entries = await this.redis.zrange(this.keys.nodes, 0, -1, 'WITHSCORES');
    const views: Promise<NodeView>[] = [];
    for (let i = 0; i < entries.length; i += 2) views.push(this.view(entries[i]!, Number(entries[i + 1])));
    return Promise.all(views);
  }

  /** One node, or undefined if it is not registered. */
  async node(id: string): Promise<NodeView | undefined> {
    const seen = await this.redis.zscore(this.keys.nodes, id);
    return seen === null ? undefined : this.view(id, Number(seen));
  }

  private async view(id: string, seen: number): Promise<NodeView> {
    const [latest, agent] = await Promise.all([
      this.redis.get(this.keys.latest(id)),
      this.redis.exists(this.keys.agent(id)),
    ]);
    return {
      node_id: id,
      status: this.clock() - seen > expireAfterMs ? 'expired' : 'online',
      last_seen: new Date(seen).toISOString(),
      agent_connected: agent === 1,
      metrics: latest ? JSON.parse(latest) : null,
    };
  }

  /** The node's history, oldest first, at most `limit` points (the newest ones). */
  async history(node: string, limit = historyPoints): Promise<HistoryPoint[]> {
    const points = await this.redis.lrange(this.keys.history(node), 0, limit - 1);
    return points.map((text) => JSON.parse(text) as HistoryPoint).reverse();
  }

  /** The interval an operator set for the node's reporter, if any (it overrides the suggestion). */
  async intervalOverride(node: string): Promise<number | null> {
    const value = await this.redis.get(this.keys.interval(node));
    return value === null ? null : Number(value);
  }

  async setIntervalOverride(node: string, seconds: number): Promise<void> {
    await this.redis.set(this.keys.interval(node), String(seconds));
  }

  async clearHistory(node: string): Promise<void> {
    await this.redis.del(this.keys.history(node));
  }

  /** Cluster statistics. */
  async stats() {
    const [nodes, startedAt] = await Promise.all([this.nodes(), this.redis.get(this.keys.startedAt)]);
    const active = nodes.filter((node) => node.status === 'online');
    const services = active.flatMap((node) => Object.values(node.metrics?.services ?? {}));
    return {
      total_workers: nodes.length,
      active_workers: active.length,
      expired_workers: nodes.length - active.length,
      agents_connected: nodes.filter((node) => node.agent_connected).length,
      total_services: services.length,
      services_running: services.filter((state) => state === 'running').length,
      services_error: services.filter((state) => state === 'error').length,
      uptime_seconds: startedAt ? Math.floor((this.clock() - Number(startedAt)) / 1000) : 0,
    };
  }

  private async nodeIds(filter?: string): Promise<string[]> {
    if (filter) return (await this.redis.zscore(this.keys.nodes, filter)) === null ? [] : [filter];
    return this.redis.zrange(this.keys.nodes, 0, -1);
  }

  /** Lines after `cursor` (oldest first) or, without one, the most recent; node by node, never cross-slot. */
  async logs(query: Omit<LogsQuery, 'cursor' | 'before'> & { cursor?: LogCursor }) {
    const nodes = await this.nodeIds(query.node);
    const stream = (id: string) => this.keys.logs(id);
    return query.cursor
      ? readLogs(this.redis, nodes, stream, query, query.cursor)
      : recentLogs(this.redis, nodes, stream, query);
  }

  /** Lines older than the `before` cursor (oldest first), node by node, never cross-slot. */
  async olderLogs(query: Omit<LogsQuery, 'cursor' | 'before'> & { before: LogCursor }) {
    const nodes = await this.nodeIds(query.node);
    return readOlderLogs(this.redis, nodes, (id) => this.keys.logs(id), query, query.before);
  }

  /** The newest sequence number of each node (a cursor at "now"). */
  async heads(nodes?: readonly string[]): Promise<LogCursor> {
    const ids = nodes ?? (await this.nodeIds());
    const seqs = await Promise.all(ids.map((id) => this.redis.get(this.keys.lastSeq(id))));
    return Object.fromEntries(ids.map((id, i) => [id, Number(seqs[i] ?? 0)]));
  }

  /** What the log filters can choose from: nodes, loggers and levels. */
  async logSources(): Promise<{ nodes: string[]; loggers: string[]; log_levels: string[] }> {
    const nodes = await this.nodeIds();
    const loggers = await Promise.all(nodes.map((id) => this.redis.smembers(this.keys.loggers(id))));
    return { nodes, loggers: [...new Set(loggers.flat())].sort(), log_levels: [...logLevels] };
  }

  /**
   * The janitor: nodes silent past 60 s are announced expired once; nodes silent past 10 minutes are removed
   * with their keys and do not come back without a new report.
   */
  async sweep(): Promise<{ expired: string[]; removed: string[] }> {
    const now = this.clock();
    const removed: string[] = [];
    for (const id of await this.redis.zrangebyscore(this.keys.nodes, '-inf', now - removeAfterMs)) {
      if ((await this.redis.dashboardRemoveIfSilent(this.keys.nodes, id, now - removeAfterMs)) !== 1)
        continue;
      await this.redis.zrem(this.keys.expired, id);
      await this.redis.del(...this.keys.ofNode(id));
      removed.push(id);
    }
    const silent = await this.redis.zrangebyscore(this.keys.nodes, '-inf', `(${now - expireAfterMs}`);
    const expired: string[] = [];
    for (const id of silent) {
      if ((await this.redis.zadd(this.keys.expired, 'NX', now, id)) === 1) expired.push(id);
    }
    return { expired, removed };
  }
}
