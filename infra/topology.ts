// Topology: the single declaration of vfleet's functions, routes, queues, event sources, schedules and
// tables. The CDK stacks (infra/stacks) and the local runtime (infra/local) are both built from it. What the
// code itself must agree on (roles, routes and their roles, lanes and queue names, environment-variable names)
// is declared in shared/contracts and bound here to functions and resources: infra/ depends on shared/, never
// the other way.
import {
  envNames,
  type HttpMethod,
  type QueueName,
  queueContracts,
  type Role,
  type RouteContract,
  type RouteKey,
  roleSatisfies,
  routeKeys,
  routes,
  type TableName,
} from '#shared/contracts';
// Types only: the topology reads which keys each function's routes table serves, never the handler code, so
// synth and the local runtime load no handler (and its clients) by importing it.
import type {
  dashboardApiRoutes,
  dashboardControlRoutes,
  dashboardIngestRoutes,
} from '../functions/dashboard/routes.ts';
import type { docsRoutes } from '../functions/docs/routes.ts';
import type { healthRoutes } from '../functions/health/routes.ts';
import type { identityRoutes } from '../functions/identity/routes.ts';
import type { inventoryQueryRoutes, vcenterRoutes } from '../functions/inventory/routes.ts';
import type { opsApiRoutes, opsConsoleRoutes } from '../functions/ops/routes.ts';
import type { placementNodeRoutes, placementRoutes } from '../functions/placement/routes.ts';
import type { provisioningRoutes } from '../functions/provisioning/routes.ts';

export { envNames, type HttpMethod, type QueueName, type Role, type RouteKey, roleSatisfies, type TableName };

/** What a function needs at run time; each need becomes grants and environment variables. */
export type Dependency =
  | 'redis'
  | 'postgres'
  | 'dynamodb'
  | 'queues'
  | 'secrets'
  // Create, replace and delete vCenter secrets (the registry); 'secrets' alone reads them.
  | 'secrets-write'
  // Read, or create on first use, the one secret that signs list cursors (shared/inventory/cursor.ts).
  | 'cursor-key'
  | 'ws-management'
  | 'blobs'
  // Read, or create on first use, the key that signs forwards to node agents (shared/placement/signing.ts).
  | 'placement-key'
  // Reach the compute-node agents (in the VPC) and set or clear their scale-in protection.
  | 'nodes'
  // Wrap and unwrap the data keys of personal vCenter credentials (KMS in AWS, the secret store locally).
  | 'credentials-key'
  // Make and unwrap the data keys that seal saved vSphere sessions (shared/inventory/sync/session-keys.ts).
  | 'session-key';

/**
 * The database role a function connects as (migration 006, one per capability, each its own RDS Proxy secret);
 * `owner` is the cluster's master user, for the migrations alone.
 */
export const databaseRoles = [
  'vfleet_inventory',
  'vfleet_query',
  'vfleet_ops',
  'vfleet_provisioning',
] as const;
export type DatabaseRole = 'owner' | (typeof databaseRoles)[number];

/** What a function may do with one DynamoDB table: read its items, or read and write them. */
export type TableAccess = 'read' | 'write';

export interface FunctionSpec {
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default 10 */
  readonly timeoutSeconds?: number;
  /** Hard cap on concurrent executions; undefined leaves the account pool. */
  readonly reservedConcurrency?: number;
  /** What invokes the function. */
  readonly serves: 'http' | 'ws' | 'ws-authorizer' | 'queue' | 'schedule' | 'deploy';
  readonly needs: readonly Dependency[];
  /** With `postgres`: the role it connects as. */
  readonly dbRole?: DatabaseRole;
  /** With `dynamodb`: the tables it uses, each with its access (grants name these tables only). */
  readonly tables?: Readonly<Partial<Record<TableName, TableAccess>>>;
  /** With `queues`: the queues it sends to (consumers get receive and delete from their event source). */
  readonly sendsTo?: readonly QueueName[];
  /** Directories (relative to the repository root) copied beside the bundle, for files read at run time. */
  readonly bundleFiles?: readonly string[];
  /**
   * Take the third-party packages from the shared-deps layer (layers/shared-deps). `false` bundles them: for
   * small functions that use a sliver of a package the layer holds whole, where loading it costs more cold
   * start than the smaller upload saves (measured by `npm run bench:bundles`). @default true
   */
  readonly layer?: boolean;
}

/** An ops lane worker: reserved concurrency equals its event source's maxConcurrency (the hard cap). */
function opsWorker(lane: string, reservedConcurrency: number): FunctionSpec {
  return {
    entry: 'functions/ops/worker.ts',
    description: `Ops worker of the ${lane} lane: vCenter calls through the per-target limiter`,
    timeoutSeconds: 30,
    reservedConcurrency,
    serves: 'queue',
    needs: ['redis', 'postgres', 'queues', 'blobs', 'secrets'],
    // HIGH runs the inventory's VM refresh, which writes the VM's row as the sync does.
    dbRole: lane === 'HIGH' ? 'vfleet_inventory' : 'vfleet_ops',
    // Jobs move between lanes; the LOW lane's drift check asks the sync queue for a pass.
    sendsTo: [...opsLanes, 'sync'],
  };
}

const opsLanes = [
  'ops-critical',
  'ops-high',
  'ops-normal',
  'ops-low',
] as const satisfies readonly QueueName[];
/** The dashboard's connection records and command audit trail. */
const dashboardTables = { connections: 'write', commands: 'write' } as const;
const placementTables = {
  'placement-nodes': 'write',
  'placement-projects': 'write',
  'placement-tickets': 'write',
} as const;

export const functions = {
  health: {
    entry: 'functions/health/handler.ts',
    description: 'GET /health (cached status) and /api/v1/health/details (operator: each dependency)',
    serves: 'http',
    needs: ['redis', 'postgres', 'dynamodb'],
    dbRole: 'vfleet_query',
    tables: { connections: 'read' },
  },
  apiDocs: {
    entry: 'functions/docs/openapi.ts',
    description: 'GET /api/v1/openapi.json: the generated OpenAPI 3.1 document (public)',
    serves: 'http',
    needs: [],
    // It uses a sliver of zod; the layer's whole zod cost it 15-20 ms of cold import (docs/benchmarks.md).
    layer: false,
  },
  me: {
    entry: 'functions/identity/me.ts',
    description: 'GET /api/v1/me: the caller and its roles',
    serves: 'http',
    needs: [],
    // Bundled whole it is ~100 KB; the layer's packages cost it 10-16 ms of a 20 ms cold import.
    layer: false,
  },
  inventoryQuery: {
    entry: 'functions/inventory/query.ts',
    description:
      'Inventory query API: VMs, hosts, datastores, clusters and the summary, through the query cache',
    memoryMb: 512,
    serves: 'http',
    needs: ['postgres', 'redis', 'cursor-key'],
    dbRole: 'vfleet_query',
  },
  inventoryMigrate: {
    entry: 'functions/inventory/migrate.ts',
    description:
      'Deploy-time custom resource: applies the inventory schema migrations (Delete keeps the data)',
    timeoutSeconds: 300,
    serves: 'deploy',
    needs: ['postgres'],
    dbRole: 'owner',
    // Read by shared/inventory/migrate.ts from `migrations/` beside the bundle.
    bundleFiles: ['shared/inventory/migrations'],
  },
  vcenters: {
    entry: 'functions/inventory/vcenters.ts',
    description: 'vCenter registry: register, list, show, delete and request syncs',
    serves: 'http',
    // session-key: a deleted vCenter's saved session is opened to log it out.
    needs: ['postgres', 'redis', 'queues', 'secrets', 'secrets-write', 'session-key'],
    dbRole: 'vfleet_inventory',
    sendsTo: ['sync'],
  },
  syncDispatcher: {
    entry: 'functions/inventory/sync-dispatcher.ts',
    description: 'Every minute: enqueue the vCenters whose next sync is due into sync.fifo',
    timeoutSeconds: 60,
    serves: 'schedule',
    needs: ['postgres', 'queues'],
    dbRole: 'vfleet_inventory',
    // Due syncs, and due drift checks (LOW lane jobs).
    sendsTo: ['sync', 'ops-low'],
  },
  syncWorker: {
    entry: 'functions/inventory/sync-worker.ts',
    description:
      'Sync pass per vCenter: full sync through COPY staging, or WaitForUpdatesEx within the time budget',
    // A full sync holds one vCenter's update set and rows in memory: a 50k-VM full sync peaked at ~475 MB
    // RSS with the heap capped for 1 GB (docs/benchmarks.md, "Inventory sync"), so 1 GB leaves 2x headroom
    // and halves the cost of a streaming worker against the earlier 2 GB guess.
    memoryMb: 1024,
    timeoutSeconds: 900,
    // The hard cap on concurrent passes (and writer connections); the event source's maxConcurrency is below it.
    reservedConcurrency: 100,
    serves: 'queue',
    needs: ['postgres', 'redis', 'queues', 'secrets', 'session-key'],
    dbRole: 'vfleet_inventory',
    sendsTo: ['sync'],
  },
  wsAuthorizer: {
    entry: 'functions/ws/authorizer.ts',
    description: 'WebSocket $connect authorizer: bearer token (or one-time connect ticket) to role',
    serves: 'ws-authorizer',
    needs: ['dynamodb'],
    tables: { 'connect-tickets': 'write' },
  },
  wsConnection: {
    entry: 'functions/ws/connection.ts',
    description:
      'WebSocket $connect/$disconnect: records connections in DynamoDB, node agents and subscriptions in Redis',
    serves: 'ws',
    needs: ['dynamodb', 'redis', 'ws-management'],
    tables: dashboardTables,
  },
  wsMessage: {
    entry: 'functions/ws/message.ts',
    description: 'WebSocket frames: ping, dashboard subscribe, agent reports and acknowledgements, $default',
    serves: 'ws',
    needs: ['dynamodb', 'redis', 'ws-management'],
    tables: dashboardTables,
  },
  // Live cluster dashboard (shared/dashboard): agents' reports in, reads, operator commands, the janitor.
  dashboardIngest: {
    entry: 'functions/dashboard/ingest.ts',
    description:
      'POST /api/v1/nodes/{id}/metrics, /logs and /connect-ticket: agent reports, fanned out to dashboard clients',
    serves: 'http',
    needs: ['redis', 'dynamodb', 'ws-management'],
    // The node registry answers which node an IAM caller is (shared/placement's callerIsNode).
    tables: { ...dashboardTables, 'placement-nodes': 'read', 'connect-tickets': 'write' },
  },
  dashboardApi: {
    entry: 'functions/dashboard/api.ts',
    description: 'Dashboard reads: metrics, history, stats, logs, reporter state, the command audit trail',
    serves: 'http',
    needs: ['redis', 'dynamodb'],
    tables: { connections: 'read', commands: 'read' },
  },
  dashboardControl: {
    entry: 'functions/dashboard/control.ts',
    description: "Service and reporter control through the node agent's WebSocket connection",
    // Waits up to DASHBOARD_COMMAND_WAIT_SECONDS (10 s, at most 24) for the agent's acknowledgement.
    timeoutSeconds: 28,
    serves: 'http',
    needs: ['redis', 'dynamodb', 'ws-management'],
    // A node without its agent connection is offline only without a placement heartbeat: the registry says.
    tables: { ...dashboardTables, 'placement-nodes': 'read' },
  },
  dashboardJanitor: {
    entry: 'functions/dashboard/janitor.ts',
    description:
      'Every minute: announces nodes silent for 60 s as expired, removes those silent for 10 minutes',
    timeoutSeconds: 30,
    serves: 'schedule',
    needs: ['redis', 'dynamodb', 'ws-management'],
    tables: dashboardTables,
  },
  // Interactive VM operations (shared/ops): thumbnails and stats, console (its own function so thumbnail
  // floods cannot throttle it), and one worker per lane so each lane has its own reserved-concurrency cap.
  opsApi: {
    entry: 'functions/ops/api.ts',
    description:
      'GET /api/v1/vms/{id}/thumbnail (NORMAL/LOW lanes), POST /api/v1/vms/{id}/refresh (HIGH), GET /api/v1/queue/stats',
    memoryMb: 512,
    timeoutSeconds: 15,
    serves: 'http',
    needs: ['redis', 'postgres', 'queues', 'blobs', 'secrets'],
    dbRole: 'vfleet_ops',
    sendsTo: opsLanes,
  },
  opsConsole: {
    entry: 'functions/ops/console.ts',
    description: 'POST /api/v1/vms/{id}/console: WebMKS ticket through the CRITICAL lane of the limiter',
    timeoutSeconds: 20,
    serves: 'http',
    needs: ['redis', 'postgres', 'secrets'],
    dbRole: 'vfleet_ops',
  },
  // Provisioning (shared/provisioning): a user waits at most the templates deadline (10 s) plus the answer.
  provisioningApi: {
    entry: 'functions/provisioning/api.ts',
    description:
      'Provisioning hierarchy: datacenters, compute resources and their pools, networks, datastores, templates',
    memoryMb: 512,
    timeoutSeconds: 15,
    serves: 'http',
    needs: ['redis', 'postgres', 'queues', 'blobs', 'secrets', 'dynamodb', 'credentials-key'],
    dbRole: 'vfleet_provisioning',
    tables: { credentials: 'write' },
    // LOW completions of provisioning kinds go through the ops lanes.
    sendsTo: opsLanes,
  },
  opsWorkerCritical: opsWorker('CRITICAL', 2),
  opsWorkerHigh: opsWorker('HIGH', 4),
  opsWorkerNormal: opsWorker('NORMAL', 8),
  // LOW also runs the inventory's drift check (shared/inventory/sync/verify.ts): one vCenter's whole snapshot in
  // memory, like a full sync (~475 MB at 50k VMs), and a re-check that may wait up to 45 s for the sync.
  // LOW also completes provisioning kinds, in the caller's personal identity when they registered one.
  opsWorkerLow: {
    ...opsWorker('LOW', 4),
    memoryMb: 1024,
    timeoutSeconds: 120,
    needs: [...opsWorker('LOW', 4).needs, 'dynamodb', 'credentials-key'],
    tables: { credentials: 'read' },
  },
  // Project placement on compute nodes (shared/placement): the forward waits up to 24 s for the node, below
  // API Gateway's 30 s, so the function's timeout sits between the two.
  placement: {
    entry: 'functions/placement/api.ts',
    description: 'POST /api/v1/projects/{id}/compute and GET/DELETE …/placement: place, forward, release',
    timeoutSeconds: 28,
    serves: 'http',
    needs: ['dynamodb', 'placement-key', 'nodes'],
    tables: placementTables,
  },
  placementNodes: {
    entry: 'functions/placement/nodes.ts',
    description: 'POST /api/v1/nodes/{id}/heartbeat (node agents, IAM in AWS) and GET /api/v1/nodes',
    serves: 'http',
    needs: ['dynamodb', 'placement-key', 'nodes'],
    tables: placementTables,
  },
  placementJanitor: {
    entry: 'functions/placement/janitor.ts',
    description: 'Every minute: expire nodes, cull idle projects, remove orphaned assignments, slot metrics',
    timeoutSeconds: 60,
    serves: 'schedule',
    needs: ['dynamodb', 'nodes'],
    tables: placementTables,
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof functions;

export interface HttpRoute extends RouteContract {
  readonly function: FunctionName;
}

/**
 * Each HTTP function and the routes table its entry dispatches on (`routeHandler(table)` from #shared/http;
 * tables live in `functions/<capability>/routes.ts`). This is where a route is bound to its function.
 */
export type HttpFunctionRoutes = {
  health: typeof healthRoutes;
  apiDocs: typeof docsRoutes;
  me: typeof identityRoutes;
  inventoryQuery: typeof inventoryQueryRoutes;
  vcenters: typeof vcenterRoutes;
  opsApi: typeof opsApiRoutes;
  opsConsole: typeof opsConsoleRoutes;
  placement: typeof placementRoutes;
  placementNodes: typeof placementNodeRoutes;
  dashboardIngest: typeof dashboardIngestRoutes;
  dashboardApi: typeof dashboardApiRoutes;
  dashboardControl: typeof dashboardControlRoutes;
  provisioningApi: typeof provisioningRoutes;
};

/** The route keys served by the tables of the functions `F` (distributes over `F`). */
export type ServedBy<Tables, F extends keyof Tables = keyof Tables> = F extends keyof Tables
  ? Extract<keyof Tables[F], string>
  : never;

/** The function(s) whose table serves route `K`. */
export type ServerOf<Tables, K> = {
  [F in keyof Tables]: K extends keyof Tables[F] ? F : never;
}[keyof Tables];

/**
 * What is wrong with a binding of functions to routes tables; each member is `never` when it holds:
 * contract routes no table serves, served keys the contract does not declare, keys served by two functions.
 */
export interface RouteBindingErrors<Tables> {
  unserved: Exclude<RouteKey, ServedBy<Tables>>;
  undeclared: Exclude<ServedBy<Tables>, RouteKey>;
  servedTwice: {
    [F in keyof Tables]: ServedBy<Tables, F> & ServedBy<Tables, Exclude<keyof Tables, F>>;
  }[keyof Tables];
}

/**
 * Compiles only when `Errors` (a `RouteBindingErrors<…>`) has nothing in it; otherwise the type error names the
 * broken member (`unserved`, `undeclared`, `servedTwice`) and the route keys in it.
 */
export type RouteBindingHolds<Errors extends { unserved: never; undeclared: never; servedTwice: never }> =
  Errors;

/** The binding's check: every contract route served by exactly one function, nothing else served. */
export type HttpRouteBindingErrors = RouteBindingHolds<RouteBindingErrors<HttpFunctionRoutes>>;

/**
 * The function that serves each route of the contract, written out for the builders (which must not load
 * handler code to learn it) and held equal to the routes tables by the compiler: each entry must name the one
 * function whose table has the key (`ServerOf`), and every contract key must be present.
 */
const routeFunctions = {
  'GET /health': 'health',
  'GET /api/v1/health/details': 'health',
  'GET /api/v1/openapi.json': 'apiDocs',
  'GET /api/v1/me': 'me',
  'GET /api/v1/vms': 'inventoryQuery',
  'GET /api/v1/vms/{id}': 'inventoryQuery',
  'GET /api/v1/hosts': 'inventoryQuery',
  'GET /api/v1/datastores': 'inventoryQuery',
  'GET /api/v1/clusters': 'inventoryQuery',
  'GET /api/v1/stats/summary': 'inventoryQuery',
  'POST /api/v1/vcenters': 'vcenters',
  'GET /api/v1/vcenters': 'vcenters',
  'GET /api/v1/vcenters/{id}': 'vcenters',
  'DELETE /api/v1/vcenters/{id}': 'vcenters',
  'POST /api/v1/vcenters/{id}/sync': 'vcenters',
  'GET /api/v1/vms/{id}/thumbnail': 'opsApi',
  'POST /api/v1/vms/{id}/refresh': 'opsApi',
  'POST /api/v1/vms/{id}/console': 'opsConsole',
  'GET /api/v1/queue/stats': 'opsApi',
  'GET /api/v1/audit/console': 'opsApi',
  'POST /api/v1/projects/{id}/compute': 'placement',
  'GET /api/v1/projects/{id}/placement': 'placement',
  'DELETE /api/v1/projects/{id}/placement': 'placement',
  'POST /api/v1/nodes/{id}/heartbeat': 'placementNodes',
  'GET /api/v1/nodes': 'placementNodes',
  'POST /api/v1/nodes/{id}/metrics': 'dashboardIngest',
  'POST /api/v1/nodes/{id}/logs': 'dashboardIngest',
  'POST /api/v1/nodes/{id}/connect-ticket': 'dashboardIngest',
  'GET /api/dashboard/metrics': 'dashboardApi',
  'GET /api/dashboard/history/{node}': 'dashboardApi',
  'DELETE /api/dashboard/history/{node}': 'dashboardApi',
  'GET /api/dashboard/stats': 'dashboardApi',
  'GET /api/dashboard/logs': 'dashboardApi',
  'GET /api/dashboard/nodes/{id}/reporter': 'dashboardApi',
  'GET /api/dashboard/nodes/{id}/commands': 'dashboardApi',
  'POST /api/dashboard/control-service': 'dashboardControl',
  'POST /api/dashboard/nodes/{id}/reporter': 'dashboardControl',
  'GET /api/v1/vcenters/{id}/datacenters': 'provisioningApi',
  'GET /api/v1/vcenters/{id}/datacenters/{dc}/compute': 'provisioningApi',
  'GET /api/v1/vcenters/{id}/compute/{cr}/resources': 'provisioningApi',
  'PUT /api/v1/vcenters/{id}/credentials/me': 'provisioningApi',
  'DELETE /api/v1/vcenters/{id}/credentials/me': 'provisioningApi',
} as const satisfies { readonly [K in RouteKey]: ServerOf<HttpFunctionRoutes, K> & FunctionName };

export const httpRoutes: readonly HttpRoute[] = routeKeys.map((key) => ({
  ...routes[key],
  function: routeFunctions[key],
}));

export interface WsRoute {
  /** `$connect`, `$disconnect`, `$default` or a value of the frame's `action` field. */
  readonly routeKey: string;
  readonly function: FunctionName;
}

/** Selection expression, as API Gateway: the `action` field of a JSON frame. */
export const wsRouteSelection = '$request.body.action';
export const wsAuthorizerFunction: FunctionName = 'wsAuthorizer';

export const wsRoutes: readonly WsRoute[] = [
  { routeKey: '$connect', function: 'wsConnection' },
  { routeKey: '$disconnect', function: 'wsConnection' },
  { routeKey: 'ping', function: 'wsMessage' },
  // The dashboard protocol (shared/dashboard): clients subscribe; node agents report and acknowledge commands.
  { routeKey: 'subscribe', function: 'wsMessage' },
  { routeKey: 'metrics', function: 'wsMessage' },
  { routeKey: 'logs', function: 'wsMessage' },
  { routeKey: 'service_ack', function: 'wsMessage' },
  { routeKey: 'reporter_ack', function: 'wsMessage' },
  { routeKey: '$default', function: 'wsMessage' },
];

export interface QueueSpec {
  /** Visibility timeout; at least the consuming function's timeout (AWS requires 6x for safety). */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message is moved to the queue's DLQ. */
  readonly maxReceiveCount: number;
  /** Content-based deduplication when the sender gives no deduplication id. */
  readonly contentBasedDeduplication: boolean;
}

/**
 * Every queue is FIFO with its own DLQ; the physical name is `<key>.fifo`. The names, receive counts and
 * deduplication come from the contract (`queueContracts`); the visibility timeouts are the deployment's.
 */
export const queues = {
  'ops-critical': { ...queueContracts['ops-critical'], visibilityTimeoutSeconds: 60 },
  'ops-high': { ...queueContracts['ops-high'], visibilityTimeoutSeconds: 60 },
  'ops-normal': { ...queueContracts['ops-normal'], visibilityTimeoutSeconds: 60 },
  // At least the LOW worker's timeout (its drift checks run longer than a thumbnail).
  'ops-low': { ...queueContracts['ops-low'], visibilityTimeoutSeconds: 120 },
  sync: { ...queueContracts.sync, visibilityTimeoutSeconds: 900 },
} as const satisfies Record<QueueName, QueueSpec>;

export interface EventSourceSpec {
  readonly queue: QueueName;
  readonly function: FunctionName;
  readonly batchSize: number;
  /** Event-source maxConcurrency (AWS minimum 2). */
  readonly maxConcurrency: number;
}

/** SQS event sources; each reports partial batch failures. Capabilities add theirs here. */
export const eventSources: readonly EventSourceSpec[] = [
  // Ops lanes: maxConcurrency per lane, equal to the worker's reserved concurrency.
  { queue: 'ops-critical', function: 'opsWorkerCritical', batchSize: 1, maxConcurrency: 2 },
  { queue: 'ops-high', function: 'opsWorkerHigh', batchSize: 5, maxConcurrency: 4 },
  { queue: 'ops-normal', function: 'opsWorkerNormal', batchSize: 5, maxConcurrency: 8 },
  { queue: 'ops-low', function: 'opsWorkerLow', batchSize: 5, maxConcurrency: 4 },
  // Sync: one pass per message; passes of different vCenters run in parallel up to maxConcurrency, below the
  // worker's reserved concurrency (the hard cap).
  { queue: 'sync', function: 'syncWorker', batchSize: 1, maxConcurrency: 50 },
];

export interface ScheduleSpec {
  readonly name: string;
  readonly function: FunctionName;
  readonly everySeconds: number;
  /** An environment variable that tells every function the schedule's period (both builders set it). */
  readonly periodEnv?: string;
}

export const schedules: readonly ScheduleSpec[] = [
  // Its period is the shortest polling interval a vCenter may be registered with (read by
  // shared/inventory/sync's dispatchPeriodSeconds).
  {
    name: 'sync-dispatcher',
    function: 'syncDispatcher',
    everySeconds: 60,
    periodEnv: 'SYNC_DISPATCH_SECONDS',
  },
  { name: 'placement-janitor', function: 'placementJanitor', everySeconds: 60 },
  // Expiry shows at read time (60 s); the janitor announces it and removes nodes silent for 10 minutes.
  { name: 'dashboard-janitor', function: 'dashboardJanitor', everySeconds: 60 },
];

/** The schedules' periods as environment variables, for every function. */
export function scheduleEnvironment(specs: Topology['schedules']): Record<string, string> {
  return Object.fromEntries(
    specs.flatMap((spec) => (spec.periodEnv ? [[spec.periodEnv, String(spec.everySeconds)]] : [])),
  );
}

export interface TableSpec {
  readonly partitionKey: string;
  readonly sortKey?: string;
  /** Attribute holding an epoch-seconds expiry, if items expire. */
  readonly ttlAttribute?: string;
}

export const tables = {
  connections: { partitionKey: 'connectionId', ttlAttribute: 'expiresAt' },
  'connect-tickets': { partitionKey: 'ticketHash', ttlAttribute: 'expiresAt' },
  'placement-nodes': { partitionKey: 'nodeId' },
  'placement-projects': { partitionKey: 'projectId' },
  'placement-tickets': { partitionKey: 'ticketId', ttlAttribute: 'expiresAt' },
  // The audit trail of commands to node agents: a node's commands, newest last by their time-ordered id.
  commands: { partitionKey: 'nodeId', sortKey: 'commandId' },
  credentials: { partitionKey: 'id' },
} as const satisfies Record<TableName, TableSpec>;

/**
 * The whole declaration as one value, for builders that take a topology (the CDK stacks, the local
 * runtime). Names are plain strings here so tests can build a runtime from a topology of their own.
 */
export interface Topology {
  readonly functions: Readonly<Record<string, FunctionSpec>>;
  readonly httpRoutes: readonly (Omit<HttpRoute, 'function'> & { readonly function: string })[];
  readonly wsRoutes: readonly (Omit<WsRoute, 'function'> & { readonly function: string })[];
  readonly wsAuthorizerFunction: string;
  readonly queues: Readonly<Record<string, QueueSpec>>;
  readonly eventSources: readonly (Omit<EventSourceSpec, 'function' | 'queue'> & {
    readonly function: string;
    readonly queue: string;
  })[];
  readonly schedules: readonly (Omit<ScheduleSpec, 'function'> & { readonly function: string })[];
  readonly tables: Readonly<Record<string, TableSpec>>;
}

export const topology: Topology = {
  functions,
  httpRoutes,
  wsRoutes,
  wsAuthorizerFunction,
  queues,
  eventSources,
  schedules,
  tables,
};
