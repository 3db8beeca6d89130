// Inventory — use cases of the query API: list a page, get one VM, summarise. Each answer comes through the
// query cache, scoped to the vCenter it depends on, and says whether it was cached. Answers travel as JSON
// text from the cache to the response: a hit is neither parsed nor serialised again.

import { postgres, redis } from '#shared/clients';
import { NotFoundError, parseIdParam } from '#shared/http';
import { secretStore } from '#shared/secrets';
import { loadCursorKey } from './cursor.ts';
import { type Filters, type ListQuery, normaliseFilters, openCursor } from './filters.ts';
import {
  createListPager,
  findVm,
  type Page,
  type Queryable,
  type SearchTuning,
  type Summary,
  summary,
  type VmView,
} from './queries.ts';
import { type CacheRequest, createTieredQueryCache, type QueryCache } from './query-cache.ts';

/** An answer and whether it came from the cache. */
export type Cached<T> = T & { readonly cached: boolean };

/** An answer as the HTTP body it becomes, built from the cached JSON text without parsing it. */
export interface Answer<T> {
  /** True when this caller did not run the query (a cache hit, or another caller's load it waited for). */
  readonly cached: boolean;
  /** The answer's JSON object with `"cached": true|false` as its last member. */
  readonly body: string;
  /** The body parsed: for in-process callers and tests (the HTTP handler sends `body` as it is). */
  parse(): Cached<T>;
}

/** The query API's use cases. */
export interface InventoryReader {
  list(query: ListQuery): Promise<Answer<Page<unknown>>>;
  /** @throws BadRequestError for a malformed id, NotFoundError when there is no such VM. */
  getVm(id: string): Promise<Answer<{ vm: VmView }>>;
  summary(filters: Filters): Promise<Answer<Summary>>;
}

// A hit's body is the stored text itself: entries are stored with `"cached":true` already in place, so a hit
// is sent as Redis returned it (no parse, no re-serialisation, no splice); only a miss rewrites the flag.
const hitFlag = '"cached":true}';

/** `{…}` → `{…,"cached":true}` (an empty object gets no leading comma). */
function hitBody(json: string): string {
  return json.length === 2 ? `{${hitFlag}` : `${json.slice(0, -1)},${hitFlag}`;
}

/** The same body for the caller that ran the query: `…"cached":true}` → `…"cached":false}`. */
function missBody(hit: string): string {
  return `${hit.slice(0, -'true}'.length)}false}`;
}

function answer<T>(body: string, cached: boolean): Answer<T> {
  return { cached, body, parse: () => JSON.parse(body) as Cached<T> };
}

/**
 * An answer through the cache: the HTTP body, or null when `load` found nothing (cached too). `toBody` turns
 * a loaded value into its body with `"cached":true`.
 */
async function cachedBody<T>(
  cache: QueryCache,
  request: CacheRequest,
  load: () => Promise<T | null>,
  toBody: (value: T) => string,
): Promise<{ body: string | null; cached: boolean }> {
  if (cache.readJson) {
    const { json, cached } = await cache.readJson(request, async () => {
      const value = await load();
      return value === null ? 'null' : toBody(value);
    });
    if (json === 'null') return { body: null, cached };
    return { body: cached ? json : missBody(json), cached };
  }
  // A cache that keeps values (see QueryCache.readJson): serialise per answer.
  const { value, cached } = await cache.read(request, load);
  if (value === null) return { body: null, cached };
  const body = toBody(value);
  return { body: cached ? body : missBody(body), cached };
}

/** Dependencies of {@link createInventoryReader}. */
export interface InventoryReaderDeps {
  readonly db: Queryable;
  readonly cache: QueryCache;
  /** Signs and checks list cursors ({@link loadCursorKey}). */
  readonly cursorKey: Uint8Array;
  /** Tuning of the name-search plans (tests use tiny windows to exercise each plan). */
  readonly search?: SearchTuning;
}

/** Builds the use cases on a database (the reader endpoint) and a query cache. */
export function createInventoryReader(deps: InventoryReaderDeps): InventoryReader {
  const { db, cache } = deps;
  const pager = createListPager({ cursorKey: deps.cursorKey, search: deps.search });
  return {
    async list(sent) {
      // A cursor is checked before the cache is asked: a bad one is the caller's 400, not a failed load.
      const query = openCursor(sent, deps.cursorKey);
      const { body, cached } = await cachedBody(
        cache,
        {
          kind: query.kind,
          vcenterId: query.filters.vcenterId,
          normalisedQuery: JSON.stringify([query.fingerprint, query.limit, query.after ?? null]),
        },
        async () => (await pager.page(db, query)).page,
        (page) => hitBody(JSON.stringify(page)),
      );
      // A page or a summary always loads an object; null is only ever stored for a missing VM.
      return answer(body ?? 'null', cached);
    },

    async getVm(id) {
      const ref = parseIdParam(id);
      const { body, cached } = await cachedBody(
        cache,
        { kind: 'vm', vcenterId: ref.vcenterId, normalisedQuery: ref.moid },
        // null, not undefined, so "no such VM" is cached too (until the vCenter's next sync).
        async () => (await findVm(db, ref.vcenterId, ref.moid)) ?? null,
        (vm) => `{"vm":${JSON.stringify(vm)},${hitFlag}`,
      );
      if (body === null) throw new NotFoundError(`No VM ${id}: it may have been deleted, or not synced yet`);
      return answer(body, cached);
    },

    async summary(filters) {
      const { body, cached } = await cachedBody(
        cache,
        {
          kind: 'summary',
          vcenterId: filters.vcenterId,
          normalisedQuery: normaliseFilters('summary', filters),
        },
        () => summary(db, filters),
        (value) => hitBody(JSON.stringify(value)),
      );
      // A page or a summary always loads an object; null is only ever stored for a missing VM.
      return answer(body ?? 'null', cached);
    },
  };
}

let memo: { db: Queryable; client: unknown; reader: Promise<InventoryReader> } | undefined;

/**
 * The process-wide reader for the Lambda handlers: the PostgreSQL reader pool and the shared Redis client,
 * answers kept in the tiered cache (in-process LRU, then Redis) for `VM_LIST_CACHE_TTL` seconds and keyed
 * by sync generation. Rebuilt only if the clients were closed and reopened (the local runtime does that
 * between runs). The cursor signing key comes from the secret store, once per container.
 */
export function inventoryReader(): Promise<InventoryReader> {
  const db = postgres('reader');
  const client = redis();
  if (memo?.db !== db || memo.client !== client) {
    const reader = loadCursorKey(secretStore()).then((cursorKey) =>
      createInventoryReader({ db, cursorKey, cache: createTieredQueryCache({ redis: client }) }),
    );
    memo = { db, client, reader };
    // A failed load is not kept: the next request tries again.
    reader.catch(() => {
      if (memo?.reader === reader) memo = undefined;
    });
  }
  return memo.reader;
}
