// Benchmark — `npm run bench:ops:stampede`: 2,000 simulated users open the page of a 70-VM vCenter (the VM list
// + 70 thumbnails each) within 10 s, through the local runtime (HTTP API emulation, JWT checks, the ops
// functions and lane workers in-process). Counts the screen calls vcsim served (goal: exactly 70) and the list
// queries that reached PostgreSQL (goal: 1 per VM_LIST_CACHE_TTL), with the list cache on the tiered cache.
// Loopback only; bounded by the user count and a deadline.
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { type Topology, topology } from '../../infra/topology.ts';
import { upsertVms } from '../../shared/inventory/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { percentile, record, startBenchEnv } from './harness.ts';

const users = Number(process.env.BENCH_USERS ?? 2_000);
const arrivalSeconds = 10;
const listTtl = 30;

const benchTopology: Topology = {
  ...topology,
  functions: {
    ...topology.functions,
    benchVmList: {
      entry: 'bench/ops/fixtures/vm-list.ts',
      description: 'bench: GET /api/v1/vms with a counted database',
      memoryMb: 512,
      serves: 'http',
      needs: ['postgres', 'redis'],
    },
  },
  httpRoutes: topology.httpRoutes.map((route) =>
    route.method === 'GET' && route.path === '/api/v1/vms' ? { ...route, function: 'benchVmList' } : route,
  ),
};

interface LoadResult {
  requests: number;
  statuses: Record<string, number>;
  xcache: Record<string, number>;
  pageMs: number[];
  gaveUp: number;
  arrivedAfterS: number;
  elapsedS: number;
}

async function runVariant(listCache: 'tiered') {
  const env = await startBenchEnv({
    vcsim: { vms: 70, delays: { screen: 20 } },
    topology: benchTopology,
    env: { VM_LIST_CACHE_TTL: String(listTtl), THUMBNAIL_CACHE_TTL: '120' },
    prepareDb: async (url, vms) => {
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      await migrate(pool, { vmPartitions: 4 });
      // Never due for a sync: this bench measures the list and thumbnail paths, not the sync.
      await pool.query(
        `INSERT INTO vcenters (id, name, url, username, secret_ref, next_sync_at)
         VALUES ('vc-bench', 'bench', 'https://vcsim', 'u', 'r', 'infinity')`,
      );
      await upsertVms(
        pool,
        'vc-bench',
        vms.map((moid, i) => ({
          moid,
          name: `vm-${String(i).padStart(3, '0')}`,
          powerState: 'poweredOn' as const,
        })),
      );
      await pool.end();
    },
  });
  try {
    if (env.vms.length !== 70) throw new Error(`vcsim has ${env.vms.length} VMs, expected 70`);
    await env.vcsim.resetStats();
    const counter = globalThis as typeof globalThis & { __vfleetBenchListQueries?: number };
    counter.__vfleetBenchListQueries = 0;
    console.log(`${listCache}: ${users} users over ${arrivalSeconds} s, ${users * 71} requests…`);
    const result = await new Promise<LoadResult>((done, fail) => {
      const worker = new Worker(resolve(import.meta.dirname, 'stampede-load.mjs'), {
        workerData: {
          baseUrl: env.runtime.httpUrl,
          token: env.viewerToken,
          users,
          arrivalSeconds,
          deadlineSeconds: 600,
          listPath: '/api/v1/vms?vcenter=vc-bench&limit=100',
          thumbnailPaths: env.vms.map((moid) => `/api/v1/vms/vc-bench:${moid}/thumbnail`),
        },
      });
      worker.once('message', done);
      worker.once('error', fail);
    });
    const stats = await env.vcsim.stats();
    const listQueries = counter.__vfleetBenchListQueries ?? 0;
    const windows = Math.ceil(result.elapsedS / listTtl);
    const row = {
      listCache,
      users,
      requests: result.requests,
      elapsedS: result.elapsedS,
      reqPerS: result.requests / result.elapsedS,
      screenCalls: stats.screen.served,
      screenMaxInFlight: stats.screen.maxInFlight,
      screenMinGapMs: stats.screen.minGapMs,
      listQueries,
      ttlWindows: windows,
      pageP50: percentile(result.pageMs, 50),
      pageP95: percentile(result.pageMs, 95),
      statuses: result.statuses,
      xcache: result.xcache,
      gaveUp: result.gaveUp,
    };
    console.log(row);
    return row;
  } finally {
    await env.stop();
  }
}

const rows = [await runVariant('tiered')];
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });
const table = rows
  .map(
    (r) =>
      `| tiered cache (L1 + Redis, single-flight) | ${fmt(r.users)} | ${fmt(r.requests)} | ${fmt(r.elapsedS)} | ${fmt(r.reqPerS)} | ${r.screenCalls} ${r.screenCalls === 70 ? '(met)' : '(**missed**)'} | ${r.screenMaxInFlight} / ${(r.screenMinGapMs ?? 0).toFixed(1)} | ${r.listQueries} over ${r.ttlWindows} TTL window(s) ${r.listQueries <= r.ttlWindows ? '(met)' : '(**missed**)'} | ${fmt(r.pageP50 / 1000)} / ${fmt(r.pageP95 / 1000)} | ${Object.entries(
        r.statuses,
      )
        .map(([s, n]) => `${s}: ${fmt(n)}`)
        .join(', ')} | ${Object.entries(r.xcache)
        .map(([s, n]) => `${s}: ${fmt(n)}`)
        .join(', ')} |`,
  )
  .join('\n');
await record(
  'ops-stampede',
  'Stampede (`npm run bench:ops:stampede`)',
  `${fmt(users)} simulated users arrive evenly over ${arrivalSeconds} s at the page of a 70-VM vCenter (vcsim, 20 ms per screen): each
loads \`GET /api/v1/vms?vcenter=…\` and then the 70 thumbnails six at a time, waiting out 503 + Retry-After while a first
load runs. Small preset (8 concurrent, 50 ms, VM list TTL ${listTtl} s, thumbnail TTL 120 s). Everything goes over loopback
HTTP through the local runtime (JWT verification, middy, the handlers, the SQS lanes and their workers in one Node
process) from a worker thread. The VM list route is the inventory reader on its query cache
(\`createTieredQueryCache\`, what \`GET /api/v1/vms\` runs); a counting wrapper around the PostgreSQL pool counts the
list queries. Goals: exactly 70 screen calls at vcsim; 1 list query per TTL.

| list cache | users | HTTP requests | s | req/s | screen calls at vcsim (goal 70) | screen max in flight / min gap ms | list queries at PostgreSQL (goal 1 per TTL) | page load p50 / p95 s | HTTP statuses | X-Cache of thumbnails |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |
${table}

The arrival window is 10 s, but the local runtime serves every request on one event loop, so the 142,000 requests
take longer than the arrivals and page loads queue behind each other; what the table shows is that the upstream cost
stays at one call per key. The screen calls' min gap is measured by vcsim while this one process saturates the machine:
a call that has to open a new TLS socket (two first loads overlapping) can reach vcsim after a later call on a warm
socket, which the limiter, spacing grants on Redis's clock, cannot see (docs/architecture.md, known limits); the limiter
bench, with warm sockets, shows the spacing held.`,
  rows,
);
