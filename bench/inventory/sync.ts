// Benchmarks — (1) inventory sync throughput: `npm run bench:inventory:sync`.
//   a. Full sync of a vcsim inventory (default 50k VMs) into PostgreSQL through the real sync engine
//      (syncVcenter: WaitForUpdatesEx initial set → plan → COPY staging → upsert changed rows), run in its own
//      `node` process as an esbuild bundle (as in Lambda) so its peak RSS is the worker's, against the floor:
//      govmomi's bare retrieval of the same VMs from the same simulator in the same run (the Go peer of
//      bench/vsphere-retrieve, built by its helper, asked for the sync's VM properties).
//   b. Bulk load of synthetic VM rows (default 1M) through the same staging path (writeSnapshot): COPY into a
//      staging table, upsert rows whose row_hash changed, delete what vanished; first load, then a reload with
//      1 % of rows changed.
// Prints a table and writes JSON under bench/results/; it measures and reports, it does not assert.
//
// Options: --vms 50000  --peer-runs 3  --max-objects 100  --bulk-rows 1000000  --bulk-vcenters 20
//          --memory-mb 512,1024 (extra full syncs with V8's old space capped at 75 % of each function size)
//          --skip-sync  --skip-bulk   (internal: --worker, the child process of part a)
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import {
  type Row,
  type SyncResult,
  syncVcenter,
  watchedProperties,
  writeSnapshot,
} from '#shared/inventory/sync';
import type { SecretStore } from '#shared/secrets';

const run = promisify(execFile);

const { values: args } = parseArgs({
  options: {
    vms: { type: 'string', default: '50000' },
    'peer-runs': { type: 'string', default: '3' },
    'max-objects': { type: 'string', default: '100' },
    'bulk-rows': { type: 'string', default: '1000000' },
    'bulk-vcenters': { type: 'string', default: '20' },
    'skip-sync': { type: 'boolean', default: false },
    'skip-bulk': { type: 'boolean', default: false },
    'memory-mb': { type: 'string', default: '512,1024' },
    worker: { type: 'boolean', default: false },
  },
});

/** What the worker process prints: the pass's result, its wall time and its memory high-water marks. */
interface WorkerSample {
  readonly result: SyncResult;
  readonly ms: number;
  readonly maxRssKb: number;
  readonly peakHeapMb: number;
}

// ---------------------------------------------------------------------------------------------------------
// Worker mode: one full sync of VCENTER_ID, exactly as the Lambda handler calls it (writer + reader pools,
// a secret store, the invocation's remaining time), then one JSON line on stdout.

async function worker(): Promise<void> {
  const password = process.env.VSPHERE_PASSWORD ?? '';
  const vcenterId = process.env.VCENTER_ID ?? '';
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  // The password is handed over by the parent through the environment; the store only serves it.
  const secrets: SecretStore = {
    kind: 'file',
    put: async () => 'file:bench',
    get: async () => password,
    delete: async () => {},
    getOrCreate: async () => {
      throw new Error('the sync bench reads only the vCenter password');
    },
  };
  let peakHeap = 0;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 50);
  const started = performance.now();
  const result = await syncVcenter(
    vcenterId,
    { writer: pool, reader: pool, secrets },
    { remainingMs: () => 900_000 - (performance.now() - started), full: true },
  );
  const ms = performance.now() - started;
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const sample: WorkerSample = {
    result,
    ms,
    maxRssKb: process.resourceUsage().maxRSS,
    peakHeapMb: peakHeap / 2 ** 20,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  // Pools, the Redis client and the vSphere session would keep the loop alive; the sample is out.
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------------
// Bench mode.

const root = resolve(import.meta.dirname, '../..');
const workerBundle = join(root, '.vfleet', 'bench', 'inventory-sync-worker.mjs');

// Main-only modules are loaded by computed specifiers, so the worker's esbuild bundle (made from this file)
// holds only what a sync Lambda holds: no esbuild, no aws-cdk-lib, no service launchers.
const load = <T>(relative: string): Promise<T> =>
  import(new URL(relative, import.meta.url).href) as Promise<T>;

type Services = typeof import('../../infra/local/services/index.ts');
type Bundling = typeof import('../../infra/bundling.ts');
type RetrieveBench = typeof import('../vsphere-retrieve/run.ts');
type Migrate = typeof import('../../shared/inventory/migrate.ts');

async function buildWorker(): Promise<void> {
  const { esbuildOptions } = await load<Bundling>('../../infra/bundling.ts');
  const { build } = await import('esbuild');
  const options = esbuildOptions(join(root, 'bench', 'inventory', 'sync.ts'), workerBundle);
  await build({ ...options, external: [...(options.external ?? []), 'esbuild', 'aws-cdk-lib'] });
}

const median = (xs: readonly number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const round = (x: number, digits = 0) => Number(x.toFixed(digits));

interface PeerSample {
  objects: number;
  ms: number;
  maxRssKb: number;
}

async function peerRun(bin: string, url: string, username: string, password: string): Promise<PeerSample> {
  const { stdout } = await run(
    bin,
    [
      '-url',
      url,
      '-user',
      username,
      '-max-objects',
      String(args['max-objects']),
      '-props',
      watchedProperties.VirtualMachine.join(','),
    ],
    { env: { ...process.env, VSPHERE_PASSWORD: password }, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as PeerSample;
}

async function workerRun(
  databaseUrl: string,
  redisUrl: string,
  vcenterId: string,
  password: string,
  heapMb?: number,
) {
  const heap = heapMb ? [`--max-old-space-size=${heapMb}`] : [];
  const { stdout } = await run(
    process.execPath,
    [...heap, '--enable-source-maps', workerBundle, '--worker'],
    {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
        VCENTER_ID: vcenterId,
        VSPHERE_PASSWORD: password,
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
      maxBuffer: 16 << 20,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as WorkerSample;
}

/** Part a: the sync engine against govmomi's bare retrieval, same simulator, alternating runs. */
async function syncThroughput(services: Services, databaseUrl: string, redisUrl: string) {
  const { buildPeer } = await load<RetrieveBench>('../vsphere-retrieve/run.ts');
  const started = Date.now();
  const [peerBin, sim] = await Promise.all([
    buildPeer(),
    services.startVcsim({ vms: Number(args.vms) }),
    buildWorker(),
  ]).then(([bin, vcsim]) => [bin, vcsim] as const);
  const vcsimStartS = (Date.now() - started) / 1000;
  console.error(`vcsim with ${sim.vms} VMs up in ${vcsimStartS.toFixed(0)} s`);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const vcenterId = 'bench-sync';
    await pool.query('DELETE FROM vcenters WHERE id = $1', [vcenterId]);
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref, sync_mode, tls_insecure)
       VALUES ($1, 'bench', $2, $3, 'file:bench', 'polling', true)`,
      [vcenterId, sim.url, sim.username],
    );
    const peer: PeerSample[] = [];
    const ours: { label: string; sample: WorkerSample }[] = [];
    const peerOnce = async () => {
      const sample = await peerRun(peerBin, sim.url, sim.username, sim.password);
      if (sample.objects !== sim.vms)
        throw new Error(`govmomi retrieved ${sample.objects} of ${sim.vms} VMs`);
      peer.push(sample);
      console.error(`govmomi retrieval: ${sample.objects} VMs in ${(sample.ms / 1000).toFixed(1)} s`);
    };
    const oursOnce = async (label: string) => {
      const sample = await workerRun(databaseUrl, redisUrl, vcenterId, sim.password);
      if (sample.result.status !== 'synced')
        throw new Error(`sync ${sample.result.status}: ${sample.result.error}`);
      ours.push({ label, sample });
      console.error(
        `vfleet ${label}: ${sample.result.objects} objects in ${(sample.ms / 1000).toFixed(1)} s, ` +
          `${sample.result.changed} rows written, peak RSS ${(sample.maxRssKb / 1024).toFixed(0)} MB`,
      );
    };
    const runs = Math.max(1, Number(args['peer-runs']));
    // Peer runs bracket each of ours, so neither always meets a warmer (or more tired) simulator.
    await peerOnce();
    await oursOnce('first full sync (empty tables)');
    if (runs > 1) await peerOnce();
    await oursOnce('repeat full sync (nothing changed)');
    for (let i = 2; i < runs; i++) await peerOnce();
    // Smaller functions: the same pass with V8's old space capped at 75 % of the function's memory (the rest
    // is code, buffers and the runtime). A pass that runs out of heap dies here as it would in Lambda.
    const capped: {
      memoryMb: number;
      heapMb: number;
      ok: boolean;
      seconds?: number;
      peakRssMb?: number;
      error?: string;
    }[] = [];
    for (const memoryMb of String(args['memory-mb']).split(',').filter(Boolean).map(Number)) {
      const heapMb = Math.floor(memoryMb * 0.75);
      try {
        const sample = await workerRun(databaseUrl, redisUrl, vcenterId, sim.password, heapMb);
        const ok = sample.result.status === 'synced';
        capped.push({
          memoryMb,
          heapMb,
          ok,
          seconds: round(sample.ms / 1000, 2),
          peakRssMb: round(sample.maxRssKb / 1024, 1),
          ...(ok ? {} : { error: sample.result.error }),
        });
      } catch (error) {
        const text = String((error as { stderr?: string }).stderr ?? error);
        capped.push({
          memoryMb,
          heapMb,
          ok: false,
          error: (text.match(/FATAL ERROR[^\n]*|heap out of memory/)?.[0] ?? text).slice(0, 200),
        });
      }
      const last = capped.at(-1);
      console.error(
        `vfleet full sync in a ${memoryMb} MB function: ${last?.ok ? `${last.seconds} s, peak RSS ${last.peakRssMb} MB` : `failed (${last?.error})`}`,
      );
    }

    const stored = await pool.query<{ n: string }>('SELECT count(*) AS n FROM vms WHERE vcenter_id = $1', [
      vcenterId,
    ]);
    const vmRows = Number(stored.rows[0]?.n ?? 0);
    const floor = median(peer.map((s) => (s.objects / s.ms) * 1000));
    return {
      vms: sim.vms,
      counts: sim.counts,
      vcsimStartS: round(vcsimStartS),
      vmRowsStored: vmRows,
      govmomi: {
        objectsPerS: round(floor),
        runsMs: peer.map((s) => round(s.ms)),
        peakRssMb: round(Math.max(...peer.map((s) => s.maxRssKb)) / 1024, 1),
      },
      capped,
      vfleet: ours.map(({ label, sample }) => ({
        label,
        objects: sample.result.objects,
        rowsWritten: sample.result.changed,
        seconds: round(sample.ms / 1000, 2),
        objectsPerS: round((sample.result.objects / sample.ms) * 1000),
        ratio: round(((sample.result.objects / sample.ms) * 1000) / floor, 2),
        peakRssMb: round(sample.maxRssKb / 1024, 1),
        peakHeapMb: round(sample.peakHeapMb, 1),
        batches: sample.result.batches,
      })),
    };
  } finally {
    await pool.end();
    await sim.stop();
  }
}

// Synthetic VM rows in the sync's own row shape (the columns writeSnapshot COPYs). synthetic.ts writes its
// estate straight into the tables, which is the path this part must not take, so rows are made here.
function* syntheticVms(vcenterIndex: number, count: number, changedEvery: number): Generator<Row> {
  const states = ['poweredOn', 'poweredOn', 'poweredOn', 'poweredOff', 'suspended'] as const;
  const apps = ['payments', 'ledger', 'crm', 'billing', 'search', 'auth', 'portal', 'etl', 'kafka', 'sap'];
  for (let i = 0; i < count; i++) {
    const changed = changedEvery > 0 && i % changedEvery === 0;
    const state = states[(i * 7 + vcenterIndex) % states.length] ?? 'poweredOn';
    yield {
      moid: `vm-${i + 1}`,
      name: `prod-${apps[i % apps.length]}-${(i % 97).toString().padStart(2, '0')}-${vcenterIndex}-${i}`,
      power_state: changed ? (state === 'poweredOn' ? 'poweredOff' : 'poweredOn') : state,
      template: i % 50 === 0,
      uuid: `4210${vcenterIndex.toString(16).padStart(4, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      instance_uuid: `5010${vcenterIndex.toString(16).padStart(4, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
      num_cpu: 1 << (i % 4),
      memory_mb: 2048 << (i % 3),
      guest_os: 'ubuntu64Guest',
      guest_full_name: 'Ubuntu Linux (64-bit)',
      ip_address: state === 'poweredOn' ? `10.${vcenterIndex % 256}.${(i >> 8) % 256}.${i % 256}` : null,
      host_moid: `host-${(i % 100) + 1}`,
      cluster_moid: `domain-c${(i % 10) + 7}`,
      resource_pool_moid: `resgroup-${(i % 10) + 1}`,
      datacenter_moid: 'datacenter-2',
      folder_moid: `group-v${(i % 20) + 3}`,
      committed_bytes: (20 + (i % 480)) * 2 ** 30,
    };
  }
}

/** Part b: rows through writeSnapshot (COPY → staging → upsert changed → delete vanished), one transaction per vCenter. */
async function bulkLoad(databaseUrl: string) {
  const total = Number(args['bulk-rows']);
  const vcenters = Math.max(1, Number(args['bulk-vcenters']));
  const per = Math.ceil(total / vcenters);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const ids = Array.from({ length: vcenters }, (_, i) => `bench-bulk-${String(i + 1).padStart(3, '0')}`);
  try {
    await pool.query('DELETE FROM vcenters WHERE id = ANY($1::text[])', [ids]);
    for (const id of ids) {
      await pool.query(
        `INSERT INTO vcenters (id, name, url, username, secret_ref, sync_mode)
         VALUES ($1, $1, 'https://' || $1 || '.example/sdk', 'bench', 'file:bench', 'polling')`,
        [id],
      );
    }
    const pass = async (label: string, changedEvery: number) => {
      const started = performance.now();
      let changed = 0;
      let deleted = 0;
      const perVcenterS: number[] = [];
      for (const [index, id] of ids.entries()) {
        const one = performance.now();
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const counts = await writeSnapshot(client, id, (table) =>
            table === 'vms' ? syntheticVms(index, per, changedEvery) : [],
          );
          await client.query('COMMIT');
          changed += counts.changed;
          deleted += counts.deleted;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        } finally {
          client.release();
        }
        perVcenterS.push(round((performance.now() - one) / 1000, 2));
      }
      const seconds = (performance.now() - started) / 1000;
      console.error(
        `bulk ${label}: ${per * vcenters} rows, ${changed} written, in ${seconds.toFixed(1)} s (per vCenter s: ${perVcenterS.join(' ')})`,
      );
      return {
        label,
        rows: per * vcenters,
        rowsWritten: changed,
        rowsDeleted: deleted,
        seconds: round(seconds, 1),
        rowsPerS: round((per * vcenters) / seconds),
        perVcenterS,
      };
    };
    const first = await pass('first load (empty tables)', 0);
    const reload = await pass('reload, 1 % of rows changed', 100);
    const stored = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM vms WHERE vcenter_id = ANY($1::text[])',
      [ids],
    );
    return {
      vcenters,
      rowsPerVcenter: per,
      vmRowsStored: Number(stored.rows[0]?.n ?? 0),
      passes: [first, reload],
    };
  } finally {
    await pool.end();
  }
}

async function main(): Promise<void> {
  const services = await load<Services>('../../infra/local/services/index.ts');
  const { migrate } = await load<Migrate>('../../shared/inventory/migrate.ts');
  const dir = await mkdtemp(join(tmpdir(), 'vfleet-bench-sync-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const [postgres, redis] = await Promise.all([
      services.startPostgres({ dir: join(dir, 'postgres'), sharedBuffers: '1GB' }),
      services.startRedis({ dir: join(dir, 'redis') }),
    ]);
    stops.push(
      () => postgres.stop(),
      () => redis.stop(),
    );
    await migrate({ connectionString: postgres.url }, { vmPartitions: 16 });

    const sync = args['skip-sync'] ? undefined : await syncThroughput(services, postgres.url, redis.url);
    const bulk = args['skip-bulk'] ? undefined : await bulkLoad(postgres.url);

    const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
    const uptime = (
      await run('uptime').catch(() => ({ stdout: `load ${loadavg().join(' ')}` }))
    ).stdout.trim();
    console.log(`\ninventory sync — ${new Date().toISOString()} — ${machine}\n${uptime}\n`);
    if (sync) {
      console.log(
        `Full sync of ${sync.vms} VMs (${sync.counts.hosts} hosts, ${sync.counts.datastores} datastores); floor: govmomi retrieval ${sync.govmomi.objectsPerS} VMs/s (median of ${sync.govmomi.runsMs.length}; peak RSS ${sync.govmomi.peakRssMb} MB); ${sync.vmRowsStored} VM rows stored\n`,
      );
      console.log(
        '| pass | objects | rows written | s | objects/s | vs govmomi floor | worker peak RSS MB | peak heap MB |',
      );
      console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const r of sync.vfleet) {
        console.log(
          `| ${r.label} | ${r.objects} | ${r.rowsWritten} | ${r.seconds} | ${r.objectsPerS} | ${r.ratio.toFixed(2)}x | ${r.peakRssMb} | ${r.peakHeapMb} |`,
        );
      }
    }
    if (sync && sync.capped.length > 0) {
      console.log('\n| function memory (heap cap) | full sync | s | peak RSS MB |');
      console.log('| --- | --- | ---: | ---: |');
      for (const c of sync.capped) {
        console.log(
          `| ${c.memoryMb} MB (${c.heapMb} MB) | ${c.ok ? 'ok' : `failed: ${c.error}`} | ${c.seconds ?? ''} | ${c.peakRssMb ?? ''} |`,
        );
      }
    }
    if (bulk) {
      console.log(
        `\nBulk load through the staging path: ${bulk.vcenters} vCenters × ${bulk.rowsPerVcenter} VMs, one transaction each\n`,
      );
      console.log('| pass | rows | rows written | s | rows/s |');
      console.log('| --- | ---: | ---: | ---: | ---: |');
      for (const p of bulk.passes)
        console.log(`| ${p.label} | ${p.rows} | ${p.rowsWritten} | ${p.seconds} | ${p.rowsPerS} |`);
    }
    const out = join(root, 'bench', 'results');
    await mkdir(out, { recursive: true });
    const file = join(out, `inventory-sync-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      `${JSON.stringify({ date: new Date().toISOString(), machine, uptime, sync, bulk }, null, 2)}\n`,
    );
    console.log(`\nwrote ${file}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

if (args.worker) await worker();
else await main();
