// Overview tab: the cluster's statistics (GET /api/dashboard/stats, then kept live from the nodes the socket
// reports) and the worker list with its badges.
import type { DashboardApi } from '../api.ts';
import { coalesced, duration, h, percent, timeOf } from '../dom.ts';
import type { DashboardStats, NodeView } from '../protocol.ts';
import type { DashboardStore } from '../store.ts';
import { badgeList } from './badges.ts';

/** The server's statistics (shared/dashboard's `stats`), recomputed from the nodes the page holds. */
function liveStats(nodes: readonly NodeView[], uptime: number): DashboardStats {
  const present = nodes.filter((node) => node.status !== 'removed');
  const active = present.filter((node) => node.status === 'online');
  const services = active.flatMap((node) => Object.values(node.metrics?.services ?? {}));
  return {
    total_workers: present.length,
    active_workers: active.length,
    expired_workers: present.length - active.length,
    agents_connected: present.filter((node) => node.agent_connected).length,
    total_services: services.length,
    services_running: services.filter((state) => state === 'running').length,
    services_error: services.filter((state) => state === 'error').length,
    uptime_seconds: uptime,
  };
}

export function mountOverview(panel: HTMLElement, store: DashboardStore, api: DashboardApi): void {
  const cards = h('dl', { class: 'stats', 'aria-label': 'Cluster statistics' });
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'grid workers-table' },
    h('caption', {}, 'Workers'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Node', 'Status', 'CPU', 'Memory', 'Disk', 'Services', 'Last seen', 'Attention'].map((label) =>
          h('th', { scope: 'col' }, label),
        ),
      ),
    ),
    body,
  );
  const empty = h('p', { class: 'notice' }, 'No worker has reported yet.');
  panel.append(cards, table, empty);

  let fetched: { stats: DashboardStats; at: number } | undefined;
  const uptime = () =>
    fetched ? fetched.stats.uptime_seconds + Math.floor((Date.now() - fetched.at) / 1000) : 0;

  const draw = coalesced(() => {
    const nodes = [...store.nodes.values()].sort((a, b) => a.node_id.localeCompare(b.node_id));
    const stats = store.subscribed || !fetched ? liveStats(nodes, uptime()) : fetched.stats;
    const entries: [string, string, string, boolean?][] = [
      ['active', 'Active workers', `${stats.active_workers} / ${stats.total_workers}`],
      ['expired', 'Silent workers', String(stats.expired_workers), stats.expired_workers > 0],
      ['agents', 'Agents connected', String(stats.agents_connected)],
      ['services', 'Services running', `${stats.services_running} / ${stats.total_services}`],
      ['errors', 'Services failed', String(stats.services_error), stats.services_error > 0],
      ['uptime', 'Dashboard uptime', duration(stats.uptime_seconds)],
    ];
    cards.replaceChildren(
      ...entries.map(([id, label, value, alert]) =>
        h(
          'div',
          { class: alert ? 'stat stat-alert' : 'stat', 'data-stat': id },
          h('dt', {}, label),
          h('dd', {}, value),
        ),
      ),
    );
    body.replaceChildren(
      ...nodes.map((node) => {
        const services = Object.values(node.metrics?.services ?? {});
        return h(
          'tr',
          { 'data-node': node.node_id, 'data-status': node.status },
          h('th', { scope: 'row' }, node.node_id),
          h('td', { class: `status status-${node.status}` }, node.status),
          h('td', {}, percent(node.metrics?.cpu_percent)),
          h('td', {}, percent(node.metrics?.memory.percent)),
          h('td', {}, percent(node.metrics?.disk.percent)),
          h('td', {}, `${services.filter((state) => state === 'running').length} / ${services.length}`),
          h('td', {}, timeOf(node.last_seen)),
          h('td', {}, badgeList(node)),
        );
      }),
    );
    empty.hidden = nodes.length > 0;
  });

  store.on('nodes', draw);
  api
    .stats()
    .then((stats) => {
      fetched = { stats, at: Date.now() };
      draw();
    })
    .catch(() => {
      // The live numbers still come from the socket.
    });
  // The uptime ticks on its own; the rest redraws when the nodes change.
  setInterval(() => {
    const uptimeCell = cards.querySelector('[data-stat=uptime] dd');
    if (uptimeCell) uptimeCell.textContent = duration(uptime());
  }, 1_000);
  draw();
}
