// Local runtime — secondary adapter helper: finds a free TCP port on the loopback interface for a
// project-started service, so parallel runs never share a port or touch the machine's own services.
import { createServer } from 'node:net';

/**
 * Asks the kernel for an unused port on 127.0.0.1 and releases it at once.
 *
 * Another process may take the port between this call and the service binding it; the service starters
 * detect "address in use" and retry with a new port.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: the kernel did not report a TCP port'));
        return;
      }
      const { port } = address;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}
