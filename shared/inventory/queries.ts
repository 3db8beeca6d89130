// Inventory — secondary adapter (PostgreSQL reads): the SQL behind the query API, in three parts beside this
// file: the list specs and the SQL of a plain list page (list-specs.ts), the name-search planner
// (name-search.ts) and the summary (summary.ts). Here: the list pager that runs them; callers import all of it
// from this file.
import { encodeCursor } from './cursor.ts';
import { type ListQuery, openCursor } from './filters.ts';
import { keyOf, listSql, type Page, type Queryable, type Row, specs } from './list-specs.ts';
import { type Estimates, type SearchPlan, type SearchTuning, searchRows } from './name-search.ts';

export { findVm, listSql, type Page, type Queryable, type VmView } from './list-specs.ts';
export type { SearchPlan, SearchTuning } from './name-search.ts';
export { type Summary, summary, type VcenterCounts } from './summary.ts';

/** Options of {@link createListPager}. */
export interface ListPagerOptions {
  /** Signs the cursors it issues and checks the ones it is given ({@link loadCursorKey}). */
  readonly cursorKey: Uint8Array;
  readonly search?: SearchTuning;
}

/** Reads list pages; holds the name-search estimates it has asked the planner for (10 minutes each). */
export interface ListPager {
  /** One page, and for a name search the plan that found it. */
  page(db: Queryable, query: ListQuery): Promise<{ page: Page<unknown>; plan: SearchPlan | undefined }>;
}

/** A pager with its own estimate memo (one per reader, so per warm Lambda container). */
export function createListPager(options: ListPagerOptions): ListPager {
  const estimates: Estimates = new Map();
  const tuning = options.search ?? {};
  return {
    async page(db, sent) {
      const query = openCursor(sent, options.cursorKey);
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
      const nextCursor =
        more && last ? encodeCursor(keyOf(last), query.fingerprint, options.cursorKey) : null;
      return { page: { items: pageRows.map(specs[query.kind].view), nextCursor }, plan };
    },
  };
}
