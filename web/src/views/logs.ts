// Logs tab: the live log view. Node, level and logger filters resubscribe the socket (the server filters
// what it pushes); the search asks the API (`q`, which the socket does not filter on) and live lines must
// then match it too; "Older lines" reads back through each node's stream (see DashboardStore.loadOlder).
import { coalesced, h } from '../dom.ts';
import type { LogFilters, LogLevel } from '../protocol.ts';
import type { DashboardStore } from '../store.ts';

/** Lines drawn at once (the newest); the store keeps more for paging. */
const drawnLines = 1_000;

function select(name: string, label: string, onChange: (value: string) => void): HTMLSelectElement {
  const element = h('select', { name, 'aria-label': label });
  element.addEventListener('change', () => onChange(element.value));
  return element;
}

function setOptions(element: HTMLSelectElement, all: string, values: readonly string[]): void {
  const current = element.value;
  const wanted = ['', ...values];
  const have = [...element.options].map((option) => option.value);
  if (wanted.length === have.length && wanted.every((value, i) => value === have[i])) return;
  element.replaceChildren(...wanted.map((value) => h('option', { value }, value || all)));
  element.value = wanted.includes(current) ? current : '';
}

export function mountLogs(panel: HTMLElement, store: DashboardStore): void {
  const filters = () =>
    ({
      node: node.value || undefined,
      level: (level.value || undefined) as LogLevel | undefined,
      logger: logger.value || undefined,
    }) satisfies LogFilters;
  // A new view (filters or search) can be read back again.
  const fresh = () => {
    older.disabled = false;
    older.textContent = 'Older lines';
    status.textContent = '';
  };
  const refilter = () => {
    fresh();
    store.setFilters(filters());
  };
  const node = select('node', 'Node', refilter);
  const level = select('level', 'Level', refilter);
  const logger = select('logger', 'Logger', refilter);
  const query = h('input', {
    type: 'search',
    name: 'q',
    placeholder: 'Search messages',
    'aria-label': 'Search messages',
  });
  const search = h(
    'form',
    { class: 'search', role: 'search' },
    query,
    h('button', { type: 'submit' }, 'Search'),
  );
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    fresh();
    void store.setSearch(query.value);
  });
  const older = h('button', { type: 'button', 'data-older': '' }, 'Older lines');
  older.addEventListener('click', async () => {
    older.disabled = true;
    const { added, exhausted } = await store.loadOlder();
    older.disabled = exhausted;
    older.textContent = exhausted ? 'No older lines' : 'Older lines';
    status.textContent =
      added === 0 && !exhausted ? 'No older matching lines nearby; try again to look further back.' : '';
  });
  const status = h('p', { class: 'notice', 'aria-live': 'polite' });
  const list = h('ol', { class: 'log-lines', 'aria-label': 'Log lines', 'aria-live': 'off', tabindex: 0 });
  panel.append(
    h(
      'div',
      { class: 'log-controls' },
      h('label', {}, 'Node ', node),
      h('label', {}, 'Level ', level),
      h('label', {}, 'Logger ', logger),
      search,
      older,
    ),
    status,
    list,
  );

  const fillSources = () => {
    setOptions(node, 'all nodes', store.sources.nodes);
    setOptions(level, 'all levels', store.sources.log_levels);
    setOptions(logger, 'all loggers', store.sources.loggers);
  };

  // Follow the newest line while the reader is at the bottom (or has not scrolled yet); a hidden tab has no
  // geometry, so this is decided by the reader's own scrolling, not measured at each draw.
  let follow = true;
  const atBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 24;
  list.addEventListener('scroll', () => {
    if (list.clientHeight > 0) follow = atBottom();
  });
  const keepFollowing = () => {
    if (follow) list.scrollTop = list.scrollHeight;
  };
  // Shown again (the tab selected): back to the newest line if following.
  new ResizeObserver(keepFollowing).observe(list);

  const draw = coalesced(() => {
    const lines = store.lines.slice(-drawnLines);
    list.replaceChildren(
      ...lines.map((line) =>
        h(
          'li',
          {
            class: `log level-${line.level}`,
            'data-node': line.node_id,
            'data-seq': line.seq,
            'data-level': line.level,
          },
          h('time', { datetime: line.timestamp }, line.timestamp.slice(11, 23)),
          h('span', { class: 'log-node' }, line.node_id),
          h('span', { class: 'log-level' }, line.level),
          h('span', { class: 'log-logger' }, line.logger_name),
          h('span', { class: 'log-message' }, line.message),
        ),
      ),
    );
    list.dataset.count = String(store.lines.length);
    if (lines.length === 0)
      list.append(h('li', { class: 'notice' }, store.search ? 'No matching lines.' : 'No lines yet.'));
    keepFollowing();
  });

  store.on('sources', fillSources);
  store.on('logs', draw);
  fillSources();
  draw();
}
