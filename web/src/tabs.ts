// Tabs with the WAI-ARIA tabs pattern: a tablist of buttons, arrow keys and Home/End move between them,
// only the selected tab is in the tab order, and each panel is labelled by its tab. The selection is in
// the address (#overview, #workers…), so a reload or a login comes back to the same tab.
export interface TabSpec {
  readonly id: string;
  readonly label: string;
  readonly panel: HTMLElement;
}

export function createTabs(
  host: HTMLElement,
  tabs: readonly TabSpec[],
  onSelect: (id: string) => void = () => {},
): { select(id: string): void } {
  const list = document.createElement('div');
  list.setAttribute('role', 'tablist');
  list.setAttribute('aria-label', 'Dashboard sections');
  list.className = 'tablist';
  const buttons = tabs.map((tab) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.id = `tab-${tab.id}`;
    button.textContent = tab.label;
    button.setAttribute('role', 'tab');
    button.setAttribute('aria-controls', `panel-${tab.id}`);
    tab.panel.id = `panel-${tab.id}`;
    tab.panel.setAttribute('role', 'tabpanel');
    tab.panel.setAttribute('aria-labelledby', button.id);
    tab.panel.tabIndex = 0;
    button.addEventListener('click', () => select(tab.id));
    list.append(button);
    return button;
  });

  function select(id: string, focus = false) {
    const index = Math.max(
      0,
      tabs.findIndex((tab) => tab.id === id),
    );
    tabs.forEach((tab, i) => {
      const selected = i === index;
      buttons[i]!.setAttribute('aria-selected', String(selected));
      buttons[i]!.tabIndex = selected ? 0 : -1;
      tab.panel.hidden = !selected;
    });
    if (focus) buttons[index]!.focus();
    const chosen = tabs[index]!.id;
    if (window.location.hash !== `#${chosen}`) window.history.replaceState(null, '', `#${chosen}`);
    onSelect(chosen);
  }

  list.addEventListener('keydown', (event) => {
    const current = buttons.findIndex((button) => button.getAttribute('aria-selected') === 'true');
    const last = tabs.length - 1;
    const next =
      event.key === 'ArrowRight'
        ? current === last
          ? 0
          : current + 1
        : event.key === 'ArrowLeft'
          ? current === 0
            ? last
            : current - 1
          : event.key === 'Home'
            ? 0
            : event.key === 'End'
              ? last
              : undefined;
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[next]!.id, true);
  });

  host.append(list, ...tabs.map((tab) => tab.panel));
  return { select: (id) => select(id) };
}
