// Inventory — secondary adapter (PostgreSQL reads): the SQL behind the query API. Every list is keyset-paged
// on (name, vcenter_id, moid); the WHERE clause is shaped so an index serves both the filter and the order,
// which keeps a page deep in a million rows as cheap as the first (see the indexes in 001_inventory.sql).
import type pg from 'pg';
import { encodeCursor, type SortKey } from './cursor.ts';
import { type Filters, type ListKind, type ListQuery, normaliseFilters } from './filters.ts';
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

type Row = Record<string, unknown>;

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
function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

const nameSearch = (filters: Filters, param: (value: unknown) => string) =>
  filters.q === undefined ? [] : [`lower(name) LIKE ${param(likeContains(filters.q))}`];

const specs: Record<ListKind, ListSpec> = {
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

interface Built {
  readonly text: string;
  readonly values: unknown[];
}

/** A parameter list that hands out `$n` placeholders. */
function params(): { values: unknown[]; param: (value: unknown) => string } {
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
function baseConditions(
  query: ListQuery,
  param: (value: unknown) => string,
  after: SortKey | undefined,
): string[] {
  const { filters } = query;
  const where: string[] = [];
  if (filters.vcenterId !== undefined) where.push(`vcenter_id = ${param(filters.vcenterId)}`);
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

const whereSql = (where: readonly string[]) => (where.length ? `WHERE ${where.join(' AND ')}` : '');

/** The full columns of the rows whose keys the subquery `keys` yields, in key order. */
function rowsOf(kind: ListKind, keys: string, extra = ''): string {
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

/**
 * The window plan of a name search: walk at most `window` entries of the filter's index in order (index-only)
 * and keep the first `limit` whose name matches. Streams: it stops as soon as `limit` matches are found.
 */
function windowSql(query: ListQuery, window: number, limit: number): Built {
  const spec = specs[query.kind];
  const { values, param } = params();
  const where = baseConditions(query, param, query.after);
  const keys = `SELECT vcenter_id, moid, name FROM (
      SELECT vcenter_id, moid, name FROM ${spec.table} ${whereSql(where)}
      ORDER BY name, vcenter_id, moid LIMIT ${param(window)}
    ) w WHERE lower(name) LIKE ${param(likeContains(query.filters.q ?? ''))}
    ORDER BY name, vcenter_id, moid LIMIT ${param(limit)}`;
  return { text: rowsOf(query.kind, keys), values };
}

/**
 * The trigram plan of a name search: collect the matching keys after `after` through the trigram index (at most
 * `cap`), then sort only those. No ORDER BY reaches the scan, so the planner has no reason to walk the name
 * index; `total` tells whether the cap was reached (then the answer is incomplete and is not used).
 */
function trigramSql(query: ListQuery, after: SortKey | undefined, limit: number, cap: number): Built {
  const spec = specs[query.kind];
  const { values, param } = params();
  const where = baseConditions(query, param, after);
  where.push(`lower(name) LIKE ${param(likeContains(query.filters.q ?? ''))}`);
  const keys = `SELECT vcenter_id, moid, name, count(*) OVER () AS total FROM (
      SELECT vcenter_id, moid, name FROM ${spec.table} ${whereSql(where)} LIMIT ${param(cap)}
    ) m ORDER BY name, vcenter_id, moid LIMIT ${param(limit)}`;
  return { text: rowsOf(query.kind, keys, ', k.total'), values };
}

/** The planner's estimate of the rows the filters select, with or without the name search (no position). */
function estimateSql(query: ListQuery, search: boolean): Built {
  const spec = specs[query.kind];
  const { values, param } = params();
  const where = baseConditions(query, param, undefined);
  if (search) where.push(`lower(name) LIKE ${param(likeContains(query.filters.q ?? ''))}`);
  return { text: `EXPLAIN (FORMAT JSON) SELECT 1 FROM ${spec.table} ${whereSql(where)}`, values };
}

/** Tuning of the name-search plans; the defaults suit ~1M VMs on this project's benchmark machine. */
export interface SearchTuning {
  /**
   * Run the trigram plan before any window (true) or never before one (false). By default it runs first
   * when the estimates say the window could not hold a page of matches even if they were spread evenly
   * (matches × window / rows < limit + 1) and the match count is within `trigramMaxRows`.
   */
  readonly trigramFirst?: boolean;
  /**
   * Index entries the window plan walks before giving up on finding the page in order. The walk costs
   * ~0.25 µs an entry across 16 partitions, so the default is ~5 ms.
   * @default max(20,000, 50 × (limit + 1))
   */
  readonly windowRows?: number;
  /**
   * Largest estimated match count for which the trigram plan follows a window that came up short: it fetches
   * every match (~2.5 µs each, plus ~0.6 ms per partition), so 20,000 matches cost ~60 ms, while a walk whose
   * matches sit far down the order costs up to ~250 ms at 1M rows.
   * @default 20,000
   */
  readonly trigramMaxRows?: number;
  /**
   * The trigram plan stops collecting here (the estimate was badly wrong) and the walk takes over.
   * @default 2 × trigramMaxRows
   */
  readonly trigramCap?: number;
}

/** Which plan answered a name search (for tests and the benchmark). */
export type SearchPlan = 'trigram' | 'window' | 'window+trigram' | 'window+walk';

type Estimates = Map<string, { rows: number; expires: number }>;
const estimateTtlMs = 10 * 60_000;
const maxEstimates = 5_000;

/**
 * The planner's estimate of a search's matches (`search`) or of the rows its filters select, asked once per
 * query and pager for 10 minutes: planning costs ~1-2 ms across 16 partitions.
 */
async function estimatedRows(
  db: Queryable,
  query: ListQuery,
  search: boolean,
  estimates: Estimates,
): Promise<number> {
  const key = search
    ? `${query.kind}:${query.fingerprint}`
    : normaliseFilters(query.kind, { ...query.filters, q: undefined });
  const now = Date.now();
  const known = estimates.get(key);
  if (known && known.expires > now) return known.rows;
  const { text, values } = estimateSql(query, search);
  const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(text, values);
  const estimate = Number(rows[0]?.['QUERY PLAN'][0].Plan['Plan Rows'] ?? Number.POSITIVE_INFINITY);
  // Oldest out first: a Map iterates in insertion order.
  if (estimates.size >= maxEstimates) estimates.delete(estimates.keys().next().value ?? '');
  estimates.set(key, { rows: estimate, expires: now + estimateTtlMs });
  return estimate;
}

const keyOf = (row: Row): SortKey => [String(row.name), String(row.vcenter_id), String(row.moid)];

/**
 * The first `limit + 1` matches of a name search after the query's position, and the plans that found them.
 * Every plan returns the smallest matching keys, so which one runs never changes a page. The planner alone
 * walks the name index in order whenever it expects many matches, which costs ~250 ms when they all sort
 * late ("prod-crm-…" after every "dev-…"); instead, from its estimate of the match count:
 *
 * - too few matches to fill a page within the first window even if spread evenly: the trigram plan: collect
 *   every match through the trigram index and sort them; its cost follows the match count, not where the
 *   matches sort;
 * - otherwise the window plan, a bounded walk in order, which serves terms common early in the order (and
 *   every search inside one vCenter); if it comes up short, the trigram plan for a moderate estimate, else
 *   the walk continues. Only a term both common and sorting late (e.g. 90k matches all past 88 % of the order)
 *   still costs a long walk: no index serves it better.
 */
async function searchRows(
  db: Queryable,
  query: ListQuery,
  tuning: SearchTuning,
  estimates: Estimates,
): Promise<{ rows: Row[]; plan: SearchPlan }> {
  const want = query.limit + 1;
  const maxRows = tuning.trigramMaxRows ?? 20_000;
  const cap = tuning.trigramCap ?? 2 * maxRows;
  const window = tuning.windowRows ?? Math.max(20_000, 50 * want);
  const estimate = await estimatedRows(db, query, true, estimates);
  // undefined when the trigram plan reached its cap, i.e. the estimate was far too low.
  const trigram = async (after: SortKey | undefined, need: number) => {
    const { text, values } = trigramSql(query, after, need, cap);
    const { rows } = await db.query<Row>(text, values);
    return rows.length > 0 && Number(rows[0]?.total) >= cap ? undefined : rows;
  };

  const trigramFirst =
    tuning.trigramFirst ??
    (estimate <= maxRows && (estimate * window) / (await estimatedRows(db, query, false, estimates)) < want);
  if (trigramFirst) {
    const rows = await trigram(query.after, want);
    if (rows) return { rows, plan: 'trigram' };
  }
  const walked = windowSql(query, window, want);
  const hits = (await db.query<Row>(walked.text, walked.values)).rows;
  if (hits.length >= want) return { rows: hits, plan: 'window' };

  // Continue after the last match found (or the query's position): the window's matches stay in front.
  const last = hits.at(-1);
  const after = last ? keyOf(last) : query.after;
  const need = want - hits.length;
  if (estimate <= maxRows) {
    const rows = await trigram(after, need);
    if (rows) return { rows: [...hits, ...rows], plan: 'window+trigram' };
  }
  const walk = listSql({ ...query, after }, after, need);
  const { rows } = await db.query<Row>(walk.text, walk.values);
  return { rows: [...hits, ...rows], plan: 'window+walk' };
}

/** Options of {@link createListPager}. */
export interface ListPagerOptions {
  readonly search?: SearchTuning;
}

/** Reads list pages; holds the name-search estimates it has asked the planner for (10 minutes each). */
export interface ListPager {
  /** One page, and for a name search the plan that found it. */
  page(db: Queryable, query: ListQuery): Promise<{ page: Page<unknown>; plan: SearchPlan | undefined }>;
}

/** A pager with its own estimate memo (one per reader, so per warm Lambda container). */
export function createListPager(options: ListPagerOptions = {}): ListPager {
  const estimates: Estimates = new Map();
  const tuning = options.search ?? {};
  return {
    async page(db, query) {
      let rows: Row[];
      let plan: SearchPlan | undefined;
      if (query.filters.q === undefined) {
        const { text, values } = listSql(query);
        rows = (await db.query<Row>(text, values)).rows;
      } else {
        ({ rows, plan } = await searchRows(db, query, tuning, estimates));
      }
      // One row more than the limit was read to know whether another page follows.
      const more = rows.length > query.limit;
      const pageRows = more ? rows.slice(0, query.limit) : rows;
      const last = pageRows.at(-1);
      const nextCursor = more && last ? encodeCursor(keyOf(last), query.fingerprint) : null;
      return { page: { items: pageRows.map(specs[query.kind].view), nextCursor }, plan };
    },
  };
}

const defaultPager = createListPager();

/** One page of a list (with the default search tuning). */
export async function listPage(db: Queryable, query: ListQuery): Promise<Page<unknown>> {
  return (await defaultPager.page(db, query)).page;
}

/** One VM, or undefined. */
export async function findVm(db: Queryable, vcenterId: string, moid: string): Promise<VmView | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${vmColumns} FROM vms WHERE vcenter_id = $1 AND moid = $2`, [
    vcenterId,
    moid,
  ]);
  return rows[0] ? vmView(rows[0]) : undefined;
}

/** Per-vCenter counts of the summary. */
export interface VcenterCounts {
  readonly id: string;
  readonly name: string;
  readonly vms: number;
  readonly templates: number;
  readonly powerState: {
    readonly poweredOn: number;
    readonly poweredOff: number;
    readonly suspended: number;
  };
  readonly hosts: number;
  readonly datastores: number;
  readonly clusters: number;
}

/** `GET /api/v1/stats/summary`: counts per vCenter and power state, and totals. */
export interface Summary {
  readonly totals: Omit<VcenterCounts, 'id' | 'name'> & { readonly vcenters: number };
  readonly vcenters: VcenterCounts[];
}

/**
 * Exact counts per vCenter (templates apart from VMs) and their totals. The VM part is an index-only scan of
 * (vcenter_id, power_state, template); the cache in front of it absorbs repeats.
 */
export async function summary(db: Queryable, filters: Filters = {}): Promise<Summary> {
  const scoped = filters.vcenterId !== undefined;
  const only = (column: string) => (scoped ? `WHERE ${column} = $1` : '');
  const { rows } = await db.query<Row>(
    `WITH v AS (
       SELECT vcenter_id,
              count(*) FILTER (WHERE NOT template) AS vms,
              count(*) FILTER (WHERE template) AS templates,
              count(*) FILTER (WHERE NOT template AND power_state = 'poweredOn') AS powered_on,
              count(*) FILTER (WHERE NOT template AND power_state = 'poweredOff') AS powered_off,
              count(*) FILTER (WHERE NOT template AND power_state = 'suspended') AS suspended
         FROM vms ${only('vcenter_id')} GROUP BY vcenter_id),
     h AS (SELECT vcenter_id, count(*) AS n FROM hosts ${only('vcenter_id')} GROUP BY vcenter_id),
     d AS (SELECT vcenter_id, count(*) AS n FROM datastores ${only('vcenter_id')} GROUP BY vcenter_id),
     c AS (SELECT vcenter_id, count(*) AS n FROM clusters ${only('vcenter_id')} GROUP BY vcenter_id)
     SELECT vc.id, vc.name,
            coalesce(v.vms, 0)::int AS vms, coalesce(v.templates, 0)::int AS templates,
            coalesce(v.powered_on, 0)::int AS powered_on, coalesce(v.powered_off, 0)::int AS powered_off,
            coalesce(v.suspended, 0)::int AS suspended,
            coalesce(h.n, 0)::int AS hosts, coalesce(d.n, 0)::int AS datastores, coalesce(c.n, 0)::int AS clusters
       FROM vcenters vc
       LEFT JOIN v ON v.vcenter_id = vc.id LEFT JOIN h ON h.vcenter_id = vc.id
       LEFT JOIN d ON d.vcenter_id = vc.id LEFT JOIN c ON c.vcenter_id = vc.id
      ${only('vc.id')}
      ORDER BY vc.id`,
    scoped ? [filters.vcenterId] : [],
  );
  const vcenters = rows.map(
    (row): VcenterCounts => ({
      id: String(row.id),
      name: String(row.name),
      vms: Number(row.vms),
      templates: Number(row.templates),
      powerState: {
        poweredOn: Number(row.powered_on),
        poweredOff: Number(row.powered_off),
        suspended: Number(row.suspended),
      },
      hosts: Number(row.hosts),
      datastores: Number(row.datastores),
      clusters: Number(row.clusters),
    }),
  );
  const totals = {
    vcenters: vcenters.length,
    vms: 0,
    templates: 0,
    powerState: { poweredOn: 0, poweredOff: 0, suspended: 0 },
    hosts: 0,
    datastores: 0,
    clusters: 0,
  };
  for (const vc of vcenters) {
    totals.vms += vc.vms;
    totals.templates += vc.templates;
    totals.powerState.poweredOn += vc.powerState.poweredOn;
    totals.powerState.poweredOff += vc.powerState.poweredOff;
    totals.powerState.suspended += vc.powerState.suspended;
    totals.hosts += vc.hosts;
    totals.datastores += vc.datastores;
    totals.clusters += vc.clusters;
  }
  return { totals, vcenters };
}
