// Test harness — the node side of the dashboard for the browser tests: a fleet of agents that report
// metrics, ship log lines and run services under a supervisor, against a test runtime. Until the real
// agent's dashboard side (reporter, log shipper, supervisor, control WebSocket) is in agent/, each node is
// the protocol's test double (test/integration/dashboard-agent.ts): a real WebSocket, real HTTP reports
// with a node token, real child processes as services. The tests speak only to this module.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { dashboardKeys } from '#shared/dashboard';
import { Supervisor, TestAgent } from '../integration/dashboard-agent.ts';
import type { TestRuntime } from '../setup/runtime.ts';

/** How a service starts out: running, crashed (its process exits with a failure) or not started. */
export type ServiceSpec = 'running' | 'failing' | 'stopped';

export interface NodeSpec {
  /** `node-<n>` in spec order, as the local fleet (agent/fleet.ts) names its nodes. */
  readonly id: string;
  readonly services?: Readonly<Record<string, ServiceSpec>>;
  /** Whether the agent holds its control WebSocket. @default true */
  readonly connected?: boolean;
}

export interface FleetNode {
  readonly id: string;
  /** Sends one metrics report now. */
  report(values?: { cpu?: number; memory?: number; disk?: number }): Promise<void>;
  /** Ships log lines (numbered in the node's sequence). */
  log(lines: { level?: string; logger?: string; message: string }[]): Promise<void>;
  /** The service's state as the node's supervisor sees it. */
  serviceState(service: string): string;
}

export interface Fleet {
  node(id: string): FleetNode;
  /** Makes a node look silent for `ms` (its last report that long ago), as if it stopped reporting. */
  silence(id: string, ms: number): Promise<void>;
  stop(): Promise<void>;
}

const commands: Record<ServiceSpec, readonly string[]> = {
  running: ['sleep', '86400'],
  failing: ['sh', '-c', 'exit 3'],
  // Starts like a running service when an operator starts it.
  stopped: ['sleep', '86400'],
};

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Starts the nodes; each reports once (so it is on the dashboard) before this resolves. */
export async function startFleet(harness: TestRuntime, specs: readonly NodeSpec[]): Promise<Fleet> {
  const { runtime, issuer, db } = harness;
  const redis = new Redis(db.services.redisUrl);
  const keys = dashboardKeys(`${db.name}:`);
  const agents = new Map<string, TestAgent>();
  for (const [index, spec] of specs.entries()) {
    if (spec.id !== `node-${index + 1}`) throw new Error(`node ${index + 1} must be named node-${index + 1}`);
    const services = spec.services ?? {};
    const supervisor = new Supervisor(
      Object.fromEntries(Object.entries(services).map(([name, kind]) => [name, commands[kind]])),
    );
    for (const [name, kind] of Object.entries(services)) {
      if (kind === 'stopped') continue;
      await supervisor.start(name);
      if (kind === 'failing') await until(() => supervisor.state(name) === 'error', `${name} to fail`);
    }
    const agent = new TestAgent({
      nodeId: spec.id,
      token: await issuer.mint(['node'], { subject: spec.id }),
      httpUrl: runtime.httpUrl,
      wsUrl: runtime.wsUrl,
      supervisor,
    });
    if (spec.connected ?? true) await agent.connect();
    await agent.report();
    agents.set(spec.id, agent);
  }
  const agentOf = (id: string) => {
    const agent = agents.get(id);
    if (!agent) throw new Error(`no node ${id} in this fleet`);
    return agent;
  };
  return {
    node(id) {
      const agent = agentOf(id);
      return {
        id,
        report: async (values) => {
          await agent.report(values);
        },
        log: async (lines) => {
          await agent.log(lines);
        },
        serviceState: (service) => agent.supervisor.state(service),
      };
    },
    async silence(id, ms) {
      agentOf(id);
      await redis.zadd(keys.nodes, Date.now() - ms, id);
    },
    async stop() {
      await Promise.allSettled(
        [...agents.values()].flatMap((agent) => [agent.disconnect(), agent.supervisor.stopAll()]),
      );
      redis.disconnect();
    },
  };
}
