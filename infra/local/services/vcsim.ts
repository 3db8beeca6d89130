// Local runtime — secondary adapter: a project-started simulated vCenter (govmomi's vcsim, extended by the Go
// program in infra/local/vcsim) on a loopback port, for `npm run dev`, the integration tests and benches.
// The binary is built once per source hash into .vfleet/bin/vcsim (GOPATH mode, Debian's govmomi 0.24.2).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ManagedService, spawnService, waitUntilReady } from './process.ts';

const run = promisify(execFile);

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCE_DIR = join(REPO_ROOT, 'infra', 'local', 'vcsim');
const BIN_DIR = join(REPO_ROOT, '.vfleet', 'bin');

/** Inventory size and behaviour of a simulated vCenter. Every field is optional. */
export interface VcsimOptions {
  /**
   * About this many VMs in total. The simulator places the same number of VMs on each standalone host and in
   * each cluster, so the result is rounded up to a multiple of `datacenters × (standaloneHosts + clusters)`;
   * {@link VcsimService.counts} has the exact figure. Overrides `vmsPerContainer`.
   */
  readonly vms?: number;
  /** VMs per standalone host and per cluster (`-vm`). @default 2 */
  readonly vmsPerContainer?: number;
  /** @default 1 */
  readonly datacenters?: number;
  /** Clusters per datacenter. @default 1 */
  readonly clusters?: number;
  /** Hosts per cluster. @default 3 */
  readonly hostsPerCluster?: number;
  /** Standalone hosts per datacenter. @default 1 */
  readonly standaloneHosts?: number;
  /** Datastores per datacenter. @default 1 */
  readonly datastores?: number;
  /** Distributed portgroups per datacenter (the DVS adds one uplink portgroup when > 0). @default 1 */
  readonly portgroups?: number;
  /** Child resource pools per cluster (each cluster also has its root pool). @default 0 */
  readonly poolsPerCluster?: number;
  /** VMs turned into templates (powered off, no resource pool), spread evenly over the inventory. @default 0 */
  readonly templates?: number;
  /**
   * Extra logins (user name → password and the datacenter names it may see): their sessions see only those
   * datacenters and what is inside them, as a vCenter user with permissions on them would.
   */
  readonly users?: Readonly<
    Record<string, { readonly password: string; readonly datacenters: readonly string[] }>
  >;
  /** @default 'user' */
  readonly username?: string;
  /** @default 'pass' */
  readonly password?: string;
  /**
   * Injected delays in ms per SOAP method name (`RetrievePropertiesEx`, `AcquireTicket`, …); `'*'` delays
   * every SOAP call and `screen` delays `GET /screen`.
   */
  readonly delays?: Readonly<Record<string, number>>;
  /** Objects per RetrievePropertiesEx page when the client sets no maxObjects (0: no cut). @default 100 */
  readonly pageSize?: number;
  /** Lifetime of an unread continuation token. @default 600_000 */
  readonly pageTtlMs?: number;
  /** Sessions idle this long expire (0: never). @default 0 */
  readonly sessionIdleTimeoutMs?: number;
  /** Listen on this 127.0.0.1 port (to restart on the same port); default: a free port the kernel picks. */
  readonly port?: number;
  /** Directory for `vcsim.log` (kept after stop); default: inside the instance's temporary directory. */
  readonly dir?: string;
  /** @default 30 s + 5 ms per VM */
  readonly readyTimeoutMs?: number;
}

/** Exact inventory counts, read back from the running simulator. */
export interface VcsimCounts {
  readonly datacenters: number;
  readonly clusters: number;
  readonly hosts: number;
  readonly vms: number;
  readonly templates: number;
  readonly datastores: number;
  /** DistributedVirtualPortgroup objects, including each DVS's uplink portgroup. */
  readonly portgroups: number;
  /** Standard networks ("VM Network"). */
  readonly networks: number;
  readonly resourcePools: number;
  readonly folders: number;
}

/** Counters of the fixture's extensions (`GET /_fixture/stats`). */
export interface VcsimStats {
  readonly screen: {
    readonly calls: number;
    readonly served: number;
    readonly unauthorized: number;
    readonly notFound: number;
    readonly inFlight: number;
    readonly maxInFlight: number;
    /** Smallest gap between two screen request starts; null before the second request. */
    readonly minGapMs: number | null;
  };
  readonly soap: {
    readonly calls: number;
    readonly inFlight: number;
    readonly maxInFlight: number;
    readonly byMethod: Readonly<Record<string, number>>;
  };
  /** webmks/mks tickets handed out. */
  readonly tickets: number;
  /** Live SOAP sessions. */
  readonly sessions: number;
  readonly pages: {
    readonly issued: number;
    readonly resumed: number;
    readonly canceled: number;
    readonly expired: number;
    readonly open: number;
  };
  /** WaitForUpdatesEx answers of the fixture's collectors. */
  readonly updates: {
    /** Update sets answered (each with a new version). */
    readonly sets: number;
    /** Sets cut at maxObjectUpdates. */
    readonly truncated: number;
    /** Sets served from the rest of a truncated one. */
    readonly continued: number;
    /** Answers sent again to a repeated request version. */
    readonly resent: number;
    /** InvalidCollectorVersion faults. */
    readonly invalidVersions: number;
  };
}

/** A running simulated vCenter; `url` is `https://127.0.0.1:<port>/sdk` (self-signed certificate). */
export interface VcsimService extends ManagedService {
  readonly username: string;
  readonly password: string;
  /** `https://127.0.0.1:<port>`, where `/screen` and `/_fixture/*` live. */
  readonly baseUrl: string;
  readonly statsUrl: string;
  readonly screenUrl: string;
  /** SHA-1 thumbprint of the server certificate, `AA:BB:…`. */
  readonly thumbprint: string;
  /** Page size applied when a client sets no maxObjects. */
  readonly pageSize: number;
  readonly counts: VcsimCounts;
  /** Same as `counts.vms`. */
  readonly vms: number;
  /** The `$TMPDIR` of the simulator, removed by stop(). */
  readonly tmpDir: string;
  /** Reads the fixture counters. */
  stats(): Promise<VcsimStats>;
  /** Zeroes the fixture counters. */
  resetStats(): Promise<void>;
  /** Ends every SOAP session (a vCenter restart or an admin's "terminate session"); answers how many. */
  terminateSessions(): Promise<number>;
  /** The live sessions' keys (`vmware_soap_session` cookie values); the tests plant them as secrets. */
  sessionKeys(): Promise<string[]>;
}

interface ReadyLine {
  url: string;
  username: string;
  password: string;
  thumbprint: string;
  statsUrl: string;
  screenUrl: string;
  pageSize: number;
  counts: VcsimCounts;
}

async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = (await readdir(SOURCE_DIR)).filter((name) => name.endsWith('.go')).sort();
  for (const name of files) {
    hash
      .update(name)
      .update('\0')
      .update(await readFile(join(SOURCE_DIR, name)))
      .update('\0');
  }
  return hash.digest('hex');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

let building: Promise<string> | undefined;

/**
 * Builds the fixture binary unless `.vfleet/bin/vcsim` already matches the sources, and answers its path.
 * Safe when several processes build at once: each builds to a temporary name and renames it into place.
 */
export function ensureVcsimBinary(): Promise<string> {
  building ??= buildVcsim().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function buildVcsim(): Promise<string> {
  const binary = join(BIN_DIR, 'vcsim');
  const stamp = join(BIN_DIR, 'vcsim.sha256');
  const hash = await sourceHash();
  const built = await readFile(stamp, 'utf8').catch(() => '');
  if (built.trim() === hash && (await exists(binary))) return binary;

  await mkdir(BIN_DIR, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpBinary = `${binary}.${suffix}.tmp`;
  const gopath = process.env.VFLEET_GOPATH ?? '/usr/share/gocode';
  const env: NodeJS.ProcessEnv = { ...process.env, GOPATH: gopath, GO111MODULE: 'off', GOFLAGS: '' };
  // Go needs a build cache; without HOME (some CI shells) it has no default, so keep one under .vfleet.
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(REPO_ROOT, '.vfleet', 'go-cache');
  try {
    await run('go', ['build', '-o', tmpBinary, './infra/local/vcsim'], {
      cwd: REPO_ROOT,
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    await rm(tmpBinary, { force: true });
    const detail = error as { code?: unknown; stderr?: string; message?: string };
    if (detail.code === 'ENOENT') {
      throw new Error(
        'vcsim: the Go toolchain is missing. Install it with: sudo apt-get install -y golang-go golang-github-vmware-govmomi-dev',
      );
    }
    throw new Error(
      `vcsim: go build failed (GOPATH=${gopath}; needs Debian's golang-github-vmware-govmomi-dev):\n${detail.stderr ?? detail.message}`,
    );
  }
  await rename(tmpBinary, binary);
  const tmpStamp = `${stamp}.${suffix}.tmp`;
  await writeFile(tmpStamp, `${hash}\n`);
  await rename(tmpStamp, stamp);
  return binary;
}

function flagArgs(options: VcsimOptions, readyFile: string): string[] {
  const args = ['-listen', `127.0.0.1:${options.port ?? 0}`, '-ready-file', readyFile];
  const numeric: [string, number | undefined][] = [
    ['-dc', options.datacenters],
    ['-cluster', options.clusters],
    ['-host', options.hostsPerCluster],
    ['-standalone-host', options.standaloneHosts],
    ['-vm', options.vmsPerContainer],
    ['-vms', options.vms],
    ['-ds', options.datastores],
    ['-pg', options.portgroups],
    ['-pool', options.poolsPerCluster],
    ['-templates', options.templates],
    ['-page-size', options.pageSize],
  ];
  for (const [flag, value] of numeric) {
    if (value !== undefined) args.push(flag, String(Math.trunc(value)));
  }
  if (options.pageTtlMs !== undefined) args.push('-page-ttl', `${Math.trunc(options.pageTtlMs)}ms`);
  if (options.sessionIdleTimeoutMs !== undefined) {
    args.push('-session-idle-timeout', `${Math.trunc(options.sessionIdleTimeoutMs)}ms`);
  }
  if (options.username !== undefined) args.push('-username', options.username);
  if (options.password !== undefined) args.push('-password', options.password);
  const users = Object.entries(options.users ?? {});
  if (users.length > 0) {
    args.push(
      '-users',
      users.map(([name, u]) => `${name}:${u.password}:${u.datacenters.join(',')}`).join(';'),
    );
  }
  const delays = Object.entries(options.delays ?? {});
  if (delays.length > 0)
    args.push('-delay', delays.map(([name, ms]) => `${name}=${Math.trunc(ms)}`).join(','));
  return args;
}

/** A small HTTPS call to the fixture's own endpoints (self-signed certificate, loopback only). */
function fixtureCall(url: string, method: 'GET' | 'POST'): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 400) {
          reject(new Error(`vcsim: ${method} ${url} answered ${res.statusCode}: ${text}`));
          return;
        }
        try {
          resolve(JSON.parse(text));
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Builds (if needed) and starts a simulated vCenter on 127.0.0.1, resolving once its inventory is built and
 * it listens. Its `$TMPDIR` (every simulated VM writes files there) is a fresh directory removed by stop(),
 * on exit, or by the watchdog if this process is killed.
 */
export async function startVcsim(options: VcsimOptions = {}): Promise<VcsimService> {
  const binary = await ensureVcsimBinary();
  const root = await mkdtemp(join(tmpdir(), 'vfleet-vcsim-'));
  const tmpDir = join(root, 'tmp');
  await mkdir(tmpDir);
  const dir = options.dir ?? root;
  const readyFile = join(root, 'ready.json');
  const expectedVms = options.vms ?? 0;

  const proc = await spawnService({
    name: 'vcsim',
    command: binary,
    args: flagArgs(options, readyFile),
    dir,
    env: { ...process.env, TMPDIR: tmpDir },
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 5_000,
    cleanupPaths: [root],
  });
  let ready: ReadyLine | undefined;
  await waitUntilReady(
    proc,
    async () => {
      ready = JSON.parse(await readFile(readyFile, 'utf8')) as ReadyLine;
    },
    { timeoutMs: options.readyTimeoutMs ?? 30_000 + 5 * expectedVms, intervalMs: 25 },
  );
  if (!ready) throw new Error('vcsim: ready line missing');
  const line: ReadyLine = ready;
  const sdk = new URL(line.url);
  const baseUrl = `${sdk.protocol}//${sdk.host}`;

  return {
    name: 'vcsim',
    port: Number(sdk.port),
    url: line.url,
    pid: proc.pid,
    logFile: proc.logFile,
    username: line.username,
    password: line.password,
    baseUrl,
    statsUrl: line.statsUrl,
    screenUrl: line.screenUrl,
    thumbprint: line.thumbprint,
    pageSize: line.pageSize,
    counts: line.counts,
    vms: line.counts.vms,
    tmpDir,
    stop: proc.stop,
    stats: async () => (await fixtureCall(line.statsUrl, 'GET')) as VcsimStats,
    resetStats: async () => {
      await fixtureCall(`${line.statsUrl}/reset`, 'POST');
    },
    sessionKeys: async () =>
      ((await fixtureCall(`${baseUrl}/_fixture/sessions`, 'GET')) as { keys: string[] }).keys,
    terminateSessions: async () => {
      const answer = (await fixtureCall(`${baseUrl}/_fixture/sessions/terminate`, 'POST')) as {
        terminated: number;
      };
      return answer.terminated;
    },
  };
}
