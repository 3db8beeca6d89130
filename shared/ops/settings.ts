// Ops — configuration: the limiter and cache settings of interactive VM operations (ESXI_MAX_CONCURRENT,
// ESXI_MIN_INTERVAL, VM_LIST_CACHE_TTL, THUMBNAIL_CACHE_TTL), their presets, and the check that refuses a bad
// value at start-up naming the setting. Pure: read by the handlers, `npm run dev` and the CDK config alike.
import { ConfigError } from '#shared/config';

/** Limits and cache lifetimes for calls to one vCenter/ESXi target. */
export interface OpsSettings {
  /** Most calls in flight to one target at a time (`ESXI_MAX_CONCURRENT`). */
  readonly maxConcurrent: number;
  /** Smallest gap between two call starts to one target, in seconds (`ESXI_MIN_INTERVAL`). */
  readonly minIntervalSeconds: number;
  /** Seconds a VM list answer stays fresh (`VM_LIST_CACHE_TTL`). */
  readonly vmListCacheTtlSeconds: number;
  /** Seconds a thumbnail stays fresh (`THUMBNAIL_CACHE_TTL`). */
  readonly thumbnailCacheTtlSeconds: number;
}

export type OpsPreset = 'small' | 'medium' | 'large';

/** The original design's tuning: small for 3-5 users, medium for 5-10, large for 10+. */
export const opsPresets: Readonly<Record<OpsPreset, OpsSettings>> = {
  small: {
    maxConcurrent: 8,
    minIntervalSeconds: 0.05,
    vmListCacheTtlSeconds: 30,
    thumbnailCacheTtlSeconds: 120,
  },
  medium: {
    maxConcurrent: 12,
    minIntervalSeconds: 0.05,
    vmListCacheTtlSeconds: 45,
    thumbnailCacheTtlSeconds: 180,
  },
  large: {
    maxConcurrent: 16,
    minIntervalSeconds: 0.05,
    vmListCacheTtlSeconds: 60,
    thumbnailCacheTtlSeconds: 300,
  },
};

/** Environment variable of each setting (the names operators know from the original design). */
export const opsEnvNames = {
  maxConcurrent: 'ESXI_MAX_CONCURRENT',
  minIntervalSeconds: 'ESXI_MIN_INTERVAL',
  vmListCacheTtlSeconds: 'VM_LIST_CACHE_TTL',
  thumbnailCacheTtlSeconds: 'THUMBNAIL_CACHE_TTL',
} as const satisfies Record<keyof OpsSettings, string>;

// The lane headroom needs three slots: CRITICAL keeps one, HIGH/NORMAL one more, LOW the rest.
const rules: Record<keyof OpsSettings, { min: number; max: number; integer: boolean }> = {
  maxConcurrent: { min: 3, max: 1_000, integer: true },
  minIntervalSeconds: { min: 0, max: 60, integer: false },
  vmListCacheTtlSeconds: { min: 1, max: 86_400, integer: true },
  thumbnailCacheTtlSeconds: { min: 1, max: 86_400, integer: true },
};

/** Throws a {@link ConfigError} naming the first invalid setting (`label` prefixes the name, e.g. CDK's). */
export function validateOpsSettings(
  settings: OpsSettings,
  label: (key: keyof OpsSettings) => string = (key) => opsEnvNames[key],
): void {
  for (const key of Object.keys(rules) as (keyof OpsSettings)[]) {
    const rule = rules[key];
    const value = settings[key];
    if (
      !Number.isFinite(value) ||
      value < rule.min ||
      value > rule.max ||
      (rule.integer && !Number.isInteger(value))
    ) {
      throw new ConfigError(
        `${label(key)} must be ${rule.integer ? 'an integer' : 'a number'} between ${rule.min} and ${rule.max}, got ${JSON.stringify(value)}`,
      );
    }
  }
}

/**
 * Reads the settings from the environment: `OPS_PRESET` (small|medium|large, default small) gives the defaults
 * and each variable overrides its own. Invalid values throw a {@link ConfigError} naming the variable.
 */
export function loadOpsSettings(env: NodeJS.ProcessEnv = process.env): OpsSettings {
  const presetName = env.OPS_PRESET?.trim() || 'small';
  if (!(presetName in opsPresets)) {
    throw new ConfigError(
      `OPS_PRESET must be one of ${Object.keys(opsPresets).join('|')}, got "${presetName}"`,
    );
  }
  const preset = opsPresets[presetName as OpsPreset];
  const read = (key: keyof OpsSettings): number => {
    const raw = env[opsEnvNames[key]];
    if (raw === undefined || raw.trim() === '') return preset[key];
    const value = Number(raw);
    // Number('') and Number(' ') are 0; the trim above keeps blanks on the preset, this keeps junk out.
    if (!/^\s*[0-9.eE+-]+\s*$/.test(raw) || Number.isNaN(value)) {
      throw new ConfigError(`${opsEnvNames[key]} must be a number, got "${raw}"`);
    }
    return value;
  };
  const settings: OpsSettings = {
    maxConcurrent: read('maxConcurrent'),
    minIntervalSeconds: read('minIntervalSeconds'),
    vmListCacheTtlSeconds: read('vmListCacheTtlSeconds'),
    thumbnailCacheTtlSeconds: read('thumbnailCacheTtlSeconds'),
  };
  validateOpsSettings(settings);
  return settings;
}

/** The environment variables that carry `settings` (what CDK sets on the ops functions). */
export function opsEnvironment(settings: OpsSettings): Record<string, string> {
  return Object.fromEntries(
    (Object.keys(opsEnvNames) as (keyof OpsSettings)[]).map((key) => [
      opsEnvNames[key],
      String(settings[key]),
    ]),
  );
}
