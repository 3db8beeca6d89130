// Unit — the dashboard page's message store (web/src/store.ts): batches unwrapped in order, per-node
// sequence dedupe, resuming from the cursor after a reconnect (and paging the rest), reading a node's gap
// over HTTP when its sequence jumps, nodes going silent, command results, and paging back through older
// lines with the backward cursor. The HTTP reads are a fake of the log API's contract (lines after a
// per-node cursor, or below a per-node `before`, filtered), since the store's only partner here is that API.
import { describe, expect, it } from 'vitest';
import {
  decodeCursor,
  encodeCursor,
  type LogLine,
  type LogsQuery,
  matches,
  type OlderLogsQuery,
} from '../../../web/src/protocol.ts';
import { DashboardStore } from '../../../web/src/store.ts';

const at = (second: number) => new Date(Date.UTC(2026, 11, 3, 12, 0, second)).toISOString();

function line(node: string, seq: number, extra: Partial<LogLine> = {}): LogLine {
  return {
    node_id: node,
    seq,
    timestamp: at(seq),
    level: 'INFO',
    logger_name: 'Service.app',
    message: `line ${seq} of ${node}`,
    ...extra,
  };
}

/**
 * The log API over a list of stored lines: lines after the cursor (or the most recent), or the newest below each
 * node's `before` position (a node not named: from its newest), filtered.
 */
function logApi(stored: LogLine[]) {
  const calls: LogsQuery[] = [];
  const olderCalls: OlderLogsQuery[] = [];
  return {
    calls,
    olderCalls,
    async fetchOlderLogs(query: OlderLogsQuery) {
      olderCalls.push(query);
      const limit = query.limit ?? 100;
      const before = decodeCursor(query.before);
      const below = stored.filter(
        (l) => matches(l, query) && l.seq < (before[l.node_id] ?? Number.POSITIVE_INFINITY),
      );
      const logs = below.slice(-limit);
      const next = { ...before };
      for (const l of logs) next[l.node_id] = Math.min(next[l.node_id] ?? Number.POSITIVE_INFINITY, l.seq);
      // A node whose lines below were all taken is read back to its start.
      for (const l of below) if (!logs.includes(l)) next[l.node_id] = Math.max(next[l.node_id]!, l.seq + 1);
      const more = below.length > logs.length;
      if (!more) for (const id of Object.keys(next)) next[id] = 1;
      return { logs, before: encodeCursor(next), more };
    },
    async fetchLogs(query: LogsQuery) {
      calls.push(query);
      const limit = query.limit ?? 100;
      const wanted = stored.filter((l) => matches(l, query));
      if (!query.cursor) {
        const logs = wanted.slice(-limit);
        const heads: Record<string, number> = {};
        for (const l of stored) heads[l.node_id] = Math.max(heads[l.node_id] ?? 0, l.seq);
        return { logs, cursor: encodeCursor(heads) };
      }
      const cursor = decodeCursor(query.cursor);
      const logs = wanted.filter((l) => l.seq > (cursor[l.node_id] ?? 0)).slice(0, limit);
      const next = { ...cursor };
      for (const l of logs) next[l.node_id] = l.seq;
      return { logs, cursor: encodeCursor(next) };
    },
  };
}

function setup(stored: LogLine[] = [], options: { olderPage?: number } = {}) {
  const api = logApi(stored);
  const sent: Record<string, unknown>[] = [];
  const store = new DashboardStore({
    fetchLogs: (query) => api.fetchLogs(query),
    fetchOlderLogs: (query) => api.fetchOlderLogs(query),
    send: (frame) => {
      sent.push(frame);
      return true;
    },
    ...options,
  });
  return { store, sent, api };
}

const node = (id: string, services: Record<string, 'running' | 'stopped' | 'error'> = {}) => ({
  node_id: id,
  status: 'online' as const,
  last_seen: at(0),
  agent_connected: true,
  metrics: {
    timestamp: at(0),
    received_at: at(0),
    cpu_percent: 10,
    memory: { percent: 40, total: 8, available: 4, used: 4 },
    disk: { percent: 50, mounts: [] },
    services,
  },
});

function initial(logs: LogLine[], cursor: Record<string, number>, extra: Record<string, unknown> = {}) {
  return {
    type: 'initial',
    data: {
      metrics: { 'node-1': node('node-1', { web: 'running' }) },
      logs,
      log_sources: { nodes: ['node-1'], loggers: ['Service.app'], log_levels: ['INFO'] },
      cursor: encodeCursor(cursor),
      logs_complete: true,
      ...extra,
    },
  };
}

const seqs = (store: DashboardStore) => store.lines.map((l) => `${l.node_id}:${l.seq}`);
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('DashboardStore', () => {
  it('unwraps a batch in order and drops lines at or below the per-node cursor', () => {
    const { store, sent } = setup();
    store.opened();
    expect(sent).toEqual([{ action: 'subscribe', filters: {} }]);
    store.apply({
      type: 'batch',
      messages: [
        initial([line('node-1', 1), line('node-1', 2)], { 'node-1': 2 }),
        {
          type: 'new_logs',
          node_id: 'node-1',
          logs: [line('node-1', 2), line('node-1', 3)],
          cursor: { 'node-1': 3 },
        },
      ],
    });
    store.apply({ type: 'new_logs', node_id: 'node-1', logs: [line('node-1', 3)], cursor: { 'node-1': 3 } });
    expect(seqs(store)).toEqual(['node-1:1', 'node-1:2', 'node-1:3']);
    expect(store.cursor).toEqual({ 'node-1': 3 });
    expect(store.nodes.get('node-1')?.metrics?.services).toEqual({ web: 'running' });
  });

  it('holds lines pushed before the initial answer, and keeps only those it lacks that match the filters', () => {
    const { store } = setup();
    store.setFilters({ level: 'ERROR' });
    // Pushed between the subscribe and its answer: one already in the answer, one of the old filters.
    store.apply({
      type: 'new_logs',
      node_id: 'node-1',
      logs: [line('node-1', 4, { level: 'ERROR' })],
      cursor: { 'node-1': 4 },
    });
    store.apply({ type: 'new_logs', node_id: 'node-1', logs: [line('node-1', 5)], cursor: { 'node-1': 5 } });
    expect(store.lines).toEqual([]);
    store.apply(initial([line('node-1', 4, { level: 'ERROR' })], { 'node-1': 4 }));
    expect(seqs(store)).toEqual(['node-1:4']);
  });

  it('resubscribes with its cursor after a reconnect and pages what the initial answer left out', async () => {
    const stored = Array.from({ length: 1_400 }, (_, i) => line('node-1', i + 1));
    const { store, sent, api } = setup(stored);
    store.opened();
    store.apply(initial(stored.slice(0, 3), { 'node-1': 3 }));
    store.opened();
    expect(sent.at(-1)).toEqual({ action: 'subscribe', filters: {}, cursor: encodeCursor({ 'node-1': 3 }) });
    // The server answers 200 lines after the cursor and says there are more.
    store.apply(initial(stored.slice(3, 203), { 'node-1': 203 }, { logs_complete: false }));
    // A line pushed while the rest is paged: it waits, and is not taken for a gap.
    store.apply({
      type: 'new_logs',
      node_id: 'node-1',
      logs: [line('node-1', 1_401)],
      cursor: { 'node-1': 1_401 },
    });
    await settle();
    await settle();
    expect(api.calls.map((call) => decodeCursor(call.cursor!))).toEqual([
      { 'node-1': 203 },
      { 'node-1': 1_203 },
    ]);
    expect(store.lines.map((l) => l.seq)).toEqual(Array.from({ length: 1_401 }, (_, i) => i + 1));
  });

  it('reads a node’s missing lines over HTTP when its sequence jumps, and shows them in order', async () => {
    const stored = Array.from({ length: 9 }, (_, i) => line('node-1', i + 1));
    const { store, api } = setup(stored);
    store.opened();
    store.apply(initial(stored.slice(0, 5), { 'node-1': 5 }));
    store.apply({ type: 'new_logs', node_id: 'node-1', logs: [line('node-1', 9)], cursor: { 'node-1': 9 } });
    await settle();
    expect(api.calls).toEqual([{ node: 'node-1', cursor: encodeCursor({ 'node-1': 5 }), limit: 1_000 }]);
    expect(store.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('marks a node removed when the server stops listing it, or says so, and updates states from results', () => {
    const { store } = setup();
    store.opened();
    store.apply(initial([], {}));
    store.apply({ type: 'update', data: { metrics: {}, history: {} } });
    expect(store.nodes.get('node-1')?.status).toBe('removed');
    store.apply({
      type: 'update',
      data: { metrics: { 'node-1': node('node-1', { web: 'error' }) }, history: {} },
    });
    store.apply({ type: 'node_status', node_id: 'node-1', status: 'expired', agent_connected: false });
    expect(store.nodes.get('node-1')).toMatchObject({ status: 'expired', agent_connected: false });
    store.apply({
      type: 'service_result',
      command_id: 'c1',
      node_id: 'node-1',
      kind: 'service',
      action: 'restart',
      service_name: 'web',
      status: 'succeeded',
      success: true,
      result: { status: 'running' },
      requested_by: 'alice',
      requested_at: at(1),
      finished_at: at(2),
    });
    expect(store.nodes.get('node-1')?.metrics?.services.web).toBe('running');
    expect(store.commands.get('c1')?.success).toBe(true);
    // An update with the report from before the command keeps the result; a later report wins.
    store.apply({
      type: 'update',
      data: { metrics: { 'node-1': node('node-1', { web: 'error' }) }, history: {} },
    });
    expect(store.nodes.get('node-1')?.metrics?.services.web).toBe('running');
    const later = node('node-1', { web: 'stopped' });
    store.apply({
      type: 'update',
      data: {
        metrics: { 'node-1': { ...later, metrics: { ...later.metrics, received_at: at(3) } } },
        history: {},
      },
    });
    expect(store.nodes.get('node-1')?.metrics?.services.web).toBe('stopped');
  });

  it('pages back through older lines by the backward cursor, within the filters and search, to the first line', async () => {
    const stored = Array.from({ length: 30 }, (_, i) =>
      line('node-1', i + 1, { level: i % 3 ? 'INFO' : 'ERROR' }),
    );
    const { store, api } = setup(stored, { olderPage: 3 });
    store.setFilters({ level: 'ERROR' });
    store.apply(initial(stored.filter((l) => l.level === 'ERROR').slice(-2), { 'node-1': 30 }));
    expect(store.lines.map((l) => l.seq)).toEqual([25, 28]);
    const first = await store.loadOlder();
    expect(first).toEqual({ added: 3, exhausted: false });
    expect(store.lines.map((l) => l.seq)).toEqual([16, 19, 22, 25, 28]);
    // One request per click, from the lowest line held, with the filters.
    expect(api.olderCalls[0]).toEqual({ level: 'ERROR', before: encodeCursor({ 'node-1': 25 }), limit: 3 });
    expect(decodeCursor(api.olderCalls.at(-1)!.before)).toEqual({ 'node-1': 25 });
    await store.loadOlder();
    expect(decodeCursor(api.olderCalls.at(-1)!.before)).toEqual({ 'node-1': 16 });
    expect(await store.loadOlder()).toEqual({ added: 2, exhausted: true });
    expect(store.lines.map((l) => l.seq)).toEqual([1, 4, 7, 10, 13, 16, 19, 22, 25, 28]);
  });

  it('keeps what it paged back on top of its line limit', async () => {
    const stored = Array.from({ length: 12 }, (_, i) => line('node-1', i + 1));
    const api = logApi(stored);
    const store = new DashboardStore({
      fetchLogs: (query) => api.fetchLogs(query),
      fetchOlderLogs: (query) => api.fetchOlderLogs(query),
      send: () => true,
      maxLines: 4,
      olderPage: 4,
    });
    store.opened();
    store.apply(initial(stored.slice(-4), { 'node-1': 12 }));
    expect(await store.loadOlder()).toEqual({ added: 4, exhausted: false });
    expect(store.lines.map((l) => l.seq)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(await store.loadOlder()).toEqual({ added: 4, exhausted: true });
    expect(store.lines.map((l) => l.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Live lines still push the oldest out beyond the limit and what was paged back.
    store.apply({
      type: 'new_logs',
      node_id: 'node-1',
      logs: [line('node-1', 13)],
      cursor: { 'node-1': 13 },
    });
    expect(store.lines.map((l) => l.seq)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  });

  it('keeps the search when paging back', async () => {
    // 250 matching lines between others: the search shows the newest 200, "older" the rest.
    const stored = Array.from({ length: 500 }, (_, i) =>
      line('node-1', i + 1, { message: i % 2 ? `needle ${i + 1}` : 'hay' }),
    );
    const { store, api } = setup(stored, { olderPage: 100 });
    store.opened();
    store.apply(initial([], { 'node-1': 500 }));
    await store.setSearch('needle');
    expect(store.lines).toHaveLength(200);
    const lowest = store.lines[0]!.seq;
    expect(await store.loadOlder()).toEqual({ added: 50, exhausted: true });
    expect(api.olderCalls).toEqual([{ q: 'needle', before: encodeCursor({ 'node-1': lowest }), limit: 100 }]);
    expect(store.lines.map((l) => l.seq)).toEqual(Array.from({ length: 250 }, (_, i) => 2 * (i + 1)));
  });

  it('searches over HTTP and then keeps only live lines that match the search', async () => {
    const stored = [line('node-1', 1, { message: 'disk full' }), line('node-1', 2, { message: 'ok' })];
    const { store, api } = setup(stored);
    store.opened();
    store.apply(initial(stored, { 'node-1': 2 }));
    await store.setSearch('DISK');
    expect(api.calls.at(-1)).toEqual({ q: 'DISK', limit: 200 });
    expect(seqs(store)).toEqual(['node-1:1']);
    store.apply({
      type: 'new_logs',
      node_id: 'node-1',
      logs: [line('node-1', 3, { message: 'all fine' }), line('node-1', 4, { message: 'disk full again' })],
      cursor: { 'node-1': 4 },
    });
    expect(seqs(store)).toEqual(['node-1:1', 'node-1:4']);
  });
});
