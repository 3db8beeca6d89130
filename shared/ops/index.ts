// Ops — public surface (`#shared/ops`): interactive VM operations (thumbnails, console) through priority
// lanes and the shared per-target limiter, the ops worker's batch processing (the inventory's VM refresh and
// drift check plug their jobs into it), queue statistics and the settings.
export { type ConsoleTicket, consoleTicketLifetimeMs, openConsole } from './console.ts';
export {
  type AuditCaller,
  type AuditDb,
  type ConsoleAuditEntry,
  type ConsoleAuditPage,
  type ConsoleAuditQuery,
  type ConsoleOutcome,
  consoleAuditQuerySchema,
  listConsoleAudit,
  openAuditedConsole,
  recordConsoleDenial,
} from './console-audit.ts';
export {
  deduplicationId,
  type EnqueueOutcome,
  type InventoryVerifyJob,
  type JobQueue,
  jobKey,
  type OpsJob,
  type OpsJobType,
  type ProvisioningLoadJob,
  parseJob,
  sqsJobQueue,
  type ThumbnailJob,
  type VmRefreshJob,
} from './jobs.ts';
export { isLane, type Lane, laneCapacity, laneIndex, laneQueues, lanes } from './lanes.ts';
export {
  type Attempt,
  type Lease,
  Limiter,
  type LimiterOptions,
  LimiterTimeoutError,
  type TargetSnapshot,
} from './limiter.ts';
export { opsMetricNames, recordConsoleOpen, recordLaneWait } from './metrics.ts';
export { type OpsService, opsService } from './service.ts';
export {
  registryVcenterSessions,
  type SecretReader,
  StaticVcenterSessions,
  setVcenterSessions,
  type VcenterCredentials,
  type VcenterIdentity,
  type VcenterSessions,
} from './sessions.ts';
export {
  loadOpsSettings,
  type OpsPreset,
  type OpsSettings,
  opsEnvironment,
  opsEnvNames,
  opsPresets,
  validateOpsSettings,
} from './settings.ts';
export { type LaneStats, type QueueStats, queueStats } from './stats.ts';
export {
  getThumbnail,
  type JobOutcome,
  runThumbnailJob,
  type ThumbnailAnswer,
  type ThumbnailDeps,
} from './thumbnails.ts';
export { addCounters, type LaneWaitCounters, quantileMs, waitBucketBoundsMs } from './wait-stats.ts';
export { type JobRunners, laneOfRecord, processLaneBatch, type WorkerDeps } from './worker.ts';
