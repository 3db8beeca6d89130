// Benchmarks — (3) inventory query latency through the local runtime on 1M VMs: `npm run
// bench:inventory:query`. Starts its own PostgreSQL, Redis and DynamoDB Local, migrates, generates the
// synthetic inventory (or reuses the one at --database-url), starts the local runtime and measures HTTP
// latency (p50/p95/p99) of a simple filter, a name search, the summary, the first and a deep keyset page,
// uncached and cached, then throughput with 64 concurrent clients and a single-flight burst. Before that, at
// SQL level: the keyset check (first vs deep page) and each search term's plan against a plain ordered walk.
// Prints tables and writes JSON to bench/results/; it measures, it does not assert.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  encodeCursor,
  generationKey,
  listSql,
  loadCursorKey,
  openCursor,
  parseListQuery,
} from '#shared/inventory';
import { createFileSecretStore } from '#shared/secrets';
import { loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import { startLocalRuntime } from '../../infra/local/runtime.ts';
import { startDynamoDb, startPostgres, startRedis } from '../../infra/local/services/index.ts';
import type { RunningService } from '../../infra/local/services/types.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { createListPager } from '../../shared/inventory/queries.ts';
import { progressBar } from './generate.ts';
import { generateInventory } from './synthetic.ts';

const root = resolve(import.meta.dirname, '../..');

const { values: args } = parseArgs({
  options: {
    vcenters: { type: 'string', default: '1000' },
    'vms-per-vcenter': { type: 'string', default: '1000' },
    'database-url': { type: 'string' },
    iterations: { type: 'string', default: '200' },
    clients: { type: 'string', default: '64' },
    seconds: { type: 'string', default: '10' },
  },
});
const vcenters = Number(args.vcenters);
const vmsPerVcenter = Number(args['vms-per-vcenter']);
const iterations = Number(args.iterations);
const clients = Number(args.clients);
const seconds = Number(args.seconds);

interface Stats {
  readonly scenario: string;
  readonly mode: 'uncached' | 'cached';
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly cachedShare: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function stats(scenario: string, mode: Stats['mode'], samples: number[], cachedCount: number): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    scenario,
    mode,
    n: samples.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    cachedShare: samples.length ? cachedCount / samples.length : 0,
  };
}

async function main() {
  const started = new Date();
  const loadBefore = loadavg();
  const dir = await mkdtemp(join(tmpdir(), 'vfleet-bench-inv-'));
  const services: RunningService[] = [];
  let runtime: Awaited<ReturnType<typeof startLocalRuntime>> | undefined;
  try {
    console.error('starting PostgreSQL, Redis and DynamoDB Local…');
    const [redisService, dynamodb, postgresService] = await Promise.all([
      startRedis({ dir: join(dir, 'redis') }),
      startDynamoDb({ dir: join(dir, 'dynamodb') }),
      args['database-url'] ? undefined : startPostgres({ dir: join(dir, 'postgres'), sharedBuffers: '2GB' }),
    ]);
    services.push(redisService, dynamodb, ...(postgresService ? [postgresService] : []));
    const databaseUrl = args['database-url'] ?? postgresService?.url;
    if (!databaseUrl) throw new Error('no database');
    const pgUrl = new URL(databaseUrl);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    await migrate(pool, { vmPartitions: 16 });
    const existing = Number((await pool.query('SELECT count(*) AS n FROM vms')).rows[0]?.n ?? 0);
    let generation: unknown = { reused: existing };
    if (existing < vcenters * vmsPerVcenter) {
      console.error(`generating ${vcenters} vCenters × ${vmsPerVcenter} VMs…`);
      generation = await generateInventory(pool, { vcenters, vmsPerVcenter, onProgress: progressBar('VMs') });
    } else {
      console.error(`reusing ${existing.toLocaleString('en-US')} VMs`);
    }
    // A freshly loaded table has no visibility map yet, so index-only scans still visit the heap for every
    // entry; autovacuum sets it soon after a real sync. Measure that settled state, not the first minutes.
    console.error('VACUUM (ANALYZE)…');
    const vacuumStarted = performance.now();
    await pool.query('VACUUM (ANALYZE) vms, hosts, datastores, clusters, vcenters');
    const vacuumSeconds = (performance.now() - vacuumStarted) / 1000;

    // The runtime below signs and checks cursors with the key in this store; the bench signs its deep cursor
    // with the same key.
    const secretsPath = join(dir, 'secrets.json');
    const benchCursorKey = await loadCursorKey(createFileSecretStore(secretsPath));

    // SQL-level check of the keyset design: first page vs a page ~90% deep, execution time from EXPLAIN.
    const firstQuery = parseListQuery('vms', {});
    const total = Number((await pool.query('SELECT count(*) AS n FROM vms WHERE NOT template')).rows[0]?.n);
    const deepKey = (
      await pool.query<{ name: string; vcenter_id: string; moid: string }>(
        `SELECT name, vcenter_id, moid FROM vms WHERE NOT template ORDER BY name, vcenter_id, moid
         OFFSET ${Math.floor(total * 0.9)} LIMIT 1`,
      )
    ).rows[0];
    if (!deepKey) throw new Error('no deep key');
    const deepCursor = encodeCursor(
      [deepKey.name, deepKey.vcenter_id, deepKey.moid],
      firstQuery.fingerprint,
      benchCursorKey,
    );
    const explainMs = async (params: Record<string, string>) => {
      const { text, values } = listSql(openCursor(parseListQuery('vms', params), benchCursorKey));
      const runs: number[] = [];
      for (let i = 0; i < 21; i++) {
        const plan = await pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
        runs.push(Number(plan.rows[0]['QUERY PLAN'][0]['Execution Time']));
      }
      return runs.sort((a, b) => a - b)[10] ?? Number.NaN;
    };
    const sqlFirstMs = await explainMs({});
    const sqlDeepMs = await explainMs({ cursor: deepCursor });

    // Each search term at SQL level: the plain ordered walk of the name index (what the planner alone does
    // for a common term) against the plans the reader picks; client-side time, median of 7, first page.
    const searchTerms = [
      'web',
      'payments',
      'prod-crm',
      'kafka-node',
      'sql',
      'fra01',
      'ledger-db',
      'stg-auth-api',
    ];
    // Not in the HTTP mix: terms both common and sorting late, the plans' worst case, shown for honesty.
    const hardTerms = ['prod', 'uat-'];
    const medianMs = async (run: () => Promise<unknown>) => {
      const runs: number[] = [];
      for (let i = 0; i < 7; i++) {
        const begin = performance.now();
        await run();
        runs.push(performance.now() - begin);
      }
      return runs.sort((a, b) => a - b)[3] ?? Number.NaN;
    };
    const searchPlans = [];
    for (const term of [...searchTerms, ...hardTerms]) {
      const query = parseListQuery('vms', { q: term });
      const matches = Number(
        (
          await pool.query(`SELECT count(*) AS n FROM vms WHERE NOT template AND lower(name) LIKE $1`, [
            `%${term}%`,
          ])
        ).rows[0]?.n,
      );
      const walk = listSql(query);
      const walkMs = await medianMs(() => pool.query(walk.text, walk.values));
      const pager = createListPager({ cursorKey: benchCursorKey });
      let plan: string | undefined;
      const plannedMs = await medianMs(async () => {
        plan = (await pager.page(pool, query)).plan;
      });
      searchPlans.push({ term, matches, walkMs, plan, plannedMs });
      console.error(`search plan: ${term} → ${plan}`);
    }
    await pool.end();

    const issuer = await loadDevIssuer(join(dir, 'issuer'));
    runtime = await startLocalRuntime({
      root,
      issuer,
      services: {
        redisUrl: redisService.url,
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
        PG_POOL_MAX: '16',
        VM_LIST_CACHE_TTL: '300',
        LOG_LEVEL: 'ERROR',
        SECRET_STORE: `file:${secretsPath}`,
      },
    });
    const token = await issuer.mint(['viewer']);
    const redis = new Redis(redisService.url);
    const cachedMark = '"cached":true}';
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const base = new URL(runtime.httpUrl);
    const get = (path: string) =>
      new Promise<{ status: number; cached: boolean; ms: number }>((done, fail) => {
        const begin = performance.now();
        const req = request(
          {
            host: base.hostname,
            port: base.port,
            path,
            agent,
            headers: { authorization: `Bearer ${token}` },
          },
          (res) => {
            // Only the start (for errors) and the tail (the cached flag) are kept: this client shares the
            // event loop with the server under test, which should not pay for decoding 70 KB bodies.
            let head = '';
            let tail = '';
            res.setEncoding('latin1');
            res.on('data', (chunk: string) => {
              if (head.length < 300) head += chunk.slice(0, 300);
              tail = (tail + chunk.slice(-cachedMark.length)).slice(-cachedMark.length);
            });
            res.on('end', () => {
              const ms = performance.now() - begin;
              if (res.statusCode !== 200) fail(new Error(`${path} answered ${res.statusCode}: ${head}`));
              done({ status: res.statusCode ?? 0, cached: tail === cachedMark, ms });
            });
          },
        );
        req.on('error', fail);
        req.end();
      });
    // Orphans every cached answer: both scopes the benchmark's queries use.
    const bumpAll = async (vcenterId?: string) => {
      await redis.incr(generationKey(undefined));
      if (vcenterId) await redis.incr(generationKey(vcenterId));
    };
    const vcId = (i: number) =>
      `vc-${String((i % vcenters) + 1).padStart(Math.max(4, String(vcenters).length), '0')}`;
    const scenarios: {
      name: string;
      path: (i: number) => string;
      vcenter?: (i: number) => string;
      n: number;
    }[] = [
      {
        name: 'simple filter (vCenter + power state)',
        path: (i) => `/api/v1/vms?vcenter=${vcId(i * 7)}&power_state=poweredOn`,
        vcenter: (i) => vcId(i * 7),
        n: iterations,
      },
      {
        name: 'simple filter (power state, all vCenters)',
        path: () => '/api/v1/vms?power_state=suspended',
        n: iterations,
      },
      {
        name: 'name search (q, all vCenters)',
        path: (i) => `/api/v1/vms?q=${encodeURIComponent(searchTerms[i % searchTerms.length] ?? 'web')}`,
        n: iterations,
      },
      { name: 'first page (no filter)', path: () => '/api/v1/vms', n: iterations },
      { name: 'deep keyset page (~90% in)', path: () => `/api/v1/vms?cursor=${deepCursor}`, n: iterations },
      {
        name: 'one VM by id',
        path: (i) => `/api/v1/vms/${vcId(i * 13)}:vm-${(i % vmsPerVcenter) + 1}`,
        vcenter: (i) => vcId(i * 13),
        n: iterations,
      },
      {
        name: 'hosts (cluster filter)',
        path: (i) => `/api/v1/hosts?cluster=${vcId(i * 3)}:domain-c7`,
        vcenter: (i) => vcId(i * 3),
        n: iterations,
      },
      {
        name: 'summary (1,000 vCenters)',
        path: () => '/api/v1/stats/summary',
        n: Math.max(10, Math.floor(iterations / 10)),
      },
    ];

    const results: Stats[] = [];
    for (const scenario of scenarios) {
      // Warm-up: plans, connections, partitions' catalog caches (a warm Lambda container has them too).
      for (let i = 0; i < 5; i++) await get(scenario.path(i));
      const uncached: number[] = [];
      let uncachedHits = 0;
      for (let i = 0; i < scenario.n; i++) {
        await bumpAll(scenario.vcenter?.(i));
        const answer = await get(scenario.path(i));
        uncached.push(answer.ms);
        if (answer.cached) uncachedHits++;
      }
      results.push(stats(scenario.name, 'uncached', uncached, uncachedHits));
      // The paths of the cached phase, loaded once under the current generations.
      for (let i = 0; i < 8; i++) await get(scenario.path(i));
      const cached: number[] = [];
      let hits = 0;
      // Hits are cheap, so every scenario gets the full count: a p95 of 20 samples is its second-worst value.
      for (let i = 0; i < iterations; i++) {
        const answer = await get(scenario.path(i % 8));
        cached.push(answer.ms);
        if (answer.cached) hits++;
      }
      results.push(stats(scenario.name, 'cached', cached, hits));
      console.error(`measured: ${scenario.name}`);
    }
    // Bytes on the wire per answer, as sent to a client without and with `accept-encoding: gzip` (the cost
    // model's data transfer; docs/cost.md). One cached answer per scenario, its first path.
    const wireBytes = (path: string, acceptEncoding?: string) =>
      new Promise<number>((done, fail) => {
        const req = request(
          {
            host: base.hostname,
            port: base.port,
            path,
            agent,
            headers: {
              authorization: `Bearer ${token}`,
              ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}),
            },
          },
          (res) => {
            let bytes = 0;
            res.on('data', (chunk: Buffer) => {
              bytes += chunk.length;
            });
            res.on('end', () => (res.statusCode === 200 ? done(bytes) : fail(new Error(path))));
          },
        );
        req.on('error', fail);
        req.end();
      });
    const sizes = [];
    for (const scenario of scenarios) {
      const path = scenario.path(0);
      const plainBytes = await wireBytes(path);
      const gzipBytes = await wireBytes(path, 'gzip, deflate, br');
      sizes.push({ name: scenario.name, plainBytes, gzipBytes, ratio: gzipBytes / plainBytes });
    }
    agent.destroy();

    // Throughput: 64 clients in a worker thread over a mix of cached answers, then of uncached simple filters.
    const throughput = async (label: string, paths: string[]) => {
      const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), {
        workerData: { baseUrl: runtime?.httpUrl, token, paths, clients, seconds, maxRequests: 500_000 },
      });
      const report = await new Promise<{
        latencies: number[];
        statuses: Record<string, number>;
        elapsed: number;
        cachedAnswers: number;
      }>((done, fail) => {
        worker.once('message', done);
        worker.once('error', fail);
      });
      const sorted = report.latencies.sort((a, b) => a - b);
      return {
        label,
        clients,
        requests: sorted.length,
        seconds: report.elapsed,
        perSecond: sorted.length / report.elapsed,
        cachedShare: report.cachedAnswers / Math.max(1, sorted.length),
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        statuses: report.statuses,
      };
    };
    const cachedMix = [
      ...Array.from({ length: 8 }, (_, i) => `/api/v1/vms?vcenter=${vcId(i * 7)}&power_state=poweredOn`),
      '/api/v1/vms?power_state=suspended',
      '/api/v1/vms',
      `/api/v1/vms?cursor=${deepCursor}`,
      ...searchTerms.map((term) => `/api/v1/vms?q=${encodeURIComponent(term)}`),
    ];
    for (const path of cachedMix) await get(path);
    const cachedThroughput = await throughput('cached mix', cachedMix);
    // Uncached: every request a different vCenter (1,000 of them), after a bump of them all.
    const uncachedPaths = Array.from(
      { length: vcenters },
      (_, i) => `/api/v1/vms?vcenter=${vcId(i)}&power_state=poweredOff&limit=50`,
    );
    for (let i = 0; i < vcenters; i++) await redis.incr(generationKey(vcId(i)));
    const uncachedThroughput = await throughput('uncached simple filter (distinct vCenters)', uncachedPaths);
    // The runtime's own ceiling on this machine: a handler that touches neither Redis nor PostgreSQL.
    const ceiling = await throughput('runtime ceiling: GET /api/v1/me (no I/O)', ['/api/v1/me']);

    // Single-flight: 64 identical requests at once for an answer just invalidated; how many ran the query.
    const burstAgent = new Agent({ keepAlive: true, maxSockets: clients });
    const burstGet = (path: string) =>
      new Promise<boolean>((done, fail) => {
        const req = request(
          {
            host: base.hostname,
            port: base.port,
            path,
            agent: burstAgent,
            headers: { authorization: `Bearer ${token}` },
          },
          (res) => {
            let tail = '';
            res.setEncoding('latin1');
            res.on('data', (chunk: string) => {
              tail = (tail + chunk.slice(-cachedMark.length)).slice(-cachedMark.length);
            });
            res.on('end', () => (res.statusCode === 200 ? done(tail === cachedMark) : fail(new Error(path))));
          },
        );
        req.on('error', fail);
        req.end();
      });
    const singleFlight = [];
    for (const path of ['/api/v1/stats/summary', '/api/v1/vms?q=prod-crm']) {
      await burstGet(path);
      await bumpAll();
      const begin = performance.now();
      const answers = await Promise.all(Array.from({ length: clients }, () => burstGet(path)));
      singleFlight.push({
        path,
        requests: answers.length,
        ranQuery: answers.filter((cached) => !cached).length,
        ms: performance.now() - begin,
      });
    }
    burstAgent.destroy();
    redis.disconnect();
    const loadAfter = loadavg();

    const machine = {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAfter,
    };
    const report = {
      benchmark: 'inventory-query',
      date: started.toISOString(),
      machine,
      dataset: { vcenters, vmsPerVcenter, generation },
      vacuumSeconds,
      sqlKeyset: { firstPageExecMs: sqlFirstMs, deepPageExecMs: sqlDeepMs, ratio: sqlDeepMs / sqlFirstMs },
      searchPlans,
      latency: results,
      wireSizes: sizes,
      throughput: [cachedThroughput, uncachedThroughput, ceiling],
      singleFlight,
      notes:
        'Handlers run in the same Node process as the local HTTP server (one event loop, one core); load clients run in a worker thread; PostgreSQL and Redis share the same 2 cores.',
    };
    await mkdir(join(root, 'bench/results'), { recursive: true });
    const file = join(
      root,
      'bench/results',
      `inventory-query-${started.toISOString().replace(/[:.]/g, '-')}.json`,
    );
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);

    const f = (ms: number) => ms.toFixed(2);
    console.log(
      `\nInventory query benchmark — ${started.toISOString()} — ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}`,
    );
    const load = (avg: number[]) => avg.map((value) => value.toFixed(2)).join(' ');
    console.log(`load average (1/5/15 min) before ${load(loadBefore)}, after ${load(loadAfter)}`);
    console.log(
      `dataset: ${vcenters} vCenters × ${vmsPerVcenter} VMs; SQL keyset first page ${f(sqlFirstMs)} ms vs deep page ${f(sqlDeepMs)} ms (execution, median of 21)\n`,
    );
    console.log('| answer | bytes, plain | bytes, gzip | gzip / plain |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const size of sizes) {
      console.log(
        `| ${size.name} | ${size.plainBytes.toLocaleString('en-US')} | ${size.gzipBytes.toLocaleString('en-US')} | ${(size.ratio * 100).toFixed(0)} % |`,
      );
    }
    console.log('');
    console.log('| search term | matches | plain ordered walk ms | plan chosen | chosen plan ms |');
    console.log('| --- | ---: | ---: | --- | ---: |');
    for (const p of searchPlans) {
      console.log(`| ${p.term} | ${p.matches} | ${f(p.walkMs)} | ${p.plan} | ${f(p.plannedMs)} |`);
    }
    console.log('');
    console.log('| scenario | mode | n | p50 ms | p95 ms | p99 ms | max ms | answers cached |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of results) {
      console.log(
        `| ${r.scenario} | ${r.mode} | ${r.n} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.p99)} | ${f(r.max)} | ${(r.cachedShare * 100).toFixed(0)}% |`,
      );
    }
    console.log(
      '\n| throughput | clients | requests | seconds | req/s | p50 ms | p95 ms | p99 ms | answers cached | statuses |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const t of [cachedThroughput, uncachedThroughput, ceiling]) {
      console.log(
        `| ${t.label} | ${t.clients} | ${t.requests} | ${t.seconds.toFixed(1)} | ${t.perSecond.toFixed(0)} | ${f(t.p50)} | ${f(t.p95)} | ${f(t.p99)} | ${(t.cachedShare * 100).toFixed(0)}% | ${JSON.stringify(t.statuses)} |`,
      );
    }
    console.log('\n| single-flight burst | requests | ran the query | ms |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const b of singleFlight) console.log(`| ${b.path} | ${b.requests} | ${b.ranQuery} | ${f(b.ms)} |`);
    console.log(`\nJSON: ${file}`);
  } finally {
    await runtime?.stop();
    await Promise.allSettled(services.map((service) => service.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
