// Inventory — secondary adapter (PostgreSQL reads): the name-search planner. A name search (`q`) is answered by
// one of three plans (trigram, window, or a window continued by the trigram plan or the ordered walk), chosen
// from the planner's estimates; every plan returns the smallest matching keys, so which one runs never changes a
// page.
import type { SortKey } from './cursor.ts';
import { type ListQuery, normaliseFilters } from './filters.ts';
import {
  type Built,
  baseConditions,
  keyOf,
  likeContains,
  listSql,
  params,
  type Queryable,
  type Row,
  rowsOf,
  specs,
  whereSql,
} from './list-specs.ts';

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

export type Estimates = Map<string, { rows: number; expires: number }>;
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
export async function searchRows(
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
