// Fault suite — the simulator slowed under a crowd of viewers asking for thumbnails: a loopback TCP proxy in
// front of vcsim adds latency to every chunk. The calls in flight at the simulator stay within the vCenter's
// limiter (ESXI_MAX_CONCURRENT) and each VM costs one call however many users ask. (The proxy's `reset` mode, a
// stopped simulator, is there for the stopped case; see docs/faults.md for why that test is not in yet.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimService } from '../../infra/local/services/vcsim.ts';
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
