// Benchmark load — the other side of `npm run bench:dashboard`, in a process of its own so the load does not
// share the runtime's event loop: 500 dashboard clients over real WebSockets (half every node, half one node
// each), 100 simulated agents shipping log lines over HTTPS at the phase's rate with bursts, and every
// client's ping every 4 s. It measures, per phase, the latency from each line's own timestamp to each
// client's receipt, and from each ping to its `update`; lost and duplicated lines by sequence number.
import { DashboardClient } from '../../test/integration/dashboard-client.ts';

export interface LoadConfig {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly viewerToken: string;
  /** Node id → its agent's token. */
  readonly agentTokens: Record<string, string>;
  readonly clients: number;
  readonly pingEverySeconds: number;
}

export interface PhaseSpec {
  readonly name: string;
  /** Steady lines per second over all agents. */
  readonly linesPerSecond: number;
  readonly seconds: number;
  /** Every `burstEverySeconds`, `burstAgents` agents ship `burstLines` lines in one batch. */
  readonly burstEverySeconds: number;
  readonly burstAgents: number;
  readonly burstLines: number;
}

export interface PhaseResult {
  readonly phase: PhaseSpec;
  readonly lines: number;
  readonly expectedReceipts: number;
  readonly receipts: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly logLatencyMs: number[];
  readonly updateLatencyMs: number[];
  readonly frames: number;
  readonly postErrors: number;
}

const send = (message: unknown) => process.send?.(message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let config: LoadConfig;
let clients: DashboardClient[] = [];
const nodes: string[] = [];
/** node → number of clients that receive its lines. */
const audience = new Map<string, number>();
const sequence = new Map<string, number>();
let current: { name: string; latencies: number[]; receipts: number; updates: number[] } | undefined;
const pingSentAt = new Map<DashboardClient, number>();

async function setUp(): Promise<void> {
  nodes.push(...Object.keys(config.agentTokens));
  await Promise.all(nodes.map((node) => report(node)));
  clients = Array.from(
    { length: config.clients },
    () => new DashboardClient(config.wsUrl, config.viewerToken, false),
  );
  for (let i = 0; i < clients.length; i += 50)
    await Promise.all(clients.slice(i, i + 50).map((c) => c.connect()));
  const filtered = Math.floor(config.clients / 2);
  for (const node of nodes) audience.set(node, config.clients - filtered);
  await Promise.all(
    clients.map((client, i) => {
      const node = i < filtered ? nodes[i % nodes.length] : undefined;
      if (node) audience.set(node, (audience.get(node) ?? 0) + 1);
      client.onLines = (lines, receivedAt) => {
        for (const line of lines) {
          if (!current || !line.message.startsWith(`${current.name} `)) continue;
          current.receipts++;
          current.latencies.push(receivedAt - Date.parse(line.timestamp));
        }
      };
      return client.subscribe(node ? { node } : {});
    }),
  );
  for (const client of clients) {
    client.onMessage = (message, receivedAt) => {
      const sentAt = pingSentAt.get(client);
      if (message.type !== 'update' || sentAt === undefined) return;
      pingSentAt.delete(client);
      current?.updates.push(receivedAt - sentAt);
    };
  }
}

async function post(node: string, path: string, body: unknown): Promise<boolean> {
  try {
    const response = await fetch(`${config.httpUrl}/api/v1/nodes/${node}/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config.agentTokens[node]}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

function report(node: string): Promise<boolean> {
  return post(node, 'metrics', {
    timestamp: new Date().toISOString(),
    cpu_percent: Math.random() * 100,
    memory: { percent: 40, total: 8e9, available: 4.8e9, used: 3.2e9 },
    disk: { percent: 55, mounts: [{ mount: '/', total: 1e11, used: 5.5e10, free: 4.5e10, percent: 55 }] },
    services: { web: 'running', worker: 'running' },
  });
}

function line(node: string, phase: string) {
  const seq = (sequence.get(node) ?? 0) + 1;
  sequence.set(node, seq);
  return {
    seq,
    timestamp: new Date().toISOString(),
    level: seq % 10 === 0 ? 'ERROR' : 'INFO',
    logger_name: 'Service.bench',
    message: `${phase} line ${seq} of ${node}`,
    module: 'bench',
    funcName: 'ship',
    lineno: 1,
  };
}

/**
 * A simulated agent's shipper, as the agent batches: one POST in flight per node; lines written meanwhile go
 * together in the next (so a node's lines arrive in sequence order, and a slow control plane sees bigger
 * batches rather than more requests).
 */
class Shipper {
  private readonly pending: ReturnType<typeof line>[] = [];
  private inflight: Promise<void> | undefined;
  failures = 0;

  constructor(private readonly node: string) {}

  write(count: number, phase: string): void {
    for (let i = 0; i < count; i++) this.pending.push(line(this.node, phase));
    this.inflight ??= this.drain();
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const logs = this.pending.splice(0, 1_000);
      if (!(await post(this.node, 'logs', { logs }))) this.failures++;
    }
    this.inflight = undefined;
  }

  idle(): Promise<void> {
    return this.inflight ?? Promise.resolve();
  }
}

const shippers = new Map<string, Shipper>();

async function runPhase(phase: PhaseSpec): Promise<PhaseResult> {
  current = { name: phase.name, latencies: [], receipts: 0, updates: [] };
  const duplicatesBefore = clients.reduce((sum, c) => sum + c.duplicates, 0);
  const framesBefore = clients.reduce((sum, c) => sum + c.frames, 0);
  let lines = 0;
  let expected = 0;
  const failuresBefore = [...shippers.values()].reduce((sum, shipper) => sum + shipper.failures, 0);
  const launch = (node: string, count: number) => {
    const shipper = shippers.get(node) ?? new Shipper(node);
    shippers.set(node, shipper);
    shipper.write(count, phase.name);
    lines += count;
    expected += count * (audience.get(node) ?? 0);
  };
  const start = Date.now();
  const end = start + phase.seconds * 1000;
  // Each agent ships on its own period, offset at random; pings and bursts on their own timers.
  const period = (nodes.length / phase.linesPerSecond) * 1000;
  const timers = nodes.map((node) => {
    let next = start + Math.random() * period;
    return { node, next: () => next, advance: () => (next += period) };
  });
  let nextBurst = start + phase.burstEverySeconds * 1000;
  const nextPing = clients.map((_, i) => start + (i / clients.length) * config.pingEverySeconds * 1000);
  while (Date.now() < end) {
    const now = Date.now();
    for (const timer of timers) {
      while (timer.next() <= now) {
        launch(timer.node, 1);
        timer.advance();
      }
    }
    if (now >= nextBurst) {
      for (let i = 0; i < phase.burstAgents; i++)
        launch(nodes[Math.floor(Math.random() * nodes.length)]!, phase.burstLines);
      nextBurst += phase.burstEverySeconds * 1000;
    }
    clients.forEach((client, i) => {
      if (now >= nextPing[i]!) {
        pingSentAt.set(client, now);
        client.send({ action: 'ping', history: 5 });
        nextPing[i]! += config.pingEverySeconds * 1000;
      }
    });
    await sleep(2);
  }
  await Promise.all([...shippers.values()].map((shipper) => shipper.idle()));
  // Let the last pushes land: wait until nothing more arrives for a second (no deadline on delivery itself).
  for (let last = -1; last !== current.receipts; ) {
    last = current.receipts;
    await sleep(1_000);
  }
  const result: PhaseResult = {
    phase,
    lines,
    expectedReceipts: expected,
    receipts: current.receipts,
    lost: expected - current.receipts,
    duplicates: clients.reduce((sum, c) => sum + c.duplicates, 0) - duplicatesBefore,
    logLatencyMs: current.latencies,
    updateLatencyMs: current.updates,
    frames: clients.reduce((sum, c) => sum + c.frames, 0) - framesBefore,
    postErrors: [...shippers.values()].reduce((sum, shipper) => sum + shipper.failures, 0) - failuresBefore,
  };
  current = undefined;
  return result;
}

process.on('message', (message: { type: string; config?: LoadConfig; phase?: PhaseSpec }) => {
  const work = async () => {
    if (message.type === 'setup') {
      config = message.config!;
      await setUp();
      send({ type: 'ready' });
    } else if (message.type === 'phase') {
      send({ type: 'phase', result: await runPhase(message.phase!) });
    } else if (message.type === 'stop') {
      await Promise.all(clients.map((client) => client.close()));
      process.exit(0);
    }
  };
  work().catch((error: unknown) => {
    console.error('[load]', error);
    process.exit(1);
  });
});
