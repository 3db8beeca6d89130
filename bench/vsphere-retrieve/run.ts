// Benchmark runner — `npm run bench:vsphere`: full VM retrieval (10 properties, maxObjects 100) from vcsim
// at several inventory sizes, vfleet's client against govmomi's (view.Manager + property.Collector) in the
// same run and against the same simulator. Prints a table and writes JSON under bench/results/.
//
// Options: --sizes 1000,10000,50000  --runs 3  --max-objects 100

import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { startVcsim } from '../../infra/local/services/vcsim.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PEER_BIN = join(ROOT, '.vfleet', 'bin', 'vsphere-retrieve-peer');
const WORKER_JS = join(ROOT, '.vfleet', 'bench', 'vsphere-retrieve-worker.mjs');

/** The ten properties of the issue: name, power state, uuid, CPUs, memory, host, pool, guest OS, IP, storage. */
export const PROPS = [
  'name',
  'runtime.powerState',
  'config.uuid',
  'config.hardware.numCPU',
  'config.hardware.memoryMB',
  'runtime.host',
  'resourcePool',
  'config.guestFullName',
  'guest.ipAddress',
  'summary.storage.committed',
];

interface Sample {
  objects: number;
  ms: number;
  maxRssKb: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/**
 * Builds a Go benchmark peer (GOPATH mode against Debian's govmomi 0.24.2) from `pkg` (a directory relative
 * to the repository root) into `.vfleet/bin/<name>`; answers the binary's path. Other benches build their
 * peers with it too.
 */
export async function buildGoPeer(pkg: string, name: string): Promise<string> {
  const bin = join(ROOT, '.vfleet', 'bin', name);
  await mkdir(join(ROOT, '.vfleet', 'bin'), { recursive: true });
  const env = { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '' };
  await run('go', ['build', '-o', bin, `./${pkg}`], { cwd: ROOT, env });
  return bin;
}

/** Builds this bench's retrieval peer; answers the binary's path (reused by the inventory sync bench). */
export const buildPeer = (): Promise<string> =>
  buildGoPeer('bench/vsphere-retrieve/peer', 'vsphere-retrieve-peer');

// The worker runs as an esbuild bundle, as the client runs in Lambda: no TypeScript loader in the
// process whose RSS is measured.
async function buildWorker(): Promise<void> {
  await build({
    entryPoints: [join(ROOT, 'bench', 'vsphere-retrieve', 'retrieve.ts')],
    outfile: WORKER_JS,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
  });
}

async function sample(cmd: string, args: string[], password: string): Promise<Sample> {
  const { stdout } = await run(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, VSPHERE_PASSWORD: password },
    maxBuffer: 1 << 20,
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as Sample;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const sizes = arg('sizes', '1000,10000,50000').split(',').map(Number);
  const runs = Number(arg('runs', '3'));
  const maxObjects = arg('max-objects', '100');
  await Promise.all([buildPeer(), buildWorker()]);
  const rows: Row[] = [];
  for (const size of sizes) {
    const t0 = Date.now();
    const sim = await startVcsim({ vms: size });
    const startupS = (Date.now() - t0) / 1000;
    try {
      const common = [sim.url, sim.username, maxObjects, PROPS.join(',')];
      const ours: Sample[] = [];
      const peer: Sample[] = [];
      for (let r = 0; r < runs; r++) {
        // Alternate who goes first so neither always meets a warmer simulator.
        const order = r % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
        for (const who of order) {
          if (who === 'ours') {
            ours.push(
              await sample(
                process.execPath,
                ['--import', 'tsx', 'bench/vsphere-retrieve/retrieve.ts', ...common],
                sim.password,
              ),
            );
          } else {
            peer.push(
              await sample(
                PEER_BIN,
                [
                  '-url',
                  sim.url,
                  '-user',
                  sim.username,
                  '-max-objects',
                  maxObjects,
                  '-props',
                  PROPS.join(','),
                ],
                sim.password,
              ),
            );
          }
        }
      }
      for (const s of [...ours, ...peer]) {
        if (s.objects !== sim.vms) throw new Error(`retrieved ${s.objects} of ${sim.vms} VMs`);
      }
      const oursRate = median(ours.map((s) => (s.objects / s.ms) * 1000));
      const peerRate = median(peer.map((s) => (s.objects / s.ms) * 1000));
      rows.push({
        vms: sim.vms,
        vcsimStartupS: startupS,
        oursObjectsPerS: Math.round(oursRate),
        govmomiObjectsPerS: Math.round(peerRate),
        ratio: Number((oursRate / peerRate).toFixed(2)),
        oursPeakRssMb: Number((Math.max(...ours.map((s) => s.maxRssKb)) / 1024).toFixed(1)),
        govmomiPeakRssMb: Number((Math.max(...peer.map((s) => s.maxRssKb)) / 1024).toFixed(1)),
        oursMs: ours.map((s) => Math.round(s.ms)),
        govmomiMs: peer.map((s) => Math.round(s.ms)),
      });
      console.log(`${sim.vms} VMs done (vcsim up in ${startupS.toFixed(1)} s)`);
    } finally {
      await sim.stop();
    }
  }

  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.log(`\nvsphere-retrieve — ${new Date().toISOString()} — ${machine}`);
  console.log(`every VM, ${PROPS.length} properties, maxObjects ${maxObjects}, median of ${runs} runs\n`);
  const header = [
    'VMs',
    'vfleet obj/s',
    'govmomi obj/s',
    'ratio',
    'vfleet peak RSS MB',
    'govmomi peak RSS MB',
  ];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => ' ---: ').join('|')}|`);
  for (const r of rows) {
    console.log(
      `| ${r.vms} | ${r.oursObjectsPerS} | ${r.govmomiObjectsPerS} | ${r.ratio.toFixed(2)}x | ${r.oursPeakRssMb} | ${r.govmomiPeakRssMb} |`,
    );
  }
  const dir = join(ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `vsphere-retrieve-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await writeFile(
    file,
    `${JSON.stringify({ date: new Date().toISOString(), machine, props: PROPS, maxObjects: Number(maxObjects), runs, rows }, null, 2)}\n`,
  );
  console.log(`\nwrote ${file}`);
  await recordInDocs(rows, machine, Number(maxObjects), runs);
}

type Row = {
  vms: number;
  oursObjectsPerS: number;
  govmomiObjectsPerS: number;
  ratio: number;
  oursPeakRssMb: number;
  govmomiPeakRssMb: number;
  vcsimStartupS: number;
  oursMs: number[];
  govmomiMs: number[];
};

// Rewrites this bench's section of docs/benchmarks.md (between its markers), leaving other sections alone.
async function recordInDocs(rows: Row[], machine: string, maxObjects: number, runs: number): Promise<void> {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  const start = '<!-- bench:vsphere:start -->';
  const end = '<!-- bench:vsphere:end -->';
  const commit = (
    await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).catch(() => ({ stdout: '?' }))
  ).stdout.trim();
  const table = rows
    .map(
      (r) =>
        `| ${r.vms} | ${r.oursObjectsPerS} | ${r.govmomiObjectsPerS} | ${r.ratio.toFixed(2)}x | ${r.oursPeakRssMb} | ${r.govmomiPeakRssMb} | ${r.vcsimStartupS.toFixed(0)} |`,
    )
    .join('\n');
  const section = `${start}
## vSphere retrieval (\`npm run bench:vsphere\`)

Measured ${new Date().toISOString().slice(0, 10)} at commit ${commit} on ${machine}. Every VM of a vcsim inventory
(the simulator in \`infra/local/vcsim\`, server-side paging) is retrieved with ten properties (${PROPS.join(', ')}), maxObjects ${maxObjects}, by
vfleet's client (\`shared/vsphere\`, run as an esbuild bundle in its own \`node\` process; objects are consumed and dropped as
a sync worker would) and by a Go peer on govmomi 0.24.2 (\`bench/vsphere-retrieve/peer\`: view.Manager container view +
property.Collector RetrievePropertiesEx/ContinueRetrievePropertiesEx, decoded into \`mo.VirtualMachine\` as govc does),
against the same simulator, alternating which goes first; objects/s is the median of ${runs} runs, timed from after login to
DestroyView. Peak RSS is each process's maxRSS. Goal: ratio ≥ 1.0x, and vfleet's peak RSS < 200 MB at 50k VMs.

| VMs | vfleet objects/s | govmomi objects/s | ratio | vfleet peak RSS MB | govmomi peak RSS MB | vcsim start s |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${table}

The simulator shares the machine's cores with both clients, so a client that spends less CPU per object leaves more to
the server; on a busy shared machine the ratio moves a lot between runs (bench/results/ keeps each run's raw times),
so compare several runs before reading much into one. Node's RSS includes about 40 MB of runtime and V8 heap
headroom; memory stays flat with inventory size because pages are parsed as they arrive and dropped once consumed.
${end}`;
  let doc = await readFile(path, 'utf8').catch(
    () => '# Benchmarks\n\nEach section is written by the bench it names; re-run the bench to refresh it.\n',
  );
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  doc =
    a >= 0 && b > a
      ? doc.slice(0, a) + section + doc.slice(b + end.length)
      : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(path, doc);
  console.log(`recorded in ${path}`);
}

// Run only as the bench's entry point: other benches import buildGoPeer / buildPeer from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
