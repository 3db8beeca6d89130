// Inventory — the module's public surface: the query API's use cases and their parsing, the query cache and
// its generations, the writes the sync pipeline builds on, the user-requested VM refresh (an ops HIGH-lane
// job) and the schema migration. The sync has its own entry, `#shared/inventory/sync`.
import type { MigrateOptions, MigrateResult } from './migrate.ts';

export type { MigrateOptions, MigrateResult };

/**
 * Applies the pending inventory migrations (./migrate.ts). node-pg-migrate is loaded on first call, so
 * importing this module costs nothing for the functions that never migrate (unbundled, its import takes about
 * 100 ms; bundles leave it out of every function but the migrate one).
 */
export async function migrate(
  ...args: Parameters<typeof import('./migrate.ts').migrate>
): Promise<MigrateResult> {
  const module = await import('./migrate.ts');
  return module.migrate(...args);
}

export {
  decodeCursor,
  encodeCursor,
  InvalidCursorError,
  loadCursorKey,
  type SortKey,
} from './cursor.ts';
export {
  defaultLimit,
  type Filters,
  type ListKind,
  type ListQuery,
  listQuerySchemas,
  maxLimit,
  minSearchLength,
  normaliseFilters,
  openCursor,
  type PowerState,
  parseListQuery,
  parseSummaryQuery,
  powerStates,
  summaryQuerySchema,
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
  createTieredQueryCache,
  type GenerationBumper,
  generationKey,
  type QueryCache,
  type TieredQueryCacheOptions,
} from './query-cache.ts';
export { type Cached, createInventoryReader, type InventoryReader, inventoryReader } from './reader.ts';
export { applyRoleLogins, type CapabilityRole, capabilityRoles, scramVerifier } from './role-logins.ts';
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
