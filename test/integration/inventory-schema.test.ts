// Integration tests — inventory schema: migrations apply, re-apply as a no-op, honour the partition count;
// the sync's upsert rewrites only changed rows; deleting a vCenter removes everything it owns.
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteVms, nextGeneration, upsertVms } from '../../shared/inventory/index.ts';
import { migrate, migrationsDir } from '../../shared/inventory/migrate.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

describe('inventory schema', () => {
  let ns: TestNamespace;
  let pool: pg.Pool;

  beforeAll(async () => {
    ns = await freshNamespace('inv_schema');
    pool = new pg.Pool({ ...ns.pg, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await ns?.dispose();
  });

  it('applies the migrations once, then finds nothing to do', async () => {
    const first = await migrate(pool, { vmPartitions: 8 });
    const second = await migrate(pool, { vmPartitions: 8 });

    // Every migration file, in order, once.
    const files = readdirSync(migrationsDir())
      .filter((file) => file.endsWith('.sql'))
      .map((file) => file.replace(/\.sql$/, ''))
      .sort();
    expect(files[0]).toBe('001_inventory');
    expect(first.applied).toEqual(files);
    expect(first.vmPartitions).toBe(8);
    expect(second.applied).toEqual([]);
    expect(second.vmPartitions).toBe(8);
  });

  it('creates the tables and the indexes a 1M-VM read load needs', async () => {
    const { rows } = await pool.query<{ indexname: string }>(
      'SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1',
      ['vms'],
    );
    const names = rows.map((row) => row.indexname);

    for (const index of [
      'vms_pkey',
      'vms_name_key_idx',
      'vms_vcenter_power_idx',
      'vms_cluster_idx',
      'vms_host_idx',
      'vms_powered_on_idx',
      'vms_name_trgm_idx',
    ]) {
      expect(names).toContain(index);
    }
    const tables = await pool.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()',
    );
    expect(tables.rows.map((row) => row.table_name)).toEqual(
      expect.arrayContaining([
        'vcenters',
        'datacenters',
        'clusters',
        'hosts',
        'datastores',
        'networks',
        'resource_pools',
        'vms',
      ]),
    );
  });

  it('rewrites only the VMs whose content changed', async () => {
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref) VALUES ('vc-1', 'one', 'https://one', 'u', 'r')`,
    );
    const vms = [
      { moid: 'vm-1', name: 'web-1', powerState: 'poweredOn' as const },
      { moid: 'vm-2', name: 'web-2', powerState: 'poweredOff' as const },
    ];

    expect(await upsertVms(pool, 'vc-1', vms)).toBe(2);
    expect(await upsertVms(pool, 'vc-1', vms)).toBe(0);
    expect(await upsertVms(pool, 'vc-1', [{ ...vms[0]!, powerState: 'poweredOff' }, vms[1]!])).toBe(1);
    const { rows } = await pool.query('SELECT power_state FROM vms WHERE vcenter_id = $1 AND moid = $2', [
      'vc-1',
      'vm-1',
    ]);
    expect(rows[0]).toEqual({ power_state: 'poweredOff' });
  });

  it('deletes VMs by moid and counts generations', async () => {
    expect(await deleteVms(pool, 'vc-1', ['vm-2', 'vm-404'])).toBe(1);
    const before = await nextGeneration(pool, 'vc-1');

    expect(await nextGeneration(pool, 'vc-1')).toBe(before + 1);
  });

  it('removes everything a vCenter owns when it is deleted', async () => {
    await pool.query(`INSERT INTO hosts (vcenter_id, moid, name) VALUES ('vc-1', 'host-1', 'esx-1')`);
    await pool.query(
      `INSERT INTO datastores (vcenter_id, moid, name) VALUES ('vc-1', 'datastore-1', 'ds-1')`,
    );

    await pool.query(`DELETE FROM vcenters WHERE id = 'vc-1'`);

    const { rows } = await pool.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM vms) + (SELECT count(*) FROM hosts) + (SELECT count(*) FROM datastores) AS n`,
    );
    expect(Number(rows[0]?.n)).toBe(0);
  });

  it('refuses a partition count out of range', async () => {
    await expect(migrate(pool, { vmPartitions: 0 })).rejects.toThrow(/between 1 and 1024/);
  });
});
