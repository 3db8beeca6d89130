// Benchmarks — (2) incremental sync lag: `npm run bench:inventory:lag`. On one vcsim (default 10k VMs), times
// power-offs from the PowerOffVM_Task call to the change being visible:
//   - floor: govmomi's own WaitForUpdatesEx loop (bench/inventory/peer-wait, built with bench/vsphere-retrieve's
//     buildGoPeer), seeing the new power state in its watch;
//   - vfleet streaming: through `GET /api/v1/vms/{vcenterId}:{moid}` on the local runtime, the vCenter
//     registered over the API in streaming mode and synced by the real dispatcher, queue and worker;
//   - vfleet polling: the same vCenter switched to polling (setSyncMode, as an operator would), with a short
//     dispatcher tick for the run (--dispatch-every, default 1 s instead of 60 s) and the registry's shortest
//     sync interval (--interval, default 10 s);
//   - vfleet polling at the deployed settings (mode `deployed`: interval 60 s, dispatcher every 60 s), with
//     fewer samples (--deployed-count, default 5) because each takes up to two minutes;
//   - `profile`: no dispatcher; the bench itself invokes the worker for one polling pass after k power-offs
//     (--profile-changes, default 0,1,10; --profile-passes each, default 20), and prints each pass's time per
//     SQL statement, SOAP method and Redis command.
// The worker runs as bench/inventory/profiled-sync-worker.ts (the real handler, every invocation profiled by
// bench/inventory/pass-profile.ts), so each row also shows, per pass, vfleet's own share (everything but SOAP
// round trips) and the vSphere share (the round trips), from the worker's side.
// Each power-off follows a random pause (up to 1 s; up to the interval in polling mode, so changes land at any
// point of the polling cycle). Loopback only; bounded (--count power-offs per mode); ends by itself. Prints a
// table and writes JSON under bench/results/; it measures and reports, it does not assert.
//
// Options: --vms 10000  --count 20  --interval 10  --dispatch-every 1
//          --modes streaming,polling,deployed,profile  --deployed-count 5  --profile-passes 20
//          --profile-changes 0,1,10
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import pg from 'pg';
import {
  dispatchDueVcenters,
  markDue,
  setSyncMode,
  watchedProperties,
  watchedTypes,
} from '#shared/inventory/sync';
import { logger, metrics } from '#shared/observability';
import { type MoRef, VsphereClient } from '#shared/vsphere';
import { loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { startDynamoDb, startPostgres, startRedis, startVcsim } from '../../infra/local/services/index.ts';
import { type FunctionSpec, topology } from '../../infra/topology.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { seeded } from '../../test/integration/sync-helpers.ts';
import { buildGoPeer } from '../vsphere-retrieve/run.ts';
import { applySegments, breakdown, type PassTiming, type Store } from './pass-profile.ts';
import { invocations } from './profiled-sync-worker.ts';

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
    modes: { type: 'string', default: 'streaming,polling,deployed,profile' },
    'deployed-count': { type: 'string', default: '5' },
    'profile-passes': { type: 'string', default: '20' },
    'profile-changes': { type: 'string', default: '0,1,10' },
  },
});
const count = Number(args.count);
const intervalS = Number(args.interval);
const dispatchEveryS = Number(args['dispatch-every']);
type Mode = 'streaming' | 'polling' | 'deployed' | 'profile';
const modes = String(args.modes).split(',') as Mode[];
const deployedCount = Number(args['deployed-count']);
const profilePasses = Number(args['profile-passes']);
const profileChanges = String(args['profile-changes']).split(',').map(Number);

/** The deployed schedule: the registry's default interval and the dispatcher's EventBridge rate. */
const deployed = { intervalS: 60, dispatchEveryS: 60 };

/** Sync settings of each lag row. */
const rowSettings = (mode: Mode) =>
  mode === 'deployed'
    ? { syncMode: 'polling' as const, ...deployed, samples: deployedCount }
    : mode === 'profile'
      ? // An interval no dispatcher tick reaches during the run: the bench invokes every pass itself.
        { syncMode: 'polling' as const, intervalS: 3_600, dispatchEveryS: 0, samples: 0 }
      : { syncMode: mode, intervalS, dispatchEveryS, samples: count };

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
  timeoutMs: number,
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
    const deadline = started + timeoutMs;
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

const r1 = (x: number) => Number(x.toFixed(1));

/** p50 / p95 of a per-pass measure, one decimal. */
function shares(values: readonly number[]): { n: number; p50: number; p95: number } {
  const s = stats(values.map((v) => v * 10));
  return { n: s.n, p50: r1(s.p50 / 10), p95: r1(s.p95 / 10) };
}

/** A full sync shows as a new collector; everything else is an incremental pass. */
const isFull = (timing: PassTiming) => timing.calls.some((c) => c.what === 'CreateFilter');

/** Per-pass own and vSphere shares of the worker's work during a row (performance.now() window). */
function workerShares(runs: readonly Store[], from: number, to: number, streaming: boolean) {
  if (streaming) {
    // A streaming invocation lasts minutes; its unit of work is the answer it applies.
    const segments = applySegments(runs, from, to);
    return {
      unit: 'answer applied',
      own: shares(segments.map((x) => x.ownMs)),
      vsphere: shares(segments.map((x) => x.vsphereMs)),
      passes: segments.length,
    };
  }
  const passes = runs
    .filter((run) => run.timing && run.started >= from && run.started <= to)
    .map((run) => run.timing as PassTiming)
    .filter((t) => !isFull(t) && t.objects > 0);
  return {
    unit: 'pass with changes',
    own: shares(passes.map((t) => t.ownMs)),
    vsphere: shares(passes.map((t) => t.vsphereMs)),
    passes: passes.length,
  };
}

const fmtShare = (x: { n: number; p50: number; p95: number }) =>
  x.n === 0 ? '—' : `${x.p50.toFixed(0)} / ${x.p95.toFixed(0)}`;

async function main(): Promise<void> {
  // Loggers made per invocation read their level from the environment.
  process.env.LOG_LEVEL = 'ERROR';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
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

    // The same kind of loop with vfleet's own filter (every watched kind and property, as the sync's watch):
    // what the simulator itself needs to report a change to that filter, without vfleet's database work.
    console.error(`WaitForUpdatesEx loop with vfleet's filter: ${count} power-offs…`);
    const filterFloorMs = await filterFloor(sim.url, sim.username, sim.password, count, seeded(5));

    const pgUrl = new URL(postgres.url);
    const issuer = await loadDevIssuer(join(dir, 'issuer'));
    const [admin, viewer] = await Promise.all([issuer.mint(['admin']), issuer.mint(['viewer'])]);
    // The dispatcher use case runs on each row's tick (60 s in the deployed schedule), driven by the bench
    // rather than by the runtime's schedule, with deduplication slots as long as the tick (the deployed handler
    // names them by the minute, matching its schedule: on a faster tick the second message of a minute would
    // be dropped as a duplicate while the claim's lease holds the vCenter for 960 s). The worker is the real
    // handler, wrapped so that each invocation is profiled.
    const benchTopology = {
      ...topology,
      functions: {
        ...topology.functions,
        syncWorker: {
          ...(topology.functions.syncWorker as FunctionSpec),
          entry: 'bench/inventory/profiled-sync-worker.ts',
        },
      },
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
        // The shortest dispatcher period of the run: the registry refuses intervals shorter than the period.
        SYNC_DISPATCH_SECONDS: String(Math.max(1, Math.min(dispatchEveryS, deployed.dispatchEveryS))),
      },
    });
    const dispatchPool = new pg.Pool({ connectionString: postgres.url, max: 1 });
    const sqs = new SQSClient({
      endpoint: runtime.sqsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    let dispatching = false;
    let dispatcher: NodeJS.Timeout | undefined;
    const startDispatcher = (everyS: number) => {
      clearInterval(dispatcher);
      dispatcher = undefined;
      if (everyS <= 0) return;
      dispatcher = setInterval(async () => {
        if (dispatching) return;
        dispatching = true;
        try {
          // The tick's period (`periodSeconds`; `slotSeconds` before the dispatcher named slots by schedule).
          const options = {
            sqs,
            queueUrl: runtime?.queueUrl('sync') ?? '',
            periodSeconds: everyS,
            slotSeconds: everyS,
          };
          await dispatchDueVcenters(dispatchPool, options);
        } catch (error) {
          console.error('dispatch failed:', error);
        } finally {
          dispatching = false;
        }
      }, everyS * 1000);
    };
    stopDispatcher = async () => {
      clearInterval(dispatcher);
      sqs.destroy();
      await dispatchPool.end();
    };
    const first = rowSettings(modes[0] ?? 'streaming');
    startDispatcher(first.dispatchEveryS || dispatchEveryS);
    const vcenterId = 'bench-lag';
    const registered = await call(runtime.httpUrl, 'POST', '/api/v1/vcenters', admin, {
      id: vcenterId,
      url: sim.url,
      username: sim.username,
      password: sim.password,
      insecure: true,
      syncMode: first.syncMode,
      syncIntervalSeconds: Math.min(first.intervalS, 3_600),
    });
    if (registered.status !== 201)
      throw new Error(`register: ${registered.status} ${JSON.stringify(registered.json)}`);
    const fullStarted = Date.now();
    await until(
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

    const client = await VsphereClient.connect({
      url: sim.url,
      username: sim.username,
      password: sim.password,
      insecure: true,
      pooled: false,
    });
    const random = seeded(11);
    const candidates = (await poweredOn(client)).sort(() => random() - 0.5);
    const needed = modes.reduce(
      (total, mode) =>
        total +
        (mode === 'profile'
          ? profilePasses * profileChanges.reduce((a, b) => a + b, 0)
          : rowSettings(mode).samples),
      0,
    );
    if (candidates.length < needed) throw new Error(`only ${candidates.length} powered-on VMs left`);
    const take = (n: number) => candidates.splice(0, n);
    const pool = new pg.Pool({ connectionString: postgres.url, max: 1 });
    const results: Record<
      string,
      { lagsMs: number[]; timeouts: number; cachedAnswers: number; reads: number }
    > = {};
    const workerRows: Record<string, ReturnType<typeof workerShares>> = {};
    const settled = async (timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && invocations.some((i) => !i.timing)) await sleep(200);
    };
    let profile: Awaited<ReturnType<typeof runProfile>> | undefined;
    let previous: ReturnType<typeof rowSettings> | undefined;
    for (const [index, mode] of modes.entries()) {
      const settings = rowSettings(mode);
      if (index > 0) {
        await setSyncMode(pool, vcenterId, settings.syncMode, settings.intervalS);
        startDispatcher(settings.dispatchEveryS);
        if (previous?.syncMode === 'streaming' && settings.syncMode === 'polling') {
          // A streaming pass notices the switch when its current wait (≤ 20 s) ends.
          await settled(25_000);
        } else if (settings.syncMode === 'streaming') {
          // A polling vCenter becomes streaming at its next pass.
          await markDue(pool, vcenterId);
          await sleep((settings.dispatchEveryS + 5) * 1000);
        }
        if (settings.syncMode === 'polling' && settings.dispatchEveryS > 0) await markDue(pool, vcenterId);
      } else {
        // The streaming pass starts with the continuation after the full sync.
        await sleep(3_000);
      }
      previous = settings;
      if (mode === 'profile') {
        await settled(30_000);
        profile = await runProfile(runtime, client, vcenterId, take);
        continue;
      }
      console.error(`vfleet ${mode}: ${settings.samples} power-offs…`);
      const from = performance.now();
      results[mode] = await measureApi(
        runtime,
        viewer,
        vcenterId,
        client,
        take(settings.samples),
        settings.syncMode === 'polling' ? settings.intervalS * 1000 : 1000,
        random,
        Math.max(60_000, (2 * settings.intervalS + settings.dispatchEveryS + 10) * 1000),
      );
      // The pass that made the last sample visible has returned by now (or is a streaming one).
      await sleep(500);
      workerRows[mode] = workerShares(
        invocations,
        from,
        performance.now(),
        settings.syncMode === 'streaming',
      );
    }
    startDispatcher(0);
    // The last polling pass's duration (worker wall time): what a polling invocation bills.
    const view = await call(runtime.httpUrl, 'GET', `/api/v1/vcenters/${vcenterId}`, viewer);
    const lastPassMs =
      (view.json.vcenter as { sync?: { lastDurationMs?: number | null } }).sync?.lastDurationMs ?? null;
    await pool.end();
    await client.close();

    const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
    const uptime = (await run('uptime')).stdout.trim();
    const commit = (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root })).stdout.trim();
    const label = (mode: Mode) => {
      const s = rowSettings(mode);
      if (mode === 'streaming') return 'vfleet streaming → GET /api/v1/vms/{id}';
      if (mode === 'deployed')
        return `vfleet polling at the deployed settings (interval ${s.intervalS} s, dispatcher every ${s.dispatchEveryS} s) → GET /api/v1/vms/{id}`;
      return `vfleet polling (interval ${s.intervalS} s, dispatcher every ${s.dispatchEveryS} s) → GET /api/v1/vms/{id}`;
    };
    const rows = [
      { label: 'govmomi WaitForUpdatesEx loop (floor)', ...stats(peer.lagsMs), timeouts: 0, goal: '' },
      {
        label:
          "WaitForUpdatesEx loop with vfleet's filter (vfleet's client, no database): the simulator's own cost",
        ...stats(filterFloorMs),
        timeouts: count - filterFloorMs.length,
        goal: '',
      },
      ...modes
        .filter((mode) => mode !== 'profile')
        .map((mode) => ({
          label: label(mode),
          ...stats(results[mode]?.lagsMs ?? []),
          timeouts: results[mode]?.timeouts ?? 0,
          goal:
            mode === 'streaming'
              ? 'p95 ≤ 1,500 ms'
              : `p95 ≤ ${((rowSettings(mode).intervalS + 2) * 1000).toLocaleString('en-US')} ms (interval + 2 s)`,
          worker: workerRows[mode],
        })),
    ];
    console.log(
      `\ninventory sync lag — ${new Date().toISOString()} — ${machine} — commit ${commit}\n${uptime}`,
    );
    console.log(
      `vcsim ${sim.vms} VMs; first full sync through the runtime ${firstSyncS.toFixed(1)} s; last pass ${lastPassMs} ms\n`,
    );
    console.log(
      '| path | n | min ms | p50 ms | p95 ms | p99 ms | max ms | not seen | worker: own ms p50 / p95 | worker: vSphere ms p50 / p95 | worker units | goal (p95) |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |');
    for (const r of rows) {
      const w = 'worker' in r ? r.worker : undefined;
      console.log(
        `| ${r.label} | ${r.n} | ${r.min} | ${r.p50} | ${r.p95} | ${r.p99} | ${r.max} | ${r.timeouts} | ${w ? fmtShare(w.own) : ''} | ${w ? fmtShare(w.vsphere) : ''} | ${w ? `${w.passes} × ${w.unit}` : ''} | ${r.goal} |`,
      );
    }
    if (profile) printProfile(profile);
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
          commit,
          vms: sim.vms,
          count,
          intervalS,
          dispatchEveryS,
          deployed: { ...deployed, count: deployedCount },
          firstSyncS,
          lastPassMs,
          rows,
          profile,
          raw: { peer, filterFloorMs, ...results },
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

/**
 * A bare WaitForUpdatesEx loop through vfleet's client with the sync's filter (every watched kind and
 * property): power-offs of powered-on VMs, each timed from the call until the watch reports it.
 */
async function filterFloor(
  url: string,
  username: string,
  password: string,
  n: number,
  random: () => number,
): Promise<number[]> {
  const client = await VsphereClient.connect({ url, username, password, insecure: true, pooled: false });
  const lags: number[] = [];
  try {
    const vms = (await poweredOn(client)).sort(() => random() - 0.5).slice(0, n);
    const watcher = await client.createWatcher({
      types: watchedTypes as never,
      properties: watchedProperties as never,
    });
    let version = '';
    for await (const batch of watcher.updatesSince('', { maxWaitSeconds: 0, maxObjectUpdates: 5_000 }))
      version = batch.version;
    for (const moid of vms) {
      await sleep(Math.floor(random() * 1000));
      const started = performance.now();
      await client.powerOffVm({ type: 'VirtualMachine', value: moid });
      let seen = false;
      while (!seen && performance.now() - started < 60_000) {
        const batch = await watcher.waitForUpdates(version, { maxWaitSeconds: 20, maxObjectUpdates: 5_000 });
        version = batch.version;
        seen = batch.objects.some(
          (o) =>
            o.moid === moid &&
            o.changes.some((c) => c.name === 'runtime.powerState' && c.value === 'poweredOff'),
        );
      }
      if (seen) lags.push(performance.now() - started);
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    await watcher.destroy();
  } finally {
    await client.close();
  }
  return lags;
}

/**
 * Profile: for each k in --profile-changes, --profile-passes polling passes, each after k power-offs whose
 * tasks have completed, the worker invoked by the bench (no dispatcher, no API reads meanwhile).
 */
async function runProfile(
  runtime: LocalRuntime,
  client: VsphereClient,
  vcenterId: string,
  take: (n: number) => string[],
) {
  const invokePass = async () => {
    const before = invocations.length;
    const event = {
      Records: [{ messageId: randomUUID(), body: JSON.stringify({ vcenterId, reason: 'scheduled' }) }],
    } as unknown as SQSEvent;
    await runtime.invoke('syncWorker', event);
    const timing = invocations[before]?.timing;
    if (!timing) throw new Error('the worker ran no profiled invocation');
    return timing;
  };
  // One pass first: the process's caches (password, pooled session, prepared pools) as a warm container has them.
  await invokePass();
  const groups: { changes: number; passes: PassTiming[]; full: number }[] = [];
  for (const changes of profileChanges) {
    console.error(`profile: ${profilePasses} polling passes after ${changes} power-offs each…`);
    const passes: PassTiming[] = [];
    let full = 0;
    for (let i = 0; i < profilePasses; i++) {
      const vms = take(changes);
      await Promise.all(
        vms.map(async (moid) =>
          client.waitForTask(await client.powerOffVm({ type: 'VirtualMachine', value: moid }), {
            pollMs: 10,
          }),
        ),
      );
      const timing = await invokePass();
      if (isFull(timing)) full++;
      else passes.push(timing);
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    groups.push({ changes, passes, full });
  }
  return groups.map((g) => ({
    changes: g.changes,
    fullSyncs: g.full,
    objects: shares(g.passes.map((p) => p.objects)),
    wall: shares(g.passes.map((p) => p.wallMs)),
    vsphere: shares(g.passes.map((p) => p.vsphereMs)),
    own: shares(g.passes.map((p) => p.ownMs)),
    sql: shares(g.passes.map((p) => p.sqlMs)),
    redis: shares(g.passes.map((p) => p.redisMs)),
    statements: shares(g.passes.map((p) => p.calls.filter((c) => c.kind === 'sql').length)),
    breakdown: breakdown(g.passes).map((b) => ({
      ...b,
      perPass: r1(b.perPass),
      meanMs: r1(b.meanMs),
      msPerPass: r1(b.msPerPass),
    })),
    passes: g.passes,
  }));
}

function printProfile(profile: Awaited<ReturnType<typeof runProfile>>): void {
  console.log('\nprofile: one polling pass (worker invocation) after k power-offs, ms per pass');
  console.log(
    '| k | passes | objects p50 | wall p50 / p95 | vSphere p50 / p95 | own p50 / p95 | SQL p50 | Redis p50 | statements p50 | full syncs |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const g of profile) {
    console.log(
      `| ${g.changes} | ${g.wall.n} | ${g.objects.p50} | ${fmtShare(g.wall)} | ${fmtShare(g.vsphere)} | ${fmtShare(g.own)} | ${g.sql.p50} | ${g.redis.p50} | ${g.statements.p50} | ${g.fullSyncs} |`,
    );
  }
  for (const g of profile) {
    console.log(`\nper call, k = ${g.changes} (mean over ${g.wall.n} passes)`);
    console.log('| kind | call | per pass | mean ms | ms per pass |');
    console.log('| --- | --- | ---: | ---: | ---: |');
    for (const b of g.breakdown) {
      console.log(
        `| ${b.kind} | \`${b.what.replace(/\|/g, '\\|')}\` | ${b.perPass} | ${b.meanMs} | ${b.msPerPass} |`,
      );
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const own = mean(g.passes.map((p) => p.ownMs));
    const sql = mean(g.passes.map((p) => p.sqlMs));
    const redis = mean(g.passes.map((p) => p.redisMs));
    console.log(
      `| cpu | everything else in the own share (CPU, pool checkout, secrets) | | | ${r1(own - sql - redis)} |`,
    );
  }
}

await main();
