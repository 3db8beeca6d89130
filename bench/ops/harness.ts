// Benchmarks — shared harness of bench/ops: starts the project's own Redis, PostgreSQL, DynamoDB Local and a
// vcsim on loopback, the local runtime with the ops settings, registers the vcsim through the ops sessions
// override, and writes a bench's table into its own section of docs/benchmarks.md. Loopback only.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import { backingServices, type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { startDynamoDb, startPostgres, startRedis, startVcsim } from '../../infra/local/services/index.ts';
import type { RunningService } from '../../infra/local/services/types.ts';
import type { VcsimOptions, VcsimService } from '../../infra/local/services/vcsim.ts';
import type { Topology } from '../../infra/topology.ts';
import { StaticVcenterSessions, setVcenterSessions } from '../../shared/ops/sessions.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';

export const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

export interface BenchEnv {
  readonly runtime: LocalRuntime;
  readonly vcsim: VcsimService;
  readonly vcenterId: string;
  /** VM moids of the vcsim inventory. */
  readonly vms: readonly string[];
  readonly viewerToken: string;
  readonly operatorToken: string;
  readonly postgresUrl: string;
  readonly redisUrl: string;
  stop(): Promise<void>;
}

/** Starts everything a bench needs; `env` reaches the functions (ESXI_*, *_CACHE_TTL …). */
export async function startBenchEnv(options: {
  vcsim: VcsimOptions;
  env?: Record<string, string>;
  topology?: Topology;
  /** Called with the PostgreSQL URL and the vcsim's VM moids before the runtime starts (schema, data). */
  prepareDb?: (url: string, vms: readonly string[]) => Promise<void>;
}): Promise<BenchEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'vfleet-bench-ops-'));
  const services: RunningService[] = [];
  const track = <T extends RunningService>(service: T) => {
    services.push(service);
    return service;
  };
  let runtime: LocalRuntime | undefined;
  const stop = async () => {
    setVcenterSessions(undefined);
    await runtime?.stop();
    await VsphereClient.closeAll();
    await Promise.allSettled(services.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [redis, postgres, dynamodb, vcsim] = await Promise.all([
      startRedis({ dir: join(dir, 'redis') }).then(track),
      startPostgres({ dir: join(dir, 'postgres') }).then(track),
      startDynamoDb({ dir: join(dir, 'dynamodb') }).then(track),
      startVcsim(options.vcsim).then(track),
    ]);
    const vcenterId = 'vc-bench';
    setVcenterSessions(
      new StaticVcenterSessions().register(vcenterId, {
        url: vcsim.url,
        username: vcsim.username,
        password: vcsim.password,
        insecure: true,
      }),
    );
    const vms = await listVmMoids(vcsim);
    await options.prepareDb?.(postgres.url, vms);
    const issuer = await loadDevIssuer(join(dir, 'issuer'));
    runtime = await startLocalRuntime({
      root,
      issuer,
      ...(options.topology ? { topology: options.topology } : {}),
      services: backingServices({ redis, postgres, dynamodb }),
      env: {
        BLOB_DIR: join(dir, 'blobs'),
        LOG_LEVEL: 'ERROR',
        // One token plays thousands of users: the per-principal buckets (shared/ratelimit) would refuse them.
        RATE_LIMIT_DEFAULT: '60000/10000',
        ...options.env,
      },
    });
    return {
      runtime,
      vcsim,
      vcenterId,
      vms,
      viewerToken: await issuer.mint(['viewer']),
      operatorToken: await issuer.mint(['operator']),
      postgresUrl: postgres.url,
      redisUrl: redis.url,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `p` percentile (0..100) of `values`, nearest rank. */
/** The managed object ids of every VM a simulator holds, through a session of its own. */
export async function listVmMoids(vcsim: VcsimService): Promise<string[]> {
  const client = await VsphereClient.connect({
    url: vcsim.url,
    username: vcsim.username,
    password: vcsim.password,
    insecure: true,
    pooled: false,
  });
  try {
    const vms: string[] = [];
    for await (const vm of client.retrieve({
      types: ['VirtualMachine'],
      properties: { VirtualMachine: ['name'] },
    })) {
      vms.push(vm.moid);
    }
    return vms;
  } finally {
    await client.close();
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

/** One line naming the machine, the load and the commit, for the docs. */
export async function machineLine(shares: string): Promise<string> {
  const commit = (
    await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).catch(() => ({ stdout: '?' }))
  ).stdout.trim();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return (
    `Measured ${new Date().toISOString().slice(0, 10)} at commit ${commit} on ${cpus().length} cores (${cpu}), ` +
    `${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; 1-minute load average ${loadavg()[0]?.toFixed(2)} ` +
    `when the run ended. ${shares} share those cores.`
  );
}

/** Writes `body` between the bench's markers in docs/benchmarks.md and its JSON under bench/results/. */
export async function record(
  name: string,
  title: string,
  body: string,
  raw: unknown,
  shares = 'vcsim, Redis, PostgreSQL, DynamoDB Local, the local runtime (every handler in one process) and the load',
): Promise<void> {
  const resultsDir = join(root, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  await writeFile(join(resultsDir, `${name}-${stamp}.json`), `${JSON.stringify(raw, null, 2)}\n`);
  const path = join(root, 'docs', 'benchmarks.md');
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n### ${title}\n\n${await machineLine(shares)}\n\n${body.trim()}\n${end}`;
  let doc = await readFile(path, 'utf8');
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) doc = doc.slice(0, a) + section + doc.slice(b + end.length);
  else {
    // The ops benches share one heading; each writes its own sub-section under it.
    const heading = '## Interactive VM operations (`npm run bench:ops:*`)';
    if (!doc.includes(heading)) doc = `${doc.trimEnd()}\n\n${heading}\n`;
    doc = `${doc.trimEnd()}\n\n${section}\n`;
  }
  await writeFile(path, doc);
  console.log(`recorded in ${path}`);
}

/** Fetch with a bearer token; resolves with status, headers and the body's size. */
export async function get(
  url: string,
  token: string,
): Promise<{ status: number; headers: Headers; bytes: number }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.arrayBuffer();
  return { status: res.status, headers: res.headers, bytes: body.byteLength };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
