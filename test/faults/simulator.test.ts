// Fault suite — the simulator slowed under a crowd of viewers asking for thumbnails: a loopback TCP proxy in
// front of vcsim adds latency to every chunk. The calls in flight at the simulator stay within the vCenter's
// limiter (ESXI_MAX_CONCURRENT) and each VM costs one call however many users ask. Then the simulator stopped
// (the proxy resets every connection): the crowd gets clean 503s, the attempts upstream are bounded by the VMs'
// jobs, not by the requests, and once it answers again every VM's job comes back on its own back-off — no job
// record sits out the lane queue's visibility timeout — and the thumbnails load.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimService } from '../../infra/local/services/vcsim.ts';
import type { SqsStore } from '../../infra/local/sqs/store.ts';
import { queueContracts } from '../../shared/contracts/index.ts';
import { type FaultStack, registerVcenter, startFaultStack, until } from './harness.ts';
import { type LoadSample, startLoad } from './load.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const vcenterId = 'vc-fault-sim';
const password = 'fault-sim-pass';
const maxConcurrent = 4;
let stack: FaultStack;
let vcsim: VcsimService;
let proxy: TcpProxy;
let vmIds: string[];

beforeAll(async () => {
  [stack, vcsim] = await Promise.all([
    startFaultStack('simulator', {
      env: {
        ESXI_MAX_CONCURRENT: String(maxConcurrent),
        ESXI_MIN_INTERVAL: '0.02',
        THUMBNAIL_CACHE_TTL: '600',
      },
    }),
    startVcsim({ vms: 40, password, delays: { screen: 30 } }),
  ]);
  proxy = await startTcpProxy({ host: '127.0.0.1', port: vcsim.port });
  await registerVcenter(stack, {
    id: vcenterId,
    url: `https://127.0.0.1:${proxy.port}/sdk`,
    username: vcsim.username,
    password,
  });
  const list = await stack.call('GET', `/api/v1/vms?vcenter=${vcenterId}&limit=100`);
  vmIds = (list.json.items as { id: string }[]).map((vm) => vm.id);
  expect(vmIds.length).toBe(vcsim.vms);
});

afterAll(async () => {
  await stack?.stop();
  await proxy?.close();
  await vcsim?.stop();
});

/** A crowd of viewers over a few VMs: many requests per VM. */
const crowd = (vms: string[]) =>
  startLoad({
    baseUrl: stack.runtime.httpUrl,
    token: stack.tokens.viewer,
    loops: 8,
    pauseMs: 20,
    next: (n) => ({ kind: 'thumbnail', method: 'GET', path: `/api/v1/vms/${vms[n % vms.length]}/thumbnail` }),
  });

const servedAll = (samples: readonly LoadSample[], vms: string[]) => {
  const served = new Set(samples.filter((s) => s.status === 200).map((s) => s.path));
  return vms.every((vm) => served.has(`/api/v1/vms/${vm}/thumbnail`));
};

describe('fault: the simulator slowed under load', () => {
  it('slowed: calls in flight stay within the limiter and each VM costs one call', async () => {
    const vms = vmIds.slice(0, 8);
    proxy.setDelay(50);
    await vcsim.resetStats();
    const load = crowd(vms);
    try {
      await until(
        'every thumbnail served through the slow link',
        async () => (servedAll(load.samples, vms) ? true : undefined),
        200_000,
      );
    } finally {
      await load.stop();
      proxy.setDelay(0);
    }
    const stats = await vcsim.stats();
    expect(stats.screen.maxInFlight).toBeLessThanOrEqual(maxConcurrent);
    expect(stats.screen.served).toBe(vms.length);
    expect(load.samples.length).toBeGreaterThan(3 * vms.length);
    expect(load.samples.filter((s) => s.status !== 200 && s.status !== 503)).toEqual([]);
  });
});

/**
 * What the lane queue did with each message it delivered (the local SQS, in this process): `recv`, then the
 * worker's `vis` (a visibility it set) or `del`. A message received again with neither in between waited out the
 * queue's whole visibility timeout.
 */
function watchQueue(store: SqsStore, queue: string) {
  const events: { op: 'recv' | 'vis' | 'del'; id: string }[] = [];
  const idOf = (handle: string) => Buffer.from(handle, 'base64url').toString('utf8').split('\n')[1] ?? handle;
  const { receive, changeVisibility, deleteMessage } = store;
  store.receive = function (this: SqsStore, name, options) {
    const got = receive.call(this, name, options);
    if (name === queue) for (const m of got) events.push({ op: 'recv', id: m.messageId });
    return got;
  };
  store.changeVisibility = function (this: SqsStore, name, handle, seconds) {
    if (name === queue) events.push({ op: 'vis', id: idOf(handle) });
    return changeVisibility.call(this, name, handle, seconds);
  };
  store.deleteMessage = function (this: SqsStore, name, handle) {
    if (name === queue) events.push({ op: 'del', id: idOf(handle) });
    return deleteMessage.call(this, name, handle);
  };
  return {
    events,
    /** Messages received and then neither deleted nor given a visibility before their next receive (or yet). */
    satOut(): string[] {
      const open = new Set<string>();
      const stuck = new Set<string>();
      for (const { op, id } of events) {
        if (op === 'recv') {
          if (open.has(id)) stuck.add(id);
          open.add(id);
        } else open.delete(id);
      }
      return [...stuck, ...open];
    },
    restore() {
      Object.assign(store, { receive, changeVisibility, deleteMessage });
    },
  };
}

describe('fault: the simulator stopped under load', () => {
  it('stopped: attempts stay bounded by the VMs asked for, answers are clean 503s, and calls resume after', async () => {
    // Prepare: VMs nobody has loaded yet (the slowed test cached others); the NORMAL lane's queue watched.
    const vms = vmIds.slice(8, 16);
    const store = stack.runtime.sqsStore;
    const lane = 'ops-normal';
    const deadLetters = () => Number(store.queueAttributes(`${lane}-dlq.fifo`).ApproximateNumberOfMessages);
    const parkedBefore = deadLetters();
    const queue = watchQueue(store, `${lane}.fifo`);
    await vcsim.resetStats();
    proxy.resetStats();

    // Act: the simulator stops (its port resets every connection) under the crowd, until every VM's first job
    // has spent its receive budget (one whole retry cycle each) and the crowd has asked many times per VM.
    proxy.setMode('reset');
    const load = crowd(vms);
    let resumedAt = 0;
    let switchedAt = 0;
    let refusedWhileStopped = 0;
    try {
      await until(
        'every VM’s first job retried through its budget while the crowd kept asking',
        async () =>
          deadLetters() - parkedBefore >= vms.length && load.samples.length >= 40 * vms.length
            ? true
            : undefined,
        200_000,
      );
      resumedAt = load.mark();
      refusedWhileStopped = proxy.stats().refused;
      switchedAt = Date.now();
      proxy.setMode('forward');
      await until(
        'every thumbnail served once the simulator answers again',
        async () => (servedAll(load.since(resumedAt), vms) ? true : undefined),
        200_000,
      );
    } finally {
      await load.stop();
      proxy.setMode('forward');
    }
    // The worker settles the batches in flight (the last loads ended them): every message it received is done.
    await until(
      'the lane’s batches settled',
      async () => (queue.satOut().length === 0 ? true : undefined),
      30_000,
    );
    queue.restore();

    // Assess: every answer given while it was stopped was a clean 503 (a request still waiting at the switch
    // may be served by the resumed simulator).
    const stopped = load.since(0, resumedAt).filter((s) => s.endedAt < switchedAt);
    expect(stopped.length).toBeGreaterThanOrEqual(40 * vms.length);
    expect(stopped.filter((s) => s.status !== 503 || s.error !== 'service_unavailable')).toEqual([]);
    // Attempts upstream were the VMs' jobs (each receive of a job tries a call at most 1 + 2 times), not the
    // crowd's requests: at most one retry cycle of jobs per VM beyond the one that reached the DLQ.
    const receives = queueContracts[lane].maxReceiveCount;
    const jobsTried = deadLetters() - parkedBefore + vms.length;
    expect(refusedWhileStopped).toBeGreaterThan(0);
    expect(refusedWhileStopped).toBeLessThanOrEqual(jobsTried * receives * 3);
    expect(refusedWhileStopped).toBeLessThan(stopped.length / 4);
    // After: calls resumed (new connections), each VM's screen fetched once, only 200/503 answers.
    const stats = await vcsim.stats();
    expect(proxy.stats().attempts).toBeGreaterThan(refusedWhileStopped);
    expect(stats.screen.served).toBe(vms.length);
    // The pooled session came through the resets: reused, or logged in again once.
    expect(stats.soap.byMethod.Login ?? 0).toBeLessThanOrEqual(1);
    expect(load.since(resumedAt).filter((s) => s.status !== 200 && s.status !== 503)).toEqual([]);
    // No job record waited out the queue's visibility timeout: each was deleted or given its back-off.
    expect(queue.satOut()).toEqual([]);
    console.info(
      `simulator stopped: ${stopped.length} answers while stopped, all 503; ${refusedWhileStopped} connections refused for ${vms.length} VMs (${jobsTried - vms.length} jobs parked in the DLQ); after the resume ${stats.screen.served} screens served, ${stats.soap.byMethod.Login ?? 0} logins`,
    );
  });
});
