// Provisioning — secondary adapter (PostgreSQL): the levels of a provisioning form as the inventory sync stored
// them (migration 004 adds what a compute resource can use). Used for the service account while the vCenter's
// sync is fresh; each kind is one query on the reader, built into the same items a live load gives.
import type {
  ComputeItem,
  DatacenterItem,
  DatastoreItem,
  KindValue,
  NetworkItem,
  ResourceKind,
  TemplateItem,
} from './kinds.ts';
import { byName, maxTemplates, poolTree } from './kinds.ts';

/** What the inventory source needs of PostgreSQL (a pool or client on the reader). */
export interface Queryable {
  query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[] }>;
}

/** A compute resource as the inventory knows it. */
export interface StoredComputeResource {
  readonly type: 'ClusterComputeResource' | 'ComputeResource';
  readonly datacenterMoid: string | null;
}

/** When the vCenter's inventory was last brought up to date; undefined for a vCenter not registered. */
export async function syncedThrough(
  db: Queryable,
  vcenterId: string,
): Promise<{ at: Date | null } | undefined> {
  const { rows } = await db.query<{ synced_through_at: Date | null }>(
    'SELECT synced_through_at FROM vcenters WHERE id = $1',
    [vcenterId],
  );
  return rows[0] ? { at: rows[0].synced_through_at } : undefined;
}

export async function storedDatacenterExists(
  db: Queryable,
  vcenterId: string,
  moid: string,
): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM datacenters WHERE vcenter_id = $1 AND moid = $2', [
    vcenterId,
    moid,
  ]);
  return rows.length > 0;
}

export async function storedComputeResource(
  db: Queryable,
  vcenterId: string,
  moid: string,
): Promise<StoredComputeResource | undefined> {
  const { rows } = await db.query<{ type: StoredComputeResource['type']; datacenter_moid: string | null }>(
    `SELECT type, datacenter_moid FROM inventory_containers
      WHERE vcenter_id = $1 AND moid = $2 AND type IN ('ClusterComputeResource', 'ComputeResource')`,
    [vcenterId, moid],
  );
  const row = rows[0];
  return row ? { type: row.type, datacenterMoid: row.datacenter_moid } : undefined;
}

const value = <T extends KindValue['items'][number]>(items: T[], tags: string[], total = items.length) => ({
  items,
  total,
  source: 'inventory' as const,
  tags,
});

export async function inventoryDatacenters(
  db: Queryable,
  vcenterId: string,
): Promise<KindValue<'datacenters'>> {
  const { rows } = await db.query<{ moid: string; name: string }>(
    'SELECT moid, name FROM datacenters WHERE vcenter_id = $1',
    [vcenterId],
  );
  const items: DatacenterItem[] = byName(rows.map((r) => ({ id: r.moid, name: r.name })));
  return value(
    items,
    items.map((i) => i.id),
  );
}

export async function inventoryCompute(
  db: Queryable,
  vcenterId: string,
  datacenter: string,
): Promise<KindValue<'compute'>> {
  const { rows } = await db.query<{ moid: string; name: string; type: string; hosts: number }>(
    `SELECT c.moid, c.name, c.type,
            (SELECT count(*)::int FROM hosts h WHERE h.vcenter_id = c.vcenter_id AND h.compute_resource_moid = c.moid) AS hosts
       FROM inventory_containers c
      WHERE c.vcenter_id = $1 AND c.datacenter_moid = $2 AND c.type IN ('ClusterComputeResource', 'ComputeResource')`,
    [vcenterId, datacenter],
  );
  const items: ComputeItem[] = byName(
    rows.map((r) => ({
      id: r.moid,
      name: r.name,
      type: r.type === 'ClusterComputeResource' ? 'cluster' : 'standalone',
      hosts: r.hosts,
    })),
  );
  return value(items, [datacenter, ...items.map((i) => i.id)]);
}

/** One kind of one compute resource's resources, from the inventory. */
export async function inventoryResources(
  db: Queryable,
  vcenterId: string,
  computeResource: string,
  kind: ResourceKind,
): Promise<KindValue> {
  const args = [vcenterId, computeResource];
  switch (kind) {
    case 'pools': {
      const { rows } = await db.query<{ moid: string; name: string; parent_moid: string | null }>(
        'SELECT moid, name, parent_moid FROM resource_pools WHERE vcenter_id = $1 AND owner_moid = $2',
        args,
      );
      const items = poolTree(rows.map((r) => ({ id: r.moid, name: r.name, parent: r.parent_moid })));
      return value(items, [computeResource, ...items.map((i) => i.id)]);
    }
    case 'networks': {
      const { rows } = await db.query<{
        moid: string;
        name: string;
        type: string | null;
        switch_moid: string | null;
        switch_name: string | null;
      }>(
        `SELECT n.moid, n.name, n.type, n.switch_moid, s.name AS switch_name
           FROM inventory_containers c
           JOIN networks n ON n.vcenter_id = c.vcenter_id AND n.moid = ANY(string_to_array(c.network_moids, ' '))
           LEFT JOIN inventory_containers s ON s.vcenter_id = n.vcenter_id AND s.moid = n.switch_moid
          WHERE c.vcenter_id = $1 AND c.moid = $2`,
        args,
      );
      const items: NetworkItem[] = byName(
        rows.map((r) => ({
          id: r.moid,
          name: r.name,
          type: networkType(r.type),
          switch: r.switch_moid === null ? null : { id: r.switch_moid, name: r.switch_name },
        })),
      );
      const switches = items.flatMap((i) => (i.switch ? [i.switch.id] : []));
      return value(items, [computeResource, ...items.map((i) => i.id), ...new Set(switches)]);
    }
    case 'datastores': {
      const { rows } = await db.query<{
        moid: string;
        name: string;
        type: string | null;
        capacity_bytes: string | null;
        free_bytes: string | null;
        accessible: boolean | null;
        maintenance_mode: string | null;
      }>(
        `SELECT d.moid, d.name, d.type, d.capacity_bytes, d.free_bytes, d.accessible, d.maintenance_mode
           FROM inventory_containers c
           JOIN datastores d ON d.vcenter_id = c.vcenter_id AND d.moid = ANY(string_to_array(c.datastore_moids, ' '))
          WHERE c.vcenter_id = $1 AND c.moid = $2`,
        args,
      );
      const items: DatastoreItem[] = byName(
        rows.map((r) => ({
          id: r.moid,
          name: r.name,
          type: r.type,
          capacityBytes: r.capacity_bytes === null ? null : Number(r.capacity_bytes),
          freeBytes: r.free_bytes === null ? null : Number(r.free_bytes),
          accessible: r.accessible,
          maintenanceMode: r.maintenance_mode,
        })),
      );
      return value(items, [computeResource, ...items.map((i) => i.id)]);
    }
    case 'templates': {
      const [hosts, templates] = await Promise.all([
        db.query<{ moid: string }>(
          'SELECT moid FROM hosts WHERE vcenter_id = $1 AND compute_resource_moid = $2',
          args,
        ),
        db.query<{
          moid: string;
          name: string;
          guest_full_name: string | null;
          num_cpu: number | null;
          memory_mb: number | null;
          total: number;
        }>(
          `SELECT v.moid, v.name, v.guest_full_name, v.num_cpu, v.memory_mb, count(*) OVER ()::int AS total
             FROM vms v JOIN hosts h ON h.vcenter_id = v.vcenter_id AND h.moid = v.host_moid
            WHERE v.vcenter_id = $1 AND v.template AND h.compute_resource_moid = $2
            ORDER BY v.name, v.moid LIMIT ${maxTemplates}`,
          args,
        ),
      ]);
      const items: TemplateItem[] = byName(
        templates.rows.map((r) => ({
          id: r.moid,
          name: r.name,
          guestFullName: r.guest_full_name,
          numCpu: r.num_cpu,
          memoryMb: r.memory_mb,
        })),
      );
      return value(
        items,
        [computeResource, ...hosts.rows.map((h) => h.moid), ...items.map((i) => i.id)],
        templates.rows[0]?.total ?? 0,
      );
    }
  }
}

/** The network kinds vim25 has, as the answer names them. */
export function networkType(type: string | null): NetworkItem['type'] {
  if (type === 'DistributedVirtualPortgroup') return 'distributed';
  if (type === 'OpaqueNetwork') return 'opaque';
  return 'standard';
}
