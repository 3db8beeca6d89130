// Integration test helpers — random changes in a vcsim inventory through plain vim25 calls, and a table
// snapshot of one vCenter's rows, shared by the sync tests and the sync benchmarks.
import type pg from 'pg';
import { tableSpecs } from '../../shared/inventory/sync/index.ts';
import { el, type MoRef, moRefEl, VsphereClient } from '../../shared/vsphere/index.ts';

/** What the change generator knows of the inventory. */
export interface ChangeTarget {
  readonly client: VsphereClient;
  readonly vms: Map<string, { powerState: string }>;
  readonly folders: MoRef[];
  readonly pool: MoRef;
  readonly host: MoRef;
  readonly datastoreName: string;
  /**
   * VMs changed since the watch last read: govmomi 0.24.2's collector drops its whole pending update list
   * when an object with a queued modify is destroyed before the next WaitForUpdatesEx, so destroys pick
   * untouched, powered-off VMs (a vCenter has no such limit). Clear it after each sync pass.
   */
  readonly touched: Set<string>;
  /**
   * Runs changes that add or remove a container view's members (create, move, destroy) one at a time:
   * govmomi 0.24.2's ContainerView.PutObject appends to its `view` list without a lock (view_manager.go), so
   * two concurrent ones can drop an object from the view, and the watch then reports it gone while a fresh
   * retrieval (a new view) still sees it. A vCenter has no such race; power changes and renames stay concurrent.
   */
  readonly viewChange: <T>(change: () => Promise<T>) => Promise<T>;
}

/** A one-at-a-time lane for async work. */
function serialLane(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>) => {
    const run = tail.then(work, work);
    tail = run.catch(() => {});
    return run;
  };
}

/** Opens a non-pooled client on a vcsim and reads what random changes need. */
export async function changeTarget(url: string, username: string, password: string): Promise<ChangeTarget> {
  const client = await VsphereClient.connect({ url, username, password, insecure: true, pooled: false });
  const vms = new Map<string, { powerState: string }>();
  const folders: MoRef[] = [];
  let pool: MoRef | undefined;
  let host: MoRef | undefined;
  let datastoreName = '';
  for await (const o of client.retrieve({
    types: ['VirtualMachine', 'Folder', 'ResourcePool', 'HostSystem', 'Datastore'],
    properties: {
      VirtualMachine: ['runtime.powerState', 'config.template'],
      Folder: ['childType'],
      ResourcePool: ['name'],
      HostSystem: ['parent'],
      Datastore: ['name'],
    },
    maxObjects: 1000,
  })) {
    if (o.type === 'VirtualMachine' && o.props['config.template'] !== true) {
      vms.set(o.moid, { powerState: String(o.props['runtime.powerState']) });
    } else if (o.type === 'Folder' && JSON.stringify(o.props.childType).includes('VirtualMachine')) {
      folders.push({ type: 'Folder', value: o.moid });
    } else if (o.type === 'ResourcePool') pool ??= { type: 'ResourcePool', value: o.moid };
    else if (o.type === 'HostSystem') host ??= { type: 'HostSystem', value: o.moid };
    else if (o.type === 'Datastore') datastoreName ||= String(o.props.name);
  }
  if (!pool || !host || folders.length === 0)
    throw new Error('vcsim inventory lacks a pool, host or VM folder');
  // A second VM folder, so moves have somewhere to go.
  const [created] = await client.call('CreateFolder', folders[0] as MoRef, el('name', `moved-${Date.now()}`));
  folders.push({ type: 'Folder', value: created?.text ?? '' });
  return { client, vms, folders, pool, host, datastoreName, touched: new Set(), viewChange: serialLane() };
}

const vm = (moid: string): MoRef => ({ type: 'VirtualMachine', value: moid });

/** Creates one VM in the first VM folder; answers its moid. */
export async function createVm(t: ChangeTarget, name: string): Promise<string> {
  const config = el('config', [
    el('name', name),
    el('guestId', 'otherGuest'),
    el('files', [el('vmPathName', `[${t.datastoreName}]`)]),
    el('numCPUs', 1),
    el('memoryMB', 64),
  ]);
  const result = await t.viewChange(async () => {
    const [task] = await t.client.call(
      'CreateVM_Task',
      t.folders[0] as MoRef,
      config + moRefEl('pool', t.pool) + moRefEl('host', t.host),
    );
    return t.client.waitForTask({ type: 'Task', value: task?.text ?? '' }, { pollMs: 10 });
  });
  const moid = (result.result as MoRef).value;
  t.vms.set(moid, { powerState: 'poweredOff' });
  t.touched.add(moid);
  return moid;
}

/** One random change (power, rename, create, destroy, move) on a VM nobody else is changing. */
export async function randomChange(
  t: ChangeTarget,
  busy: Set<string>,
  random: () => number,
  n: number,
): Promise<string> {
  const pick = () => {
    const free = [...t.vms.keys()].filter((moid) => !busy.has(moid));
    return free[Math.floor(random() * free.length)];
  };
  const roll = random();
  if (roll < 0.1 || t.vms.size < 10) {
    await createVm(t, `created-${n}`);
    return 'create';
  }
  const destroyable = [...t.vms.entries()]
    .filter(([moid, vm]) => !busy.has(moid) && !t.touched.has(moid) && vm.powerState === 'poweredOff')
    .map(([moid]) => moid);
  const destroying = roll >= 0.88 && destroyable.length > 0;
  const moid = destroying ? destroyable[Math.floor(random() * destroyable.length)] : pick();
  if (!moid) return 'none';
  busy.add(moid);
  t.touched.add(moid);
  try {
    const wait = async (task: MoRef) => t.client.waitForTask(task, { pollMs: 10 });
    const state = t.vms.get(moid) as { powerState: string };
    if (roll < 0.5 || (roll >= 0.88 && !destroying)) {
      if (state.powerState === 'poweredOn') await wait(await t.client.powerOffVm(vm(moid)));
      else await wait(await t.client.powerOnVm(vm(moid)));
      state.powerState = state.powerState === 'poweredOn' ? 'poweredOff' : 'poweredOn';
      return 'power';
    }
    if (roll < 0.75) {
      const [task] = await t.client.call('Rename_Task', vm(moid), el('newName', `renamed-${n}-${moid}`));
      await wait({ type: 'Task', value: task?.text ?? '' });
      return 'rename';
    }
    if (roll < 0.88) {
      const folder = t.folders[Math.floor(random() * t.folders.length)] as MoRef;
      await t.viewChange(async () => {
        const [task] = await t.client.call('MoveIntoFolder_Task', folder, moRefEl('list', vm(moid)));
        await wait({ type: 'Task', value: task?.text ?? '' });
      });
      return 'move';
    }
    await t.viewChange(async () => wait(await t.client.destroy(vm(moid))));
    t.vms.delete(moid);
    return 'destroy';
  } finally {
    busy.delete(moid);
  }
}

/** A seeded PRNG (mulberry32), so a failing run can be repeated. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every synced row of one vCenter, per table, ordered by moid, as text (with updated_at when asked). */
export async function snapshot(
  db: pg.Pool | pg.ClientBase,
  vcenterId: string,
  withUpdatedAt = false,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const spec of tableSpecs) {
    const columns = [...spec.columns, ...(withUpdatedAt ? ['updated_at'] : [])];
    const { rows } = await db.query<{ r: string }>(
      `SELECT row(${columns.join(', ')})::text AS r FROM ${spec.name} WHERE vcenter_id = $1 ORDER BY moid`,
      [vcenterId],
    );
    out[spec.name] = rows.map((row) => row.r);
  }
  return out;
}

/** Re-reads the VMs and their power states after a change failed half-way. */
export async function resyncTarget(t: ChangeTarget): Promise<void> {
  const seen = new Set<string>();
  for await (const o of t.client.retrieve({
    types: ['VirtualMachine'],
    properties: { VirtualMachine: ['runtime.powerState', 'config.template'] },
    maxObjects: 1000,
  })) {
    if (o.props['config.template'] === true) continue;
    seen.add(o.moid);
    const known = t.vms.get(o.moid);
    if (known) known.powerState = String(o.props['runtime.powerState']);
    else t.vms.set(o.moid, { powerState: String(o.props['runtime.powerState']) });
    t.touched.add(o.moid);
  }
  for (const moid of t.vms.keys()) if (!seen.has(moid)) t.vms.delete(moid);
}
