// Services tab: every service of every node with its state, and for operators start/stop/restart buttons
// (POST /api/dashboard/control-service). A command shows its progress: sent, pending (202: the agent has
// not answered within the call's wait; its `service_result` finishes it) and the result. The buttons show
// only for the operator role read from the token; a 403 (roles changed since) hides them too.
import type { DashboardApi } from '../api.ts';
import { coalesced, h, placeInOrder, timeOf } from '../dom.ts';
import type { CommandView, ServiceAction } from '../protocol.ts';
import type { DashboardStore } from '../store.ts';

type Progress =
  | { readonly kind: 'sending'; readonly action: ServiceAction }
  | { readonly kind: 'pending'; readonly action: ServiceAction; readonly commandId: string }
  | { readonly kind: 'done'; readonly command: CommandView }
  | { readonly kind: 'refused'; readonly action: ServiceAction; readonly message: string };

const actions: readonly ServiceAction[] = ['start', 'stop', 'restart'];

function describe(progress: Progress): { text: string; status: string } {
  switch (progress.kind) {
    case 'sending':
      return { text: `${progress.action}: sending…`, status: 'sending' };
    case 'pending':
      return { text: `${progress.action}: waiting for the agent…`, status: 'pending' };
    case 'refused':
      return { text: `${progress.action}: ${progress.message}`, status: 'failed' };
    case 'done': {
      const { command } = progress;
      // timed_out: the agent took the command and never answered (it died or lost its connection); it may
      // have acted, and the node's next report shows the state.
      const outcome = command.success
        ? `done, now ${command.result?.status ?? 'unknown'}`
        : command.status === 'timed_out'
          ? 'no answer from the agent (timed out); see its next report'
          : `failed: ${command.result?.error?.message ?? command.status}`;
      return {
        text: `${command.action}: ${outcome} (${timeOf(command.finished_at)}, by ${command.requested_by})`,
        status: command.success ? 'succeeded' : 'failed',
      };
    }
  }
}

export function mountServices(
  panel: HTMLElement,
  store: DashboardStore,
  api: DashboardApi,
  options: { canControl: boolean },
): void {
  let canControl = options.canControl;
  const note = h(
    'p',
    { class: 'notice', 'data-role-note': '' },
    canControl ? '' : 'Viewing only: starting and stopping services needs the operator role.',
  );
  note.hidden = canControl;
  const body = h('tbody');
  const table = h(
    'table',
    { class: 'grid services-table' },
    h('caption', {}, 'Services across the cluster'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Node', 'Service', 'State', ...(canControl ? ['Control'] : []), 'Last command'].map((label) =>
          h('th', { scope: 'col' }, label),
        ),
      ),
    ),
    body,
  );
  const empty = h('p', { class: 'notice' }, 'No node reports any service yet.');
  panel.append(note, table, empty);
  const progress = new Map<string, Progress>();
  const id = (node: string, service: string) => `${node}\u0000${service}`;

  async function control(node: string, service: string, action: ServiceAction): Promise<void> {
    const slot = id(node, service);
    progress.set(slot, { kind: 'sending', action });
    draw();
    try {
      const answer = await api.controlService({ worker_id: node, service_name: service, action });
      const command = answer.body as CommandView & { message?: string };
      if (answer.status === 200) {
        store.applyCommand(command);
        progress.set(slot, { kind: 'done', command });
      } else if (answer.status === 202) {
        // The result may already be in: the `service_result` can beat the 202 to the page.
        const known = store.commands.get(command.command_id);
        progress.set(
          slot,
          known && known.status !== 'pending'
            ? { kind: 'done', command: known }
            : { kind: 'pending', action, commandId: command.command_id },
        );
      } else {
        if (answer.status === 403) canControl = false;
        const why =
          answer.status === 409
            ? 'the node has no agent connection'
            : (command.message ?? `HTTP ${answer.status}`);
        progress.set(slot, { kind: 'refused', action, message: why });
      }
    } catch (error) {
      progress.set(slot, {
        kind: 'refused',
        action,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    draw();
  }

  store.on('command', () => {
    for (const [slot, state] of progress) {
      if (state.kind !== 'pending') continue;
      const command = store.commands.get(state.commandId);
      if (command && command.status !== 'pending') progress.set(slot, { kind: 'done', command });
    }
    draw();
  });

  interface Row {
    readonly root: HTMLElement;
    readonly state: HTMLElement;
    readonly controls: HTMLElement;
    readonly buttons: HTMLButtonElement[];
    readonly progress: HTMLElement;
  }
  const rows = new Map<string, Row>();

  function rowFor(node: string, service: string): Row {
    const slot = id(node, service);
    const known = rows.get(slot);
    if (known) return known;
    const buttons = actions.map((action) => {
      const button = h(
        'button',
        { type: 'button', 'data-action': action, 'aria-label': `${action} ${service} on ${node}` },
        action,
      );
      button.addEventListener('click', () => void control(node, service, action));
      return button;
    });
    const state = h('td', { class: 'state' });
    const controls = h('td', {}, h('div', { class: 'controls' }, ...(canControl ? buttons : [])));
    const progressCell = h('td', { class: 'progress', 'aria-live': 'polite' });
    const root = h(
      'tr',
      { 'data-node': node, 'data-service': service },
      h('td', {}, node),
      h('th', { scope: 'row' }, service),
      state,
      controls,
      progressCell,
    );
    const row = { root, state, controls, buttons, progress: progressCell };
    rows.set(slot, row);
    return row;
  }

  // Rows are kept and updated in place, so a focused button keeps its focus across updates.
  const draw = coalesced(() => {
    const ordered: HTMLElement[] = [];
    const present = new Set<string>();
    const nodes = [...store.nodes.values()].sort((a, b) => a.node_id.localeCompare(b.node_id));
    for (const node of nodes) {
      const services = Object.entries(node.metrics?.services ?? {}).sort(([a], [b]) => a.localeCompare(b));
      for (const [service, state] of services) {
        const slot = progress.get(id(node.node_id, service));
        const busy = slot?.kind === 'sending' || slot?.kind === 'pending';
        const shown = slot ? describe(slot) : undefined;
        const row = rowFor(node.node_id, service);
        present.add(id(node.node_id, service));
        row.state.className = `state state-${state}`;
        row.state.dataset.state = state;
        row.state.textContent = state;
        row.controls.hidden = !canControl;
        if (!canControl) row.controls.replaceChildren();
        for (const button of row.buttons) button.disabled = busy || node.status === 'removed';
        row.progress.dataset.progress = shown?.status ?? 'none';
        row.progress.textContent = shown?.text ?? '';
        ordered.push(row.root);
      }
    }
    for (const slot of rows.keys()) if (!present.has(slot)) rows.delete(slot);
    placeInOrder(body, ordered);
    empty.hidden = ordered.length > 0;
    if (!canControl) {
      note.hidden = false;
      note.textContent = 'Viewing only: starting and stopping services needs the operator role.';
      for (const cell of table.querySelectorAll('thead th'))
        if (cell.textContent === 'Control') cell.remove();
    }
  });

  store.on('nodes', draw);
  draw();
}
