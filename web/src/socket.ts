// The dashboard's WebSocket: connects with the access token (browsers cannot set headers on an upgrade, so
// the token rides in the query, as the API's $connect authorizer expects), pings inside API Gateway's
// 10-minute idle window, and reconnects by itself with capped exponential backoff and jitter. Every change
// of state is reported, so the page can always show where the connection stands.
export type ConnectionState =
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'open' }
  | { readonly kind: 'waiting'; readonly attempt: number; readonly retryInMs: number }
  | { readonly kind: 'closed'; readonly reason: string };

export interface SocketOptions {
  readonly url: string;
  /** The current access token, or undefined when the session has ended (no reconnect then). */
  readonly token: () => string | undefined;
  readonly onState: (state: ConnectionState) => void;
  readonly onMessage: (message: Record<string, unknown>) => void;
  /** Called on every (re)open: the place to subscribe and resume. */
  readonly onOpen?: (send: (message: Record<string, unknown>) => void) => void;
  /** @default 60_000 */
  readonly pingEveryMs?: number;
  /** The keep-alive frame. @default {action: 'ping'} */
  readonly pingFrame?: Record<string, unknown>;
  /** @default 500 */
  readonly firstRetryMs?: number;
  /** @default 30_000 */
  readonly maxRetryMs?: number;
}

export interface DashboardSocket {
  send(message: Record<string, unknown>): boolean;
  /** Drops the current connection as a network failure would (the socket then reconnects). */
  drop(): void;
  close(): void;
}

export function connectSocket(options: SocketOptions): DashboardSocket {
  const pingEveryMs = options.pingEveryMs ?? 60_000;
  const firstRetryMs = options.firstRetryMs ?? 500;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  let socket: WebSocket | undefined;
  let attempt = 0;
  let stopped = false;
  let ping: ReturnType<typeof setInterval> | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const send = (message: Record<string, unknown>): boolean => {
    if (socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  };

  const scheduleReconnect = () => {
    const token = options.token();
    if (stopped || !token) {
      options.onState({ kind: 'closed', reason: stopped ? 'closed' : 'signed out' });
      return;
    }
    attempt += 1;
    // Full jitter: many dashboards dropped together do not come back in one wave.
    const ceiling = Math.min(maxRetryMs, firstRetryMs * 2 ** (attempt - 1));
    const retryInMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    options.onState({ kind: 'waiting', attempt, retryInMs });
    retry = setTimeout(open, retryInMs);
  };

  function open() {
    const token = options.token();
    if (stopped || !token) return scheduleReconnect();
    options.onState({ kind: 'connecting', attempt });
    const url = new URL(options.url);
    url.searchParams.set('token', token);
    const current = new WebSocket(url.href);
    socket = current;
    current.addEventListener('open', () => {
      attempt = 0;
      options.onState({ kind: 'open' });
      ping = setInterval(() => send(options.pingFrame ?? { action: 'ping' }), pingEveryMs);
      options.onOpen?.(send);
    });
    current.addEventListener('message', (event) => {
      try {
        const message = JSON.parse(String(event.data)) as Record<string, unknown>;
        if (message && typeof message === 'object') options.onMessage(message);
      } catch {
        // Not JSON: not one of ours; ignore rather than break the stream.
      }
    });
    current.addEventListener('close', () => {
      if (socket !== current) return;
      clearInterval(ping);
      socket = undefined;
      scheduleReconnect();
    });
  }

  open();
  return {
    send,
    drop: () => socket?.close(4000, 'dropped by the page'),
    close() {
      stopped = true;
      clearTimeout(retry);
      clearInterval(ping);
      socket?.close(1000, 'page closed');
    },
  };
}
