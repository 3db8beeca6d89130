// Inventory — the module's public surface: the query API's use cases and their parsing, the query cache and
// its generations, the writes the sync pipeline builds on, and the user-requested VM refresh (an ops HIGH-lane
// job). Schema migration lives apart in ./migrate.ts
// (imported by path) so the query function's bundle does not carry node-pg-migrate.
export { decodeCursor, encodeCursor, InvalidCursorError, type SortKey } from './cursor.ts';
export {
  defaultLimit,
  type Filters,
  type ListKind,
  type ListQuery,
  maxLimit,
  minSearchLength,
  normaliseFilters,
  type PowerState,
  parseListQuery,
  parseSummaryQuery,
  powerStates,
} from './filters.ts';
export { formatId, type ObjectRef, parseId } from './ids.ts';
export {
  listSql,
  type Page,
  type Queryable,
  type Summary,
  type VcenterCounts,
  type VmView,
} from './queries.ts';
export {
  type CacheRequest,
  cacheKey,
  createGenerationBumper,
  createRedisQueryCache,
  createTieredQueryCache,
  type GenerationBumper,
  generationKey,
  type QueryCache,
  type TieredQueryCacheOptions,
} from './query-cache.ts';
export { type Cached, createInventoryReader, type InventoryReader, inventoryReader } from './reader.ts';
export {
  postgresVmInventory,
  type RefreshAnswer,
  type RefreshLog,
  type RefreshRecord,
  redisRefreshLog,
  refreshVm,
  refreshWindowMs,
  runVmRefreshJob,
  type StoreOutcome,
  type VmInventory,
  type VmRefreshDeps,
  vmRefreshDeps,
} from './vm-refresh.ts';
export {
  bumpGeneration,
  deleteVms,
  nextGeneration,
  publishGeneration,
  upsertVms,
  type VmRecord,
  vmUpsertConflictClause,
  vmValues,
  vmWriteColumns,
} from './writes.ts';
