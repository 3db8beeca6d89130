// Rate limits — configuration: the per-principal buckets of the routes that cause vCenter calls or queued work,
// their defaults, and the `RATE_LIMIT_<CLASS>` settings (`<per minute>/<burst>`) read once at start-up and
// refused with the variable's name when invalid. Pure: read by the handlers, `npm run dev` and the CDK config.
import { ConfigError } from '#shared/config';

/** What a principal spends a token of: each is a bucket of its own. */
export const rateLimitClasses = [
  'vm-refresh',
  'thumbnail-load',
  'console',
  'sync',
  'vcenter-register',
  'credential-check',
  'provisioning-load',
] as const;
export type RateLimitClass = (typeof rateLimitClasses)[number];

/** One bucket: refilled at `perMinute` tokens a minute, holding at most `burst`. */
export interface BucketLimit {
  readonly perMinute: number;
  readonly burst: number;
}

export type RateLimitSettings = Readonly<Record<RateLimitClass, BucketLimit>>;

/**
 * Defaults: well above what a person does by hand (a dashboard page of 50 VMs loads 50 thumbnails at once; a
 * provisioning form loads a few kinds per step), far below what a script over distinct ids would cost.
 */
export const defaultRateLimits: RateLimitSettings = {
  'vm-refresh': { perMinute: 60, burst: 20 },
  'thumbnail-load': { perMinute: 300, burst: 100 },
  console: { perMinute: 20, burst: 5 },
  sync: { perMinute: 10, burst: 5 },
  'vcenter-register': { perMinute: 10, burst: 5 },
  'credential-check': { perMinute: 10, burst: 5 },
  'provisioning-load': { perMinute: 120, burst: 40 },
};

/** The environment variable of a class: `RATE_LIMIT_VM_REFRESH`, … */
export const rateLimitEnvName = (cls: RateLimitClass) => `RATE_LIMIT_${cls.toUpperCase().replace(/-/g, '_')}`;

/** One setting for every class without its own `RATE_LIMIT_<CLASS>` (e.g. a harness that simulates many users). */
export const rateLimitDefaultEnvName = 'RATE_LIMIT_DEFAULT';

const format = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+)\s*$/;

function parseLimit(name: string, raw: string): BucketLimit {
  const match = format.exec(raw);
  if (!match) throw new ConfigError(`${name} must be <per minute>/<burst>, e.g. 60/20, got "${raw}"`);
  return { perMinute: Number(match[1]), burst: Number(match[2]) };
}

/** Throws a {@link ConfigError} naming the first invalid limit (`label` names it, e.g. CDK's setting). */
export function validateRateLimits(
  settings: RateLimitSettings,
  label: (cls: RateLimitClass) => string = rateLimitEnvName,
): void {
  for (const cls of rateLimitClasses) {
    const { perMinute, burst } = settings[cls];
    if (!(Number.isFinite(perMinute) && perMinute > 0 && perMinute <= 60_000))
      throw new ConfigError(`${label(cls)}: the rate must be in (0, 60000] a minute, got ${perMinute}`);
    if (!(Number.isInteger(burst) && burst >= 1 && burst <= 10_000))
      throw new ConfigError(`${label(cls)}: the burst must be a whole number in 1..10000, got ${burst}`);
  }
}

/**
 * The limits from the environment: each `RATE_LIMIT_<CLASS>` (`<per minute>/<burst>`, e.g. `60/20`) overrides
 * its class, `RATE_LIMIT_DEFAULT` every class without its own; the rest keep {@link defaultRateLimits}.
 * @throws ConfigError naming the variable
 */
export function loadRateLimits(env: NodeJS.ProcessEnv = process.env): RateLimitSettings {
  const given = (name: string) => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : parseLimit(name, raw);
  };
  const fallback = given(rateLimitDefaultEnvName);
  const settings = {} as Record<RateLimitClass, BucketLimit>;
  const source = {} as Record<RateLimitClass, string>;
  for (const cls of rateLimitClasses) {
    const own = given(rateLimitEnvName(cls));
    settings[cls] = own ?? fallback ?? defaultRateLimits[cls];
    source[cls] = own || !fallback ? rateLimitEnvName(cls) : rateLimitDefaultEnvName;
  }
  validateRateLimits(settings, (cls) => source[cls]);
  return settings;
}

/** The environment variables that carry `settings` (what CDK sets on the functions that charge them). */
export function rateLimitEnvironment(settings: RateLimitSettings): Record<string, string> {
  return Object.fromEntries(
    rateLimitClasses.map((cls) => [
      rateLimitEnvName(cls),
      `${settings[cls].perMinute}/${settings[cls].burst}`,
    ]),
  );
}
