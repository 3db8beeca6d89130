// The dashboard's entry: reads config.json (where the API, the WebSocket and the issuer are), finishes or
// starts the login, then shows the tabs and keeps the WebSocket open for as long as the session lasts.
import type { DashboardConfig } from '../../shared/contracts/index.ts';
import { createApi } from './api.ts';
import { completeLogin, hasRole, type Session, startLogin } from './auth.ts';
import { type ConnectionState, connectSocket, type DashboardSocket } from './socket.ts';
import { DashboardStore } from './store.ts';
import { createTabs } from './tabs.ts';
import { mountLogs } from './views/logs.ts';
import { mountOverview } from './views/overview.ts';
import { mountServices } from './views/services.ts';
import { mountWorkers } from './views/workers.ts';

/** The protocol's keep-alive: every 4 s, asking for each node's full 100-point history for the charts. */
const pingEveryMs = 4_000;
const pingFrame = { action: 'ping', history: 100 };

const tabIds = ['overview', 'workers', 'services', 'logs'] as const;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function describe(state: ConnectionState): string {
  switch (state.kind) {
    case 'connecting':
      return state.attempt === 0 ? 'Connecting…' : `Reconnecting (attempt ${state.attempt})…`;
    case 'open':
      return 'Live';
    case 'waiting':
      return `Disconnected; retrying in ${Math.ceil(state.retryInMs / 1000)} s`;
    case 'closed':
      return `Offline (${state.reason})`;
  }
}

function currentTab(): string {
  const hash = window.location.hash.slice(1);
  return (tabIds as readonly string[]).includes(hash) ? hash : 'overview';
}

function showSession(config: DashboardConfig, session: Session, returnTo: string) {
  const app = document.getElementById('app')!;
  const connection = document.getElementById('connection')!;
  const who = document.getElementById('who')!;
  const signOut = document.getElementById('sign-out') as HTMLButtonElement;
  const canControl = hasRole(session, 'operator');
  who.textContent = `${session.subject} · ${session.roles.join(', ')}`;
  signOut.hidden = false;

  const panels = {
    overview: element('section'),
    workers: element('section'),
    services: element('section'),
    logs: element('section'),
  };
  for (const [id, panel] of Object.entries(panels)) {
    panel.dataset.tab = id;
    panel.append(element('h2', id[0]!.toUpperCase() + id.slice(1)));
  }
  app.replaceChildren();
  app.removeAttribute('aria-busy');
  document.body.dataset.role = canControl ? 'operator' : 'viewer';
  const tabs = createTabs(app, [
    { id: 'overview', label: 'Overview', panel: panels.overview },
    { id: 'workers', label: 'Workers', panel: panels.workers },
    { id: 'services', label: 'Services', panel: panels.services },
    { id: 'logs', label: 'Logs', panel: panels.logs },
  ]);
  tabs.select((tabIds as readonly string[]).includes(returnTo) ? returnTo : 'overview');

  let live: Session | undefined = session;
  const token = () => (live && live.expiresAtMs > Date.now() ? live.accessToken : undefined);
  const relogin = () => {
    if (!live) return;
    live = undefined;
    socket.close();
    void startLogin(config, currentTab());
  };
  const api = createApi({ baseUrl: config.apiUrl, token, onUnauthorized: relogin });
  let socket: DashboardSocket;
  const store = new DashboardStore({
    fetchLogs: (query) => api.logs(query),
    fetchOlderLogs: (query) => api.olderLogs(query),
    send: (frame) => socket.send(frame),
  });
  mountOverview(panels.overview, store, api);
  mountWorkers(panels.workers, store);
  mountServices(panels.services, store, api, { canControl });
  mountLogs(panels.logs, store);
  socket = connectSocket({
    url: config.wsUrl,
    token,
    pingEveryMs,
    pingFrame,
    onState(state) {
      connection.dataset.state = state.kind;
      connection.textContent = describe(state);
      // An expired session goes back through the login, to the tab the user was on.
      if (state.kind === 'closed' && state.reason === 'signed out' && live)
        void startLogin(config, currentTab());
    },
    onOpen(send) {
      store.opened();
      // The charts need not wait 4 s for their first history.
      send(pingFrame);
    },
    onMessage: (message) => store.apply(message),
  });
  // The token's expiry ends the session even while the socket stays open.
  const expiry = setTimeout(relogin, Math.max(0, session.expiresAtMs - Date.now()));
  signOut.addEventListener('click', () => {
    clearTimeout(expiry);
    relogin();
  });
  // Tests and operators can drop the connection to see the page recover, and read what the page holds.
  Object.assign(window as unknown as Record<string, unknown>, { vfleetSocket: socket, vfleetStore: store });
}

async function main() {
  const response = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  const config = (await response.json()) as DashboardConfig;
  const login = await completeLogin(config);
  if (!login) return startLogin(config, currentTab());
  showSession(config, login.session, login.returnTo);
}

main().catch((error: unknown) => {
  const app = document.getElementById('app')!;
  app.removeAttribute('aria-busy');
  app.replaceChildren(
    element(
      'p',
      `Could not start the dashboard: ${error instanceof Error ? error.message : String(error)}`,
      'error-text',
    ),
  );
  const again = element('button', 'Sign in again');
  again.addEventListener('click', () => window.location.assign(import.meta.env.BASE_URL));
  app.append(again);
});
