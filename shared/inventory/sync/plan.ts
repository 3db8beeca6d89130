// Inventory sync — domain: turns a sequence of object updates (enter / modify / leave, in the order the
// PropertyCollector reported them) into the final rows to write and the objects to delete. A modify is
// merged into the object's current row (from earlier in the same sequence, else from the database), so
// applying the same sequence twice yields the same rows: replays change nothing.
import type { ObjectUpdate, VimValue } from '#shared/vsphere';
import {
  applyProperty,
  emptyRows,
  InventoryResolver,
  type Row,
  rowsFromProperties,
  type TableName,
  tablesOf,
  typeRank,
} from './mapping.ts';

/** What a pass writes: final rows per table, and moids to delete per table. */
export interface Plan {
  readonly upserts: Map<TableName, Map<string, Row>>;
  readonly deletes: Map<TableName, Set<string>>;
  /** Modify updates for objects the database does not have: the tables drifted, a full sync is due. */
  readonly unknownModifies: number;
  /** A host's cluster changed: VMs on it need their cluster refreshed. */
  readonly hostClustersChanged: boolean;
  /** Updates planned. */
  readonly objects: number;
}

/** Reads current rows of one table by moid (the sync's transaction). */
export type RowLoader = (table: TableName, moids: readonly string[]) => Promise<Row[]>;

type ObjectRows = Partial<Record<TableName, Row>>;

const asProps = (update: ObjectUpdate): Record<string, VimValue | undefined> => {
  const props: Record<string, VimValue | undefined> = {};
  for (const change of update.changes) {
    props[change.name] = change.op === 'remove' || change.op === 'indirectRemove' ? undefined : change.value;
  }
  return props;
};

/**
 * Whether planning `updates` reads derived values (an object's datacenter, a VM's cluster): an enter, any
 * container update (its datacenter is recomputed from its parent), or a modify of `parent` or `runtime.host`.
 * A batch of power changes, renames or hardware edits does not, and needs no stored containers or hosts.
 */
export function needsResolver(updates: readonly ObjectUpdate[]): boolean {
  return updates.some(
    (update) =>
      tablesOf(update.type).length > 0 &&
      update.kind !== 'leave' &&
      (update.kind === 'enter' ||
        typeRank(update.type) === 0 ||
        update.changes.some((change) => change.name === 'parent' || change.name === 'runtime.host')),
  );
}

/**
 * Plans a pass over `updates`. `resolver` must know the vCenter's containers and hosts as stored (empty for a
 * full sync, where every object enters); it learns the pass's own containers and hosts as they are applied.
 * Given as a loader, it is loaded only when the updates need it ({@link needsResolver}); otherwise an empty
 * one stands in, which nothing reads. Kinds are applied containers first, then hosts, then the rest, then VMs
 * (stable within a kind), so derived columns resolve against this pass's state.
 */
export async function planUpdates(
  updates: readonly ObjectUpdate[],
  load: RowLoader,
  resolverOrLoader: InventoryResolver | (() => Promise<InventoryResolver>),
): Promise<Plan> {
  const resolver =
    typeof resolverOrLoader !== 'function'
      ? resolverOrLoader
      : needsResolver(updates)
        ? await resolverOrLoader()
        : new InventoryResolver();
  // One update set holds one update per object on a vCenter (the collector merges them). An object that both
  // enters and leaves within a set can only be a moved object reported as leave + enter out of order
  // (govmomi's simulator does that for MoveIntoFolder): it is present, so its leave is dropped.
  const entered = new Set(updates.filter((u) => u.kind === 'enter').map((u) => u.moid));
  const ordered = updates
    .map((update, index) => ({ update, index }))
    .filter(({ update }) => tablesOf(update.type).length > 0)
    .filter(({ update }) => !(update.kind === 'leave' && entered.has(update.moid)))
    .sort((a, b) => typeRank(a.update.type) - typeRank(b.update.type) || a.index - b.index)
    .map(({ update }) => update);

  // Current rows for objects whose first update here is a modify.
  const needed = new Map<TableName, string[]>();
  for (const update of ordered) {
    // Every modified object's stored row is loaded: a modify can follow a leave of the same object (a
    // simulator reports a move between folders that way), and then the stored row is its base.
    if (
      update.kind === 'modify' &&
      !needed.get(tablesOf(update.type)[0] as TableName)?.includes(update.moid)
    ) {
      for (const table of tablesOf(update.type)) {
        const list = needed.get(table) ?? [];
        list.push(update.moid);
        needed.set(table, list);
      }
    }
  }
  const existing = new Map<string, ObjectRows>();
  for (const [table, moids] of needed) {
    for (const row of await load(table, moids)) {
      const rows = existing.get(String(row.moid)) ?? {};
      rows[table] = row;
      existing.set(String(row.moid), rows);
    }
  }

  const current = new Map<string, { type: string; rows: ObjectRows }>();
  const gone = new Map<string, string>();
  // Rows of objects that left in this pass, in case a later modify shows they are still there.
  const lastKnown = new Map<string, ObjectRows>();
  let unknownModifies = 0;
  let hostClustersChanged = false;
  const learn = (rows: ObjectRows) => {
    for (const [table, row] of Object.entries(rows) as [TableName, Row][]) resolver.learn(table, row);
  };

  let containersSettled = false;
  for (const update of ordered) {
    if (!containersSettled && typeRank(update.type) > 0) {
      resolveContainers(current, resolver);
      containersSettled = true;
    }
    if (update.kind === 'leave') {
      const rows = current.get(update.moid)?.rows;
      if (rows) lastKnown.set(update.moid, rows);
      current.delete(update.moid);
      gone.set(update.moid, update.type);
      resolver.forget(update.moid);
      continue;
    }
    gone.delete(update.moid);
    let rows: ObjectRows;
    if (update.kind === 'enter') {
      rows = rowsFromProperties(update.type, update.moid, asProps(update), resolver);
    } else {
      const base = current.get(update.moid)?.rows ?? lastKnown.get(update.moid) ?? existing.get(update.moid);
      if (!base) unknownModifies++;
      rows = base ? clone(base) : emptyRows(update.type, update.moid);
      const before = rows.hosts?.cluster_moid;
      for (const [path, value] of Object.entries(asProps(update))) {
        applyProperty(update.type, rows, path, value, resolver);
      }
      if (rows.hosts && rows.hosts.cluster_moid !== before) hostClustersChanged = true;
    }
    current.set(update.moid, { type: update.type, rows });
    learn(rows);
  }
  if (!containersSettled) resolveContainers(current, resolver);

  const upserts = new Map<TableName, Map<string, Row>>();
  for (const [moid, { rows }] of current) {
    for (const [table, row] of Object.entries(rows) as [TableName, Row][]) {
      const byMoid = upserts.get(table) ?? new Map<string, Row>();
      byMoid.set(moid, row);
      upserts.set(table, byMoid);
    }
  }
  const deletes = new Map<TableName, Set<string>>();
  for (const [moid, type] of gone) {
    for (const table of tablesOf(type)) {
      const set = deletes.get(table) ?? new Set<string>();
      set.add(moid);
      deletes.set(table, set);
    }
  }
  return { upserts, deletes, unknownModifies, hostClustersChanged, objects: ordered.length };
}

// A folder can arrive before its parent folder: settle container datacenters until nothing changes, before
// any other kind reads them. Container trees are shallow, so this is a few rounds over a few thousand rows.
function resolveContainers(
  current: Map<string, { type: string; rows: ObjectRows }>,
  resolver: InventoryResolver,
) {
  for (let round = 0; round < 32; round++) {
    let changed = false;
    for (const { type, rows } of current.values()) {
      const container = rows.inventory_containers;
      if (!container || type === 'Datacenter') continue;
      const datacenter = resolver.datacenterOf((container.parent_moid as string | null) ?? null);
      if (datacenter !== container.datacenter_moid) {
        container.datacenter_moid = datacenter;
        resolver.learn('inventory_containers', container);
        if (rows.clusters) rows.clusters.datacenter_moid = datacenter;
        changed = true;
      }
    }
    if (!changed) break;
  }
}

function clone(rows: ObjectRows): ObjectRows {
  const copy: ObjectRows = {};
  for (const [table, row] of Object.entries(rows) as [TableName, Row][]) copy[table] = { ...row };
  return copy;
}
