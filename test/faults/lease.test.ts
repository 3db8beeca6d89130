// Fault suite — a worker holding limiter leases is killed: an ops worker run out of process takes every slot
// of a vCenter and is SIGKILLed in the middle of its call (no release). While its leases live, the runtime's
// workers are denied (the crowd's thumbnails wait, answered 503); the leases come back once their TTL has
// passed — by order on the limiter's own clock, not by a time bound — and the thumbnails load.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimService } from '../../infra/local/services/vcsim.ts';
import { type Attempt, type Lane, type Lease, opsService } from '../../shared/ops/index.ts';
import { Limiter } from '../../shared/ops/limiter.ts';
import { type FaultStack, registerVcenter, startFaultStack, until } from './harness.ts';
import { startLoad } from './load.ts';

const vcenterId = 'vc-fault-lease';
const password = 'fault-lease-pass';
const maxConcurrent = 4;
let stack: FaultStack;
let vcsim: VcsimService;
let vmIds: string[];
let worker: ChildProcess | undefined;

/** Every limiter attempt the runtime's functions make on the test's vCenter (they run in this process). */
interface Recorded {
  readonly lane: Lane;
  readonly askedAt: number;
  readonly attempt: Attempt;
}
const attempts: Recorded[] = [];
const { tryAcquire } = Limiter.prototype;

beforeAll(async () => {
  Limiter.prototype.tryAcquire = async function (this: Limiter, ...args: Parameters<Limiter['tryAcquire']>) {
    const askedAt = Date.now();
    const attempt = await tryAcquire.apply(this, args);
    if (args[0] === vcenterId) attempts.push({ lane: args[1], askedAt, attempt });
    return attempt;
  };
  [stack, vcsim] = await Promise.all([
    startFaultStack('lease', {
      env: { ESXI_MAX_CONCURRENT: String(maxConcurrent), ESXI_MIN_INTERVAL: '0.02' },
    }),
    startVcsim({ vms: 16, password }),
  ]);
  await registerVcenter(stack, { id: vcenterId, url: vcsim.url, username: vcsim.username, password });
  const list = await stack.call('GET', `/api/v1/vms?vcenter=${vcenterId}&limit=100`);
  vmIds = (list.json.items as { id: string }[]).map((vm) => vm.id);
});

afterAll(async () => {
  Limiter.prototype.tryAcquire = tryAcquire;
  worker?.kill('SIGKILL');
  await stack?.stop();
  await vcsim?.stop();
});

/** Starts the out-of-process worker and resolves with its leases once it holds them all. */
async function startLeaseHolder(count: number): Promise<{ child: ChildProcess; leases: Lease[] }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./workers/lease-holder.ts', import.meta.url).pathname,
      vcenterId,
      String(count),
    ],
    { env: { ...process.env, ...stack.runtime.env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const leases: Lease[] = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`lease holder exited (${code}) before holding`)));
    lines.on('line', (line) => {
      if (line === 'holding') resolve();
      else if (line.startsWith('{')) leases.push(JSON.parse(line) as Lease);
    });
  });
  return { child, leases };
}

describe('fault: a worker holding limiter leases is killed', () => {
  it('its leases come back after their TTL, and the waiting work then runs', async () => {
    // Prepare: the other worker holds every slot of the vCenter, in the middle of its calls.
    const held = await startLeaseHolder(maxConcurrent);
    worker = held.child;
    expect(held.leases).toHaveLength(maxConcurrent);
    // The ops service's lease TTL, the same in every process (the runtime's functions run in this one).
    const ttlMs = opsService().limiter.leaseTtlMs;
    // Each lease lapses on its own, TTL after its grant: the slots come back one by one.
    const firstExpiry = Math.min(...held.leases.map((lease) => lease.grantedAt)) + ttlMs;
    const lastExpiry = Math.max(...held.leases.map((lease) => lease.grantedAt)) + ttlMs;
    const from = attempts.length;

    // Act: kill it (no release), with a crowd asking for thumbnails nobody has loaded yet.
    const exited = new Promise((resolve) => held.child.once('exit', resolve));
    held.child.kill('SIGKILL');
    await exited;
    const load = startLoad({
      baseUrl: stack.runtime.httpUrl,
      token: stack.tokens.viewer,
      loops: 4,
      pauseMs: 100,
      next: (n) =>
        n % 2 === 0
          ? { kind: 'read', method: 'GET', path: `/api/v1/vms?vcenter=${vcenterId}&limit=10` }
          : { kind: 'thumbnail', method: 'GET', path: `/api/v1/vms/${vmIds[(n >> 1) % 6]}/thumbnail` },
    });
    try {
      await until(
        'the thumbnails served once the dead worker’s leases lapsed',
        async () => {
          const served = new Set(
            load.samples.filter((s) => s.kind === 'thumbnail' && s.status === 200).map((s) => s.path),
          );
          return served.size >= 6 ? true : undefined;
        },
        120_000,
      );
    } finally {
      await load.stop();
    }

    // Assess, by order on the limiter's clock: no slot was granted while the dead worker's leases lived...
    const mine = attempts.slice(from);
    const grants = mine.flatMap((a) => (a.attempt.granted ? [a.attempt.lease] : []));
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.filter((lease) => lease.grantedAt < firstExpiry)).toEqual([]);
    // ...the runtime's workers were asking, and denied with every slot taken, before the TTL ran out...
    const before = mine.filter((a) => a.askedAt < firstExpiry - 1_000);
    expect(before.length).toBeGreaterThan(0);
    for (const a of before) expect(a.attempt).toMatchObject({ granted: false, active: maxConcurrent });
    // ...and once the last had lapsed, the dead worker's slots were free: no later denial counts them.
    const after = mine.filter((a) => a.askedAt > lastExpiry + 5);
    expect(after.length).toBeGreaterThan(0);
    for (const a of after) {
      if (!a.attempt.granted) expect(a.attempt.active).toBeLessThan(maxConcurrent);
    }
    // The crowd's reads never waited for the limiter; its thumbnails waited with a clean 503.
    expect(load.samples.filter((s) => s.kind === 'read' && s.status !== 200)).toEqual([]);
    expect(load.samples.filter((s) => s.status !== 200 && s.status !== 503)).toEqual([]);
  });
});
