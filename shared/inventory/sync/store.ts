// Inventory sync — secondary adapter (PostgreSQL): reads the state a pass resolves against and writes its
// plan. Incremental passes upsert through unnest arrays; a full sync COPYs every row into temporary staging
// tables, then upserts only rows whose row_hash changed and deletes what vanished, inside the caller's
// transaction (one per vCenter).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Queryable } from '../queries.ts';
import { vmUpsertConflictClause } from '../writes.ts';
import {
  copyField,
  InventoryResolver,
  type Row,
  type TableName,
  type TableSpec,
  tableSpec,
  tableSpecs,
} from './mapping.ts';
import type { Plan, RowLoader } from './plan.ts';

/** The registry's object counts (columns of `vcenters`). */
export type CountColumn =
  | 'vm_count'
  | 'template_count'
  | 'host_count'
  | 'datastore_count'
  | 'cluster_count'
  | 'network_count'
  | 'datacenter_count'
  | 'resource_pool_count';

/** Every count column, in a fixed order. */
export const countColumns: readonly CountColumn[] = [
  'vm_count',
  'template_count',
  'host_count',
  'datastore_count',
  'cluster_count',
  'network_count',
  'datacenter_count',
  'resource_pool_count',
];

/** The count column of each counted table but `vms` (whose rows count as VMs or templates). */
const countOf: Partial<Record<TableName, CountColumn>> = {
  hosts: 'host_count',
  datastores: 'datastore_count',
  clusters: 'cluster_count',
  networks: 'network_count',
  datacenters: 'datacenter_count',
  resource_pools: 'resource_pool_count',
};

/** Rows inserted or changed, and rows deleted, per table. */
export interface WriteCounts {
  changed: number;
  deleted: number;
  /**
   * Cache tags of what these writes changed (`CacheTags` of shared/cache): the moids of changed or deleted
   * containers, hosts, datastores, networks, pools (and their owner) and templates (and their host), so the
   * provisioning entries built from them move on after COMMIT.
   */
  tags?: Set<string>;
  byTable: Partial<Record<TableName, { changed: number; deleted: number }>>;
  /**
   * By how much these writes moved each registry count (rows that appeared or vanished, VMs that became
   * templates or back), measured by the writes themselves: `writePlan` sets it, `writeSnapshot` does not (a
   * full sync recounts).
   */
  countDeltas?: Partial<Record<CountColumn, number>>;
}

const addDelta = (counts: WriteCounts, column: CountColumn, delta: number) => {
  if (delta === 0) return;
  counts.countDeltas ??= {};
  counts.countDeltas[column] = (counts.countDeltas[column] ?? 0) + delta;
};

const emptyCounts = (): WriteCounts => ({ changed: 0, deleted: 0, byTable: {} });

/**
 * The columns whose values tag a changed row of each tagged table (its moid first); VM rows are tagged only
 * while they are, or were, templates (a power change touches no provisioning answer).
 */
const tagColumns: Partial<Record<TableName, readonly string[]>> = {
  inventory_containers: ['moid'],
  hosts: ['moid'],
  datastores: ['moid'],
  networks: ['moid'],
  resource_pools: ['moid', 'owner_moid'],
  vms: ['moid', 'host_moid'],
};

/** What a statement over `table` must RETURN beyond its own columns for its tags. */
const tagReturning = (table: TableName): string =>
  (tagColumns[table] ?? [])
    .filter((column) => column !== 'moid')
    .map((column) => `, ${column}`)
    .join('');

/** The aggregate (one text[] column named `tags`) of the tag columns of `alias`'s rows that pass `filter`. */
function tagAggregate(table: TableName, alias: string, filter = ''): string {
  const columns = tagColumns[table];
  if (!columns) return `'{}'::text[] AS tags`;
  const where = filter ? `FILTER (WHERE ${filter})` : '';
  return `array_remove(${columns
    .map((column) => `coalesce(array_agg(${alias}.${column}) ${where}, '{}')`)
    .join(' || ')}, NULL) AS tags`;
}

const addTags = (counts: WriteCounts, tags: readonly string[] | undefined) => {
  if (!tags || tags.length === 0) return;
  counts.tags ??= new Set();
  for (const tag of tags) counts.tags.add(tag);
};

const add = (counts: WriteCounts, table: TableName, changed: number, deleted: number) => {
  const entry = counts.byTable[table] ?? { changed: 0, deleted: 0 };
  entry.changed += changed;
  entry.deleted += deleted;
  counts.byTable[table] = entry;
  counts.changed += changed;
  counts.deleted += deleted;
};

/** The vCenter's containers and host clusters as stored, for an incremental pass. */
export async function loadResolver(db: Queryable, vcenterId: string): Promise<InventoryResolver> {
  const resolver = new InventoryResolver();
  const containers = await db.query<Row>(
    'SELECT moid, type, name, parent_moid, datacenter_moid FROM inventory_containers WHERE vcenter_id = $1',
    [vcenterId],
  );
  for (const row of containers.rows) resolver.learn('inventory_containers', row);
  const hosts = await db.query<Row>('SELECT moid, cluster_moid FROM hosts WHERE vcenter_id = $1', [
    vcenterId,
  ]);
  for (const row of hosts.rows) resolver.learn('hosts', row);
  return resolver;
}

/** Loads current rows by moid (numbers of int8 columns come back as strings; the hash compares text). */
export function rowLoader(db: Queryable, vcenterId: string): RowLoader {
  return async (table, moids) => {
    const spec = tableSpec(table);
    const { rows } = await db.query<Row>(
      `SELECT ${spec.columns.join(', ')} FROM ${table} WHERE vcenter_id = $1 AND moid = ANY($2::text[])`,
      [vcenterId, moids],
    );
    return rows;
  };
}

const conflictClause = (spec: TableSpec): string => {
  if (spec.name === 'vms') return vmUpsertConflictClause;
  const updatable = spec.columns.filter((column) => column !== 'moid');
  return `ON CONFLICT (vcenter_id, moid) DO UPDATE SET
    ${updatable.map((column) => `${column} = excluded.${column}`).join(', ')}, updated_at = now()
    WHERE ${spec.name}.row_hash IS DISTINCT FROM excluded.row_hash`;
};

/**
 * Writes an incremental plan: upserts (unchanged rows untouched) and deletes, one statement per table and
 * kind. Each statement also measures how the registry counts move (`countDeltas`): a delete counts the rows
 * it removed (VMs and templates apart), an upsert compares the rows it wrote with the same rows as they were
 * before it (the statement's own snapshot): new rows, and VMs whose `template` flipped. Run it in a
 * transaction that holds the vCenter's row lock, as every writer of the inventory tables does, so no other
 * write to this vCenter's rows falls between.
 */
export async function writePlan(db: Queryable, vcenterId: string, plan: Plan): Promise<WriteCounts> {
  const counts = emptyCounts();
  // Deletes first: a VM's containers may leave in the same pass, and nothing references them by key.
  for (const spec of [...tableSpecs].reverse()) {
    const moids = plan.deletes.get(spec.name);
    if (!moids || moids.size === 0) continue;
    const { rows } = await db.query<{ n: number; templates: number; tags: string[] }>(
      `WITH gone AS (DELETE FROM ${spec.name} WHERE vcenter_id = $1 AND moid = ANY($2::text[])
                     RETURNING moid, ${spec.name === 'vms' ? 'template' : 'false AS template'}${tagReturning(spec.name)})
       SELECT count(*)::int AS n, count(*) FILTER (WHERE template)::int AS templates,
              ${tagAggregate(spec.name, 'gone', spec.name === 'vms' ? 'gone.template' : '')} FROM gone`,
      [vcenterId, [...moids]],
    );
    const { n, templates, tags } = rows[0] ?? { n: 0, templates: 0, tags: [] };
    add(counts, spec.name, 0, n);
    addTags(counts, tags);
    if (spec.name === 'vms') {
      addDelta(counts, 'vm_count', -(n - templates));
      addDelta(counts, 'template_count', -templates);
    } else {
      const column = countOf[spec.name];
      if (column) addDelta(counts, column, -n);
    }
  }
  for (const spec of tableSpecs) {
    const rows = [...(plan.upserts.get(spec.name)?.values() ?? [])];
    const vms = spec.name === 'vms';
    for (let start = 0; start < rows.length; start += 2_000) {
      const batch = rows.slice(start, start + 2_000);
      const columns = spec.columns.map((column) => batch.map((row) => row[column] ?? null));
      // $2 is the moid column (moid comes first in every spec). `old` and `up` share one snapshot, so `old`
      // holds the rows as they were before this statement.
      const result = await db.query<{ changed: number; inserted: number; templates: number; tags: string[] }>(
        `WITH old AS (SELECT moid${vms ? ', template' : ''} FROM ${spec.name}
                       WHERE vcenter_id = $1 AND moid = ANY($2::text[])),
              up AS (INSERT INTO ${spec.name} (vcenter_id, ${spec.columns.join(', ')})
                     SELECT $1, * FROM unnest(${spec.types.map((type, i) => `$${i + 2}::${type}[]`).join(', ')})
                     ${conflictClause(spec)}
                     RETURNING moid${vms ? ', template' : ''}${tagReturning(spec.name)})
         SELECT count(*)::int AS changed, count(*) FILTER (WHERE old.moid IS NULL)::int AS inserted,
                ${vms ? 'coalesce(sum(up.template::int - coalesce(old.template::int, 0)), 0)::int' : '0'} AS templates,
                ${tagAggregate(spec.name, 'up', vms ? 'up.template OR coalesce(old.template, false)' : '')}
           FROM up LEFT JOIN old ON old.moid = up.moid`,
        [vcenterId, ...columns],
      );
      const { changed, inserted, templates, tags } = result.rows[0] ?? {
        changed: 0,
        inserted: 0,
        templates: 0,
        tags: [],
      };
      add(counts, spec.name, changed, 0);
      addTags(counts, tags);
      if (vms) {
        // Rows that appeared count once; a flipped template flag moves a row between the two counts.
        addDelta(counts, 'template_count', templates);
        addDelta(counts, 'vm_count', inserted - templates);
      } else {
        const column = countOf[spec.name];
        if (column) addDelta(counts, column, inserted);
      }
    }
  }
  if (plan.hostClustersChanged) await refreshVmClusters(db, vcenterId);
  return counts;
}

/**
 * Ends an incremental batch in the vCenter's row, in one statement (inside the batch's transaction): the
 * new version (null: the tables drifted, the next pass is a full sync), the counts moved by `written`'s
 * deltas instead of recounted, and, when rows changed, a new generation (the `nextGeneration` step) to
 * publish after COMMIT. Answers that generation, or undefined when nothing changed.
 */
export async function recordBatch(
  db: Queryable,
  vcenterId: string,
  batch: { version: string | null; written: WriteCounts; session: Buffer | null },
): Promise<number | undefined> {
  const changed = batch.written.changed + batch.written.deleted > 0;
  const deltas = countColumns.map((column) => batch.written.countDeltas?.[column] ?? 0);
  const { rows } = await db.query<{ generation: string }>(
    `UPDATE vcenters SET pc_version = $2, synced_through_at = now(), updated_at = now(), last_incremental_at = now(),
            session = coalesce($3, session), generation = generation + $4::int,
            ${countColumns.map((column, i) => `${column} = ${column} + $${i + 5}::int`).join(', ')}
      WHERE id = $1 RETURNING generation`,
    [vcenterId, batch.version, batch.session, changed ? 1 : 0, ...deltas],
  );
  if (!rows[0]) throw new Error(`No vCenter ${vcenterId}`);
  return changed ? Number(rows[0].generation) : undefined;
}

/**
 * An answer without updates: moves the vCenter's version on and its synced-through time forward, in one
 * statement guarded by the version it follows (no transaction: nothing else is read or written). False when
 * the vCenter is gone or another pass has moved the version on.
 */
export async function recordEmptyBatch(
  db: Queryable,
  vcenterId: string,
  fromVersion: string,
  version: string,
  session: Buffer | null,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE vcenters SET pc_version = $3, synced_through_at = now(), updated_at = now(),
            session = coalesce($4, session)
      WHERE id = $1 AND pc_version = $2`,
    [vcenterId, fromVersion, version, session],
  );
  return (result.rowCount ?? 0) > 0;
}

/** A host moved between clusters: its VMs' cluster follows. */
export async function refreshVmClusters(db: Queryable, vcenterId: string): Promise<number> {
  const result = await db.query(
    `UPDATE vms SET cluster_moid = h.cluster_moid, updated_at = now()
       FROM hosts h
      WHERE vms.vcenter_id = $1 AND h.vcenter_id = $1 AND h.moid = vms.host_moid
        AND vms.cluster_moid IS DISTINCT FROM h.cluster_moid`,
    [vcenterId],
  );
  return result.rowCount ?? 0;
}

const stagingName = (table: TableName) => `sync_staging_${table}`;

function* copyLines(spec: TableSpec, rows: Iterable<Row>): Generator<string> {
  let chunk = '';
  let count = 0;
  for (const row of rows) {
    chunk += `${spec.columns.map((column) => copyField(row[column] ?? null)).join('\t')}\n`;
    if (++count === 1_000) {
      yield chunk;
      chunk = '';
      count = 0;
    }
  }
  if (chunk) yield chunk;
}

/**
 * Full sync: COPYs the complete state of one vCenter into staging tables, upserts the rows whose hash
 * changed and deletes the rows the vCenter no longer has. Run inside a transaction on a dedicated client
 * (the staging tables drop at COMMIT). `rows(table)` yields every row of that table.
 */
export async function writeSnapshot(
  client: pg.ClientBase,
  vcenterId: string,
  rows: (table: TableName) => Iterable<Row>,
): Promise<WriteCounts> {
  const counts = emptyCounts();
  for (const spec of tableSpecs) {
    const staging = stagingName(spec.name);
    const columns = spec.columns
      .map((column, i) => `${column} ${spec.types[i]}${spec.types[i] === 'text' ? ' COLLATE "C"' : ''}`)
      .join(', ');
    // The key keeps "delete what vanished" an index probe per row: with stale statistics on the target
    // partition the planner otherwise picks a nested-loop anti-join over an unindexed staging table, which is
    // quadratic (a 50k-VM second full sync took minutes).
    await client.query(`CREATE TEMP TABLE ${staging} (${columns}, PRIMARY KEY (moid)) ON COMMIT DROP`);
    await pipeline(
      Readable.from(copyLines(spec, rows(spec.name))),
      client.query(copyFrom(`COPY ${staging} (${spec.columns.join(', ')}) FROM STDIN`)),
    );
    await client.query(`ANALYZE ${staging}`);
    const vms = spec.name === 'vms';
    const deleted = await client.query<{ n: number; tags: string[] }>(
      `WITH gone AS (DELETE FROM ${spec.name} t WHERE t.vcenter_id = $1
                       AND NOT EXISTS (SELECT 1 FROM ${staging} s WHERE s.moid = t.moid)
                     RETURNING moid${vms ? ', template' : ''}${tagReturning(spec.name)})
       SELECT count(*)::int AS n, ${tagAggregate(spec.name, 'gone', vms ? 'gone.template' : '')} FROM gone`,
      [vcenterId],
    );
    // The templates as they were (the statement's snapshot), so a template turned VM is tagged too.
    const changed = await client.query<{ n: number; tags: string[] }>(
      `WITH ${vms ? `was AS (SELECT moid FROM vms WHERE vcenter_id = $1 AND template),` : ''}
            up AS (INSERT INTO ${spec.name} (vcenter_id, ${spec.columns.join(', ')})
                   SELECT $1, ${spec.columns.join(', ')} FROM ${staging}
                   ${conflictClause(spec)}
                   RETURNING moid${vms ? ', template' : ''}${tagReturning(spec.name)})
       SELECT count(*)::int AS n,
              ${tagAggregate(spec.name, 'up', vms ? 'up.template OR up.moid IN (SELECT moid FROM was)' : '')} FROM up`,
      [vcenterId],
    );
    add(counts, spec.name, changed.rows[0]?.n ?? 0, deleted.rows[0]?.n ?? 0);
    addTags(counts, changed.rows[0]?.tags);
    addTags(counts, deleted.rows[0]?.tags);
  }
  return counts;
}

/**
 * Object counts of one vCenter, recounted from its rows and written to its registry row: after a full sync
 * (which rewrites everything anyway) and by writers that do not track deltas. Incremental passes move the
 * counts by their writes' deltas instead ({@link recordBatch}), which costs nothing per row.
 */
export async function updateCounts(db: Queryable, vcenterId: string): Promise<void> {
  await db.query(
    `UPDATE vcenters SET
       vm_count = (SELECT count(*) FROM vms WHERE vcenter_id = $1 AND NOT template),
       template_count = (SELECT count(*) FROM vms WHERE vcenter_id = $1 AND template),
       host_count = (SELECT count(*) FROM hosts WHERE vcenter_id = $1),
       datastore_count = (SELECT count(*) FROM datastores WHERE vcenter_id = $1),
       cluster_count = (SELECT count(*) FROM clusters WHERE vcenter_id = $1),
       network_count = (SELECT count(*) FROM networks WHERE vcenter_id = $1),
       datacenter_count = (SELECT count(*) FROM datacenters WHERE vcenter_id = $1),
       resource_pool_count = (SELECT count(*) FROM resource_pools WHERE vcenter_id = $1)
     WHERE id = $1`,
    [vcenterId],
  );
}
