// Bench — cold-start budget: for every topology function, the bundle size (esbuild with the same options
// as the CDK construct, infra/bundling.ts) and the time to import its handler in a fresh `node` process.
// Goal ≤ 1 MB and ≤ 100 ms each. It measures and reports; it does not assert.
//
//   npm run bench:bundles -- [--runs 9] [--write-docs]
//
// Writes bench/results/bundles.json; --write-docs also replaces this bench's section of docs/benchmarks.md.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { esbuildOptions } from '../infra/bundling.ts';
import { topology } from '../infra/topology.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(root, 'bench/results');
const bundlesDir = path.join(resultsDir, 'bundles');
const budgetBytes = 1024 * 1024;
const budgetMs = 100;

const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 9;
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const writeDocs = args.includes('--write-docs');

/**
 * What a deployed function sees at start-up: handlers read configuration at import or first use, so the
 * import must not fail for want of a variable. Values are inert (nothing is contacted during import).
 */
const lambdaLikeEnv: Record<string, string> = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  POWERTOOLS_SERVICE_NAME: 'vfleet',
  POWERTOOLS_METRICS_NAMESPACE: 'vfleet',
  LOG_LEVEL: 'INFO',
  AUTH_ISSUER: 'https://auth.example.com/',
  AUTH_AUDIENCE: 'vfleet-api',
  AUTH_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
  REDIS_URL: 'rediss://127.0.0.1:6379',
  REDIS_CLUSTER: 'true',
  PG_WRITER_HOST: '127.0.0.1',
  PG_READER_HOST: '127.0.0.1',
  PG_PORT: '5432',
  PG_DATABASE: 'vfleet',
  PG_USER: 'vfleet',
  PG_IAM_AUTH: 'true',
  PG_SSL: 'true',
  WS_MANAGEMENT_ENDPOINT: 'https://example.execute-api.eu-west-1.amazonaws.com/dev',
  VCENTER_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bench',
  BLOB_BUCKET: 'bench',
};

/** Imports the bundle, prints the milliseconds the import took, and exits (open handles must not hold it). */
const probe =
  'const t0 = performance.now(); await import(process.argv[1]); ' +
  'process.stdout.write(String(performance.now() - t0)); process.exit(0);';

function importMs(file: string, sourceMaps: boolean): number {
  const flags = sourceMaps ? ['--enable-source-maps'] : [];
  const child = spawnSync(
    process.execPath,
    [...flags, '--input-type=module', '-e', probe, pathToFileURL(file).href],
    {
      env: lambdaLikeEnv,
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  if (child.status !== 0) throw new Error(`importing ${file} failed: ${child.stderr || child.error}`);
  return Number(child.stdout);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

interface Result {
  readonly function: string;
  readonly entry: string;
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
  readonly buildMs: number;
  /** Median import time, plain `node`. */
  readonly importMs: number;
  /** Median import time with `--enable-source-maps`, as deployed (NODE_OPTIONS). */
  readonly importMsSourceMaps: number;
  readonly importRunsMs: readonly number[];
  readonly withinBudget: boolean;
}

rmSync(bundlesDir, { recursive: true, force: true });
mkdirSync(bundlesDir, { recursive: true });

const results: Result[] = [];
for (const [name, spec] of Object.entries(topology.functions)) {
  const outfile = path.join(bundlesDir, name, 'index.mjs');
  const t0 = performance.now();
  await build(esbuildOptions(path.join(root, spec.entry), outfile));
  const buildMs = performance.now() - t0;
  // One untimed import warms the OS file cache, as a Lambda's code is already on local disk at init.
  importMs(outfile, true);
  const plain: number[] = [];
  const mapped: number[] = [];
  for (let i = 0; i < runs; i++) {
    plain.push(importMs(outfile, false));
    mapped.push(importMs(outfile, true));
  }
  const bundleBytes = statSync(outfile).size;
  const result: Result = {
    function: name,
    entry: spec.entry,
    bundleBytes,
    sourceMapBytes: statSync(`${outfile}.map`).size,
    buildMs: Math.round(buildMs),
    importMs: round1(median(plain)),
    importMsSourceMaps: round1(median(mapped)),
    importRunsMs: mapped.map(round1),
    withinBudget: bundleBytes <= budgetBytes && median(mapped) <= budgetMs,
  };
  results.push(result);
  process.stderr.write(`${name}: ${kb(bundleBytes)} KB, ${result.importMsSourceMaps} ms\n`);
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

const header =
  '| function | bundle KB | source map KB | import ms (median) | import ms, --enable-source-maps (median) | ≤ 1 MB | ≤ 100 ms |';
const table = [
  header,
  '| --- | ---: | ---: | ---: | ---: | --- | --- |',
  ...results.map(
    (r) =>
      `| ${r.function} | ${kb(r.bundleBytes)} | ${kb(r.sourceMapBytes)} | ${r.importMs} | ${r.importMsSourceMaps} | ` +
      `${r.bundleBytes <= budgetBytes ? 'yes' : 'NO'} | ${r.importMsSourceMaps <= budgetMs ? 'yes' : 'NO'} |`,
  ),
].join('\n');

writeFileSync(
  path.join(resultsDir, 'bundles.json'),
  `${JSON.stringify({ date, commit, machine, runs, budget: { bytes: budgetBytes, ms: budgetMs }, results }, null, 2)}\n`,
);
process.stdout.write(`${table}\n\n${runs} runs per function; results in bench/results/bundles.json\n`);

if (writeDocs) {
  const docs = path.join(root, 'docs/benchmarks.md');
  const start = '<!-- bench:bundles:start -->';
  const end = '<!-- bench:bundles:end -->';
  const section = [
    start,
    '## Cold-start budget (`npm run bench:bundles`)',
    '',
    `Measured ${date.slice(0, 10)} at commit ${commit} on ${machine.cores} cores (${machine.cpu}), ` +
      `${machine.memoryGb} GB, Node ${machine.node}, esbuild ${machine.esbuild}; 1-minute load average ` +
      `${machine.loadAverage1m} when the run ended (other work inflates import times). Each function is bundled with ` +
      'the options the CDK construct uses (`infra/bundling.ts`: ESM, node20, minified, AWS SDK bundled) and its ' +
      `handler imported in a fresh \`node\` process ${runs} times after one warm-up; the table shows the median. ` +
      'Goal: ≤ 1 MB and ≤ 100 ms per function (a 1 MB bundle initialises in about 0.3 s on Lambda). Lambda ' +
      'runs with `--enable-source-maps`, so that column is the one the budget applies to.',
    '',
    table,
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
