// Fault suite — Redis killed under load and brought back: inventory reads keep answering from PostgreSQL,
// flagged `cached: false`, while Redis is down; VM operations (which need the shared limiter) answer a clean
// error or a stale copy, never a 500 or a hang; once Redis is back, on the same address, caching and the
// operations recover in the same runtime (no restart).

import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redis } from '#shared/clients';
import { startVcsim, type VcsimService } from '../../infra/local/services/vcsim.ts';
import { type FaultStack, registerVcenter, startFaultStack, until } from './harness.ts';
import { type Load, type LoadSample, startLoad } from './load.ts';

const vcenterId = 'vc-fault-redis';
let stack: FaultStack;
let vcsim: VcsimService;
let vmIds: string[];

beforeAll(async () => {
  [stack, vcsim] = await Promise.all([
    startFaultStack('redis', { env: { VM_LIST_CACHE_TTL: '30', THUMBNAIL_CACHE_TTL: '30' } }),
    startVcsim({ vms: 24, password: 'fault-redis-pass', delays: { screen: 20 } }),
  ]);
  await registerVcenter(stack, {
    id: vcenterId,
    url: vcsim.url,
    username: vcsim.username,
    password: 'fault-redis-pass',
  });
  const list = await stack.call('GET', `/api/v1/vms?vcenter=${vcenterId}&limit=100`);
  vmIds = (list.json.items as { id: string }[]).map((vm) => vm.id);
  expect(vmIds.length).toBe(vcsim.vms);
});

afterAll(async () => {
  await stack?.stop();
  await vcsim?.stop();
});

/** Reads of a few shapes (list pages, one VM, the summary), and thumbnails: the load's mix. */
function mix(n: number) {
  const vm = vmIds[n % vmIds.length] as string;
  switch (n % 4) {
    case 0:
      return { kind: 'read', method: 'GET', path: `/api/v1/vms?vcenter=${vcenterId}&limit=${5 + (n % 3)}` };
    case 1:
      return { kind: 'read', method: 'GET', path: `/api/v1/vms/${vm}` };
    case 2:
      return { kind: 'read', method: 'GET', path: '/api/v1/stats/summary' };
    default:
      return { kind: 'thumbnail', method: 'GET', path: `/api/v1/vms/${vm}/thumbnail` };
  }
}

const reads = (samples: LoadSample[]) => samples.filter((s) => s.kind === 'read');
const thumbnails = (samples: LoadSample[]) => samples.filter((s) => s.kind === 'thumbnail');

describe('fault: Redis killed and restarted under load', () => {
  it('reads answer uncached and flagged while Redis is down, and caching recovers without a restart', async () => {
    const load: Load = startLoad({
      baseUrl: stack.runtime.httpUrl,
      token: stack.tokens.viewer,
      loops: 4,
      pauseMs: 40,
      next: mix,
    });
    try {
      // Prepare: the caches work (some reads are answered from the cache) before the fault.
      await until('cached reads before the fault', async () =>
        reads(load.since(0)).some((s) => s.cached === true) &&
        thumbnails(load.since(0)).some((s) => s.status === 200)
          ? true
          : undefined,
      );

      // Act: kill Redis (SIGKILL: a lost cache node, not a clean shutdown).
      await stack.redis.kill();
      const down = load.mark();
      // The runtime's own client (handlers run in this process): a command sent while Redis is down fails at
      // once, before the client's next reconnect attempt, rather than waiting in its offline queue through
      // them (which held every read for seconds). "While down" starts when the client has seen its connection
      // close: a command already in flight at the kill is retried on reconnect (maxRetriesPerRequest) instead.
      const client = redis();
      if (client.status === 'ready') await once(client, 'close');
      const order: string[] = [];
      const onReconnect = () => order.push('reconnect attempt');
      client.on('reconnecting', onReconnect);
      await client.get('fault:probe').then(
        () => order.push('answered'),
        () => order.push('failed'),
      );
      client.off('reconnecting', onReconnect);
      await until('40 reads while Redis is down', async () =>
        reads(load.since(down)).length >= 40 ? true : undefined,
      );
      const restarted = load.mark();
      const duringOutage = load.since(down, restarted);
      await stack.redis.restart();
      const up = load.mark();
      await until('cached reads again after Redis came back', async () =>
        reads(load.since(up)).some((s) => s.cached === true) ? true : undefined,
      );
      await until('thumbnails served again after Redis came back', async () =>
        thumbnails(load.since(up)).some((s) => s.status === 200 && s.xCache !== 'stale') ? true : undefined,
      );
      const after = load.since(up);
      await load.stop();

      // Assess: the probe failed first; during the outage every read answered 200 from the database and said so.
      expect(order[0]).toBe('failed');
      const outageReads = reads(duringOutage);
      expect(outageReads.length).toBeGreaterThanOrEqual(40);
      expect(outageReads.filter((s) => s.status !== 200)).toEqual([]);
      expect(outageReads.filter((s) => s.cached !== false)).toEqual([]);
      // VM operations need the limiter: a stale copy or a clean, retryable error; never a 500 or a hang.
      for (const s of thumbnails(duringOutage)) {
        if (s.status === 200) expect(s.xCache).toMatch(/^(hit|stale)$/);
        else
          expect({ status: s.status, error: s.error }).toMatchObject({
            status: 503,
            error: expect.any(String),
          });
      }
      // After the restart nothing failed either: reads answer, the first of them re-filling the cache.
      expect(reads(after).filter((s) => s.status !== 200)).toEqual([]);
      expect(load.samples.filter((s) => s.status === 0 || (s.status >= 500 && s.status !== 503))).toEqual([]);
    } finally {
      await load.stop();
    }
  });
});
