// Inventory sync — the module's public surface: the vCenter registry, the dispatcher, the worker's pass, and
// the pure parts (property mapping, planning, backoff, session sealing) the tests exercise directly.
export { backoffSeconds, describeFailure, maxBackoffSeconds } from './backoff.ts';
export {
  type DispatchOptions,
  dispatchDueVcenters,
  dispatchPeriodEnv,
  dispatchPeriodSeconds,
  type RequestedSync,
  type RequestOptions,
  requestSync,
} from './dispatcher.ts';
export {
  applyBatch,
  forgetPassword,
  loadSyncRow,
  openClient,
  type StoredWatch,
  type SyncDeps,
  type SyncOptions,
  type SyncResult,
  syncVcenter,
  type VcenterSyncRow,
  type WatchLostReason,
} from './engine.ts';
export {
  applyProperty,
  copyField,
  InventoryResolver,
  type Row,
  rowsFromProperties,
  type TableName,
  tableSpecs,
  tablesOf,
  watchedProperties,
  watchedTypes,
} from './mapping.ts';
export { type Plan, planUpdates, type RowLoader } from './plan.ts';
export {
  continueDedupId,
  type OutgoingSync,
  parseSyncMessage,
  requestedDedupId,
  type SyncMessage,
  scheduledDedupId,
  sendSyncMessages,
} from './queue.ts';
export {
  deleteVcenter,
  type FailureKind,
  failureKind,
  getVcenter,
  listVcenters,
  markDue,
  type RegisterInput,
  registerSchema,
  registerVcenter,
  setSyncMode,
  syncRequestSchema,
  type VcenterView,
  viewFor,
} from './registry.ts';
export {
  type OpenedSession,
  openSession,
  type SealKey,
  type SessionKeyring,
  sealedVersion,
  sealSession,
} from './session-crypto.ts';
export { SessionKeys, sessionKeyEnv, sessionKeysFor, sessionKeyVersionEnv } from './session-keys.ts';
export {
  loadResolver,
  rowLoader,
  updateCounts,
  type WriteCounts,
  writePlan,
  writeSnapshot,
} from './store.ts';
export {
  defaultVerifyIntervalSeconds,
  dispatchDueVerifications,
  inventoryDriftMetric,
  jobOutcome,
  parseVerifyInterval,
  runInventoryVerifyJob,
  sqsPassRequests,
  summarize,
  type TableComparison,
  type VerifyCounts,
  type VerifyDeps,
  type VerifyDispatchOptions,
  type VerifyOptions,
  type VerifyResult,
  verdict,
  verifyDedupId,
  verifyIntervalEnvName,
  verifyIntervalSeconds,
  verifyJob,
  verifyVcenter,
} from './verify.ts';
