// Workers tab: per node its details (status, agent, memory, disks, services, reporter) and a chart of its
// last 100 reports that moves with each `update` (the page pings every 4 s asking for the full history).
import { type HistoryChart, historyChart } from '../chart.ts';
import { bytes, coalesced, h, percent, placeInOrder, timeOf } from '../dom.ts';
import type { NodeView } from '../protocol.ts';
import type { DashboardStore } from '../store.ts';
import { badgeList } from './badges.ts';

interface Card {
  readonly root: HTMLElement;
  readonly details: HTMLElement;
  readonly chart: HistoryChart;
}

function details(node: NodeView): HTMLElement[] {
  const metrics = node.metrics;
  const rows: [string, string][] = [
    ['Status', node.status],
    ['Agent', node.agent_connected ? 'connected' : 'not connected'],
    ['Last seen', timeOf(node.last_seen)],
    ['CPU', percent(metrics?.cpu_percent)],
    [
      'Memory',
      metrics
        ? `${percent(metrics.memory.percent)} (${bytes(metrics.memory.used)} of ${bytes(metrics.memory.total)})`
        : '–',
    ],
    ...(metrics?.disk.mounts ?? []).map((mount): [string, string] => [
      `Disk ${mount.mount}`,
      `${percent(mount.percent)} (${bytes(mount.used)} of ${bytes(mount.total)})`,
    ]),
    [
      'Services',
      Object.entries(metrics?.services ?? {})
        .map(([name, state]) => `${name}: ${state}`)
        .join(', ') || '–',
    ],
  ];
  if (metrics?.reporter) {
    const r = metrics.reporter;
    rows.push([
      'Reporter',
      `${r.active ? 'active' : 'stopped'}, every ${r.current_interval_seconds} s, ${r.total_reports} reports (${r.success_rate_percent} % ok)`,
    ]);
  }
  return rows.map(([label, value]) => h('div', { class: 'detail' }, h('dt', {}, label), h('dd', {}, value)));
}

export function mountWorkers(panel: HTMLElement, store: DashboardStore): void {
  const list = h('div', { class: 'worker-cards' });
  const empty = h('p', { class: 'notice' }, 'No worker has reported yet.');
  panel.append(empty, list);
  const cards = new Map<string, Card>();

  const width = () => Math.max(320, Math.min(720, (list.clientWidth || 640) - 32));

  const draw = coalesced(() => {
    const nodes = [...store.nodes.values()].sort((a, b) => a.node_id.localeCompare(b.node_id));
    for (const [id, card] of cards) {
      if (!store.nodes.has(id)) {
        card.root.remove();
        cards.delete(id);
      }
    }
    for (const node of nodes) {
      let card = cards.get(node.node_id);
      if (!card) {
        const chart = historyChart(node.node_id, width());
        const detailList = h('dl', { class: 'details' });
        const root = h(
          'article',
          { class: 'worker', 'data-node': node.node_id, 'aria-label': `Worker ${node.node_id}` },
          h('header', {}, h('h3', {}, node.node_id), h('span', { class: 'card-badges' })),
          h('div', { class: 'worker-body' }, detailList, chart.element),
        );
        card = { root, details: detailList, chart };
        cards.set(node.node_id, card);
      }
      card.root.dataset.status = node.status;
      card.root.querySelector('.card-badges')!.replaceChildren(badgeList(node));
      card.details.replaceChildren(...details(node));
      card.chart.set(store.history.get(node.node_id) ?? []);
    }
    placeInOrder(
      list,
      nodes.map((node) => cards.get(node.node_id)!.root),
    );
    empty.hidden = nodes.length > 0;
  });

  store.on('nodes', draw);
  store.on('history', draw);
  // A chart drawn while its tab was hidden has no width to go by: fit it when the list gets one.
  new ResizeObserver(() => {
    for (const card of cards.values()) card.chart.resize(width());
  }).observe(list);
  draw();
}
