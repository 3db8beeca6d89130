// Bench — cold-start budget and the shared-deps layer, before and after in one run: for every topology
// function, (before) today's full bundle with every dependency inside, and (after) the function's own code
// with the layer's packages external, importing them from the layer (layers/shared-deps) laid out as Lambda
// mounts it. Both are bundled with the CDK construct's options (infra/bundling.ts). It reports the upload a
// code-only change costs (the layer's asset does not change, so it is not uploaded) and each function's
// cold import time, median of fresh `node` processes. It measures and reports; it does not assert.
//
//   npm run bench:bundles -- [--runs 9] [--write-docs]
//
// Lambda puts the layer at /opt/nodejs/node_modules, on NODE_PATH, which its Node 18+ runtimes search for ES
// module imports too. Plain Node's ES module resolver ignores NODE_PATH, so the fake tree links
// var/task/node_modules to opt/nodejs/node_modules: the same files resolve from the same layer directory
// (symlinks resolve to their real path), without a loader hook whose own start-up would skew the timings.
//
// Writes bench/results/bundles.json; --write-docs also replaces this bench's section of docs/benchmarks.md.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { build } from 'esbuild';
import { esbuildOptions } from '../infra/bundling.ts';
import { topology } from '../infra/topology.ts';
import { buildLayer } from '../layers/shared-deps/build.ts';
import { lambdaLikeEnv } from '../test/setup/lambda-env.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(root, 'bench/results');
const budgetMs = 100;
/** Goals of the layer: a code-only deploy uploads ≥ 10x less; no import slower by > max(10 %, 10 ms). */
const uploadFactorGoal = 10;
const slowerPctGoal = 10;
const slowerMsGoal = 10;

const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 9;
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const writeDocs = args.includes('--write-docs');

/**
 * Imports the bundle, prints the milliseconds the import took (wall clock, and CPU of the whole process:
 * the second moves less when other work shares the machine), and exits (open handles must not hold it).
 */
const probe =
  'const t0 = performance.now(); const c0 = process.cpuUsage(); await import(process.argv[1]); ' +
  'const c = process.cpuUsage(c0); ' +
  'process.stdout.write(JSON.stringify([performance.now() - t0, (c.user + c.system) / 1000])); process.exit(0);';

/** Import time of `file` in a fresh process, with source maps on as deployed (NODE_OPTIONS). */
function importMs(file: string, nodePath: string): { wallMs: number; cpuMs: number } {
  const child = spawnSync(
    process.execPath,
    ['--enable-source-maps', '--input-type=module', '-e', probe, pathToFileURL(file).href],
    {
      env: { ...lambdaLikeEnv, NODE_PATH: nodePath },
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  if (child.status !== 0) throw new Error(`importing ${file} failed: ${child.stderr || child.error}`);
  const [wallMs, cpuMs] = JSON.parse(child.stdout) as [number, number];
  return { wallMs, cpuMs };
}

/** Bytes of every file under `dir`, raw and deflated (a zip asset is about the deflated sum). */
function sizeOf(dir: string): { bytes: number; deflatedBytes: number; files: number } {
  let bytes = 0;
  let deflatedBytes = 0;
  let files = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const content = readFileSync(file);
    bytes += content.length;
    deflatedBytes += deflateRawSync(content).length;
    files++;
  }
  return { bytes, deflatedBytes, files };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

interface Variant {
  /** The function's asset: bundle, source map and copied bundleFiles. */
  readonly assetBytes: number;
  readonly assetDeflatedBytes: number;
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
  /** Median import time (wall clock) with `--enable-source-maps`. */
  readonly importMs: number;
  readonly importRunsMs: readonly number[];
  /** Median CPU time of the importing process over the import. */
  readonly importCpuMs: number;
  /** Fastest run: the least disturbed by other work on a shared machine. */
  readonly importMinMs: number;
}

interface Result {
  readonly function: string;
  readonly entry: string;
  /** Whether the function ships with the layer (`layer` in the topology); without it, after = before. */
  readonly layer: boolean;
  readonly before: Variant;
  readonly after: Variant;
  /** Median of the paired (after − before) import times, ms (negative: faster with the layer). */
  readonly importDeltaMs: number;
  /** The slowdown the goal allows this function: max(10 % of before, 10 ms). */
  readonly allowedSlowerMs: number;
  readonly importGoalMet: boolean;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'vfleet-bench-bundles-'));
const beforeDir = path.join(tmp, 'before');
const optDir = path.join(tmp, 'opt');
const taskDir = path.join(tmp, 'var/task');
const layerModules = path.join(optDir, 'nodejs/node_modules');
const layer = await buildLayer(optDir);
const layerSize = sizeOf(optDir);
mkdirSync(taskDir, { recursive: true });
symlinkSync(layerModules, path.join(taskDir, 'node_modules'), 'dir');
process.stderr.write(`layer: ${layer.files.length} files, ${kb(layer.bytes)} KB\n`);

/** Bundles one function into `dir` (index.mjs, its map, its bundleFiles) and returns the file. */
async function bundle(entry: string, bundleFiles: readonly string[], dir: string, withLayer: boolean) {
  const outfile = path.join(dir, 'index.mjs');
  await build(esbuildOptions(path.join(root, entry), outfile, { layer: withLayer }));
  for (const files of bundleFiles)
    cpSync(path.join(root, files), path.join(dir, path.basename(files)), { recursive: true });
  return outfile;
}

function variant(file: string, times: readonly { wallMs: number; cpuMs: number }[]): Variant {
  const size = sizeOf(path.dirname(file));
  return {
    assetBytes: size.bytes,
    assetDeflatedBytes: size.deflatedBytes,
    bundleBytes: statSync(file).size,
    sourceMapBytes: statSync(`${file}.map`).size,
    importMs: round1(median(times.map((t) => t.wallMs))),
    importRunsMs: times.map((t) => round1(t.wallMs)),
    importCpuMs: round1(median(times.map((t) => t.cpuMs))),
    importMinMs: round1(Math.min(...times.map((t) => t.wallMs))),
  };
}

const results: Result[] = [];
for (const [name, spec] of Object.entries(topology.functions)) {
  const beforeFile = await bundle(spec.entry, spec.bundleFiles ?? [], path.join(beforeDir, name), false);
  const afterFile = await bundle(
    spec.entry,
    spec.bundleFiles ?? [],
    path.join(taskDir, name),
    spec.layer ?? true,
  );
  // One untimed import each warms the OS file cache, as a Lambda's code is already on local disk at init.
  importMs(beforeFile, layerModules);
  importMs(afterFile, layerModules);
  const before: { wallMs: number; cpuMs: number }[] = [];
  const after: { wallMs: number; cpuMs: number }[] = [];
  // Interleaved, so drift in the machine's load affects both alike.
  for (let i = 0; i < runs; i++) {
    before.push(importMs(beforeFile, layerModules));
    after.push(importMs(afterFile, layerModules));
  }
  const b = variant(beforeFile, before);
  const a = variant(afterFile, after);
  const allowedSlowerMs = round1(Math.max((b.importMs * slowerPctGoal) / 100, slowerMsGoal));
  // The median of the paired differences (each after-run against the before-run just before it): load that
  // drifts during the run moves both members of a pair alike, where a difference of medians takes it in.
  const importDeltaMs = round1(median(after.map((t, i) => t.wallMs - before[i]!.wallMs)));
  results.push({
    function: name,
    entry: spec.entry,
    layer: spec.layer ?? true,
    before: b,
    after: a,
    importDeltaMs,
    allowedSlowerMs,
    importGoalMet: importDeltaMs <= allowedSlowerMs && a.importMs <= budgetMs,
  });
  process.stderr.write(
    `${name}: ${kb(b.assetBytes)} → ${kb(a.assetBytes)} KB, ${b.importMs} → ${a.importMs} ms\n`,
  );
}
rmSync(tmp, { recursive: true, force: true });

const sum = (pick: (r: Result) => number) => results.reduce((total, r) => total + pick(r), 0);
const upload = {
  beforeBytes: sum((r) => r.before.assetBytes),
  beforeDeflatedBytes: sum((r) => r.before.assetDeflatedBytes),
  afterBytes: sum((r) => r.after.assetBytes),
  afterDeflatedBytes: sum((r) => r.after.assetDeflatedBytes),
  layerBytes: layerSize.bytes,
  layerDeflatedBytes: layerSize.deflatedBytes,
  layerFiles: layerSize.files,
};
const factor = Math.round((upload.beforeDeflatedBytes / upload.afterDeflatedBytes) * 10) / 10;
const factorRaw = Math.round((upload.beforeBytes / upload.afterBytes) * 10) / 10;
const importGoalMet = results.every((r) => r.importGoalMet);

/** "met for every function", or the functions that miss it. */
function listOrAll(missed: readonly Result[]): string {
  return missed.length === 0
    ? 'met for every function'
    : `NOT met for ${missed.map((r) => r.function).join(', ')}`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
function kb(bytes: number): string {
  return (bytes / 1024).toFixed(1);
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  esbuild: (await import('esbuild')).version,
  platform: `${os.platform()} ${os.arch()}`,
  // Other work on the machine inflates import times; the load says how much to trust a run.
  loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
};
const date = new Date().toISOString();
const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
})();

const table = [
  '| function | layer | before: asset KB | after: asset KB | before: import ms | after: import ms | Δ ms | allowed Δ ms | Δ within | after ≤ 100 ms | CPU ms before → after | fastest ms before → after |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |',
  ...results.map(
    (r) =>
      `| ${r.function} | ${r.layer ? 'yes' : 'no'} | ${kb(r.before.assetBytes)} | ${kb(r.after.assetBytes)} | ${r.before.importMs} | ` +
      `${r.after.importMs} | ${r.importDeltaMs > 0 ? '+' : ''}${r.importDeltaMs} | ${r.allowedSlowerMs} | ` +
      `${r.importDeltaMs <= r.allowedSlowerMs ? 'yes' : 'NO'} | ${r.after.importMs <= budgetMs ? 'yes' : 'NO'} | ${r.before.importCpuMs} → ${r.after.importCpuMs} | ` +
      `${r.before.importMinMs} → ${r.after.importMinMs} |`,
  ),
  `| **all ${results.length}, code-only change** | | **${kb(upload.beforeBytes)}** | **${kb(upload.afterBytes)}** | | | | | | | | |`,
].join('\n');
const summary = [
  `Upload for a code-only change (every function asset; the layer is unchanged, so not uploaded): ` +
    `${kb(upload.beforeBytes)} KB → ${kb(upload.afterBytes)} KB raw (${factorRaw}x), ` +
    `${kb(upload.beforeDeflatedBytes)} KB → ${kb(upload.afterDeflatedBytes)} KB deflated (${factor}x); ` +
    `goal ≥ ${uploadFactorGoal}x: ${factor >= uploadFactorGoal ? 'met' : 'NOT met'}.`,
  `The layer: ${upload.layerFiles} files, ${kb(upload.layerBytes)} KB raw, ${kb(upload.layerDeflatedBytes)} KB ` +
    'deflated, uploaded only when a dependency changes.',
  `Cold import, no function slower with the layer than max(10 %, 10 ms): ${listOrAll(results.filter((r) => r.importDeltaMs > r.allowedSlowerMs))}; ` +
    `each ≤ ${budgetMs} ms with the layer: ${listOrAll(results.filter((r) => r.after.importMs > budgetMs))} ` +
    `(before the layer, over ${budgetMs} ms already: ${
      results
        .filter((r) => r.before.importMs > budgetMs)
        .map((r) => r.function)
        .join(', ') || 'none'
    }).`,
].join('\n');

mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  path.join(resultsDir, 'bundles.json'),
  `${JSON.stringify(
    {
      date,
      commit,
      machine,
      runs,
      goals: {
        uploadFactor: uploadFactorGoal,
        slowerPct: slowerPctGoal,
        slowerMs: slowerMsGoal,
        importMs: budgetMs,
      },
      upload: { ...upload, factor, factorRaw, goalMet: factor >= uploadFactorGoal },
      importGoalMet,
      layer: { versions: layer.versions, files: layer.files },
      results,
    },
    null,
    2,
  )}\n`,
);
process.stdout.write(
  `${table}\n\n${summary}\n\n${runs} runs per function; results in bench/results/bundles.json\n`,
);

if (writeDocs) {
  const docs = path.join(root, 'docs/benchmarks.md');
  const start = '<!-- bench:bundles:start -->';
  const end = '<!-- bench:bundles:end -->';
  const section = [
    start,
    '## Cold-start budget and the shared-deps layer (`npm run bench:bundles`)',
    '',
    `Measured ${date.slice(0, 10)} at commit ${commit} on ${machine.cores} cores (${machine.cpu}), ` +
      `${machine.memoryGb} GB, Node ${machine.node}, esbuild ${machine.esbuild}; 1-minute load average ` +
      `${machine.loadAverage1m} when the run ended (other work inflates import times). In one run, each function ` +
      'is bundled twice with the options the CDK construct uses (`infra/bundling.ts`: ESM, node20, minified, ' +
      'source maps): **before**, every dependency inside (the bundles shipped until the layer); **after**, as it ' +
      "ships: its own code with the layer's packages external, importing them from `layers/shared-deps` built " +
      'into a fake `/opt/nodejs/node_modules`, or, for the functions the topology marks `layer: false` (column ' +
      '"layer"), everything bundled as before. Each handler is imported in a fresh `node --enable-source-maps` process ' +
      `${runs} times per variant after one warm-up, before and after interleaved; the import columns show the ` +
      'median wall-clock time, Δ the median of the paired differences (each after-run against the before-run ' +
      'beside it; the goal applies to it and to the median after), the CPU column the median CPU time of the process and the ' +
      'last one the fastest run, both less moved by other work on a shared machine. An asset is what CDK zips ' +
      'and uploads for the function (bundle, source map, copied files); deflated sizes approximate the zip.',
    '',
    table,
    '',
    summary.split('\n').join('\n\n'),
    end,
  ].join('\n');
  let text: string;
  try {
    text = readFileSync(docs, 'utf8');
  } catch {
    text = '# Benchmarks\n\nEach section is written by the bench it names; re-run the bench to refresh it.\n';
  }
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text =
    from >= 0 && to > from
      ? `${text.slice(0, from)}${section}${text.slice(to + end.length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  mkdirSync(path.dirname(docs), { recursive: true });
  writeFileSync(docs, text);
  process.stdout.write('docs/benchmarks.md updated\n');
}
