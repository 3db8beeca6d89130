// Test fixture — a small, hand-made inventory in a fresh test namespace (its own PostgreSQL schema and Redis
// key prefix), written through the same upsert the sync uses, with the expected answers computed here in
// plain TypeScript, independently of the SQL under test.
import { Redis } from 'ioredis';
import pg from 'pg';
import { type PowerState, upsertVms, type VmRecord } from '../../shared/inventory/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

export interface ExpectedVm extends VmRecord {
  readonly vcenterId: string;
  readonly id: string;
}

export interface InventoryFixture {
  readonly ns: TestNamespace;
  readonly pool: pg.Pool;
  readonly redis: Redis;
  /** Every VM and template written, in API order (name, vcenterId, moid; byte order like COLLATE "C"). */
  readonly vms: readonly ExpectedVm[];
  dispose(): Promise<void>;
}

const powerOf = (i: number): PowerState =>
  i % 10 < 7 ? 'poweredOn' : i % 10 < 9 ? 'poweredOff' : 'suspended';

function vmsOf(vcenterId: string, count: number, nameOf: (i: number) => string): ExpectedVm[] {
  return Array.from({ length: count }, (_, i) => ({
    vcenterId,
    id: `${vcenterId}:vm-${i + 1}`,
    moid: `vm-${i + 1}`,
    name: nameOf(i),
    powerState: powerOf(i),
    template: i % 25 === 0,
    guestOs: i % 3 === 0 ? 'windows2019srv_64Guest' : 'ubuntu64Guest',
    hostMoid: `host-${(i % 4) + 1}`,
    clusterMoid: `domain-c${(i % 2) + 7}`,
    datacenterMoid: 'datacenter-1',
    numCpu: 2,
    memoryMb: 4096,
    committedBytes: 10 * 2 ** 30,
  }));
}

const byKey = (a: ExpectedVm, b: ExpectedVm) =>
  a.name < b.name
    ? -1
    : a.name > b.name
      ? 1
      : a.vcenterId < b.vcenterId
        ? -1
        : a.vcenterId > b.vcenterId
          ? 1
          : a.moid < b.moid
            ? -1
            : 1;

/**
 * vc-a: 120 VMs `app-000`…; vc-b: 80 VMs, the first 40 named like vc-a's (ties broken by vCenter id), the
 * rest `db-…`; every 25th is a template; 3 hosts, 2 datastores and 2 clusters per vCenter.
 */
export async function inventoryFixture(label: string): Promise<InventoryFixture> {
  const ns = await freshNamespace(label);
  const pool = new pg.Pool({ ...ns.pg, max: 4 });
  await migrate(pool, { vmPartitions: 4 });
  const vms = [
    ...vmsOf('vc-a', 120, (i) => `app-${String(i).padStart(3, '0')}`),
    ...vmsOf('vc-b', 80, (i) =>
      i < 40 ? `app-${String(i).padStart(3, '0')}` : `db-${String(i).padStart(3, '0')}`,
    ),
  ].sort(byKey);
  for (const vc of ['vc-a', 'vc-b']) {
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref) VALUES ($1, $1, 'https://' || $1, 'u', 'ref')`,
      [vc],
    );
    await upsertVms(
      pool,
      vc,
      vms.filter((vm) => vm.vcenterId === vc),
    );
    for (let h = 1; h <= 3; h++) {
      await pool.query(
        `INSERT INTO hosts (vcenter_id, moid, name, datacenter_moid, cluster_moid, connection_state)
         VALUES ($1, $2, $3, 'datacenter-1', $4, 'connected')`,
        [vc, `host-${h}`, `esx-${vc}-${h}.corp.example`, `domain-c${(h % 2) + 7}`],
      );
    }
    for (let d = 1; d <= 2; d++) {
      await pool.query(
        `INSERT INTO datastores (vcenter_id, moid, name, datacenter_moid, type) VALUES ($1, $2, $3, 'datacenter-1', 'VMFS')`,
        [vc, `datastore-${d}`, `vmfs-${vc}-${d}`],
      );
    }
    for (const c of [7, 8]) {
      await pool.query(
        `INSERT INTO clusters (vcenter_id, moid, name, datacenter_moid) VALUES ($1, $2, $3, 'datacenter-1')`,
        [vc, `domain-c${c}`, `${vc}-cluster-${c}`],
      );
    }
  }
  const redis = new Redis(ns.services.redisUrl, { keyPrefix: ns.redisKeyPrefix, maxRetriesPerRequest: 1 });
  return {
    ns,
    pool,
    redis,
    vms,
    async dispose() {
      redis.disconnect();
      await pool.end();
      await ns.dispose();
    },
  };
}
