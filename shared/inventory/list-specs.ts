// Inventory — secondary adapter (PostgreSQL reads): list specs. Per list kind, its table, columns, filter
// conditions and the view of a row as the API answers it; the SQL of one list page, keyset-paged on
// (name, vcenter_id, moid) with a WHERE clause an index serves for both the filter and the order, which keeps a
// page deep in a million rows as cheap as the first (see the indexes in 001_inventory.sql); one VM by its key.
import type pg from 'pg';
import type { SortKey } from './cursor.ts';
import type { Filters, ListKind, ListQuery } from './filters.ts';
import { formatId, formatRef } from './ids.ts';

/** Anything that runs a query: a pool (the reader pool in the API) or a client. */
export type Queryable = Pick<pg.Pool, 'query'>;

/** One page of a list. */
export interface Page<T> {
  readonly items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** A VM as the API answers it. */
export interface VmView {
  readonly id: string;
  readonly vcenterId: string;
  readonly moid: string;
  readonly name: string;
  readonly powerState: string;
  readonly template: boolean;
  readonly uuid: string | null;
  readonly instanceUuid: string | null;
  readonly numCpu: number | null;
  readonly memoryMb: number | null;
  readonly guestOs: string | null;
  readonly guestFullName: string | null;
  readonly ipAddress: string | null;
  readonly hostId: string | null;
  readonly clusterId: string | null;
  readonly resourcePoolId: string | null;
  readonly datacenterId: string | null;
  readonly folderId: string | null;
  readonly committedBytes: number | null;
  readonly updatedAt: string;
}

export type Row = Record<string, unknown>;

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const str = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const iso = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value));

interface ListSpec {
  readonly table: string;
  readonly columns: string;
  /** Filter → SQL condition on `$n` (the parameter placeholder). */
  readonly conditions: (filters: Filters, param: (value: unknown) => string) => string[];
  readonly view: (row: Row) => unknown;
}

const vmColumns = `vcenter_id, moid, name, power_state, template, uuid, instance_uuid, num_cpu, memory_mb,
  guest_os, guest_full_name, ip_address, host_moid, cluster_moid, resource_pool_moid, datacenter_moid,
  folder_moid, committed_bytes, updated_at`;

/** The fields every inventory object shows first: its API id, vCenter, managed object id and name. */
function identity(row: Row) {
  const vcenterId = String(row.vcenter_id);
  const moid = String(row.moid);
  return { id: formatId(vcenterId, moid), vcenterId, moid, name: String(row.name) };
}

function vmView(row: Row): VmView {
  const vc = String(row.vcenter_id);
  return {
    ...identity(row),
    powerState: String(row.power_state),
    template: Boolean(row.template),
    uuid: str(row.uuid),
    instanceUuid: str(row.instance_uuid),
    numCpu: num(row.num_cpu),
    memoryMb: num(row.memory_mb),
    guestOs: str(row.guest_os),
    guestFullName: str(row.guest_full_name),
    ipAddress: str(row.ip_address),
    hostId: formatRef(vc, str(row.host_moid)),
    clusterId: formatRef(vc, str(row.cluster_moid)),
    resourcePoolId: formatRef(vc, str(row.resource_pool_moid)),
    datacenterId: formatRef(vc, str(row.datacenter_moid)),
    folderId: formatRef(vc, str(row.folder_moid)),
    committedBytes: num(row.committed_bytes),
    updatedAt: iso(row.updated_at),
  };
}

/** `%`, `_` and `\` are LIKE wildcards; a name search means them literally. */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

const nameSearch = (filters: Filters, param: (value: unknown) => string) =>
  filters.q === undefined ? [] : [`lower(name) LIKE ${param(likeContains(filters.q))}`];

export const specs: Record<ListKind, ListSpec> = {
  vms: {
    table: 'vms',
    columns: vmColumns,
    conditions: (f, param) => [
      ...(f.datacenterMoid === undefined ? [] : [`datacenter_moid = ${param(f.datacenterMoid)}`]),
      ...(f.clusterMoid === undefined ? [] : [`cluster_moid = ${param(f.clusterMoid)}`]),
      ...(f.hostMoid === undefined ? [] : [`host_moid = ${param(f.hostMoid)}`]),
      // A literal, not a parameter, so the planner can match the partial index on powered-on VMs.
      ...(f.powerState === undefined ? [] : [`power_state = '${f.powerState}'`]),
      ...(f.guestOs === undefined ? [] : [`guest_os = ${param(f.guestOs)}`]),
      // Literals too: they select the partial indexes (VMs or templates).
      ...(f.template === 'only' ? ['template'] : ['NOT template']),
      ...nameSearch(f, param),
    ],
    view: vmView,
  },
  hosts: {
    table: 'hosts',
    columns: `vcenter_id, moid, name, datacenter_moid, cluster_moid, connection_state, power_state,
      maintenance_mode, version, cpu_model, num_cpu_cores, cpu_mhz, memory_bytes, updated_at`,
    conditions: (f, param) => [
      ...(f.datacenterMoid === undefined ? [] : [`datacenter_moid = ${param(f.datacenterMoid)}`]),
      ...(f.clusterMoid === undefined ? [] : [`cluster_moid = ${param(f.clusterMoid)}`]),
      ...(f.connectionState === undefined ? [] : [`connection_state = ${param(f.connectionState)}`]),
      ...nameSearch(f, param),
    ],
    view: (row) => {
      const vc = String(row.vcenter_id);
      return {
        ...identity(row),
        datacenterId: formatRef(vc, str(row.datacenter_moid)),
        clusterId: formatRef(vc, str(row.cluster_moid)),
        connectionState: str(row.connection_state),
        powerState: str(row.power_state),
        maintenanceMode: row.maintenance_mode === null ? null : Boolean(row.maintenance_mode),
        version: str(row.version),
        cpuModel: str(row.cpu_model),
        numCpuCores: num(row.num_cpu_cores),
        cpuMhz: num(row.cpu_mhz),
        memoryBytes: num(row.memory_bytes),
        updatedAt: iso(row.updated_at),
      };
    },
  },
  datastores: {
    table: 'datastores',
    columns: `vcenter_id, moid, name, datacenter_moid, type, capacity_bytes, free_bytes, accessible, url,
      updated_at`,
    conditions: (f, param) => [
      ...(f.datacenterMoid === undefined ? [] : [`datacenter_moid = ${param(f.datacenterMoid)}`]),
      ...(f.datastoreType === undefined ? [] : [`type = ${param(f.datastoreType)}`]),
      ...nameSearch(f, param),
    ],
    view: (row) => {
      const vc = String(row.vcenter_id);
      return {
        ...identity(row),
        datacenterId: formatRef(vc, str(row.datacenter_moid)),
        type: str(row.type),
        capacityBytes: num(row.capacity_bytes),
        freeBytes: num(row.free_bytes),
        accessible: row.accessible === null ? null : Boolean(row.accessible),
        url: str(row.url),
        updatedAt: iso(row.updated_at),
      };
    },
  },
  clusters: {
    table: 'clusters',
    columns: `vcenter_id, moid, name, datacenter_moid, num_hosts, num_cpu_cores, total_cpu_mhz,
      total_memory_bytes, drs_enabled, ha_enabled, updated_at`,
    conditions: (f, param) => [
      ...(f.datacenterMoid === undefined ? [] : [`datacenter_moid = ${param(f.datacenterMoid)}`]),
      ...nameSearch(f, param),
    ],
    view: (row) => {
      const vc = String(row.vcenter_id);
      return {
        ...identity(row),
        datacenterId: formatRef(vc, str(row.datacenter_moid)),
        numHosts: num(row.num_hosts),
        numCpuCores: num(row.num_cpu_cores),
        totalCpuMhz: num(row.total_cpu_mhz),
        totalMemoryBytes: num(row.total_memory_bytes),
        drsEnabled: row.drs_enabled === null ? null : Boolean(row.drs_enabled),
        haEnabled: row.ha_enabled === null ? null : Boolean(row.ha_enabled),
        updatedAt: iso(row.updated_at),
      };
    },
  },
};

export interface Built {
  readonly text: string;
  readonly values: unknown[];
}

/** A parameter list that hands out `$n` placeholders. */
export function params(): { values: unknown[]; param: (value: unknown) => string } {
  const values: unknown[] = [];
  return {
    values,
    param: (value) => {
      values.push(value);
      return `$${values.length}`;
    },
  };
}

/** The WHERE conditions of a list, without the name search; `after` adds the keyset position. */
export function baseConditions(
  query: ListQuery,
  param: (value: unknown) => string,
  after: SortKey | undefined,
): string[] {
  const { filters } = query;
  const where: string[] = [];
  if (filters.vcenterId !== undefined) where.push(`vcenter_id = ${param(filters.vcenterId)}`);
  const scoped = scopeCondition(filters, 'vcenter_id', param);
  if (scoped) where.push(scoped);
  where.push(...specs[query.kind].conditions({ ...filters, q: undefined }, param));
  if (after) {
    // With the vCenter fixed, (name, moid) continues the (vcenter_id, [ref,] name, moid) indexes directly;
    // across vCenters the full key continues (name, vcenter_id, moid).
    where.push(
      filters.vcenterId !== undefined
        ? `(name, moid) > (${param(after[0])}, ${param(after[2])})`
        : `(name, vcenter_id, moid) > (${param(after[0])}, ${param(after[1])}, ${param(after[2])})`,
    );
  }
  return where;
}

/** The caller's vCenter scope as a condition on `column`, or undefined when the caller is not restricted. */
export function scopeCondition(
  filters: Filters,
  column: string,
  param: (value: unknown) => string,
): string | undefined {
  const patterns = filters.vcenterPatterns;
  if (patterns === undefined) return undefined;
  return patterns.length === 0 ? 'false' : `${column} LIKE ANY(${param(patterns)}::text[])`;
}

export const whereSql = (where: readonly string[]) => (where.length ? `WHERE ${where.join(' AND ')}` : '');

/** The full columns of the rows whose keys the subquery `keys` yields, in key order. */
export function rowsOf(kind: ListKind, keys: string, extra = ''): string {
  const spec = specs[kind];
  return `SELECT ${spec.columns.replace(/(^|,)\s*/g, '$1 t.')}${extra} FROM (${keys}) k
    JOIN ${spec.table} t ON t.vcenter_id = k.vcenter_id AND t.moid = k.moid
    ORDER BY k.name, k.vcenter_id, k.moid`;
}

/**
 * The SQL of one list page as a single ordered walk of the filter's index (exported for EXPLAIN in the
 * benchmark and for tests). A name search is one of the three plans {@link listPage} may run for it: see
 * there.
 */
export function listSql(query: ListQuery, after = query.after, limit = query.limit + 1): Built {
  const spec = specs[query.kind];
  const { values, param } = params();
  const where = baseConditions(query, param, after);
  const q = query.filters.q;
  if (q !== undefined) {
    where.push(`lower(name) LIKE ${param(likeContains(q))}`);
    // Keys first, then rows: the walk tests the name from the index alone (index-only scan, no row fetches).
    const keys = `SELECT vcenter_id, moid, name FROM ${spec.table} ${whereSql(where)}
      ORDER BY name, vcenter_id, moid LIMIT ${param(limit)}`;
    return { text: rowsOf(query.kind, keys), values };
  }
  return {
    text: `SELECT ${spec.columns} FROM ${spec.table} ${whereSql(where)}
      ORDER BY name, vcenter_id, moid
      LIMIT ${param(limit)}`,
    values,
  };
}

/** A row's keyset position: its (name, vcenter_id, moid) sort key. */
export const keyOf = (row: Row): SortKey => [String(row.name), String(row.vcenter_id), String(row.moid)];

/** One VM, or undefined. */
export async function findVm(db: Queryable, vcenterId: string, moid: string): Promise<VmView | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${vmColumns} FROM vms WHERE vcenter_id = $1 AND moid = $2`, [
    vcenterId,
    moid,
  ]);
  return rows[0] ? vmView(rows[0]) : undefined;
}
