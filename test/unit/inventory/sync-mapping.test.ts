// Unit tests — inventory sync mapping (domain, pure): how vSphere objects and their properties become rows of
// the inventory tables, derived columns (datacenter, cluster) resolved through the InventoryResolver, and the
// COPY text encoding of values.
import { describe, expect, it } from 'vitest';
import {
  applyProperty,
  copyField,
  emptyRows,
  InventoryResolver,
  rowsFromProperties,
  rowValues,
  tableSpec,
  tableSpecs,
  tablesOf,
  typeRank,
  watchedProperties,
  watchedTypes,
} from '../../../shared/inventory/sync/mapping.ts';
import { vmWriteColumns } from '../../../shared/inventory/writes.ts';
import type { VimValue } from '../../../shared/vsphere/index.ts';

const ref = (type: string, value: string): VimValue => ({ type, value });

/** datacenter-2 > group-v3 (VM folder) and datacenter-2 > host folder > cluster domain-c7 with host-11. */
function knownInventory(): InventoryResolver {
  const resolver = new InventoryResolver();
  resolver.learn('inventory_containers', {
    moid: 'datacenter-2',
    type: 'Datacenter',
    parent_moid: 'group-d1',
    datacenter_moid: 'datacenter-2',
  });
  resolver.learn('inventory_containers', {
    moid: 'group-v3',
    type: 'Folder',
    parent_moid: 'datacenter-2',
    datacenter_moid: 'datacenter-2',
  });
  resolver.learn('inventory_containers', {
    moid: 'group-h4',
    type: 'Folder',
    parent_moid: 'datacenter-2',
    datacenter_moid: 'datacenter-2',
  });
  resolver.learn('hosts', { moid: 'host-11', cluster_moid: 'domain-c7' });
  return resolver;
}

const fullVm: Record<string, VimValue> = {
  name: 'prod-web-01',
  parent: ref('Folder', 'group-v3'),
  'runtime.powerState': 'poweredOn',
  'runtime.host': ref('HostSystem', 'host-11'),
  resourcePool: ref('ResourcePool', 'resgroup-8'),
  'config.template': false,
  'config.uuid': '4211aaaa-0000-0000-0000-000000000001',
  'config.instanceUuid': '5011aaaa-0000-0000-0000-000000000001',
  'config.hardware.numCPU': 4,
  'config.hardware.memoryMB': 8192,
  'config.guestId': 'ubuntu64Guest',
  'config.guestFullName': 'Ubuntu Linux (64-bit)',
  'guest.ipAddress': '10.0.0.5',
  'summary.storage.committed': 53_687_091_200,
};

describe('sync mapping: vSphere objects to rows', () => {
  it('maps every watched VM property to its column and derives datacenter and cluster', () => {
    const rows = rowsFromProperties('VirtualMachine', 'vm-42', fullVm, knownInventory());

    expect(Object.keys(rows)).toEqual(['vms']);
    expect(rows.vms).toEqual({
      moid: 'vm-42',
      name: 'prod-web-01',
      power_state: 'poweredOn',
      template: false,
      uuid: '4211aaaa-0000-0000-0000-000000000001',
      instance_uuid: '5011aaaa-0000-0000-0000-000000000001',
      num_cpu: 4,
      memory_mb: 8192,
      guest_os: 'ubuntu64Guest',
      guest_full_name: 'Ubuntu Linux (64-bit)',
      ip_address: '10.0.0.5',
      host_moid: 'host-11',
      cluster_moid: 'domain-c7',
      resource_pool_moid: 'resgroup-8',
      datacenter_moid: 'datacenter-2',
      folder_moid: 'group-v3',
      committed_bytes: 53_687_091_200,
    });
  });

  it('gives a VM without properties nulls, a poweredOff state and template false (the row CHECKs hold)', () => {
    const rows = rowsFromProperties('VirtualMachine', 'vm-7', {}, new InventoryResolver());

    expect(rows.vms).toMatchObject({ moid: 'vm-7', name: '', power_state: 'poweredOff', template: false });
    expect(rows.vms?.host_moid).toBeNull();
    expect(rows.vms?.datacenter_moid).toBeNull();
  });

  it('reads an unknown power state as poweredOff and drops malformed numbers and references', () => {
    const rows = rowsFromProperties(
      'VirtualMachine',
      'vm-8',
      {
        'runtime.powerState': 'creating',
        'config.hardware.numCPU': 'lots',
        'runtime.host': 'host-11',
        'config.template': 'true',
      },
      knownInventory(),
    );

    expect(rows.vms).toMatchObject({
      power_state: 'poweredOff',
      num_cpu: null,
      host_moid: null,
      template: true,
    });
  });

  it('makes a template a VM row flagged template', () => {
    const rows = rowsFromProperties('VirtualMachine', 'vm-9', { 'config.template': true }, knownInventory());

    expect(tablesOf('VirtualMachine')).toEqual(['vms']);
    expect(rows.vms?.template).toBe(true);
  });

  it('puts a host in its parent cluster, and a standalone host (ComputeResource parent) in none', () => {
    const resolver = knownInventory();
    const clustered = rowsFromProperties(
      'HostSystem',
      'host-11',
      {
        name: 'esx-01',
        parent: ref('ClusterComputeResource', 'domain-c7'),
        'runtime.connectionState': 'connected',
        'runtime.powerState': 'poweredOn',
        'runtime.inMaintenanceMode': false,
        'summary.hardware.memorySize': 274_877_906_944,
        'summary.hardware.numCpuCores': 48,
      },
      resolver,
    );
    const standalone = rowsFromProperties(
      'HostSystem',
      'host-20',
      { parent: ref('ComputeResource', 'domain-s19'), 'runtime.connectionState': 'weird' },
      resolver,
    );

    expect(clustered.hosts).toMatchObject({
      cluster_moid: 'domain-c7',
      connection_state: 'connected',
      power_state: 'poweredOn',
      maintenance_mode: false,
      memory_bytes: 274_877_906_944,
      num_cpu_cores: 48,
    });
    expect(standalone.hosts).toMatchObject({ cluster_moid: null, connection_state: null });
  });

  it('writes a datacenter to containers (as its own datacenter) and to datacenters', () => {
    const rows = rowsFromProperties(
      'Datacenter',
      'datacenter-2',
      { name: 'DC0', parent: ref('Folder', 'group-d1') },
      new InventoryResolver(),
    );

    expect(rows.inventory_containers).toMatchObject({
      moid: 'datacenter-2',
      type: 'Datacenter',
      name: 'DC0',
      parent_moid: 'group-d1',
      datacenter_moid: 'datacenter-2',
    });
    expect(rows.datacenters).toEqual({ moid: 'datacenter-2', name: 'DC0' });
  });

  it('writes a cluster to containers and clusters with its datacenter and summary', () => {
    const rows = rowsFromProperties(
      'ClusterComputeResource',
      'domain-c7',
      {
        name: 'C0',
        parent: ref('Folder', 'group-h4'),
        'summary.numHosts': 3,
        'summary.totalMemory': 3 * 2 ** 38,
      },
      knownInventory(),
    );

    expect(rows.clusters).toMatchObject({
      name: 'C0',
      datacenter_moid: 'datacenter-2',
      num_hosts: 3,
      total_memory_bytes: 3 * 2 ** 38,
    });
    expect(rows.inventory_containers).toMatchObject({
      type: 'ClusterComputeResource',
      datacenter_moid: 'datacenter-2',
    });
  });

  it('maps datastores, portgroups and resource pools to their tables', () => {
    const resolver = knownInventory();
    const ds = rowsFromProperties(
      'Datastore',
      'datastore-5',
      {
        name: 'LocalDS_0',
        parent: ref('Folder', 'group-v3'),
        'summary.type': 'VMFS',
        'summary.capacity': 1e12,
        'summary.freeSpace': 4e11,
        'summary.accessible': true,
        'summary.url': 'ds:///vmfs/volumes/x/',
      },
      resolver,
    );
    const pg = rowsFromProperties('DistributedVirtualPortgroup', 'dvportgroup-9', { name: 'DVPG' }, resolver);
    const pool = rowsFromProperties(
      'ResourcePool',
      'resgroup-8',
      {
        name: 'Resources',
        parent: ref('ClusterComputeResource', 'domain-c7'),
        owner: ref('ClusterComputeResource', 'domain-c7'),
      },
      resolver,
    );

    expect(ds.datastores).toMatchObject({
      datacenter_moid: 'datacenter-2',
      type: 'VMFS',
      capacity_bytes: 1e12,
      free_bytes: 4e11,
      accessible: true,
    });
    expect(pg.networks).toMatchObject({ name: 'DVPG', type: 'DistributedVirtualPortgroup' });
    expect(pool.resource_pools).toEqual({
      moid: 'resgroup-8',
      name: 'Resources',
      owner_moid: 'domain-c7',
      parent_moid: 'domain-c7',
    });
  });

  it('ignores properties the tables do not store and kinds the sync does not watch', () => {
    const rows = emptyRows('VirtualMachine', 'vm-1');
    const before = { ...rows.vms };

    applyProperty('VirtualMachine', rows, 'config.annotation', 'hello', knownInventory());

    expect(rows.vms).toEqual(before);
    expect(tablesOf('HostNetworkSystem')).toEqual([]);
    expect(rowsFromProperties('Task', 'task-1', { name: 'x' }, knownInventory())).toEqual({});
  });

  it('orders kinds containers, hosts, others, VMs', () => {
    expect(['VirtualMachine', 'Datastore', 'HostSystem', 'Folder'].map(typeRank)).toEqual([3, 2, 1, 0]);
  });

  it('watches a property list for every watched type', () => {
    for (const type of watchedTypes) {
      // A port group is a Network: the Network property set applies to it as well as its own.
      const inherited = type === 'DistributedVirtualPortgroup' ? watchedProperties.Network : [];
      expect([...inherited, ...watchedProperties[type]]).toContain('name');
      expect(tablesOf(type).length).toBeGreaterThan(0);
    }
  });

  it('keeps each table spec consistent: moid first, one type per column, VMs on the shared write columns', () => {
    for (const spec of tableSpecs) {
      expect(spec.columns[0]).toBe('moid');
      expect(spec.types).toHaveLength(spec.columns.length);
    }
    expect(tableSpec('vms').columns).toEqual(vmWriteColumns.filter((c) => c !== 'vcenter_id'));
    expect(() => tableSpec('nope' as never)).toThrow(/nope/);
  });

  it('lays out a row in its table column order with NULL for absent columns', () => {
    expect(rowValues('datacenters', { name: 'DC0', moid: 'datacenter-2' })).toEqual(['datacenter-2', 'DC0']);
    expect(rowValues('networks', { moid: 'network-7' })).toEqual(['network-7', null, null, null, null]);
  });
});

describe('sync mapping: COPY text format', () => {
  it('encodes NULL, booleans and numbers', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField(true)).toBe('t');
    expect(copyField(false)).toBe('f');
    expect(copyField(53_687_091_200)).toBe('53687091200');
  });

  it('escapes backslash, tab, newline and carriage return so a name cannot break the row', () => {
    expect(copyField('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(copyField('\\N')).toBe('\\\\N');
  });
});
