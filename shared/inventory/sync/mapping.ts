// Inventory sync — domain (pure): which vSphere objects and properties the sync watches, and how an object's
// properties become rows of the inventory tables. Enter and modify updates go through the same per-property
// rules, so an incremental pass and a full sync produce identical rows. Derived columns (an object's
// datacenter, a VM's cluster) come from a Resolver over the containers and hosts.
import type { MoRef, VimValue } from '#shared/vsphere';
import { vmWriteColumns } from '../writes.ts';

/** Object kinds the sync watches (vim25 names; a container view of a kind includes its subtypes). */
export const watchedTypes = [
  'Folder',
  'Datacenter',
  'ComputeResource',
  'ClusterComputeResource',
  'HostSystem',
  'ResourcePool',
  'Datastore',
  'Network',
  'DistributedVirtualPortgroup',
  'DistributedVirtualSwitch',
  'VirtualMachine',
] as const;

/** Property paths per watched kind: only what the tables store, so updates carry nothing else. */
export const watchedProperties: Readonly<Record<(typeof watchedTypes)[number], readonly string[]>> = {
  Folder: ['name', 'parent'],
  Datacenter: ['name', 'parent'],
  // What a compute resource can use: the provisioning form's networks and datastores (shared/provisioning).
  ComputeResource: ['name', 'parent', 'network', 'datastore'],
  ClusterComputeResource: [
    'name',
    'parent',
    'network',
    'datastore',
    'summary.numHosts',
    'summary.numCpuCores',
    'summary.totalCpu',
    'summary.totalMemory',
  ],
  HostSystem: [
    'name',
    'parent',
    'runtime.connectionState',
    'runtime.powerState',
    'runtime.inMaintenanceMode',
    'summary.config.product.version',
    'summary.hardware.cpuModel',
    'summary.hardware.numCpuCores',
    'summary.hardware.cpuMhz',
    'summary.hardware.memorySize',
  ],
  ResourcePool: ['name', 'parent', 'owner'],
  Datastore: [
    'name',
    'parent',
    'summary.type',
    'summary.capacity',
    'summary.freeSpace',
    'summary.accessible',
    'summary.url',
    'summary.maintenanceMode',
  ],
  Network: ['name', 'parent'],
  // A port group is also a Network (its propSet above applies too): this adds its switch.
  DistributedVirtualPortgroup: ['config.distributedVirtualSwitch'],
  DistributedVirtualSwitch: ['name', 'parent'],
  VirtualMachine: [
    'name',
    'parent',
    'runtime.powerState',
    'runtime.host',
    'resourcePool',
    'config.template',
    'config.uuid',
    'config.instanceUuid',
    'config.hardware.numCPU',
    'config.hardware.memoryMB',
    'config.guestId',
    'config.guestFullName',
    'guest.ipAddress',
    'summary.storage.committed',
  ],
};

/** The inventory tables the sync writes, in the order a full sync merges them. */
export type TableName =
  | 'inventory_containers'
  | 'datacenters'
  | 'clusters'
  | 'hosts'
  | 'datastores'
  | 'networks'
  | 'resource_pools'
  | 'vms';

/** A table's written columns after `vcenter_id` (moid first) and their PostgreSQL types. */
export interface TableSpec {
  readonly name: TableName;
  readonly columns: readonly string[];
  readonly types: readonly string[];
}

const spec = (name: TableName, columns: [string, string][]): TableSpec => ({
  name,
  columns: columns.map(([column]) => column),
  types: columns.map(([, type]) => type),
});

const vmTypes: Record<string, string> = {
  template: 'bool',
  num_cpu: 'int4',
  memory_mb: 'int4',
  committed_bytes: 'int8',
};

/** Every table the sync writes. VMs use the column list the inventory module exports. */
export const tableSpecs: readonly TableSpec[] = [
  spec('inventory_containers', [
    ['moid', 'text'],
    ['type', 'text'],
    ['name', 'text'],
    ['parent_moid', 'text'],
    ['datacenter_moid', 'text'],
    ['network_moids', 'text'],
    ['datastore_moids', 'text'],
  ]),
  spec('datacenters', [
    ['moid', 'text'],
    ['name', 'text'],
  ]),
  spec('clusters', [
    ['moid', 'text'],
    ['name', 'text'],
    ['datacenter_moid', 'text'],
    ['num_hosts', 'int4'],
    ['num_cpu_cores', 'int4'],
    ['total_cpu_mhz', 'int8'],
    ['total_memory_bytes', 'int8'],
    ['drs_enabled', 'bool'],
    ['ha_enabled', 'bool'],
  ]),
  spec('hosts', [
    ['moid', 'text'],
    ['name', 'text'],
    ['datacenter_moid', 'text'],
    ['cluster_moid', 'text'],
    ['connection_state', 'text'],
    ['power_state', 'text'],
    ['maintenance_mode', 'bool'],
    ['version', 'text'],
    ['cpu_model', 'text'],
    ['num_cpu_cores', 'int4'],
    ['cpu_mhz', 'int4'],
    ['memory_bytes', 'int8'],
    ['compute_resource_moid', 'text'],
  ]),
  spec('datastores', [
    ['moid', 'text'],
    ['name', 'text'],
    ['datacenter_moid', 'text'],
    ['type', 'text'],
    ['capacity_bytes', 'int8'],
    ['free_bytes', 'int8'],
    ['accessible', 'bool'],
    ['url', 'text'],
    ['maintenance_mode', 'text'],
  ]),
  spec('networks', [
    ['moid', 'text'],
    ['name', 'text'],
    ['datacenter_moid', 'text'],
    ['type', 'text'],
    ['switch_moid', 'text'],
  ]),
  spec('resource_pools', [
    ['moid', 'text'],
    ['name', 'text'],
    ['owner_moid', 'text'],
    ['parent_moid', 'text'],
  ]),
  spec(
    'vms',
    vmWriteColumns
      .filter((c) => c !== 'vcenter_id')
      .map((c) => [c, vmTypes[c] ?? 'text'] as [string, string]),
  ),
];

/** The spec of one table. */
export function tableSpec(name: TableName): TableSpec {
  const found = tableSpecs.find((t) => t.name === name);
  if (!found) throw new Error(`No table spec ${name}`);
  return found;
}

/** A row by column name (moid included, vcenter_id not); absent columns are NULL. */
export type Row = Record<string, string | number | boolean | null>;

/** Where a vSphere object's rows go: its kind decides the tables. */
export function tablesOf(type: string): readonly TableName[] {
  switch (type) {
    case 'Folder':
    case 'ComputeResource':
    case 'DistributedVirtualSwitch':
    case 'VmwareDistributedVirtualSwitch':
      return ['inventory_containers'];
    case 'Datacenter':
      return ['inventory_containers', 'datacenters'];
    case 'ClusterComputeResource':
      return ['inventory_containers', 'clusters'];
    case 'HostSystem':
      return ['hosts'];
    case 'ResourcePool':
    case 'VirtualApp':
      return ['resource_pools'];
    case 'Datastore':
      return ['datastores'];
    case 'Network':
    case 'DistributedVirtualPortgroup':
    case 'OpaqueNetwork':
      return ['networks'];
    case 'VirtualMachine':
      return ['vms'];
    default:
      return [];
  }
}

/** Order in which a pass applies kinds: containers and hosts first, so VMs resolve against them. */
export function typeRank(type: string): number {
  const table = tablesOf(type)[0];
  if (table === 'inventory_containers') return 0;
  if (table === 'hosts') return 1;
  if (table === 'vms') return 3;
  return 2;
}

/** Derived values: the datacenter above a parent, the cluster of a host. */
export interface Resolver {
  /** The datacenter of an object whose parent is `parentMoid` (a folder, compute resource or datacenter). */
  datacenterOf(parentMoid: string | null): string | null;
  /** The cluster of a host (null for a standalone host or an unknown one). */
  clusterOfHost(hostMoid: string | null): string | null;
}

/** Containers and hosts known so far, updated as a pass applies their rows. */
export class InventoryResolver implements Resolver {
  readonly containers = new Map<string, { type: string; datacenter: string | null; parent: string | null }>();
  readonly hostClusters = new Map<string, string | null>();

  datacenterOf(parentMoid: string | null): string | null {
    if (parentMoid === null) return null;
    const container = this.containers.get(parentMoid);
    if (!container) return null;
    if (container.type === 'Datacenter') return parentMoid;
    return container.datacenter;
  }

  clusterOfHost(hostMoid: string | null): string | null {
    return hostMoid === null ? null : (this.hostClusters.get(hostMoid) ?? null);
  }

  /** Records a container row (inventory_containers) or a host row after it was built. */
  learn(table: TableName, row: Row): void {
    if (table === 'inventory_containers') {
      this.containers.set(String(row.moid), {
        type: String(row.type),
        parent: (row.parent_moid as string | null) ?? null,
        datacenter: (row.datacenter_moid as string | null) ?? null,
      });
    } else if (table === 'hosts') {
      this.hostClusters.set(String(row.moid), (row.cluster_moid as string | null) ?? null);
    }
  }

  forget(moid: string): void {
    this.containers.delete(moid);
    this.hostClusters.delete(moid);
  }
}

const ref = (value: VimValue | undefined): MoRef | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && 'value' in value && 'type' in value
    ? (value as unknown as MoRef)
    : null;
const moid = (value: VimValue | undefined): string | null => ref(value)?.value ?? null;
/** A set of references as stored: the distinct moids, sorted, separated by one space (null when empty). */
const moidList = (value: VimValue | undefined): string | null => {
  const moids = new Set((Array.isArray(value) ? value : []).map((item) => moid(item)));
  moids.delete(null);
  return moids.size > 0 ? [...moids].sort().join(' ') : null;
};
const text = (value: VimValue | undefined): string | null =>
  value === undefined || value === null || typeof value === 'object' ? null : String(value);
const int = (value: VimValue | undefined): number | null => {
  if (value === undefined || value === null || typeof value === 'object') return null;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : null;
};
const bool = (value: VimValue | undefined): boolean | null =>
  typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : null;
const oneOf = <T extends string>(value: VimValue | undefined, allowed: readonly T[]): T | null =>
  allowed.includes(value as T) ? (value as T) : null;

/**
 * Applies one property's value to the rows of an object (one row per table of its kind). A property the
 * tables do not store is ignored. `parent` and `runtime.host` also refresh the derived columns.
 */
export function applyProperty(
  type: string,
  rows: Partial<Record<TableName, Row>>,
  path: string,
  value: VimValue | undefined,
  resolver: Resolver,
): void {
  const set = (table: TableName, column: string, v: string | number | boolean | null) => {
    const row = rows[table];
    if (row) row[column] = v;
  };
  if (path === 'name') {
    for (const table of tablesOf(type)) set(table, 'name', text(value) ?? '');
    return;
  }
  if (path === 'parent') {
    const parent = moid(value);
    const parentRef = ref(value);
    set('inventory_containers', 'parent_moid', parent);
    const datacenter = type === 'Datacenter' ? null : resolver.datacenterOf(parent);
    set(
      'inventory_containers',
      'datacenter_moid',
      type === 'Datacenter' ? (rows.inventory_containers?.moid as string) : datacenter,
    );
    for (const table of ['clusters', 'datastores', 'networks', 'hosts', 'vms'] as const) {
      set(table, 'datacenter_moid', datacenter);
    }
    set('resource_pools', 'parent_moid', parent);
    set('vms', 'folder_moid', parent);
    if (type === 'HostSystem') {
      set('hosts', 'cluster_moid', parentRef?.type === 'ClusterComputeResource' ? parent : null);
      const computeResource =
        parentRef?.type === 'ClusterComputeResource' || parentRef?.type === 'ComputeResource';
      set('hosts', 'compute_resource_moid', computeResource ? parent : null);
    }
    return;
  }
  if (path === 'network' || path === 'datastore') {
    set('inventory_containers', `${path}_moids`, moidList(value));
    return;
  }
  switch (type) {
    case 'ClusterComputeResource':
      if (path === 'summary.numHosts') set('clusters', 'num_hosts', int(value));
      else if (path === 'summary.numCpuCores') set('clusters', 'num_cpu_cores', int(value));
      else if (path === 'summary.totalCpu') set('clusters', 'total_cpu_mhz', int(value));
      else if (path === 'summary.totalMemory') set('clusters', 'total_memory_bytes', int(value));
      return;
    case 'HostSystem':
      if (path === 'runtime.connectionState')
        set('hosts', 'connection_state', oneOf(value, ['connected', 'disconnected', 'notResponding']));
      else if (path === 'runtime.powerState')
        set('hosts', 'power_state', oneOf(value, ['poweredOn', 'poweredOff', 'standBy', 'unknown']));
      else if (path === 'runtime.inMaintenanceMode') set('hosts', 'maintenance_mode', bool(value));
      else if (path === 'summary.config.product.version') set('hosts', 'version', text(value));
      else if (path === 'summary.hardware.cpuModel') set('hosts', 'cpu_model', text(value));
      else if (path === 'summary.hardware.numCpuCores') set('hosts', 'num_cpu_cores', int(value));
      else if (path === 'summary.hardware.cpuMhz') set('hosts', 'cpu_mhz', int(value));
      else if (path === 'summary.hardware.memorySize') set('hosts', 'memory_bytes', int(value));
      return;
    case 'ResourcePool':
    case 'VirtualApp':
      if (path === 'owner') set('resource_pools', 'owner_moid', moid(value));
      return;
    case 'Datastore':
      if (path === 'summary.type') set('datastores', 'type', text(value));
      else if (path === 'summary.capacity') set('datastores', 'capacity_bytes', int(value));
      else if (path === 'summary.freeSpace') set('datastores', 'free_bytes', int(value));
      else if (path === 'summary.accessible') set('datastores', 'accessible', bool(value));
      else if (path === 'summary.url') set('datastores', 'url', text(value));
      else if (path === 'summary.maintenanceMode') set('datastores', 'maintenance_mode', text(value));
      return;
    case 'DistributedVirtualPortgroup':
      if (path === 'config.distributedVirtualSwitch') set('networks', 'switch_moid', moid(value));
      return;
    case 'VirtualMachine':
      applyVmProperty(rows, path, value, resolver);
      return;
    default:
  }
}

function applyVmProperty(
  rows: Partial<Record<TableName, Row>>,
  path: string,
  value: VimValue | undefined,
  resolver: Resolver,
): void {
  const row = rows.vms;
  if (!row) return;
  switch (path) {
    case 'runtime.powerState':
      // A VM with no state yet (being created) reads as off rather than failing the row's CHECK.
      row.power_state = oneOf(value, ['poweredOn', 'poweredOff', 'suspended']) ?? 'poweredOff';
      return;
    case 'runtime.host':
      row.host_moid = moid(value);
      row.cluster_moid = resolver.clusterOfHost(row.host_moid);
      return;
    case 'resourcePool':
      row.resource_pool_moid = moid(value);
      return;
    case 'config.template':
      row.template = bool(value) ?? false;
      return;
    case 'config.uuid':
      row.uuid = text(value);
      return;
    case 'config.instanceUuid':
      row.instance_uuid = text(value);
      return;
    case 'config.hardware.numCPU':
      row.num_cpu = int(value);
      return;
    case 'config.hardware.memoryMB':
      row.memory_mb = int(value);
      return;
    case 'config.guestId':
      row.guest_os = text(value);
      return;
    case 'config.guestFullName':
      row.guest_full_name = text(value);
      return;
    case 'guest.ipAddress':
      row.ip_address = text(value);
      return;
    case 'summary.storage.committed':
      row.committed_bytes = int(value);
      return;
    default:
  }
}

/** Empty rows (moid and defaults) for a new object of `type`. */
export function emptyRows(type: string, objectMoid: string): Partial<Record<TableName, Row>> {
  const rows: Partial<Record<TableName, Row>> = {};
  for (const table of tablesOf(type)) {
    const row: Row = {};
    for (const column of tableSpec(table).columns) row[column] = null;
    row.moid = objectMoid;
    row.name = '';
    if (table === 'inventory_containers') row.type = type === 'ClusterComputeResource' ? type : type;
    if (table === 'networks') row.type = type;
    if (table === 'vms') {
      row.template = false;
      row.power_state = 'poweredOff';
    }
    rows[table] = row;
  }
  return rows;
}

/** The rows of an object from a full property set (an enter update or a retrieved object). */
export function rowsFromProperties(
  type: string,
  objectMoid: string,
  props: Readonly<Record<string, VimValue | undefined>>,
  resolver: Resolver,
): Partial<Record<TableName, Row>> {
  const rows = emptyRows(type, objectMoid);
  for (const [path, value] of Object.entries(props)) applyProperty(type, rows, path, value, resolver);
  return rows;
}

/** A row's values in its table's column order, for COPY or unnest. */
export function rowValues(table: TableName, row: Row): (string | number | boolean | null)[] {
  return tableSpec(table).columns.map((column) => row[column] ?? null);
}

/** One value in PostgreSQL's COPY text format. */
export function copyField(value: string | number | boolean | null): string {
  if (value === null) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') return String(value);
  return value.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}
