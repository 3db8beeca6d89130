// Infra configuration: the one typed per-environment settings object, chosen by `-c env=dev|staging|prod`
// and passed down to the stacks as props. Nothing else in infra/ reads CDK context.

import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type RouteKey, routes } from '#shared/contracts';
import { parseVcenterScopes, vcenterScopeEnvNames } from '../shared/auth/vcenter-scope.ts';
import { type OpsSettings, opsEnvNames, opsPresets, validateOpsSettings } from '../shared/ops/settings.ts';
import {
  defaultRateLimits,
  type RateLimitSettings,
  validateRateLimits,
} from '../shared/ratelimit/settings.ts';
import { allowedTargetsEnvName, parseTargetPolicy } from '../shared/vsphere/targets.ts';

export const envNamesList = ['dev', 'staging', 'prod'] as const;
export type EnvName = (typeof envNamesList)[number];

/** ElastiCache flavour: serverless (pay per use, scales itself) or a cluster-mode replication group. */
export type RedisConfig =
  | {
      readonly kind: 'serverless';
      /** Upper bound on cached data, in GB; protects the bill. */
      readonly maxDataStorageGb: number;
      /** Upper bound on ElastiCache processing units per second. */
      readonly maxEcpuPerSecond: number;
    }
  | {
      readonly kind: 'replication-group';
      /** e.g. `cache.r7g.large`. */
      readonly nodeType: string;
      /** Cluster-mode shards (node groups); handlers always speak Redis Cluster. */
      readonly shards: number;
      /** Replicas per shard; at least 1 for Multi-AZ failover. */
      readonly replicasPerShard: number;
    };

export interface AuthConfig {
  /** JWT `iss`; the HTTP API JWT authorizer and the $connect authorizer accept only this issuer. */
  readonly issuer: string;
  /** JWT `aud` accepted (one value: the handlers verify against exactly this one). */
  readonly audience: string;
  /** Where the signing keys are published. */
  readonly jwksUrl: string;
}

/**
 * The dashboard's login (web/): authorization code + PKCE as a public client of the same issuer the API trusts
 * (`auth.issuer`), whose access tokens carry the API audience and a `roles` claim.
 */
export interface DashboardLoginConfig {
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  /** The public client registered for the dashboard, its redirect URI `https://<distribution>/dashboard/`. */
  readonly clientId: string;
  /** @default 'openid profile' */
  readonly scope?: string;
  /** How the issuer signs ID tokens. */
  readonly idTokenSigningAlg: string;
}

/** One API Gateway throttle: the steady rate (requests per second) and the burst its token bucket holds. */
export interface ThrottleConfig {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/**
 * API Gateway throttles (the edge's first line; the per-principal buckets in Redis are the second). A stage's
 * default applies to each route on its own; the route overrides are tighter, for the routes whose every call can
 * cause vCenter calls or queued work, so one route's flood cannot starve the rest of the account's quota.
 */
export interface ApiThrottleConfig {
  /** The HTTP API stage's default route settings. */
  readonly http: ThrottleConfig;
  /** Per HTTP route (contract route key) overrides. */
  readonly httpRoutes: Readonly<Partial<Record<RouteKey, ThrottleConfig>>>;
  /** The WebSocket stage's default route settings. */
  readonly webSocket: ThrottleConfig;
  /** Per WebSocket route key (`$connect`, `subscribe`, …) overrides. */
  readonly webSocketRoutes: Readonly<Record<string, ThrottleConfig>>;
}

/**
 * The gateway throttles of an environment: `http` and `webSocket` stage defaults, and the upstream routes at
 * `upstream` each (console tickets and provisioning loads are fewer but each holds a vCenter call, registrations
 * and syncs are admin/operator actions: a tenth of it).
 */
export function apiThrottle(limits: {
  http: ThrottleConfig;
  upstream: ThrottleConfig;
  webSocket: ThrottleConfig;
}): ApiThrottleConfig {
  const { upstream } = limits;
  const tenth: ThrottleConfig = {
    rateLimit: Math.max(1, Math.ceil(upstream.rateLimit / 10)),
    burstLimit: Math.max(1, Math.ceil(upstream.burstLimit / 10)),
  };
  return {
    http: limits.http,
    httpRoutes: {
      'POST /api/v1/vms/{id}/refresh': upstream,
      'GET /api/v1/vms/{id}/thumbnail': upstream,
      'POST /api/v1/vms/{id}/console': upstream,
      'GET /api/v1/vcenters/{id}/datacenters': upstream,
      'GET /api/v1/vcenters/{id}/datacenters/{dc}/compute': upstream,
      'GET /api/v1/vcenters/{id}/compute/{cr}/resources': upstream,
      'PUT /api/v1/vcenters/{id}/credentials/me': tenth,
      'POST /api/v1/vcenters/{id}/sync': tenth,
      'POST /api/v1/vcenters': tenth,
    },
    webSocket: limits.webSocket,
    // Each $connect runs the authorizer and writes the connection table.
    webSocketRoutes: {
      $connect: {
        rateLimit: Math.max(1, Math.ceil(limits.webSocket.rateLimit / 4)),
        burstLimit: Math.max(1, Math.ceil(limits.webSocket.burstLimit / 4)),
      },
    },
  };
}

export interface EnvironmentConfig {
  readonly envName: EnvName;
  /** Account to deploy into; undefined leaves the stacks account-agnostic (synth works without credentials). */
  readonly account?: string;
  readonly region: string;
  /** Explicit AZs, so synth needs no lookup; two or more (Aurora reader and Redis replicas spread over them). */
  readonly availabilityZones: readonly string[];
  /** NAT gateways for the private subnets (egress to vCenters and AWS APIs); 1 saves cost, one per AZ survives an AZ. */
  readonly natGateways: number;
  readonly aurora: {
    /** Aurora Serverless v2 capacity range in ACUs (0 allows auto-pause on supported engine versions). */
    readonly minAcu: number;
    readonly maxAcu: number;
    readonly backupRetentionDays: number;
    /** RDS deletion protection; the cluster cannot be deleted until it is switched off. */
    readonly deletionProtection: boolean;
  };
  readonly redis: RedisConfig;
  readonly auth: AuthConfig;
  readonly dashboard: { readonly login: DashboardLoginConfig };
  /** E-mail subscribed to the alarm topic; undefined subscribes nobody (wire a pager to the topic instead). */
  readonly alarmEmail?: string;
  /** What happens to data stores when their stack or resource is deleted. */
  readonly removalPolicy: 'destroy' | 'snapshot' | 'retain';
  readonly logRetention: RetentionDays;
  /**
   * Multiplier applied to each function's topology `reservedConcurrency`; 0 reserves nothing (new accounts have
   * a concurrency limit of 10, too small to reserve from).
   */
  readonly reservedConcurrencyScale: number;
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /**
   * Create the account-wide API Gateway CloudWatch role that WebSocket access logs need. Turn off when another
   * stack in the account/region already manages it.
   */
  readonly manageApiGatewayAccountRole: boolean;
  /**
   * Interactive VM operations: the per-target limiter and cache lifetimes (`opsPresets` small/medium/large), set
   * as ESXI_MAX_CONCURRENT, ESXI_MIN_INTERVAL, VM_LIST_CACHE_TTL and THUMBNAIL_CACHE_TTL on the functions.
   */
  readonly ops: OpsSettings;
  /** API Gateway stage and route throttles (HTTP and WebSocket). */
  readonly apiThrottle: ApiThrottleConfig;
  /**
   * Per-principal token buckets (shared/ratelimit) of the routes that cause vCenter calls or queued work, set as
   * `RATE_LIMIT_<CLASS>` on the functions: one caller's flood is refused long before the gateway's throttle,
   * which all callers share, would trip.
   */
  readonly rateLimits: RateLimitSettings;
  /**
   * Lost inventory watches per hour, fleet-wide, above which on-call is paged. Single losses are normal (a
   * vCenter restarted, a session expired: each costs one full sync); a sustained rate means sessions or
   * collectors are being lost systematically.
   */
  readonly syncWatchLostPerHour: number;
  /**
   * The version of the data key that seals saved vSphere sessions (SESSION_KEY_VERSION). Raise it to rotate:
   * new seals use the new version, records of older ones still open and are re-sealed by each vCenter's next
   * sync pass (no re-login, no full sync).
   */
  readonly sessionKeyVersion: number;
  /**
   * The compute nodes projects are placed on: one fixed instance type, an Auto Scaling group between minNodes and
   * maxNodes scaled on free slots, `slotsPerNode` projects per node (the agent's capacity).
   */
  readonly nodes: {
    readonly instanceType: string;
    readonly minNodes: number;
    readonly maxNodes: number;
    readonly slotsPerNode: number;
  };
  /** Who may see which vCenters, and which vCenters may be registered and connected to. */
  readonly vcenterAccess: VcenterAccessConfig;
}

/** vCenter scoping per role or group claim (shared/auth), set on every function as VCENTER_SCOPES. */
export interface VcenterAccessConfig {
  /**
   * Role or group → vCenter ids or `*`/`?` patterns of ids (`{ 'team-eu': ['vc-eu-*'], admin: ['*'] }`). Empty:
   * everyone sees every vCenter. Non-empty: a caller whose roles and groups the map does not name sees none.
   */
  readonly scopes: Readonly<Record<string, readonly string[]>>;
  /** The token claim that lists groups (Cognito: `cognito:groups`). */
  readonly groupsClaim: string;
  /**
   * The endpoints vCenters may be registered at and connected to: CIDRs, addresses or host name patterns
   * (`10.20.0.0/16`, `*.vc.corp.example`), checked at registration and on every connection against the address
   * connected to. Empty allows every `https://` URL, so an admin could make workers inside the VPC call internal
   * hosts: set it before production.
   */
  readonly allowedTargets: readonly string[];
}

/** The environment variables of {@link VcenterAccessConfig}. */
export function vcenterAccessEnvironment(c: VcenterAccessConfig): Record<string, string> {
  return {
    [vcenterScopeEnvNames.scopes]: JSON.stringify(c.scopes),
    [vcenterScopeEnvNames.groupsClaim]: c.groupsClaim,
    [allowedTargetsEnvName]: c.allowedTargets.join(','),
  };
}

const base = {
  region: 'eu-west-1',
  availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
  auth: {
    issuer: 'https://auth.vfleet.example.com/',
    audience: 'vfleet-api',
    jwksUrl: 'https://auth.vfleet.example.com/.well-known/jwks.json',
  },
  dashboard: {
    login: {
      authorizationEndpoint: 'https://auth.vfleet.example.com/oauth2/authorize',
      tokenEndpoint: 'https://auth.vfleet.example.com/oauth2/token',
      clientId: 'vfleet-dashboard',
      idTokenSigningAlg: 'RS256',
    },
  },
  manageApiGatewayAccountRole: true,
  syncWatchLostPerHour: 10,
  rateLimits: defaultRateLimits,
  vcenterAccess: { scopes: {}, groupsClaim: 'groups', allowedTargets: [] },
  sessionKeyVersion: 1,
} as const;

/** The three environments. Auth endpoints are placeholders until the identity provider is chosen. */
export const environments: Readonly<Record<EnvName, EnvironmentConfig>> = {
  dev: {
    ...base,
    envName: 'dev',
    ops: opsPresets.small,
    apiThrottle: apiThrottle({
      http: { rateLimit: 50, burstLimit: 100 },
      upstream: { rateLimit: 10, burstLimit: 20 },
      webSocket: { rateLimit: 50, burstLimit: 100 },
    }),
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    natGateways: 1,
    aurora: { minAcu: 0.5, maxAcu: 4, backupRetentionDays: 1, deletionProtection: false },
    redis: { kind: 'serverless', maxDataStorageGb: 1, maxEcpuPerSecond: 5_000 },
    removalPolicy: 'destroy',
    logRetention: RetentionDays.ONE_WEEK,
    reservedConcurrencyScale: 0,
    logLevel: 'DEBUG',
    nodes: { instanceType: 't3.large', minNodes: 0, maxNodes: 3, slotsPerNode: 1 },
  },
  staging: {
    ...base,
    envName: 'staging',
    ops: opsPresets.medium,
    apiThrottle: apiThrottle({
      http: { rateLimit: 200, burstLimit: 400 },
      upstream: { rateLimit: 40, burstLimit: 80 },
      webSocket: { rateLimit: 200, burstLimit: 400 },
    }),
    natGateways: 1,
    aurora: { minAcu: 0.5, maxAcu: 16, backupRetentionDays: 7, deletionProtection: true },
    redis: { kind: 'serverless', maxDataStorageGb: 5, maxEcpuPerSecond: 50_000 },
    removalPolicy: 'snapshot',
    logRetention: RetentionDays.ONE_MONTH,
    reservedConcurrencyScale: 0.5,
    logLevel: 'INFO',
    nodes: { instanceType: 't3.xlarge', minNodes: 1, maxNodes: 10, slotsPerNode: 1 },
  },
  prod: {
    ...base,
    envName: 'prod',
    ops: opsPresets.large,
    // 2,000 users: the account's default (10,000 rps) stays well above, so other APIs keep their share.
    apiThrottle: apiThrottle({
      http: { rateLimit: 2_000, burstLimit: 4_000 },
      upstream: { rateLimit: 200, burstLimit: 400 },
      webSocket: { rateLimit: 1_000, burstLimit: 2_000 },
    }),
    natGateways: 3,
    aurora: { minAcu: 2, maxAcu: 64, backupRetentionDays: 35, deletionProtection: true },
    // Serverless: the cache holds a few GB and ~250 requests a second at the seed's peak; 2 shards × (primary +
    // replica) of cache.r7g.large held 52 GB for it at ~$510 a month, serverless ~$130 (docs/cost.md). A
    // replication group stays a config change away (`{ kind: 'replication-group', … }`).
    redis: { kind: 'serverless', maxDataStorageGb: 10, maxEcpuPerSecond: 50_000 },
    removalPolicy: 'retain',
    logRetention: RetentionDays.THREE_MONTHS,
    reservedConcurrencyScale: 1,
    logLevel: 'INFO',
    // 100 simultaneous projects at peak, one per node: each gets the whole instance (4 GB data limit).
    nodes: { instanceType: 't3.xlarge', minNodes: 2, maxNodes: 100, slotsPerNode: 1 },
  },
};

/** Overrides that may come from context without editing this file (no secrets among them). */
export interface ConfigOverrides {
  readonly account?: string;
  readonly alarmEmail?: string;
}

/**
 * Picks and validates the environment's config. Throws with the offending setting's name, so a bad
 * `-c env=…` or a broken edit fails the synth at once instead of half-way through a deploy.
 */
export function loadConfig(envName: unknown, overrides: ConfigOverrides = {}): EnvironmentConfig {
  if (typeof envName !== 'string' || !(envNamesList as readonly string[]).includes(envName)) {
    throw new Error(
      `infra config: context "env" must be one of ${envNamesList.join('|')} (got ${JSON.stringify(envName)}); ` +
        'run e.g. `npx cdk synth -c env=dev`',
    );
  }
  const config: EnvironmentConfig = { ...environments[envName as EnvName], ...definedOnly(overrides) };
  validateConfig(config);
  return config;
}

function definedOnly(overrides: ConfigOverrides): ConfigOverrides {
  return Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined && v !== ''));
}

/** Throws on the first invalid setting, naming it. */
export function validateConfig(c: EnvironmentConfig): void {
  const fail = (setting: string, why: string): never => {
    throw new Error(`infra config (${c.envName}): ${setting} ${why}`);
  };
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(c.region)) fail('region', `is not a region name: ${c.region}`);
  if (c.availabilityZones.length < 2) fail('availabilityZones', 'needs at least 2 (Aurora and Multi-AZ)');
  for (const az of c.availabilityZones) {
    if (!az.startsWith(c.region)) fail('availabilityZones', `contains ${az}, outside ${c.region}`);
  }
  if (!Number.isInteger(c.natGateways) || c.natGateways < 1 || c.natGateways > c.availabilityZones.length) {
    fail('natGateways', `must be an integer in 1..${c.availabilityZones.length}`);
  }
  const { minAcu, maxAcu, backupRetentionDays } = c.aurora;
  if (minAcu < 0 || maxAcu > 256 || minAcu > maxAcu || (minAcu * 2) % 1 !== 0 || (maxAcu * 2) % 1 !== 0) {
    fail(
      'aurora.minAcu/maxAcu',
      `must be multiples of 0.5 with 0 <= min <= max <= 256 (got ${minAcu}..${maxAcu})`,
    );
  }
  if (maxAcu < 1) fail('aurora.maxAcu', 'must be at least 1');
  if (!Number.isInteger(backupRetentionDays) || backupRetentionDays < 1 || backupRetentionDays > 35) {
    fail('aurora.backupRetentionDays', 'must be an integer in 1..35');
  }
  if (c.redis.kind === 'replication-group') {
    if (!/^cache\.[a-z0-9]+\.[a-z0-9]+$/.test(c.redis.nodeType))
      fail('redis.nodeType', `is invalid: ${c.redis.nodeType}`);
    if (!Number.isInteger(c.redis.shards) || c.redis.shards < 1)
      fail('redis.shards', 'must be an integer >= 1');
    if (
      !Number.isInteger(c.redis.replicasPerShard) ||
      c.redis.replicasPerShard < 1 ||
      c.redis.replicasPerShard > 5
    ) {
      fail('redis.replicasPerShard', 'must be an integer in 1..5 (Multi-AZ failover needs a replica)');
    }
  } else {
    if (c.redis.maxDataStorageGb < 1) fail('redis.maxDataStorageGb', 'must be at least 1');
    if (c.redis.maxEcpuPerSecond < 1_000) fail('redis.maxEcpuPerSecond', 'must be at least 1000');
  }
  for (const [name, url] of [
    ['auth.issuer', c.auth.issuer],
    ['auth.jwksUrl', c.auth.jwksUrl],
  ] as const) {
    if (!url.startsWith('https://')) fail(name, `must be an https URL (got ${url})`);
  }
  if (c.auth.audience.trim() === '' || c.auth.audience.includes(','))
    fail('auth.audience', 'must be one value');
  if (c.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.alarmEmail)) {
    fail('alarmEmail', `is not an e-mail address: ${c.alarmEmail}`);
  }
  if (c.account !== undefined && !/^\d{12}$/.test(c.account)) fail('account', 'must be 12 digits');
  try {
    validateOpsSettings(c.ops, (key) => `ops.${key} (${opsEnvNames[key]})`);
  } catch (error) {
    fail('ops', `is invalid: ${(error as Error).message}`);
  }
  validateApiThrottle(c.apiThrottle, fail);
  try {
    validateRateLimits(c.rateLimits, (cls) => `rateLimits["${cls}"]`);
  } catch (error) {
    fail('rateLimits', `is invalid: ${(error as Error).message}`);
  }
  if (!(c.reservedConcurrencyScale >= 0 && c.reservedConcurrencyScale <= 10)) {
    fail('reservedConcurrencyScale', 'must be in 0..10');
  }
  if (!(Number.isInteger(c.syncWatchLostPerHour) && c.syncWatchLostPerHour >= 1)) {
    fail('syncWatchLostPerHour', 'must be a whole number of at least 1');
  }
  if (!(Number.isInteger(c.sessionKeyVersion) && c.sessionKeyVersion >= 1))
    fail('sessionKeyVersion', 'must be a whole number of at least 1');
  if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(c.nodes.instanceType))
    fail('nodes.instanceType', `is invalid: ${c.nodes.instanceType}`);
  const { minNodes, maxNodes, slotsPerNode } = c.nodes;
  if (!(Number.isInteger(minNodes) && minNodes >= 0)) fail('nodes.minNodes', 'must be a whole number >= 0');
  if (!(Number.isInteger(maxNodes) && maxNodes >= Math.max(1, minNodes)))
    fail('nodes.maxNodes', 'must be a whole number >= 1 and >= nodes.minNodes');
  if (!(Number.isInteger(slotsPerNode) && slotsPerNode >= 1 && slotsPerNode <= 64))
    fail('nodes.slotsPerNode', 'must be a whole number in 1..64');
  try {
    parseVcenterScopes(JSON.stringify(c.vcenterAccess.scopes), 'vcenterAccess.scopes');
  } catch (error) {
    fail('vcenterAccess.scopes', `is invalid: ${(error as Error).message}`);
  }
  if (!/^[\w:.-]{1,128}$/.test(c.vcenterAccess.groupsClaim))
    fail('vcenterAccess.groupsClaim', 'must be a claim name');
  try {
    parseTargetPolicy(c.vcenterAccess.allowedTargets.join(','), 'vcenterAccess.allowedTargets');
  } catch (error) {
    fail('vcenterAccess.allowedTargets', `is invalid: ${(error as Error).message}`);
  }
}

/** API Gateway accepts a rate of up to 10,000 rps and a burst of up to 5,000 by default; both must be > 0. */
function validateApiThrottle(t: ApiThrottleConfig, fail: (setting: string, why: string) => never): void {
  const check = (setting: string, limit: ThrottleConfig | undefined) => {
    if (!limit) return;
    if (!(Number.isFinite(limit.rateLimit) && limit.rateLimit > 0 && limit.rateLimit <= 10_000))
      fail(
        `${setting}.rateLimit`,
        `must be a number in (0, 10000] requests per second (got ${limit.rateLimit})`,
      );
    if (!(Number.isInteger(limit.burstLimit) && limit.burstLimit >= 1 && limit.burstLimit <= 5_000))
      fail(`${setting}.burstLimit`, `must be a whole number in 1..5000 (got ${limit.burstLimit})`);
  };
  check('apiThrottle.http', t.http);
  check('apiThrottle.webSocket', t.webSocket);
  for (const [key, limit] of Object.entries(t.httpRoutes)) {
    if (!Object.hasOwn(routes, key))
      fail(`apiThrottle.httpRoutes["${key}"]`, 'is not a route of the contract');
    check(`apiThrottle.httpRoutes["${key}"]`, limit);
  }
  for (const [key, limit] of Object.entries(t.webSocketRoutes))
    check(`apiThrottle.webSocketRoutes["${key}"]`, limit);
}

/** The data-store removal policy (tables and buckets have no SNAPSHOT; they keep their data instead). */
export function removalPolicyFor(c: EnvironmentConfig, snapshotCapable: boolean): RemovalPolicy {
  if (c.removalPolicy === 'destroy') return RemovalPolicy.DESTROY;
  if (c.removalPolicy === 'snapshot' && snapshotCapable) return RemovalPolicy.SNAPSHOT;
  return RemovalPolicy.RETAIN;
}

/** A function's reserved concurrency after scaling; undefined leaves it in the unreserved pool. */
export function scaledReservedConcurrency(
  c: EnvironmentConfig,
  topologyValue: number | undefined,
): number | undefined {
  if (topologyValue === undefined || c.reservedConcurrencyScale === 0) return undefined;
  return Math.max(1, Math.ceil(topologyValue * c.reservedConcurrencyScale));
}
