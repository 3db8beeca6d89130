// Local runtime — secondary adapter: a project-started Redis (`redis-server`) on a free loopback port, with no
// persistence, standing in for ElastiCache in `npm run dev` and the integration tests.
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import {
  type RestartableService,
  restartable,
  retryOnAddressInUse,
  type ServiceProcess,
  spawnService,
  waitUntilReady,
} from './process.ts';

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /** Directory for the log file and Redis's working directory; created if missing. */
  readonly dir: string;
  /**
   * The `redis-server` binary.
   * @default 'redis-server' (from PATH; Debian installs it as /usr/bin/redis-server)
   */
  readonly command?: string;
  /** @default 30_000 */
  readonly readyTimeoutMs?: number;
}

/** A running Redis; `url` is `redis://127.0.0.1:<port>`. `kill()`/`restart()` crash it and bring it back empty. */
export interface RedisService extends RestartableService {
  readonly host: string;
}

async function ping(port: number): Promise<void> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Refused connections while Redis starts are expected; the probe's rejection carries them.
  client.on('error', () => {});
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
  } finally {
    client.disconnect();
  }
}

async function spawnRedis(options: StartRedisOptions, port: number): Promise<ServiceProcess> {
  const proc = await spawnService({
    name: 'redis',
    command: options.command ?? 'redis-server',
    // Disposable cache: no RDB snapshots, no AOF, nothing written to `dir` but the log.
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      options.dir,
      '--daemonize',
      'no',
    ],
    dir: options.dir,
    stopSignal: 'SIGTERM',
  });
  await waitUntilReady(proc, () => ping(port), { timeoutMs: options.readyTimeoutMs ?? 30_000 });
  return proc;
}

/** Starts `redis-server` on a free 127.0.0.1 port and resolves once it answers PING. */
export async function startRedis(options: StartRedisOptions): Promise<RedisService> {
  return retryOnAddressInUse(async () => {
    const port = await freePort();
    const proc = await spawnRedis(options, port);
    // Without persistence a restarted Redis comes back empty, as a replaced cache node does.
    return restartable(proc, () => spawnRedis(options, port), {
      name: 'redis',
      host: '127.0.0.1',
      port,
      url: `redis://127.0.0.1:${port}`,
    });
  });
}
