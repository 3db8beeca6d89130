// Node agent — a local fleet: N agents, each in front of its own reference compute service, heartbeating to a
// control plane with dev-issuer `node` tokens. `npm run dev`, the integration tests and the benchmark use it,
// so placement works out of the box on one machine.
import { join } from 'node:path';
import { type Agent, startAgent } from './agent.ts';
import { type ReferenceCompute, startReferenceCompute } from './reference-compute.ts';

export interface LocalFleetOptions {
  readonly count: number;
  readonly controlUrl: string;
  /** Mints a `node` token whose subject is the node id. */
  readonly tokenFor: (nodeId: string) => Promise<string>;
  /** Where the compute services keep project data (one directory per node). */
  readonly dir: string;
  /** @default 1 */
  readonly capacity?: number;
  /** @default 'node-' */
  readonly prefix?: string;
  readonly heartbeatIntervalMs?: number;
  readonly jobDeadlineMs?: number;
}

export interface LocalNode {
  readonly agent: Agent;
  readonly compute: ReferenceCompute;
}

export interface LocalFleet {
  readonly nodes: LocalNode[];
  /** Starts one more node (ids continue the sequence). */
  add(options?: { startupMs?: number; capacity?: number }): Promise<LocalNode>;
  stop(): Promise<void>;
}

export async function startLocalFleet(options: LocalFleetOptions): Promise<LocalFleet> {
  const nodes: LocalNode[] = [];
  const add = async (extra: { startupMs?: number; capacity?: number } = {}) => {
    const nodeId = `${options.prefix ?? 'node-'}${nodes.length + 1}`;
    const compute = await startReferenceCompute({ dir: join(options.dir, nodeId) });
    const token = await options.tokenFor(nodeId);
    const agent = await startAgent({
      nodeId,
      controlUrl: options.controlUrl,
      authenticate: async () => ({ authorization: `Bearer ${token}` }),
      computeUrl: compute.url,
      capacity: extra.capacity ?? options.capacity ?? 1,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      jobDeadlineMs: options.jobDeadlineMs,
      startupMs: extra.startupMs,
    });
    const node = { agent, compute };
    nodes.push(node);
    return node;
  };
  for (let i = 0; i < options.count; i++) await add();
  return {
    nodes,
    add,
    async stop() {
      await Promise.allSettled(nodes.flatMap(({ agent, compute }) => [agent.stop(), compute.stop()]));
    },
  };
}
