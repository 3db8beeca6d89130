// The page's message store: applies the WebSocket's messages (`batch` unwrapped in order) and the log API's
// pages to one model the tabs draw from, and keeps the log view gap-free. Per node it holds the highest
// sequence number it has (the cursor), drops lines at or below it, resubscribes with it after a reconnect,
// pages the rest of a long absence over HTTP, reads a node's missing lines over HTTP when its sequence
// jumps, and pages back through history by the API's backward cursor. No DOM here:
// test/unit/web/store.test.ts drives it in Node.
import {
  type CommandView,
  decodeCursor,
  encodeCursor,
  type HistoryPoint,
  type LogCursor,
  type LogFilters,
  type LogLine,
  type LogPage,
  type LogSources,
  type LogsQuery,
  matches,
  type NodeView,
  type OlderLogPage,
  type OlderLogsQuery,
  type ServiceState,
} from './protocol.ts';

export type StoreEvent = 'nodes' | 'history' | 'logs' | 'sources' | 'command' | 'error';

export interface StoreDeps {
  /** `GET /api/dashboard/logs`. */
  readonly fetchLogs: (query: LogsQuery) => Promise<LogPage>;
  /** `GET /api/dashboard/logs?before=` (older lines). */
  readonly fetchOlderLogs: (query: OlderLogsQuery) => Promise<OlderLogPage>;
  /** Sends a frame on the current WebSocket (false when it is not open). */
  readonly send: (frame: Record<string, unknown>) => boolean;
  /** Lines kept for the log view (the oldest go first). @default 5,000 */
  readonly maxLines?: number;
  /** Lines one request for older lines asks for (all nodes together). @default 200 */
  readonly olderPage?: number;
  /** Reports a failed HTTP read (the store carries on). */
  readonly onFetchError?: (error: unknown) => void;
}

/** Lines a catch-up or gap read asks for at a time (the API's maximum). */
const pageLimit = 1_000;

const key = (line: { node_id: string; seq: number }) => `${line.node_id}\u0000${line.seq}`;

function byTime(a: LogLine, b: LogLine): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  if (a.node_id !== b.node_id) return a.node_id < b.node_id ? -1 : 1;
  return a.seq - b.seq;
}

export class DashboardStore {
  readonly nodes = new Map<string, NodeView>();
  readonly history = new Map<string, readonly HistoryPoint[]>();
  readonly commands = new Map<string, CommandView>();
  sources: LogSources = { nodes: [], loggers: [], log_levels: [] };
  /** The log view's lines, oldest first; all match `filters` and `search`. */
  lines: LogLine[] = [];
  filters: LogFilters = {};
  search: string | undefined;
  /** Per node, the highest sequence number read (held or filtered out by the server). */
  cursor: LogCursor = {};
  /** Whether any `initial` arrived (a reconnect then resumes from the cursor). */
  subscribed = false;
  /** The last `error` frame or failed read, for the page to show. */
  lastError: string | undefined;

  private readonly seen = new Set<string>();
  /** Per node, services' states from command results newer than its last report. */
  private readonly results = new Map<string, Map<string, { state: ServiceState; at: string }>>();
  private readonly listeners = new Map<StoreEvent, Set<() => void>>();
  /** Messages that arrived between a `subscribe` and the end of its `initial` (and catch-up). */
  private pending: Record<string, unknown>[] | undefined;
  private resuming = false;
  /** Bumped by every `subscribe`: a catch-up of an earlier one does not release the current one's wait. */
  private subscription = 0;
  private readonly gaps = new Map<string, { again: boolean }>();
  /** Per node, the lowest sequence number the log view has looked back to. */
  private floors = new Map<string, number>();
  /** Lines paged back into the view: kept on top of `maxLines`, so paging back past it loses nothing. */
  private pagedBack = 0;
  /** Bumped by every reset, so a read that started before one does not write into the new view. */
  private generation = 0;

  constructor(private readonly deps: StoreDeps) {}

  on(event: StoreEvent, listener: () => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener);
    this.listeners.set(event, set);
    return () => set.delete(listener);
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners.get(event) ?? []) listener();
  }

  // Subscribing.

  /** The socket (re)opened: subscribe, resuming from the cursor when the page already has lines. */
  opened(): void {
    const resume = this.subscribed && Object.keys(this.cursor).length > 0;
    this.subscribe(resume);
  }

  /** New filters: a fresh view (the most recent matching lines), then live lines. */
  setFilters(filters: LogFilters): void {
    this.filters = Object.fromEntries(Object.entries(filters).filter(([, value]) => value)) as LogFilters;
    this.reset();
    this.subscribe(false);
  }

  private reset(): void {
    this.generation++;
    this.lines = [];
    this.seen.clear();
    this.cursor = {};
    this.floors = new Map();
    this.pagedBack = 0;
    this.gaps.clear();
    this.emit('logs');
  }

  private subscribe(resume: boolean): void {
    this.pending = [];
    this.resuming = resume;
    this.subscription++;
    this.deps.send({
      action: 'subscribe',
      filters: this.filters,
      ...(resume ? { cursor: encodeCursor(this.cursor) } : {}),
    });
  }

  // Messages.

  apply(message: Record<string, unknown>): void {
    if (message.type === 'batch' && Array.isArray(message.messages)) {
      for (const inner of message.messages) if (inner && typeof inner === 'object') this.apply(inner);
      return;
    }
    switch (message.type) {
      case 'initial':
        this.applyInitial(message.data as InitialData);
        return;
      case 'new_logs':
        // Until the subscription's `initial` is in, lines wait: they may predate it or match old filters.
        if (this.pending) this.pending.push(message);
        else this.applyNewLogs(message as unknown as NewLogs);
        return;
      case 'update':
        this.applyUpdate(message.data as UpdateData);
        return;
      case 'node_status':
        this.applyNodeStatus(message as unknown as NodeStatus);
        return;
      case 'service_result':
        this.applyCommand(message as unknown as CommandView);
        return;
      case 'error':
        this.lastError = `${String(message.error)}: ${String(message.message)}`;
        this.emit('error');
        return;
    }
  }

  private applyInitial(data: InitialData): void {
    this.setNodes(data.metrics);
    this.sources = data.log_sources;
    this.emit('sources');
    const generation = this.generation;
    const subscription = this.subscription;
    const resumed = this.resuming;
    const cursor = decodeCursor(data.cursor);
    this.insert(data.logs);
    this.advance(cursor);
    this.subscribed = true;
    this.emit('logs');
    const release = () => {
      if (generation !== this.generation || subscription !== this.subscription) return;
      const waiting = this.pending ?? [];
      this.pending = undefined;
      for (const message of waiting) this.applyNewLogs(message as unknown as NewLogs);
    };
    if (resumed && !data.logs_complete) void this.readAfter(data.cursor, generation).finally(release);
    else release();
  }

  /** Pages the lines after `cursor` over HTTP until a page is short (a long absence). */
  private async readAfter(cursor: string, generation: number): Promise<void> {
    try {
      for (;;) {
        const page = await this.deps.fetchLogs({ ...this.filters, cursor, limit: pageLimit });
        if (generation !== this.generation) return;
        this.insert(page.logs);
        this.advance(decodeCursor(page.cursor));
        this.emit('logs');
        if (page.logs.length < pageLimit) return;
        cursor = page.cursor;
      }
    } catch (error) {
      this.fetchFailed(error);
    }
  }

  private applyNewLogs(message: NewLogs): void {
    const node = message.node_id;
    const lines = [...message.logs].sort((a, b) => a.seq - b.seq);
    const first = lines[0];
    if (!first) return;
    const high = this.cursor[node];
    // A jump past the next number: lines were lost on the way (or the server's filter dropped them).
    if (high !== undefined && first.seq > high + 1) this.fillGap(node, high);
    const fresh = lines.filter((line) => high === undefined || line.seq > high || this.gaps.has(node));
    this.insert(fresh);
    this.advance({ [node]: lines.at(-1)!.seq, ...pick(message.cursor, node) });
    this.emit('logs');
  }

  /** Reads a node's lines after `from` over HTTP; one read per node at a time, again if more jumps came. */
  private fillGap(node: string, from: number): void {
    const running = this.gaps.get(node);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.gaps.set(node, state);
    const generation = this.generation;
    const run = async (after: number): Promise<void> => {
      let cursor = encodeCursor({ [node]: after });
      for (;;) {
        const page = await this.deps.fetchLogs({ ...this.filters, node, cursor, limit: pageLimit });
        if (generation !== this.generation) return;
        this.insert(page.logs);
        this.emit('logs');
        if (page.logs.length < pageLimit) return;
        cursor = page.cursor;
      }
    };
    void (async () => {
      try {
        await run(from);
        while (state.again && generation === this.generation) {
          state.again = false;
          await run(from);
        }
      } catch (error) {
        this.fetchFailed(error);
      } finally {
        if (this.gaps.get(node) === state) this.gaps.delete(node);
      }
    })();
  }

  private applyUpdate(data: UpdateData): void {
    this.setNodes(data.metrics);
    for (const [node, points] of Object.entries(data.history ?? {})) this.history.set(node, points);
    this.emit('history');
  }

  /** The nodes the server lists now; one it listed before and no longer does was removed. */
  private setNodes(metrics: Record<string, NodeView>): void {
    for (const [id, known] of this.nodes) {
      if (!(id in metrics) && known.status !== 'removed') this.nodes.set(id, { ...known, status: 'removed' });
    }
    for (const [id, view] of Object.entries(metrics)) this.nodes.set(id, this.withResults(view));
    this.emit('nodes');
  }

  /** A command's result is newer than the report taken before it: it wins until the next report. */
  private withResults(view: NodeView): NodeView {
    const results = this.results.get(view.node_id);
    if (!results || !view.metrics) return view;
    const services = { ...view.metrics.services };
    for (const [service, result] of results) {
      if (result.at > view.metrics.received_at && service in services) services[service] = result.state;
      else results.delete(service);
    }
    return { ...view, metrics: { ...view.metrics, services } };
  }

  private applyNodeStatus(message: NodeStatus): void {
    const known = this.nodes.get(message.node_id);
    this.nodes.set(message.node_id, {
      node_id: message.node_id,
      metrics: known?.metrics ?? null,
      status: message.status,
      last_seen: message.last_seen ?? known?.last_seen,
      agent_connected:
        message.status === 'removed' ? false : (message.agent_connected ?? known?.agent_connected),
    });
    if (message.status === 'removed') this.history.delete(message.node_id);
    this.emit('nodes');
  }

  /** A command's outcome (a `service_result`, or the 200 of the control call). */
  applyCommand(command: CommandView): void {
    this.commands.set(command.command_id, command);
    const state = command.result?.status;
    const node = this.nodes.get(command.node_id);
    // The service's state as the agent reported it after the command, before its next metrics report.
    if (command.kind === 'service' && state && command.service_name && node?.metrics) {
      const results = this.results.get(node.node_id) ?? new Map();
      results.set(command.service_name, { state, at: command.finished_at ?? new Date().toISOString() });
      this.results.set(node.node_id, results);
      this.nodes.set(node.node_id, {
        ...node,
        metrics: { ...node.metrics, services: { ...node.metrics.services, [command.service_name]: state } },
      });
      this.emit('nodes');
    }
    this.emit('command');
  }

  // Search and older lines (HTTP).

  /** Searches the stored lines (`q`, case-insensitive) within the filters; live lines then must match too. */
  async setSearch(q: string | undefined): Promise<void> {
    this.search = q?.trim() || undefined;
    const generation = ++this.generation;
    this.lines = [];
    this.seen.clear();
    this.floors = new Map();
    this.pagedBack = 0;
    this.emit('logs');
    if (!this.search) {
      // Back to the live view's most recent lines.
      this.reset();
      this.subscribe(false);
      return;
    }
    try {
      const page = await this.deps.fetchLogs({ ...this.filters, q: this.search, limit: 200 });
      if (generation !== this.generation) return;
      this.insert(page.logs);
      this.advance(decodeCursor(page.cursor));
      this.emit('logs');
    } catch (error) {
      this.fetchFailed(error);
    }
  }

  /**
   * Reads the page of lines just older than the view holds, within its filters and search: one request with
   * the API's backward cursor (`before`: per node, the lowest sequence number the view has looked back to; a
   * node it names not is read from its newest line). The answer's `before` is where the next click goes on,
   * so each node's part of the view stays contiguous.
   * @returns the lines added, and whether every node has been read back to its first line
   */
  async loadOlder(): Promise<{ added: number; exhausted: boolean }> {
    const generation = this.generation;
    const nodes = this.filters.node
      ? [this.filters.node]
      : [
          ...new Set([
            ...this.floors.keys(),
            ...Object.keys(this.cursor),
            ...this.lines.map((l) => l.node_id),
          ]),
        ];
    const before: LogCursor = {};
    for (const node of nodes) {
      const floor = this.floorOf(node);
      if (floor !== undefined) before[node] = floor;
    }
    try {
      const page = await this.deps.fetchOlderLogs({
        ...this.filters,
        ...(this.search ? { q: this.search } : {}),
        before: encodeCursor(before),
        limit: this.deps.olderPage ?? 200,
      });
      if (generation !== this.generation) return { added: 0, exhausted: false };
      for (const [node, seq] of Object.entries(decodeCursor(page.before))) this.floors.set(node, seq);
      this.pagedBack += page.logs.length;
      const added = this.insert(page.logs);
      this.emit('logs');
      return { added, exhausted: !page.more };
    } catch (error) {
      this.fetchFailed(error);
      return { added: 0, exhausted: false };
    }
  }

  /** The lowest sequence number the view has looked back to for a node; undefined: it knows none of it. */
  private floorOf(node: string): number | undefined {
    const known = this.floors.get(node);
    if (known !== undefined) return known;
    const high = this.cursor[node];
    let lowest = high === undefined ? Number.POSITIVE_INFINITY : high + 1;
    for (const line of this.lines) if (line.node_id === node && line.seq < lowest) lowest = line.seq;
    return Number.isFinite(lowest) ? lowest : undefined;
  }

  // The line buffer.

  /** Adds lines the view does not hold and that match its filters, in time order; returns how many. */
  private insert(lines: readonly LogLine[]): number {
    const wanted = lines.filter(
      (line) => !this.seen.has(key(line)) && matches(line, { ...this.filters, q: this.search }),
    );
    if (wanted.length === 0) return 0;
    for (const line of wanted) this.seen.add(key(line));
    const last = this.lines.at(-1);
    const sorted = [...wanted].sort(byTime);
    // Live lines are almost always newer than everything held: append without re-sorting.
    this.lines =
      !last || byTime(last, sorted[0]!) <= 0
        ? this.lines.concat(sorted)
        : this.lines.concat(sorted).sort(byTime);
    const max = (this.deps.maxLines ?? 5_000) + this.pagedBack;
    if (this.lines.length > max) {
      for (const line of this.lines.slice(0, this.lines.length - max)) this.seen.delete(key(line));
      this.lines = this.lines.slice(-max);
    }
    return wanted.length;
  }

  private advance(cursor: LogCursor): void {
    for (const [node, seq] of Object.entries(cursor)) {
      if (seq > (this.cursor[node] ?? -1)) this.cursor[node] = seq;
    }
  }

  private fetchFailed(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
    this.deps.onFetchError?.(error);
    this.emit('error');
  }
}

function pick(cursor: unknown, node: string): LogCursor {
  const seq = cursor && typeof cursor === 'object' ? (cursor as LogCursor)[node] : undefined;
  return typeof seq === 'number' ? { [node]: seq } : {};
}

interface InitialData {
  readonly metrics: Record<string, NodeView>;
  readonly logs: LogLine[];
  readonly log_sources: LogSources;
  readonly cursor: string;
  readonly logs_complete: boolean;
}

interface UpdateData {
  readonly metrics: Record<string, NodeView>;
  readonly history?: Record<string, HistoryPoint[]>;
}

interface NewLogs {
  readonly node_id: string;
  readonly logs: LogLine[];
  readonly cursor?: LogCursor;
}

interface NodeStatus {
  readonly node_id: string;
  readonly status: NodeView['status'];
  readonly last_seen?: string;
  readonly agent_connected?: boolean;
}
