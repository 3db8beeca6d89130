// Fault suite — PostgreSQL crashes in the middle of a full sync and comes back: the sync's transaction had
// already deleted the VMs the vCenter lost and was upserting the rest when the server died. Readers polling the
// whole vCenter through the API never see a half-applied snapshot (only the old state or the new one, or a
// clean error while the database is down), and the sync resumes on its own and applies the new state whole.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimService } from '../../infra/local/services/vcsim.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { type FaultStack, type Json, registerVcenter, startFaultStack, until } from './harness.ts';
import { startLoad } from './load.ts';

const vcenterId = 'vc-fault-pg';
const password = 'fault-pg-pass';
let stack: FaultStack;
let vcsim: VcsimService;

beforeAll(async () => {
  [stack, vcsim] = await Promise.all([
    startFaultStack('postgres', {
      // A failed message comes back soon (AWS: the queue's visibility timeout), the dispatcher ticks often.
      queueOverrides: { sync: { visibilityTimeoutSeconds: 20 } },
      scheduleOverrides: { 'sync-dispatcher': { everySeconds: 2 } },
      env: { VM_LIST_CACHE_TTL: '5' },
    }),
    startVcsim({ vms: 60, password }),
  ]);
  await registerVcenter(stack, { id: vcenterId, url: vcsim.url, username: vcsim.username, password });
});

afterAll(async () => {
  await stack?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
});

/** The vCenter's VMs as the simulator has them: `moid=powerState`, sorted. */
async function simulatorState(client: VsphereClient): Promise<string[]> {
  const state: string[] = [];
  for await (const o of client.retrieve({
    types: ['VirtualMachine'],
    properties: { VirtualMachine: ['runtime.powerState'] },
  })) {
    state.push(`${o.moid}=${String(o.props['runtime.powerState'])}`);
  }
  return state.sort();
}

/** The same from an API answer of `GET /api/v1/vms?vcenter=…`. */
const apiState = (json: Json): string[] =>
  (json.items as { id: string; powerState: string }[])
    .map((vm) => `${vm.id.slice(vcenterId.length + 1)}=${vm.powerState}`)
    .sort();

describe('fault: PostgreSQL restarted in the middle of a full sync', () => {
  it('never shows a half-applied vCenter, and the sync resumes and applies the new state whole', async () => {
    // Prepare: the old state is what the first sync stored.
    const client = await VsphereClient.connect({
      url: vcsim.url,
      username: vcsim.username,
      password,
      insecure: true,
      pooled: false,
    });
    const before = await simulatorState(client);
    const first = await stack.call('GET', `/api/v1/vms?vcenter=${vcenterId}&limit=1000`);
    expect(apiState(first.json)).toEqual(before);
    const lastFull = (await stack.call('GET', `/api/v1/vcenters/${vcenterId}`)).json.vcenter.sync
      .lastFullSyncAt as string;

    // Change the simulator: 2 VMs destroyed, 3 powered off (the rest untouched).
    const running = before.filter((s) => s.endsWith('=poweredOn')).map((s) => s.split('=')[0] as string);
    expect(running.length).toBeGreaterThanOrEqual(5);
    const [gone1, gone2, off1, off2, off3] = running as [string, string, string, string, string];
    for (const moid of [gone1, gone2, off1, off2, off3]) {
      await client.waitForTask(await client.powerOffVm({ type: 'VirtualMachine', value: moid }));
    }
    for (const moid of [gone1, gone2]) {
      await client.waitForTask(await client.destroy({ type: 'VirtualMachine', value: moid }));
    }
    const after = await simulatorState(client);
    await client.close();
    expect(after).not.toEqual(before);

    // Hold one changing VM's row, so the full sync's transaction (VMs come last, after the VMs the vCenter
    // lost were deleted) waits inside itself; the crash then comes in the middle of it, not by luck of timing.
    const holder = new pg.Client({
      host: stack.postgres.host,
      port: stack.postgres.port,
      user: stack.postgres.user,
      password: stack.postgres.password,
      database: stack.postgres.database,
    });
    holder.on('error', () => {});
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT 1 FROM vms WHERE vcenter_id = $1 AND moid = $2 FOR UPDATE', [vcenterId, off3]);

    const load = startLoad({
      baseUrl: stack.runtime.httpUrl,
      token: stack.tokens.viewer,
      loops: 3,
      pauseMs: 30,
      keepJson: ['list'],
      next: (n) =>
        n % 3 === 2
          ? { kind: 'vcenter', method: 'GET', path: `/api/v1/vcenters/${vcenterId}` }
          : { kind: 'list', method: 'GET', path: `/api/v1/vms?vcenter=${vcenterId}&limit=1000` },
    });
    try {
      // Act: ask for a full sync and wait until its transaction is stuck on the held row.
      const requested = await stack.call(
        'POST',
        `/api/v1/vcenters/${vcenterId}/sync`,
        stack.tokens.operator,
        {
          full: true,
        },
      );
      expect(requested.status).toBe(202);
      await until('the full sync waiting on the held row, inside its transaction', async () => {
        const { rows } = await stack.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO vms%' AND xact_start IS NOT NULL`,
        );
        return (rows[0]?.n ?? 0) > 0 ? true : undefined;
      });
      // Inside the transaction the lost VMs are already deleted: a half-applied state that must never show.
      const crashAt = load.mark();
      await stack.postgres.kill();
      await holder.end().catch(() => undefined);
      await until('reads failing while PostgreSQL is down', async () =>
        load.since(crashAt).some((s) => s.kind === 'list' && s.status !== 200) ? true : undefined,
      );
      await stack.postgres.restart();
      const restartedAt = load.mark();

      // Assess: the sync resumes by itself (no new request) and the new state shows, whole.
      const synced = await until(
        'the full sync after the restart',
        async () => {
          const { status, json } = await stack.call('GET', `/api/v1/vcenters/${vcenterId}`);
          const sync = json.vcenter?.sync;
          return status === 200 && sync?.lastFullSyncAt && sync.lastFullSyncAt !== lastFull
            ? (json.vcenter as Json)
            : undefined;
        },
        180_000,
      );
      await until('the new state in the API', async () => {
        const { status, json } = await stack.call('GET', `/api/v1/vms?vcenter=${vcenterId}&limit=1000`);
        return status === 200 && JSON.stringify(apiState(json)) === JSON.stringify(after) ? true : undefined;
      });
      const seenNew = load.mark();
      await until('a few more reads', async () => (load.since(seenNew).length >= 6 ? true : undefined));
      await load.stop();

      expect(synced.counts?.vms ?? synced.vmCount ?? after.length).toBe(after.length);
      const lists = load.since(0).filter((s) => s.kind === 'list');
      const answered = lists.filter((s) => s.status === 200);
      // Every answered read is the old state or the new one, never a mix (e.g. the lost VMs gone but the
      // powered-off ones still running)...
      const states = answered.map((s) => JSON.stringify(apiState(s.json as Json)));
      const known = new Set([JSON.stringify(before), JSON.stringify(after)]);
      expect(states.filter((s) => !known.has(s))).toEqual([]);
      // ...the old state until the sync committed, the new one after: once a read has answered new, no read
      // started after that answer shows the old state again. (Reads in flight together may finish in either
      // order around the commit; what they started after is the causal order.)
      const isNew = (i: number) => states[i] === JSON.stringify(after);
      const firstNewEnd = Math.min(...answered.filter((_, i) => isNew(i)).map((s) => s.endedAt));
      expect(Number.isFinite(firstNewEnd)).toBe(true);
      expect(answered.filter((s, i) => s.startedAt > firstNewEnd && !isNew(i))).toEqual([]);
      // While the database was down, reads failed cleanly (an error body, no hang, no transport error).
      const failed = load.since(0).filter((s) => s.status !== 200);
      expect(failed.length).toBeGreaterThan(0);
      for (const s of failed) expect(s.error, JSON.stringify(s)).toEqual(expect.any(String));
      expect(load.since(restartedAt).length).toBeGreaterThan(0);
    } finally {
      await load.stop();
      await holder.end().catch(() => undefined);
    }
  });
});
