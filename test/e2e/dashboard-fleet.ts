// Test harness — the node side of the dashboard for the browser tests: real agents (agent/fleet.ts, the
// local fleet `npm run dev` runs) against a test runtime, each with its supervised services (real child
// processes), its reporter, log shipper and control WebSocket. The tests script only what a node would
// measure (the sampler's values) and write (lines handed to its log shipper); the tests speak only to this
// module.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { dashboardKeys } from '#shared/dashboard';
import { type LocalFleet, startLocalFleet } from '../../agent/fleet.ts';
import type { LogLevel } from '../../agent/logs.ts';
import type { SystemSample } from '../../agent/metrics.ts';
import type { ServicesConfig } from '../../agent/supervisor.ts';
import type { TestRuntime } from '../setup/runtime.ts';

/** How a service starts out: running, crashed (its process exits with a failure) or not started. */
export type ServiceSpec = 'running' | 'failing' | 'stopped';

export interface NodeSpec {
  /** `node-<n>` in spec order, as the local fleet names its nodes. */
  readonly id: string;
  readonly services?: Readonly<Record<string, ServiceSpec>>;
  /** Whether the agent keeps its control WebSocket (false: it closes it once started). @default true */
  readonly connected?: boolean;
}

export interface FleetNode {
  readonly id: string;
  /** Makes the node measure these values and report now. */
  report(values?: { cpu?: number; memory?: number; disk?: number }): Promise<void>;
  /** Hands lines to the node's log shipper and waits until they are shipped. */
  log(lines: { level?: string; logger?: string; message: string }[]): Promise<void>;
  /** The service's state as the node's supervisor sees it. */
  serviceState(service: string): Promise<string>;
}

export interface Fleet {
  node(id: string): FleetNode;
  /**
   * Makes a node silent (no reports, no control connection, so no pings) and backdates its last contact by
   * `ms`, as if it had stopped that long ago.
   */
  silence(id: string, ms: number): Promise<void>;
  stop(): Promise<void>;
}

const processes: Record<ServiceSpec, ServicesConfig[string]> = {
  running: { command: 'sleep', args: ['86400'] },
  failing: { command: 'sh', args: ['-c', 'exit 3'] },
  stopped: { command: 'sleep', args: ['86400'], autostart: false },
};

function sampleOf(values: { cpu: number; memory: number; disk: number }): SystemSample {
  const gb = 1024 ** 3;
  return {
    cpu_percent: values.cpu,
    memory: {
      percent: values.memory,
      total: 8 * gb,
      used: Math.round((8 * gb * values.memory) / 100),
      available: Math.round(8 * gb * (1 - values.memory / 100)),
    },
    disk: {
      percent: values.disk,
      mounts: [
        {
          mount: '/',
          total: 100 * gb,
          used: Math.round(values.disk * gb),
          free: Math.round((100 - values.disk) * gb),
          percent: values.disk,
        },
      ],
    },
  };
}

/** Starts the nodes; each has reported once (so it is on the dashboard) before this resolves. */
export async function startFleet(harness: TestRuntime, specs: readonly NodeSpec[]): Promise<Fleet> {
  const { runtime, issuer, db } = harness;
  specs.forEach((spec, index) => {
    if (spec.id !== `node-${index + 1}`) throw new Error(`node ${index + 1} must be named node-${index + 1}`);
  });
  const byId = new Map(specs.map((spec) => [spec.id, spec]));
  const samples = new Map(specs.map((spec) => [spec.id, { cpu: 10, memory: 40, disk: 55 }]));
  const dir = await mkdtemp(join(tmpdir(), 'vfleet-dashboard-fleet-'));
  let fleet: LocalFleet | undefined;
  const redis = new Redis(db.services.redisUrl);
  const keys = dashboardKeys(`${db.name}:`);
  try {
    fleet = await startLocalFleet({
      count: specs.length,
      controlUrl: runtime.httpUrl,
      wsUrl: runtime.wsUrl,
      tokenFor: (nodeId) => issuer.mint(['node'], { subject: nodeId }),
      dir,
      services: (nodeId) =>
        Object.fromEntries(
          Object.entries(byId.get(nodeId)?.services ?? {}).map(([name, kind]) => [name, processes[kind]]),
        ),
      dashboard: (nodeId) => ({
        sample: async () => sampleOf(samples.get(nodeId)!),
        // Reports come when a test asks (and the first at start), not on a timer during the run.
        reporter: { initialIntervalSeconds: 300, minIntervalSeconds: 300 },
      }),
    });
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const started = fleet;
  const agentOf = (id: string) => {
    const agent = started.nodes.find((node) => node.agent.nodeId === id)?.agent;
    if (!agent?.dashboard) throw new Error(`no node ${id} with a dashboard side in this fleet`);
    return agent.dashboard;
  };
  for (const spec of specs) {
    const dashboard = agentOf(spec.id);
    for (const [name, kind] of Object.entries(spec.services ?? {})) {
      while (kind === 'failing' && (await dashboard.supervisor.status(name)) !== 'error') await sleep(10);
    }
    // The first report (with the failing service already failed) and the agent's own start-up lines.
    await dashboard.reporter.reportNow();
    await dashboard.logs.flushed();
    if (spec.connected === false) await dashboard.control?.close();
  }
  return {
    node(id) {
      const dashboard = agentOf(id);
      return {
        id,
        async report(values = {}) {
          samples.set(id, { ...samples.get(id)!, ...values });
          await dashboard.reporter.reportNow();
        },
        async log(lines) {
          for (const line of lines) {
            dashboard.logs.log({
              level: (line.level ?? 'INFO') as LogLevel,
              logger: line.logger ?? 'Service.app',
              message: line.message,
            });
          }
          await dashboard.logs.flushed();
        },
        serviceState: (service) => dashboard.supervisor.status(service),
      };
    },
    async silence(id, ms) {
      const dashboard = agentOf(id);
      dashboard.reporter.stop();
      await dashboard.reporter.settled();
      await dashboard.logs.flushed();
      await dashboard.control?.close();
      // Its connection's end handled (after the pings that came before it), then the contact moves back.
      while ((await redis.exists(keys.agent(id))) === 1) await sleep(10);
      await redis.zadd(keys.nodes, Date.now() - ms, id);
    },
    async stop() {
      await started.stop();
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
