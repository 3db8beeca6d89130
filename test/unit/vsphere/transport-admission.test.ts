// Transport admission: a spare connection that fails while admission is still pending must not leave an
// unhandled rejection behind (in Lambda one ends the process). Loopback only: a port nothing listens on.
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NetworkError } from '../../../shared/vsphere/errors.ts';
import { Transport } from '../../../shared/vsphere/transport.ts';

/** A loopback port that was free a moment ago and now refuses connections. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Transport admission', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('fails the call with the refused connection and leaves no unhandled rejection when admit settles later', async () => {
    const port = await closedPort();
    const transport = new Transport({ url: `http://127.0.0.1:${port}/sdk`, timeoutMs: 30_000 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // Watches the spare the transport opens (it calls net.connect), to grant admission only once that
    // connection has been refused and closed: the order the CI failure had.
    const sockets: net.Socket[] = [];
    const connect = net.connect.bind(net) as (...args: unknown[]) => net.Socket;
    vi.spyOn(net, 'connect').mockImplementation(((...args: unknown[]) => {
      const socket = connect(...args);
      sockets.push(socket);
      return socket;
    }) as typeof net.connect);
    let withdrawn = 0;
    const admit = async () => {
      const socket = sockets[0];
      if (!socket) throw new Error('the transport opened no spare connection before asking for admission');
      if (!socket.closed) await new Promise((resolve) => socket.once('close', resolve));
      // A full turn of the event loop more: Node reports unhandled rejections after each macrotask.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return {
        withdraw: async () => {
          withdrawn++;
        },
      };
    };
    try {
      const error = await transport.get('/screen?id=vm-1', undefined, { admit }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NetworkError);
      expect((error as NetworkError).message).toContain('ECONNREFUSED');
      expect(sockets).toHaveLength(1);
      // The grant was taken back, since nothing was sent.
      expect(withdrawn).toBe(1);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      transport.close();
    }
  });
});
