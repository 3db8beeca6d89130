// Benchmarks — (2) incremental sync lag: `npm run bench:inventory:lag`. On one vcsim (default 10k VMs), times
// power-offs from the PowerOffVM_Task call to the change being visible:
//   - floor: govmomi's own WaitForUpdatesEx loop (bench/inventory/peer-wait, built with bench/vsphere-retrieve's
//     buildGoPeer), seeing the new power state in its watch;
//   - vfleet streaming: through `GET /api/v1/vms/{vcenterId}:{moid}` on the local runtime, the vCenter
//     registered over the API in streaming mode and synced by the real dispatcher, queue and worker;
//   - vfleet polling: the same vCenter switched to polling (setSyncMode, as an operator would), with a short
//     dispatcher tick for the run (--dispatch-every, default 1 s instead of 60 s) and the registry's shortest
//     sync interval (--interval, default 10 s).
// Each power-off follows a random pause (up to 1 s; up to the interval in polling mode, so changes land at any
// point of the polling cycle). Loopback only; bounded (--count power-offs per mode); ends by itself. Prints a
// table and writes JSON under bench/results/; it measures and reports, it does not assert.
//
// Options: --vms 10000  --count 20  --interval 10  --dispatch-every 1  --modes streaming,polling
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { dispatchDueVcenters, setSyncMode } from '#shared/inventory/sync';
import { logger, metrics } from '#shared/observability';
import { type MoRef, VsphereClient } from '#shared/vsphere';
import { loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { startDynamoDb, startPostgres, startRedis, startVcsim } from '../../infra/local/services/index.ts';
import { topology } from '../../infra/topology.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { seeded } from '../../test/integration/sync-helpers.ts';
import { buildGoPeer } from '../vsphere-retrieve/run.ts';

const run = promisify(execFile);

// The handlers run in this process and log through the shared logger, created before the runtime sets its
// environment: keep their INFO lines and EMF metric lines (no CloudWatch here) out of the printed table.
logger.setLogLevel('ERROR');
metrics.publishStoredMetrics = () => metrics;
const root = resolve(import.meta.dirname, '../..');

const { values: args } = parseArgs({
  options: {
    vms: { type: 'string', default: '10000' },
    count: { type: 'string', default: '20' },
    interval: { type: 'string', default: '10' },
    'dispatch-every': { type: 'string', default: '1' },
    modes: { type: 'string', default: 'streaming,polling' },
  },
});
const count = Number(args.count);
const intervalS = Number(args.interval);
const dispatchEveryS = Number(args['dispatch-every']);
const modes = String(args.modes).split(',') as ('streaming' | 'polling')[];

interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
}

function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  const r = (x: number) => Number(x.toFixed(0));
  return {
    n: sorted.length,
    p50: r(at(50)),
    p95: r(at(95)),
    p99: r(at(99)),
    max: r(sorted.at(-1) ?? Number.NaN),
    min: r(sorted[0] ?? Number.NaN),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One HTTP call to the local runtime (keep-alive), answering status and parsed JSON. */
function call(base: string, method: string, path: string, token: string, body?: unknown) {
  return new Promise<{ status: number; json: Record<string, unknown> }>((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, base),
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolvePromise({
            status: res.statusCode ?? 0,
            json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Powered-on, non-template VMs of the simulator, read from the simulator itself. */
async function poweredOn(client: VsphereClient): Promise<string[]> {
  const on: string[] = [];
  for await (const o of client.retrieve({
    types: ['VirtualMachine'],
    properties: { VirtualMachine: ['runtime.powerState', 'config.template'] },
    maxObjects: 1000,
  })) {
    if (o.props['config.template'] !== true && o.props['runtime.powerState'] === 'poweredOn') on.push(o.moid);
  }
  return on;
}

/** Times `count` power-offs until `GET /api/v1/vms/{id}` shows each VM poweredOff. */
async function measureApi(
  runtime: LocalRuntime,
  token: string,
  vcenterId: string,
  client: VsphereClient,
  vms: string[],
  maxPauseMs: number,
  random: () => number,
): Promise<{ lagsMs: number[]; timeouts: number; cachedAnswers: number; reads: number }> {
  const lagsMs: number[] = [];
  let timeouts = 0;
  let cachedAnswers = 0;
  let reads = 0;
  for (const moid of vms) {
    await sleep(Math.floor(random() * maxPauseMs));
    const started = performance.now();
    // The task is not awaited: the clock stops when the API shows the state, as in the govmomi peer.
    await client.powerOffVm({ type: 'VirtualMachine', value: moid } satisfies MoRef);
    const deadline = started + 60_000;
    let seen = false;
    while (performance.now() < deadline) {
      const { json } = await call(runtime.httpUrl, 'GET', `/api/v1/vms/${vcenterId}:${moid}`, token);
      reads++;
      if (json.cached === true) cachedAnswers++;
      if ((json.vm as { powerState?: string } | undefined)?.powerState === 'poweredOff') {
        seen = true;
        break;
      }
      await sleep(20);
    }
    if (seen) lagsMs.push(performance.now() - started);
    else timeouts++;
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  return { lagsMs, timeouts, cachedAnswers, reads };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vfleet-bench-lag-'));
  const stops: (() => Promise<void>)[] = [];
  let runtime: LocalRuntime | undefined;
  let stopDispatcher = async () => {};
  try {
    console.error(
      `starting vcsim (${args.vms} VMs), PostgreSQL, Redis, DynamoDB Local; building the govmomi peer…`,
    );
    const [sim, postgres, redis, dynamodb, peerBin] = await Promise.all([
      startVcsim({ vms: Number(args.vms) }),
      startPostgres({ dir: join(dir, 'postgres') }),
      startRedis({ dir: join(dir, 'redis') }),
      startDynamoDb({ dir: join(dir, 'dynamodb') }),
      buildGoPeer('bench/inventory/peer-wait', 'inventory-peer-wait'),
    ]);
    stops.push(
      () => sim.stop(),
      () => postgres.stop(),
      () => redis.stop(),
      () => dynamodb.stop(),
    );
    await migrate({ connectionString: postgres.url }, { vmPartitions: 16 });

    // Floor first, before any vfleet watch adds load to the simulator.
    console.error(`govmomi WaitForUpdatesEx loop: ${count} power-offs…`);
    const peerOut = await run(
      peerBin,
      ['-url', sim.url, '-user', sim.username, '-count', String(count), '-max-delay-ms', '1000'],
      {
        env: { ...process.env, VSPHERE_PASSWORD: sim.password },
        maxBuffer: 1 << 20,
      },
    );
    const peer = JSON.parse(peerOut.stdout.trim().split('\n').pop() ?? '') as {
      lagsMs: number[];
      callMs: number[];
      maxRssKb: number;
    };

    const pgUrl = new URL(postgres.url);
    const issuer = await loadDevIssuer(join(dir, 'issuer'));
    const [admin, viewer] = await Promise.all([issuer.mint(['admin']), issuer.mint(['viewer'])]);
    // The dispatcher use case runs on a --dispatch-every tick for this run (60 s in the deployed schedule). The
    // bench drives it itself rather than through the runtime's schedule because the deployed handler names its
    // SQS deduplication slots by the minute (slotSeconds 60, matching its schedule): on a faster tick the second
    // message of a minute would be dropped as a duplicate while the claim's lease holds the vCenter for 960 s.
    // Here the slot is the tick, as it must be for any schedule.
    const benchTopology = {
      ...topology,
      schedules: topology.schedules.filter((s) => s.function !== 'syncDispatcher'),
    };
    runtime = await startLocalRuntime({
      root,
      issuer,
      topology: benchTopology,
      services: {
        redisUrl: redis.url,
        dynamodbUrl: dynamodb.url,
        postgres: {
          host: pgUrl.hostname,
          port: Number(pgUrl.port),
          database: pgUrl.pathname.slice(1),
          user: decodeURIComponent(pgUrl.username),
          password: decodeURIComponent(pgUrl.password),
        },
      },
      env: {
        SECRET_STORE: `file:${join(dir, 'secrets.json')}`,
        LOG_LEVEL: 'ERROR',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
        PG_POOL_MAX: '8',
      },
    });
    const dispatchPool = new pg.Pool({ connectionString: postgres.url, max: 1 });
    const sqs = new SQSClient({
      endpoint: runtime.sqsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    let dispatching = false;
    const dispatcher = setInterval(async () => {
      if (dispatching) return;
      dispatching = true;
      try {
        await dispatchDueVcenters(dispatchPool, {
          sqs,
          queueUrl: runtime?.queueUrl('sync') ?? '',
          slotSeconds: dispatchEveryS,
        });
      } catch (error) {
        console.error('dispatch failed:', error);
      } finally {
        dispatching = false;
      }
    }, dispatchEveryS * 1000);
    stopDispatcher = async () => {
      clearInterval(dispatcher);
      sqs.destroy();
      await dispatchPool.end();
    };
    const vcenterId = 'bench-lag';
    const registered = await call(runtime.httpUrl, 'POST', '/api/v1/vcenters', admin, {
      id: vcenterId,
      url: sim.url,
      username: sim.username,
      password: sim.password,
      insecure: true,
      syncMode: modes[0] ?? 'streaming',
      syncIntervalSeconds: intervalS,
    });
    if (registered.status !== 201)
      throw new Error(`register: ${registered.status} ${JSON.stringify(registered.json)}`);
    const fullStarted = Date.now();
    const synced = await until(
      'first full sync',
      async () => {
        const { json } = await call(runtime?.httpUrl ?? '', 'GET', `/api/v1/vcenters/${vcenterId}`, viewer);
        const sync = (
          json.vcenter as { sync?: { lastFullSyncAt?: string | null; lastError?: string | null } }
        ).sync;
        if (sync?.lastError) throw new Error(`sync failed: ${sync.lastError}`);
        return sync?.lastFullSyncAt ? json.vcenter : undefined;
      },
      600_000,
    );
    const firstSyncS = (Date.now() - fullStarted) / 1000;
    console.error(`registered and fully synced in ${firstSyncS.toFixed(1)} s`);
    void synced;

    const client = await VsphereClient.connect({
      url: sim.url,
      username: sim.username,
      password: sim.password,
      insecure: true,
      pooled: false,
    });
    const random = seeded(11);
    const candidates = (await poweredOn(client)).sort(() => random() - 0.5);
    if (candidates.length < count * modes.length)
      throw new Error(`only ${candidates.length} powered-on VMs left`);
    const pool = new pg.Pool({ connectionString: postgres.url, max: 1 });
    const results: Record<
      string,
      { lagsMs: number[]; timeouts: number; cachedAnswers: number; reads: number }
    > = {};
    for (const [index, mode] of modes.entries()) {
      if (index > 0) {
        await setSyncMode(pool, vcenterId, mode, intervalS);
        // A streaming pass notices the switch when its current wait (≤ 20 s) ends; a polling vCenter becomes
        // streaming at its next pass. Let that settle so no sample straddles the two modes.
        await sleep(mode === 'polling' ? 22_000 : (intervalS + dispatchEveryS + 2) * 1000);
      } else {
        // The streaming pass starts with the continuation after the full sync.
        await sleep(3_000);
      }
      console.error(`vfleet ${mode}: ${count} power-offs…`);
      const vms = candidates.slice(index * count, (index + 1) * count);
      results[mode] = await measureApi(
        runtime,
        viewer,
        vcenterId,
        client,
        vms,
        mode === 'polling' ? intervalS * 1000 : 1000,
        random,
      );
    }
    // The last polling pass's duration (worker wall time): what a polling invocation bills.
    const view = await call(runtime.httpUrl, 'GET', `/api/v1/vcenters/${vcenterId}`, viewer);
    const lastPassMs =
      (view.json.vcenter as { sync?: { lastDurationMs?: number | null } }).sync?.lastDurationMs ?? null;
    await pool.end();
    await client.close();

    const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
    const uptime = (await run('uptime')).stdout.trim();
    const rows = [
      { label: 'govmomi WaitForUpdatesEx loop (floor)', ...stats(peer.lagsMs), timeouts: 0, goal: '' },
      ...modes.map((mode) => ({
        label:
          mode === 'streaming'
            ? 'vfleet streaming → GET /api/v1/vms/{id}'
            : `vfleet polling (interval ${intervalS} s, dispatcher every ${dispatchEveryS} s) → GET /api/v1/vms/{id}`,
        ...stats(results[mode]?.lagsMs ?? []),
        timeouts: results[mode]?.timeouts ?? 0,
        goal: mode === 'streaming' ? 'p95 ≤ 2,000 ms' : `p95 ≤ ${(intervalS + 2) * 1000} ms (interval + 2 s)`,
      })),
    ];
    console.log(`\ninventory sync lag — ${new Date().toISOString()} — ${machine}\n${uptime}`);
    console.log(
      `vcsim ${sim.vms} VMs; first full sync through the runtime ${firstSyncS.toFixed(1)} s; last pass ${lastPassMs} ms; ${count} power-offs per row\n`,
    );
    console.log('| path | n | min ms | p50 ms | p95 ms | p99 ms | max ms | not seen in 60 s | goal |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const r of rows) {
      console.log(
        `| ${r.label} | ${r.n} | ${r.min} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} | ${r.timeouts} | ${r.goal} |`,
      );
    }
    const out = join(root, 'bench', 'results');
    await mkdir(out, { recursive: true });
    const file = join(out, `inventory-lag-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          machine,
          uptime,
          vms: sim.vms,
          count,
          intervalS,
          dispatchEveryS,
          firstSyncS,
          lastPassMs,
          rows,
          raw: { peer, ...results },
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nwrote ${file}`);
  } finally {
    agent.destroy();
    await stopDispatcher().catch(() => {});
    // A streaming pass can hold its WaitForUpdatesEx for up to 20 s more; stopping does not wait longer.
    await Promise.race([runtime?.stop().catch(() => {}), sleep(30_000)]);
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
  // A streaming pass may still be inside a WaitForUpdatesEx of the stopped runtime: nothing is left to wait for.
  process.exit(0);
}

await main();
