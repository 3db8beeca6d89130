// Contracts — domain, the bottom layer (`#shared/contracts`): what the domain, the handlers and the deployment
// (infra/topology.ts, the CDK stacks, the local runtime) must agree on, declared once: roles and their order,
// the HTTP routes (method, path, role), the priority lanes and queue names, how environment variables are
// named, and the public ids of inventory objects (`<vcenterId>:<moid>`, ./ids.ts). It imports nothing of the project, so every layer may import it and it can never close a cycle.

/** Roles carried in the JWT `roles` claim. `admin` includes `operator`, which includes `viewer`. */
export const roles = ['viewer', 'operator', 'admin', 'node'] as const;
export type Role = (typeof roles)[number];

/**
 * The role order: each role and the roles it includes. `node` (compute-node agents) stands apart: it neither
 * includes nor is included by the human roles.
 */
export const roleIncludes = {
  viewer: ['viewer'],
  operator: ['operator', 'viewer'],
  admin: ['admin', 'operator', 'viewer'],
  node: ['node'],
} as const satisfies Record<Role, readonly Role[]>;

/** Whether the granted roles satisfy a route's required role. */
export function roleSatisfies(granted: readonly string[], required: Role): boolean {
  return granted.some(
    (role) =>
      (roles as readonly string[]).includes(role) &&
      (roleIncludes[role as Role] as readonly Role[]).includes(required),
  );
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One HTTP route of the API: what a client calls and the role it needs. */
export interface RouteContract {
  readonly method: HttpMethod;
  /** API Gateway path, with `{param}` placeholders. */
  readonly path: string;
  /** Role required; `null` for the public routes (liveness and the API document). */
  readonly role: Role | null;
}

/**
 * Every HTTP route, keyed by its API Gateway route key (`<METHOD> <path>`, what `event.routeKey` carries).
 * infra/topology.ts binds each key to the function that serves it.
 */
export const routes = {
  'GET /health': { method: 'GET', path: '/health', role: null },
  'GET /api/v1/health/details': { method: 'GET', path: '/api/v1/health/details', role: 'operator' },
  'GET /api/v1/openapi.json': { method: 'GET', path: '/api/v1/openapi.json', role: null },
  'GET /api/v1/me': { method: 'GET', path: '/api/v1/me', role: 'viewer' },
  'GET /api/v1/vms': { method: 'GET', path: '/api/v1/vms', role: 'viewer' },
  'GET /api/v1/vms/{id}': { method: 'GET', path: '/api/v1/vms/{id}', role: 'viewer' },
  'GET /api/v1/hosts': { method: 'GET', path: '/api/v1/hosts', role: 'viewer' },
  'GET /api/v1/datastores': { method: 'GET', path: '/api/v1/datastores', role: 'viewer' },
  'GET /api/v1/clusters': { method: 'GET', path: '/api/v1/clusters', role: 'viewer' },
  'GET /api/v1/stats/summary': { method: 'GET', path: '/api/v1/stats/summary', role: 'viewer' },
  'POST /api/v1/vcenters': { method: 'POST', path: '/api/v1/vcenters', role: 'admin' },
  'GET /api/v1/vcenters': { method: 'GET', path: '/api/v1/vcenters', role: 'viewer' },
  'GET /api/v1/vcenters/{id}': { method: 'GET', path: '/api/v1/vcenters/{id}', role: 'viewer' },
  'DELETE /api/v1/vcenters/{id}': { method: 'DELETE', path: '/api/v1/vcenters/{id}', role: 'admin' },
  'POST /api/v1/vcenters/{id}/sync': { method: 'POST', path: '/api/v1/vcenters/{id}/sync', role: 'operator' },
  'GET /api/v1/vms/{id}/thumbnail': { method: 'GET', path: '/api/v1/vms/{id}/thumbnail', role: 'viewer' },
  'POST /api/v1/vms/{id}/refresh': { method: 'POST', path: '/api/v1/vms/{id}/refresh', role: 'viewer' },
  'POST /api/v1/vms/{id}/console': { method: 'POST', path: '/api/v1/vms/{id}/console', role: 'operator' },
  'GET /api/v1/queue/stats': { method: 'GET', path: '/api/v1/queue/stats', role: 'viewer' },
  'POST /api/v1/projects/{id}/compute': {
    method: 'POST',
    path: '/api/v1/projects/{id}/compute',
    role: 'viewer',
  },
  'GET /api/v1/projects/{id}/placement': {
    method: 'GET',
    path: '/api/v1/projects/{id}/placement',
    role: 'viewer',
  },
  'DELETE /api/v1/projects/{id}/placement': {
    method: 'DELETE',
    path: '/api/v1/projects/{id}/placement',
    role: 'operator',
  },
  'POST /api/v1/nodes/{id}/heartbeat': { method: 'POST', path: '/api/v1/nodes/{id}/heartbeat', role: 'node' },
  'GET /api/v1/nodes': { method: 'GET', path: '/api/v1/nodes', role: 'viewer' },
  // Dashboard: node agents report (role node, for their own id only); dashboards read; operators control.
  'POST /api/v1/nodes/{id}/metrics': { method: 'POST', path: '/api/v1/nodes/{id}/metrics', role: 'node' },
  'POST /api/v1/nodes/{id}/logs': { method: 'POST', path: '/api/v1/nodes/{id}/logs', role: 'node' },
  'POST /api/v1/nodes/{id}/connect-ticket': {
    method: 'POST',
    path: '/api/v1/nodes/{id}/connect-ticket',
    role: 'node',
  },
  'GET /api/dashboard/metrics': { method: 'GET', path: '/api/dashboard/metrics', role: 'viewer' },
  'GET /api/dashboard/history/{node}': {
    method: 'GET',
    path: '/api/dashboard/history/{node}',
    role: 'viewer',
  },
  'DELETE /api/dashboard/history/{node}': {
    method: 'DELETE',
    path: '/api/dashboard/history/{node}',
    role: 'operator',
  },
  'GET /api/dashboard/stats': { method: 'GET', path: '/api/dashboard/stats', role: 'viewer' },
  'GET /api/dashboard/logs': { method: 'GET', path: '/api/dashboard/logs', role: 'viewer' },
  'POST /api/dashboard/control-service': {
    method: 'POST',
    path: '/api/dashboard/control-service',
    role: 'operator',
  },
  'GET /api/dashboard/nodes/{id}/reporter': {
    method: 'GET',
    path: '/api/dashboard/nodes/{id}/reporter',
    role: 'operator',
  },
  'POST /api/dashboard/nodes/{id}/reporter': {
    method: 'POST',
    path: '/api/dashboard/nodes/{id}/reporter',
    role: 'operator',
  },
  'GET /api/dashboard/nodes/{id}/commands': {
    method: 'GET',
    path: '/api/dashboard/nodes/{id}/commands',
    role: 'operator',
  },
  // Provisioning (shared/provisioning): the form's hierarchy for the caller's vCenter identity.
  'GET /api/v1/vcenters/{id}/datacenters': {
    method: 'GET',
    path: '/api/v1/vcenters/{id}/datacenters',
    role: 'viewer',
  },
  'GET /api/v1/vcenters/{id}/datacenters/{dc}/compute': {
    method: 'GET',
    path: '/api/v1/vcenters/{id}/datacenters/{dc}/compute',
    role: 'viewer',
  },
  'GET /api/v1/vcenters/{id}/compute/{cr}/resources': {
    method: 'GET',
    path: '/api/v1/vcenters/{id}/compute/{cr}/resources',
    role: 'viewer',
  },
  'PUT /api/v1/vcenters/{id}/credentials/me': {
    method: 'PUT',
    path: '/api/v1/vcenters/{id}/credentials/me',
    role: 'viewer',
  },
  'DELETE /api/v1/vcenters/{id}/credentials/me': {
    method: 'DELETE',
    path: '/api/v1/vcenters/{id}/credentials/me',
    role: 'viewer',
  },
  // The console audit trail (shared/ops): who opened which VM's console, when, from where.
  'GET /api/v1/audit/console': { method: 'GET', path: '/api/v1/audit/console', role: 'operator' },
} as const satisfies Record<string, RouteContract>;

export type RouteKey = keyof typeof routes;

/** The route keys, in declaration order. */
export const routeKeys = Object.keys(routes) as RouteKey[];

/** CRITICAL (console), HIGH (VM list refresh), NORMAL (first thumbnail load), LOW (refreshes, warm-up). */
export const lanes = ['CRITICAL', 'HIGH', 'NORMAL', 'LOW'] as const;
export type Lane = (typeof lanes)[number];

/** The FIFO queue of each lane (its key in the topology; the physical name is `<key>.fifo`). */
export const laneQueues = {
  CRITICAL: 'ops-critical',
  HIGH: 'ops-high',
  NORMAL: 'ops-normal',
  LOW: 'ops-low',
} as const satisfies Record<Lane, string>;

/** What the code that sends and consumes a queue relies on; the deployment adds its timeouts. */
export interface QueueContract {
  /** Receives before a message is moved to the queue's DLQ (consumers back off on the last ones). */
  readonly maxReceiveCount: number;
  /** Content-based deduplication when the sender gives no deduplication id. */
  readonly contentBasedDeduplication: boolean;
}

/** Every queue (all FIFO, each with its own DLQ): the four ops lanes and the inventory's sync queue. */
export const queueContracts = {
  'ops-critical': { maxReceiveCount: 3, contentBasedDeduplication: true },
  'ops-high': { maxReceiveCount: 3, contentBasedDeduplication: true },
  'ops-normal': { maxReceiveCount: 3, contentBasedDeduplication: true },
  'ops-low': { maxReceiveCount: 3, contentBasedDeduplication: true },
  sync: { maxReceiveCount: 5, contentBasedDeduplication: true },
} as const satisfies Record<string, QueueContract>;

export type QueueName = keyof typeof queueContracts;

/** The DynamoDB tables the code reads and writes (keys and TTL are the deployment's). */
export const tableNames = [
  'connections',
  'connect-tickets',
  'placement-nodes',
  'placement-projects',
  'placement-tickets',
  'commands',
  'credentials',
] as const;
export type TableName = (typeof tableNames)[number];

/**
 * Secrets the code reads by name beside the per-vCenter credentials (same store, same prefix): a leading `_`
 * is never a vCenter id, so they cannot collide with one.
 */
export const secretNames = {
  /** Signs list cursors (shared/inventory/cursor.ts); created by the first container that needs it. */
  cursorKey: '_cursor-signing-key',
  /** Signs the control plane's forwards to node agents (shared/placement); created on first use. */
  placementKey: '_placement-signing-key',
  /** Wraps the data keys of personal vCenter credentials in dev (AWS uses a KMS key). */
  credentialsKey: '_credentials-key',
  /** Wraps the data keys that seal saved vSphere sessions in dev (AWS uses a KMS key). */
  sessionKey: '_session-key',
} as const;

/** Environment variable naming conventions shared by the handlers, the CDK stacks and the local runtime. */
export const envNames = {
  queueUrl: (queue: string) => `QUEUE_URL_${queue.toUpperCase().replace(/-/g, '_')}`,
  tableName: (table: string) => `TABLE_${table.toUpperCase().replace(/-/g, '_')}`,
} as const;

/**
 * The ACL of the functions' ElastiCache RBAC user (infra/stacks/stateful-stack.ts): every key and command but the
 * `@dangerous` category (FLUSHALL, KEYS, CONFIG, DEBUG, MONITOR, ACL, …), which no code path uses; INFO is given
 * back because ioredis's ready check sends it. The integration tests log in to the local Redis with this ACL.
 */
export const redisAccessString = 'on ~* +@all -@dangerous +info';

export {
  formatId,
  formatRef,
  moidPattern,
  nodeIdPattern,
  type ObjectRef,
  parseId,
  vcenterIdPattern,
} from './ids.ts';

/**
 * What the dashboard (web/) is told at run time, as `config.json` beside its assets: where the API and the
 * WebSocket are, and the OIDC issuer it logs in with (authorization code + PKCE, a public client). The local
 * runtime writes it for the dev issuer; the CDK app deploys it with the stack's endpoints.
 */
export interface DashboardConfig {
  /** HTTP API base URL, without a trailing slash (empty: the page's own origin). */
  readonly apiUrl: string;
  /** WebSocket API URL (`wss://…/<stage>` in AWS). */
  readonly wsUrl: string;
  readonly oidc: {
    /** The issuer identifier, as in the tokens' `iss`. */
    readonly issuer: string;
    readonly authorizationEndpoint: string;
    readonly tokenEndpoint: string;
    readonly clientId: string;
    readonly scope: string;
    /** How the issuer signs ID tokens (Cognito: RS256; the dev issuer: ES256). */
    readonly idTokenSigningAlg: string;
  };
}
