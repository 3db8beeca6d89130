// Provisioning — configuration: per-kind deadlines and cache lifetimes, how fresh the inventory must be to answer
// for the service account, and how many personal identities a process keeps a session for. Read once from the environment and
// checked (a bad value fails naming the variable).
import { numberEnv } from '#shared/config';
import { type Kind, kinds } from './kinds.ts';

export interface ProvisioningSettings {
  /** Milliseconds a waiting user's load of each kind may take (`PROVISIONING_TIMEOUT_<KIND>`, seconds). */
  readonly deadlineMs: Readonly<Record<Kind, number>>;
  /** Seconds each kind stays fresh in the cache (`PROVISIONING_TTL_<KIND>`). */
  readonly ttlSeconds: Readonly<Record<Kind, number>>;
  /** The inventory answers for the service account while its sync is at most this old (`PROVISIONING_SYNC_LAG`, s). */
  readonly syncLagSeconds: number;
  /** Milliseconds a LOW completion load may take (`PROVISIONING_COMPLETION_TIMEOUT`, seconds). */
  readonly completionDeadlineMs: number;
  /** MiB of answers each kind keeps in-process (`PROVISIONING_L1_MB`; 0: Redis and the blob store only). */
  readonly l1Megabytes: number;
  /** Personal identities a process keeps a session for, one each (`PROVISIONING_SESSIONS_TOTAL`). */
  readonly sessionsTotal: number;
}

/** Templates 10 s (the seed's template timeout), the others 5 s. */
const defaultDeadlineSeconds: Record<Kind, number> = {
  datacenters: 5,
  compute: 5,
  pools: 5,
  networks: 5,
  datastores: 5,
  templates: 10,
};

/** Upper levels change rarely; free space and templates more often. */
const defaultTtlSeconds: Record<Kind, number> = {
  datacenters: 600,
  compute: 300,
  pools: 300,
  networks: 300,
  datastores: 60,
  templates: 300,
};

const envOf = (prefix: string, kind: Kind) => `PROVISIONING_${prefix}_${kind.toUpperCase()}`;

/** The settings from the environment. @throws ConfigError naming an invalid variable */
export function loadProvisioningSettings(): ProvisioningSettings {
  const perKind = (prefix: string, defaults: Record<Kind, number>, scale: number) =>
    Object.fromEntries(
      kinds.map((kind) => [
        kind,
        numberEnv(envOf(prefix, kind), defaults[kind], { min: 0.001, max: 86_400 }) * scale,
      ]),
    ) as Record<Kind, number>;
  return {
    deadlineMs: perKind('TIMEOUT', defaultDeadlineSeconds, 1000),
    ttlSeconds: perKind('TTL', defaultTtlSeconds, 1),
    syncLagSeconds: numberEnv('PROVISIONING_SYNC_LAG', 300, { min: 0, max: 86_400 }),
    completionDeadlineMs: numberEnv('PROVISIONING_COMPLETION_TIMEOUT', 60, { min: 1, max: 900 }) * 1000,
    l1Megabytes: numberEnv('PROVISIONING_L1_MB', 16, { min: 0, max: 1_024 }),
    sessionsTotal: numberEnv('PROVISIONING_SESSIONS_TOTAL', 200, { min: 1, max: 2_000 }),
  };
}
