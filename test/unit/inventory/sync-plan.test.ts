// Unit tests — inventory sync planner (domain, pure): enter / modify / leave sequences become final rows and
// deletes; modifies merge into stored rows; an object that enters and leaves in one set is kept; containers
// resolve before the objects under them whatever the arrival order; replaying a plan changes nothing.
import { describe, expect, it } from 'vitest';
import { InventoryResolver, type Row, type TableName } from '../../../shared/inventory/sync/mapping.ts';
import { planUpdates, type RowLoader } from '../../../shared/inventory/sync/plan.ts';
import type { ObjectUpdate, VimValue } from '../../../shared/vsphere/index.ts';

const ref = (type: string, value: string): VimValue => ({ type, value });

const enter = (type: string, moid: string, props: Record<string, VimValue>): ObjectUpdate => ({
  kind: 'enter',
  type,
  moid,
  changes: Object.entries(props).map(([name, value]) => ({ name, op: 'assign', value })),
});
const modify = (type: string, moid: string, props: Record<string, VimValue | undefined>): ObjectUpdate => ({
  kind: 'modify',
  type,
  moid,
  changes: Object.entries(props).map(([name, value]) =>
    value === undefined ? { name, op: 'remove', value: undefined } : { name, op: 'assign', value },
  ),
});
const leave = (type: string, moid: string): ObjectUpdate => ({ kind: 'leave', type, moid, changes: [] });

/** A loader over fixed stored rows that records what it was asked for. */
function storedRows(rows: Partial<Record<TableName, Row[]>>): RowLoader & { calls: [TableName, string[]][] } {
  const calls: [TableName, string[]][] = [];
  const load = async (table: TableName, moids: readonly string[]) => {
    calls.push([table, [...moids]]);
    return (rows[table] ?? []).filter((row) => moids.includes(String(row.moid)));
  };
  return Object.assign(load, { calls });
}

const noRows = storedRows({});

// A small inventory as a full sync's initial update set, deliberately out of order: VMs and a nested folder
// before the datacenter and folders they resolve against.
const initialSet: ObjectUpdate[] = [
  enter('VirtualMachine', 'vm-1', {
    name: 'web-1',
    parent: ref('Folder', 'group-v9'),
    'runtime.powerState': 'poweredOn',
    'runtime.host': ref('HostSystem', 'host-1'),
  }),
  enter('Folder', 'group-v9', { name: 'apps', parent: ref('Folder', 'group-v3') }),
  enter('HostSystem', 'host-1', { name: 'esx-1', parent: ref('ClusterComputeResource', 'domain-c7') }),
  enter('Folder', 'group-v3', { name: 'vm', parent: ref('Datacenter', 'datacenter-2') }),
  enter('Datacenter', 'datacenter-2', { name: 'DC0', parent: ref('Folder', 'group-d1') }),
  enter('Folder', 'group-d1', { name: 'Datacenters' }),
  enter('Task', 'task-1', { name: 'ignored' }),
];

describe('sync planner', () => {
  it('plans a full sync from enters in any order, resolving datacenters and clusters, without loading rows', async () => {
    const load = storedRows({});

    const plan = await planUpdates(initialSet, load, new InventoryResolver());

    expect(load.calls).toEqual([]);
    expect(plan.objects).toBe(6); // the Task is not watched
    expect(plan.deletes.size).toBe(0);
    expect(plan.upserts.get('vms')?.get('vm-1')).toMatchObject({
      datacenter_moid: 'datacenter-2',
      folder_moid: 'group-v9',
      host_moid: 'host-1',
      cluster_moid: 'domain-c7',
    });
    expect(plan.upserts.get('inventory_containers')?.get('group-v9')?.datacenter_moid).toBe('datacenter-2');
    expect(plan.upserts.get('datacenters')?.get('datacenter-2')).toEqual({
      moid: 'datacenter-2',
      name: 'DC0',
    });
    expect(plan.upserts.get('hosts')?.get('host-1')?.datacenter_moid).toBeNull(); // cluster not in this set
  });

  it('merges a modify into the stored row: only the changed columns move', async () => {
    const stored: Row = {
      moid: 'vm-1',
      name: 'web-1',
      power_state: 'poweredOn',
      template: false,
      num_cpu: 2,
      host_moid: 'host-1',
      cluster_moid: 'domain-c7',
    };
    const load = storedRows({ vms: [stored] });

    const plan = await planUpdates(
      [
        modify('VirtualMachine', 'vm-1', {
          'runtime.powerState': 'poweredOff',
          'guest.ipAddress': undefined,
        }),
      ],
      load,
      new InventoryResolver(),
    );

    expect(load.calls).toEqual([['vms', ['vm-1']]]);
    expect(plan.upserts.get('vms')?.get('vm-1')).toEqual({
      ...stored,
      power_state: 'poweredOff',
      ip_address: null,
    });
    expect(stored.power_state).toBe('poweredOn'); // the loaded row is not mutated
    expect(plan.unknownModifies).toBe(0);
  });

  it('batches enters, modifies and leaves of one set: final rows upserted, departed objects deleted', async () => {
    const load = storedRows({
      vms: [{ moid: 'vm-2', name: 'db-1', power_state: 'poweredOn', template: false }],
    });

    const plan = await planUpdates(
      [
        enter('VirtualMachine', 'vm-5', { name: 'new-1', 'runtime.powerState': 'poweredOff' }),
        modify('VirtualMachine', 'vm-2', { name: 'db-1-renamed' }),
        leave('VirtualMachine', 'vm-3'),
        leave('Datacenter', 'datacenter-9'),
        modify('VirtualMachine', 'vm-5', { 'runtime.powerState': 'poweredOn' }),
      ],
      load,
      new InventoryResolver(),
    );

    expect([...(plan.upserts.get('vms')?.keys() ?? [])].sort()).toEqual(['vm-2', 'vm-5']);
    expect(plan.upserts.get('vms')?.get('vm-5')).toMatchObject({ name: 'new-1', power_state: 'poweredOn' });
    expect(plan.upserts.get('vms')?.get('vm-2')?.name).toBe('db-1-renamed');
    expect(plan.deletes.get('vms')).toEqual(new Set(['vm-3']));
    // A datacenter leaves both of its tables.
    expect(plan.deletes.get('inventory_containers')).toEqual(new Set(['datacenter-9']));
    expect(plan.deletes.get('datacenters')).toEqual(new Set(['datacenter-9']));
    expect(plan.objects).toBe(5);
  });

  it('keeps an object that leaves and enters in one set (a move reported out of order), in either order', async () => {
    for (const updates of [
      [
        leave('VirtualMachine', 'vm-4'),
        enter('VirtualMachine', 'vm-4', { name: 'moved', parent: ref('Folder', 'f-2') }),
      ],
      [
        enter('VirtualMachine', 'vm-4', { name: 'moved', parent: ref('Folder', 'f-2') }),
        leave('VirtualMachine', 'vm-4'),
      ],
    ]) {
      const plan = await planUpdates(updates, noRows, new InventoryResolver());

      expect(plan.deletes.get('vms')?.has('vm-4') ?? false).toBe(false);
      expect(plan.upserts.get('vms')?.get('vm-4')).toMatchObject({ name: 'moved', folder_moid: 'f-2' });
    }
  });

  it('restores the stored row when a modify follows a leave of the same object', async () => {
    const load = storedRows({
      vms: [{ moid: 'vm-6', name: 'app-6', power_state: 'poweredOn', template: false }],
    });

    const plan = await planUpdates(
      [leave('VirtualMachine', 'vm-6'), modify('VirtualMachine', 'vm-6', { parent: ref('Folder', 'f-3') })],
      load,
      new InventoryResolver(),
    );

    expect(plan.deletes.get('vms')?.has('vm-6') ?? false).toBe(false);
    expect(plan.upserts.get('vms')?.get('vm-6')).toMatchObject({ name: 'app-6', folder_moid: 'f-3' });
    expect(plan.unknownModifies).toBe(0);
  });

  it('counts a modify of an object the tables never had (drift: the next pass must be a full sync)', async () => {
    const plan = await planUpdates(
      [modify('VirtualMachine', 'vm-404', { 'runtime.powerState': 'poweredOff' })],
      noRows,
      new InventoryResolver(),
    );

    expect(plan.unknownModifies).toBe(1);
  });

  it('flags a host that changed cluster, so its VMs get their cluster refreshed', async () => {
    const load = storedRows({ hosts: [{ moid: 'host-1', name: 'esx-1', cluster_moid: 'domain-c7' }] });

    const moved = await planUpdates(
      [modify('HostSystem', 'host-1', { parent: ref('ClusterComputeResource', 'domain-c8') })],
      load,
      new InventoryResolver(),
    );
    const renamed = await planUpdates(
      [modify('HostSystem', 'host-1', { name: 'esx-1b' })],
      load,
      new InventoryResolver(),
    );

    expect(moved.hostClustersChanged).toBe(true);
    expect(moved.upserts.get('hosts')?.get('host-1')?.cluster_moid).toBe('domain-c8');
    expect(renamed.hostClustersChanged).toBe(false);
  });

  it('resolves a VM against the host of the same set, whatever their order', async () => {
    const plan = await planUpdates(
      [
        modify('VirtualMachine', 'vm-1', { 'runtime.host': ref('HostSystem', 'host-2') }),
        enter('HostSystem', 'host-2', { name: 'esx-2', parent: ref('ClusterComputeResource', 'domain-c8') }),
      ],
      storedRows({ vms: [{ moid: 'vm-1', name: 'web-1', power_state: 'poweredOn', template: false }] }),
      new InventoryResolver(),
    );

    expect(plan.upserts.get('vms')?.get('vm-1')).toMatchObject({
      host_moid: 'host-2',
      cluster_moid: 'domain-c8',
    });
  });

  it('changes nothing when a batch is replayed over the rows it produced', async () => {
    const batch = [
      modify('VirtualMachine', 'vm-1', { 'runtime.powerState': 'suspended', name: 'web-1b' }),
      enter('VirtualMachine', 'vm-9', { name: 'fresh', 'runtime.powerState': 'poweredOn' }),
    ];
    const base = storedRows({
      vms: [{ moid: 'vm-1', name: 'web-1', power_state: 'poweredOn', template: false }],
    });
    const first = await planUpdates(batch, base, new InventoryResolver());
    const after = storedRows({ vms: [...(first.upserts.get('vms')?.values() ?? [])] });

    const replay = await planUpdates(batch, after, new InventoryResolver());

    expect(replay.upserts).toEqual(first.upserts);
    expect(replay.deletes).toEqual(first.deletes);
  });
});
