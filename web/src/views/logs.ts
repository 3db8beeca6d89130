// Logs tab: the live log view. Node, level and logger filters resubscribe the socket (the server filters
// what it pushes); the search asks the API (`q`, which the socket does not filter on) and live lines must
// then match it too; "Older lines" pages back through history by the API's backward cursor, within the same
// filters and search (DashboardStore.loadOlder), and shows the page it read at the top of the list.
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
    pagedBack = 0;
    setOlder('ready');
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
  // aria-disabled, not disabled: the button keeps keyboard focus while it loads and once nothing is older.
  const older = h('button', { type: 'button', 'data-older': 'ready' }, 'Older lines');
  const setOlder = (state: 'ready' | 'loading' | 'exhausted') => {
    older.dataset.older = state;
    older.setAttribute('aria-disabled', String(state !== 'ready'));
    older.textContent = state === 'exhausted' ? 'No older lines' : 'Older lines';
    if (state === 'loading') older.setAttribute('aria-busy', 'true');
    else older.removeAttribute('aria-busy');
  };
  /** Lines paged back into the view: drawn on top of the newest `drawnLines`. */
  let pagedBack = 0;
  let revealOldest = false;
  older.addEventListener('click', async () => {
    if (older.dataset.older !== 'ready') return;
    setOlder('loading');
    const { added, exhausted } = await store.loadOlder();
    pagedBack += added;
    revealOldest = added > 0;
    setOlder(exhausted ? 'exhausted' : 'ready');
    status.textContent =
      added > 0
        ? `${added} older ${added === 1 ? 'line' : 'lines'} above.`
        : exhausted
          ? 'No older lines.'
          : '';
    draw();
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
    const lines = store.lines.slice(-(drawnLines + pagedBack));
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
    if (revealOldest) {
      // The page just read back sits at the top: show it, and stop following the newest line.
      revealOldest = false;
      follow = false;
      list.scrollTop = 0;
    }
    keepFollowing();
  });

  store.on('sources', fillSources);
  store.on('logs', draw);
  fillSources();
  draw();
}
