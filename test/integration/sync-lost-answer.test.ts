// Integration tests — the freeze seen after many random changes: govmomi's simulator takes the pending updates
// off its collector's queue, then fails while building the answer (it cannot describe a modify of an object
// destroyed since), and drops the connection. A WaitForUpdatesEx asked again answers "no updates" for changes
// nobody will see again, and a pass that trusted it froze the inventory. The pass must treat the lost answer
// as a lost watch and run a full sync, after which the tables equal a fresh retrieval.
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { syncVcenter } from '../../shared/inventory/sync/index.ts';
import { createFileSecretStore } from '../../shared/secrets/index.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { startTestVcsim } from '../setup/vcsim.ts';
import { type ChangeTarget, changeTarget, snapshot } from './sync-helpers.ts';

describe('a lost WaitForUpdatesEx answer', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let redis: Redis;
  let vcsim: VcsimService;
  let target: ChangeTarget;
  const id = 'lost-answer';
  const secrets = createFileSecretStore(
    `${process.env.TMPDIR ?? '/tmp'}/vfleet-lost-answer-${process.pid}.json`,
  );

  beforeAll(async () => {
    [db, vcsim] = await Promise.all([freshDatabase('sync_lost'), startTestVcsim({ vms: 24 })]);
    pool = new pg.Pool({ ...db.postgres, max: 4 });
    await migrate(pool, { vmPartitions: 2 });
    redis = new Redis(db.services.redisUrl);
    const ref = await secrets.put(id, vcsim.password);
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref, tls_insecure) VALUES ($1, $1, $2, $3, $4, true)`,
      [id, vcsim.url, vcsim.username, ref],
    );
    target = await changeTarget(vcsim.url, vcsim.username, vcsim.password);
  }, 120_000);

  afterAll(async () => {
    await target?.client.close();
    await secrets.delete(`file:${id}`).catch(() => {});
    redis?.disconnect();
    await pool?.end();
    await vcsim?.stop();
    await db?.dispose();
  });

  const pass = () =>
    syncVcenter(id, { writer: pool, reader: pool, secrets, redis }, { remainingMs: () => 120_000 });

  /** The VM rows (name, power state) as a fresh retrieval shows them: independent of any watch. */
  async function simulatorVms(): Promise<string[]> {
    const out: string[] = [];
    for await (const o of target.client.retrieve({
      types: ['VirtualMachine'],
      properties: { VirtualMachine: ['name', 'runtime.powerState'] },
      maxObjects: 1000,
    })) {
      out.push(`${o.moid}|${o.props.name}|${o.props['runtime.powerState']}`);
    }
    return out.sort();
  }

  async function tableVms(): Promise<string[]> {
    const { rows } = await pool.query<{ r: string }>(
      `SELECT moid || '|' || name || '|' || power_state AS r FROM vms WHERE vcenter_id = $1`,
      [id],
    );
    return rows.map((row) => row.r).sort();
  }

  it('runs a full sync instead of trusting the empty answer to the repeated request', async () => {
    expect(await pass()).toMatchObject({ status: 'synced', mode: 'full' });
    const [changed, doomed, other] = [...target.vms.keys()].filter(
      (moid) => target.vms.get(moid)?.powerState === 'poweredOn',
    );
    const vm = (moid: string | undefined) => ({ type: 'VirtualMachine', value: moid as string });
    // A modify queued for a VM that is destroyed before the next WaitForUpdatesEx, among other changes.
    await target.client.waitForTask(await target.client.powerOffVm(vm(changed)));
    await target.client.waitForTask(await target.client.powerOffVm(vm(doomed)));
    await target.client.waitForTask(await target.client.destroy(vm(doomed)));
    await target.client.waitForTask(await target.client.powerOffVm(vm(other)));

    const result = await pass();

    expect(result).toMatchObject({ status: 'synced', mode: 'full', watchLost: 'update answer lost' });
    expect(await tableVms()).toEqual(await simulatorVms());
    // The new watch works: the next change arrives incrementally.
    await target.client.waitForTask(await target.client.powerOnVm(vm(changed)));
    expect(await pass()).toMatchObject({ status: 'synced', mode: 'incremental', changed: 1 });
    expect(await tableVms()).toEqual(await simulatorVms());
    expect(Object.keys(await snapshot(pool, id))).toContain('vms');
  }, 120_000);
});
