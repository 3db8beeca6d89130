// Fault suite — a small loopback TCP proxy in front of a service (vcsim): it forwards bytes as they are (TLS
// passes through untouched), adds latency when asked, or stops the service by resetting every connection, and
// counts what reaches it (connection attempts, connections open at once).
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode =
  /** Bytes go through, each chunk after `delayMs`. */
  | 'forward'
  /** Every connection (new and open) is reset at once: the service is down but its port answers. */
  | 'reset';

export interface ProxyStats {
  /** Connections accepted since the last reset of the counters (each a client's attempt). */
  readonly attempts: number;
  /** Connections reset by the `reset` mode. */
  readonly refused: number;
  /** Connections open right now, and the most at once since the last reset. */
  readonly open: number;
  readonly maxOpen: number;
}

export interface TcpProxy {
  readonly port: number;
  /** Switches the mode; 'reset' also ends every open connection. */
  setMode(mode: ProxyMode): void;
  /** Latency added to every chunk in both directions (forward mode). */
  setDelay(ms: number): void;
  stats(): ProxyStats;
  resetStats(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'forward';
  let delayMs = 0;
  let attempts = 0;
  let refused = 0;
  let maxOpen = 0;
  const open = new Set<Socket>();

  const relay = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      // Pause while the delayed chunk is on its way, so chunks keep their order.
      if (delayMs === 0) {
        to.write(chunk);
        return;
      }
      from.pause();
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        from.resume();
      }, delayMs);
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
  };

  const server: Server = createServer((client) => {
    attempts++;
    client.on('error', () => {});
    if (mode === 'reset') {
      refused++;
      client.resetAndDestroy();
      return;
    }
    open.add(client);
    maxOpen = Math.max(maxOpen, open.size);
    client.on('close', () => open.delete(client));
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => client.destroy());
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('tcp proxy: no port');

  return {
    port: address.port,
    setMode(next) {
      mode = next;
      if (next === 'reset') for (const socket of open) socket.resetAndDestroy();
    },
    setDelay(ms) {
      delayMs = ms;
    },
    stats: () => ({ attempts, refused, open: open.size, maxOpen }),
    resetStats() {
      attempts = 0;
      refused = 0;
      maxOpen = open.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
