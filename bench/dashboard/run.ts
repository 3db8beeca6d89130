// Benchmark — `npm run bench:dashboard`: the live dashboard's fan-out over the local runtime on the project's
// own Redis and DynamoDB Local (loopback only). 500 WebSocket clients (half every node, half one node each)
// and 100 simulated agents in a load process of its own (./load.ts); phases of rising log rates with bursts.
// Per phase: p50/p99 from each line's own timestamp to each client's receipt (goal p99 ≤ 100 ms), ping →
// `update` the same, lost and duplicated lines by sequence number, pushes per second and management-API
// calls per line. Prints a table, writes JSON under bench/results/ and its section of docs/benchmarks.md;
// never asserts a time.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { startDynamoDb, startRedis } from '../../infra/local/services/index.ts';
import type { RunningService } from '../../infra/local/services/types.ts';
import { topology } from '../../infra/topology.ts';
import { percentile, record, root } from '../ops/harness.ts';
import type { LoadConfig, PhaseResult, PhaseSpec } from './load.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    agents: { type: 'string', default: '100' },
    rates: { type: 'string', default: '10,25,50,100' },
    seconds: { type: 'string', default: '15' },
  },
});
const clientCount = Number(values.clients);
const agentCount = Number(values.agents);
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);
const goalMs = 100;

const phases: PhaseSpec[] = rates.map((rate, i) => ({
  name: `p${i}`,
  linesPerSecond: rate,
  seconds,
  // Bursts: every 5 s, 5 agents ship 20 lines at once.
  burstEverySeconds: 5,
  burstAgents: 5,
  burstLines: 20,
}));

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vfleet-bench-dash-'));
  const services: RunningService[] = [];
  let runtime: LocalRuntime | undefined;
  let load: ChildProcess | undefined;
  try {
    const [redis, dynamodb] = await Promise.all([
      startRedis({ dir: join(dir, 'redis') }),
      startDynamoDb({ dir: join(dir, 'dynamodb') }),
    ]);
    services.push(redis, dynamodb);
    const issuer = await loadDevIssuer(join(dir, 'issuer'));
    runtime = await startLocalRuntime({
      root,
      issuer,
      // The dashboard's own schedule only: the inventory's would poll a PostgreSQL this bench does not start.
      topology: {
        ...topology,
        schedules: topology.schedules.filter((s) => s.function === 'dashboardJanitor'),
      },
      // The dashboard's functions use no PostgreSQL; nothing here connects to it.
      services: {
        redisUrl: redis.url,
        dynamodbUrl: dynamodb.url,
        postgres: { host: '127.0.0.1', port: 1, database: 'unused', user: 'unused', password: 'unused' },
      },
      env: { LOG_LEVEL: 'ERROR', BLOB_DIR: join(dir, 'blobs') },
    });
    const nodes = Array.from({ length: agentCount }, (_, i) => `node-${String(i).padStart(3, '0')}`);
    const config: LoadConfig = {
      httpUrl: runtime.httpUrl,
      wsUrl: runtime.wsUrl,
      viewerToken: await issuer.mint(['viewer'], { subject: 'bench-viewer' }),
      agentTokens: Object.fromEntries(
        await Promise.all(nodes.map(async (node) => [node, await issuer.mint(['node'], { subject: node })])),
      ),
      clients: clientCount,
      pingEverySeconds: 4,
    };
    load = fork(join(import.meta.dirname, 'load.ts'), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const ask = async <T>(message: unknown, answer: string): Promise<T> => {
      load!.send(message as object);
      for (;;) {
        const [reply] = (await once(load!, 'message')) as [{ type: string } & T];
        if (reply.type === answer) return reply;
      }
    };
    await ask({ type: 'setup', config }, 'ready');
    console.log(`${clientCount} clients subscribed, ${agentCount} agents reported`);
    const results: PhaseResult[] = [];
    for (const phase of phases) {
      const { result } = await ask<{ result: PhaseResult }>({ type: 'phase', phase }, 'phase');
      results.push(result);
      console.log(summarise(result).join(' | '));
    }
    const exited = once(load, 'exit');
    load.send({ type: 'stop' });
    await exited;
    await report(results);
  } finally {
    if (load && load.exitCode === null) load.kill();
    await runtime?.stop();
    await Promise.allSettled(services.map((service) => service.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The largest value (spread would overflow the stack on a long run). */
const highest = (values: readonly number[]) => values.reduce((max, value) => Math.max(max, value), 0);

function summarise(result: PhaseResult): string[] {
  const { phase } = result;
  const burstLines = (phase.burstAgents * phase.burstLines) / phase.burstEverySeconds;
  const within =
    percentile(result.logLatencyMs, 99) <= goalMs && percentile(result.updateLatencyMs, 99) <= goalMs;
  return [
    `${phase.linesPerSecond} + ${burstLines} in bursts`,
    String(result.lines),
    `${percentile(result.logLatencyMs, 50)} / ${percentile(result.logLatencyMs, 99)} / ${highest(result.logLatencyMs)}`,
    `${percentile(result.updateLatencyMs, 50)} / ${percentile(result.updateLatencyMs, 99)}`,
    `${result.receipts} of ${result.expectedReceipts}`,
    String(result.lost),
    String(result.duplicates),
    (result.frames / phase.seconds).toFixed(0),
    (result.frames / result.lines).toFixed(1),
    (result.receipts / result.frames).toFixed(1),
    String(result.postErrors),
    within && result.lost === 0 && result.duplicates === 0 ? 'yes' : 'NO',
  ];
}

async function report(results: PhaseResult[]): Promise<void> {
  const header =
    '| log rate, lines/s | lines | new_logs ms p50 / p99 / max | update ms p50 / p99 | receipts | lost | duplicated | pushes/s | management-API calls per line | lines per push | failed POSTs | within goal |';
  const rows = results.map((result) => `| ${summarise(result).join(' | ')} |`);
  const sustained = results
    .filter((r) => summarise(r).at(-1) === 'yes')
    .map((r) => r.phase.linesPerSecond)
    .reduce((best, rate) => Math.max(best, rate), 0);
  const body = [
    `${clientCount} WebSocket clients (half subscribed to every node, half to one node each), ${agentCount} simulated agents shipping over HTTPS as the agent will (one POST in flight per agent, lines written meanwhile batched into the next; bursts of 20 lines from 5 agents every 5 s), every client pinging every 4 s for \`update\` (metrics of every node, 5 history points each). Phases of ${seconds} s. Latency: from each line's own timestamp (set by the agent just before its POST) to each client's receipt; \`update\`: from the ping to the update. Lost and duplicated: by per-node sequence number against the subscribers each line should reach. Pushes: frames the management API delivered (a coalesced frame may carry several messages).`,
    '',
    header,
    `| ${header
      .split('|')
      .slice(1, -1)
      .map(() => '---')
      .join(' | ')} |`,
    ...rows,
    '',
    `Highest log rate sustained within the goal (p99 ≤ ${goalMs} ms for new_logs and update, nothing lost or duplicated): **${sustained ? `${sustained} lines/s` : 'none of the rates measured'}**.`,
  ].join('\n');
  console.log(`\n${body}`);
  await record(
    'dashboard',
    'Live dashboard fan-out (`npm run bench:dashboard`)',
    body,
    results.map((r) => ({
      ...r,
      logLatencyMs: undefined,
      updateLatencyMs: undefined,
      logLatency: {
        p50: percentile(r.logLatencyMs, 50),
        p99: percentile(r.logLatencyMs, 99),
        max: highest(r.logLatencyMs),
      },
      updateLatency: { p50: percentile(r.updateLatencyMs, 50), p99: percentile(r.updateLatencyMs, 99) },
    })),
    'Redis, DynamoDB Local, the local runtime (every handler in one process) and the load process (clients and agents)',
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
