// Node agent — a local fleet: N agents, each in front of its own reference compute service, heartbeating to a
// control plane with dev-issuer `node` tokens. `npm run dev`, the integration tests and the benchmark use it,
// so placement works out of the box on one machine. Given a WebSocket URL (or services), each agent also runs
// its dashboard side: metrics, logs, its own supervised services and a control connection, so a test starts N
// real agents with the services it names (`startLocalFleet({ …, wsUrl, services: { 'node-1': {…} } })`).
import { join } from 'node:path';
import { type Agent, startAgent } from './agent.ts';
import type { NodeDashboardOptions } from './dashboard.ts';
import { type ReferenceCompute, startReferenceCompute } from './reference-compute.ts';
import type { ServicesConfig } from './supervisor.ts';

/** The dashboard options a fleet passes on (it sets the services, WebSocket URL, token and seq file itself). */
export type FleetDashboardOptions = Omit<NodeDashboardOptions, 'services' | 'wsUrl' | 'token' | 'seqFile'>;

export interface LocalFleetOptions {
  readonly count: number;
  readonly controlUrl: string;
  /** Mints a `node` token whose subject is the node id. */
  readonly tokenFor: (nodeId: string) => Promise<string>;
  /** Where the compute services keep project data (one directory per node), and the agents their seq files. */
  readonly dir: string;
  /** @default 1 */
  readonly capacity?: number;
  /** @default 'node-' */
  readonly prefix?: string;
  readonly heartbeatIntervalMs?: number;
  readonly jobDeadlineMs?: number;
  /** The WebSocket API: each agent holds its control connection there. */
  readonly wsUrl?: string;
  /** Each node's services: by node id, or a function of it. @default none */
  readonly services?: Readonly<Record<string, ServicesConfig>> | ((nodeId: string) => ServicesConfig);
  /** More dashboard options (intervals, sampler, mounts …), for every node or per node. */
  readonly dashboard?: FleetDashboardOptions | ((nodeId: string) => FleetDashboardOptions);
}

export interface LocalNode {
  readonly agent: Agent;
  readonly compute: ReferenceCompute;
}

export interface LocalFleet {
  readonly nodes: LocalNode[];
  /** Starts one more node (ids continue the sequence). */
  add(options?: { startupMs?: number; capacity?: number }): Promise<LocalNode>;
  /** Stops a node's agent (its services with it) and starts it again, as a restart of the agent would. */
  restart(nodeId: string): Promise<LocalNode>;
  stop(): Promise<void>;
}

/**
 * Demo services for `npm run dev`: small processes that log now and then (one also warns and fails), so the
 * dashboard has live services and logs to show and act on.
 */
export function demoServices(nodeId: string): ServicesConfig {
  const script = (name: string, everyMs: number) =>
    `let n = 0; setInterval(() => { n++; ` +
    `if (n % 7 === 0) console.error('WARNING ${name} on ${nodeId}: queue is long (' + n + ')'); ` +
    `else if (n % 11 === 0) console.error('ERROR ${name} on ${nodeId}: request ' + n + ' failed'); ` +
    `else console.log('INFO ${name} on ${nodeId}: handled request ' + n); }, ${everyMs});`;
  return {
    web: { command: process.execPath, args: ['-e', script('web', 3_000)] },
    worker: { command: process.execPath, args: ['-e', script('worker', 5_000)] },
  };
}

export async function startLocalFleet(options: LocalFleetOptions): Promise<LocalFleet> {
  const nodes: LocalNode[] = [];
  const withDashboard = Boolean(options.wsUrl || options.services || options.dashboard);
  const servicesOf = (nodeId: string): ServicesConfig =>
    typeof options.services === 'function' ? options.services(nodeId) : (options.services?.[nodeId] ?? {});
  const dashboardOf = (nodeId: string): FleetDashboardOptions =>
    typeof options.dashboard === 'function' ? options.dashboard(nodeId) : (options.dashboard ?? {});

  const agentFor = async (
    nodeId: string,
    compute: ReferenceCompute,
    extra: { startupMs?: number; capacity?: number },
  ) => {
    const token = await options.tokenFor(nodeId);
    return startAgent({
      nodeId,
      controlUrl: options.controlUrl,
      authenticate: async () => ({ authorization: `Bearer ${token}` }),
      computeUrl: compute.url,
      capacity: extra.capacity ?? options.capacity ?? 1,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      jobDeadlineMs: options.jobDeadlineMs,
      startupMs: extra.startupMs,
      ...(withDashboard
        ? {
            dashboard: {
              ...dashboardOf(nodeId),
              services: servicesOf(nodeId),
              wsUrl: options.wsUrl,
              token: async () => token,
              // Beside, not inside, the compute service's directory (it counts what is in there).
              seqFile: join(options.dir, `${nodeId}.agent`, 'logs.seq'),
            },
          }
        : {}),
    });
  };

  const add = async (extra: { startupMs?: number; capacity?: number } = {}) => {
    const nodeId = `${options.prefix ?? 'node-'}${nodes.length + 1}`;
    const compute = await startReferenceCompute({ dir: join(options.dir, nodeId) });
    const node = { agent: await agentFor(nodeId, compute, extra), compute };
    nodes.push(node);
    return node;
  };
  for (let i = 0; i < options.count; i++) await add();
  return {
    nodes,
    add,
    async restart(nodeId) {
      const index = nodes.findIndex((node) => node.agent.nodeId === nodeId);
      const old = nodes[index];
      if (!old) throw new Error(`no node ${nodeId} in this fleet`);
      await old.agent.stop();
      const node = { agent: await agentFor(nodeId, old.compute, {}), compute: old.compute };
      nodes[index] = node;
      return node;
    },
    async stop() {
      await Promise.allSettled(nodes.flatMap(({ agent, compute }) => [agent.stop(), compute.stop()]));
    },
  };
}
