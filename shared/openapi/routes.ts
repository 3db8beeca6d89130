// OpenAPI — per route, what the document adds to the contract's table: a summary, and the zod schemas the
// handler parses with (imported from the capability that owns them, never restated), plus its answers.
// `satisfies Record<RouteKey, RouteDoc>`: a route added to the table without its entry here fails the
// type-check, and so does an entry for a route the table does not have.
import * as z from 'zod';
import { moidPattern, type RouteKey, vcenterIdPattern } from '#shared/contracts';
import {
  commandsQuerySchema,
  controlServiceSchema,
  historyQuerySchema,
  logBatchSchema,
  logsQuerySchema,
  metricsReportSchema,
  nodeId,
  reporterControlSchema,
} from '#shared/dashboard';
import { listQuerySchemas, summaryQuerySchema } from '#shared/inventory';
import { registerSchema, syncRequestSchema } from '#shared/inventory/sync';
import { consoleAuditQuerySchema } from '#shared/ops';
import {
  computeRequestSchema,
  heartbeatSchema,
  nodeIdSchema,
  projectIdSchema,
} from '#shared/placement/protocol';
import { credentialSchema, kinds, moidParam, resourcesQuerySchema } from '#shared/provisioning';

/** One answer a route gives when it works. */
export interface RouteAnswer {
  readonly description: string;
  readonly body?: z.ZodType;
  /** @default application/json */
  readonly contentType?: string;
}

/** What the document says about one route beyond the table's method, path and role. */
export interface RouteDoc {
  readonly operationId: string;
  readonly summary: string;
  readonly tag:
    | 'health'
    | 'identity'
    | 'inventory'
    | 'vcenters'
    | 'operations'
    | 'provisioning'
    | 'placement'
    | 'dashboard';
  readonly params?: Readonly<Record<string, z.ZodType>>;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  readonly responses: Readonly<Record<string, RouteAnswer>>;
  /** Error answers particular to the route (status → when), beside 400/401/403/413/429/500. */
  readonly errors?: Readonly<Record<string, string>>;
}

const bare = (pattern: RegExp) => pattern.source.replace(/^\^|\$$/g, '');
const vmId = z
  .string()
  .regex(new RegExp(`^${bare(vcenterIdPattern)}:${bare(moidPattern)}$`))
  .describe('`<vcenterId>:<moid>`, e.g. `vc-01:vm-42`');
const vcenterId = z.string().regex(vcenterIdPattern).describe('The id the vCenter was registered with');

const page = z.object({
  items: z.array(z.record(z.string(), z.unknown())),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last'),
  cached: z.boolean(),
});

const list = (noun: string, kind: keyof typeof listQuerySchemas, operationId: string): RouteDoc => ({
  operationId,
  summary: `List ${noun} (filters, name search, keyset paging)`,
  tag: 'inventory',
  query: listQuerySchemas[kind],
  responses: { '200': { description: `A page of ${noun}`, body: page } },
});

const anyObject = (description: string) => z.record(z.string(), z.unknown()).describe(description);
const unknownNode = 'The node never reported, or the janitor removed it after 10 minutes of silence';
const commandAnswers = {
  '200': { description: 'The agent acknowledged: the command with its result', body: anyObject('Command') },
  '202': {
    description:
      'Sent, no acknowledgement within the wait: follow `command_id` (audit trail, `service_result`)',
    body: anyObject('Command'),
  },
};

const vcenterView = z.record(z.string(), z.unknown()).describe('A vCenter with its sync state');
const syncAnswer = z.record(z.string(), z.unknown()).describe('What was enqueued');

const kindAnswer = z.object({
  status: z.enum(['ok', 'partial', 'timeout', 'error', 'stale']),
  source: z.enum(['inventory', 'live', 'cache']),
  ageSeconds: z.number().nullable(),
  items: z.array(z.record(z.string(), z.unknown())),
  error: z.string().optional(),
  limit: z.number().optional().describe('templates: the limit applied'),
  truncated: z.boolean().optional().describe('templates: items were cut to the limit'),
  total: z.number().optional(),
});
const provisioningAnswer = z.object({
  vcenterId: z.string(),
  kinds: z.partialRecord(z.enum(kinds), kindAnswer),
  cached: z.boolean().describe('Every kind came from the cache'),
  stale: z.boolean().describe('A kind is its last-known-good value (the vCenter failed or was slow)'),
});
const provisioningErrors = { '404': 'No such vCenter or object, or not visible to your vCenter identity' };

const publicHealthAnswer = z.object({
  status: z.enum(['ok', 'degraded']),
  checkedAt: z.string().describe('When the cached probe round ran (ISO 8601)'),
});
const healthReport = z.object({
  status: z.enum(['ok', 'degraded']),
  dependencies: z.record(
    z.string(),
    z.object({
      status: z.enum(['up', 'down']),
      latencyMs: z.number(),
      reason: z.string().optional().describe('An error code or class; never an address or credential'),
    }),
  ),
});

export const routeDocs = {
  'GET /health': {
    operationId: 'getHealth',
    summary: 'Liveness (public): the overall status of a probe round, cached a few seconds per container',
    tag: 'health',
    responses: {
      '200': { description: 'Every dependency was up at `checkedAt`', body: publicHealthAnswer },
      '503': {
        description: 'A dependency was down at `checkedAt` (details: /api/v1/health/details)',
        body: publicHealthAnswer,
      },
    },
  },
  'GET /api/v1/health/details': {
    operationId: 'getHealthDetails',
    summary: "Each dependency's status and probe latency, probed on every call (operator)",
    tag: 'health',
    responses: {
      '200': { description: 'Every dependency is up', body: healthReport },
      '503': { description: 'A dependency is down (the body names it and why)', body: healthReport },
    },
  },
  'GET /api/v1/openapi.json': {
    operationId: 'getOpenApiDocument',
    summary: 'This document (public; ETag, cacheable for five minutes)',
    tag: 'health',
    responses: {
      '200': { description: 'The OpenAPI 3.1 document' },
      '304': { description: 'Not modified (If-None-Match)' },
    },
  },
  'GET /api/v1/me': {
    operationId: 'getMe',
    summary: "The caller's identity as the token shows it",
    tag: 'identity',
    responses: {
      '200': {
        description: 'Subject and roles',
        body: z.object({ subject: z.string(), roles: z.array(z.string()) }),
      },
    },
  },
  'GET /api/v1/vms': list('VMs', 'vms', 'listVms'),
  'GET /api/v1/vms/{id}': {
    operationId: 'getVm',
    summary: 'One VM',
    tag: 'inventory',
    params: { id: vmId },
    responses: { '200': { description: 'The VM', body: z.record(z.string(), z.unknown()) } },
    errors: { '404': 'No such VM' },
  },
  'GET /api/v1/hosts': list('hosts', 'hosts', 'listHosts'),
  'GET /api/v1/datastores': list('datastores', 'datastores', 'listDatastores'),
  'GET /api/v1/clusters': list('clusters', 'clusters', 'listClusters'),
  'GET /api/v1/stats/summary': {
    operationId: 'getSummary',
    summary: 'Counts per kind and power state',
    tag: 'inventory',
    query: summaryQuerySchema,
    responses: { '200': { description: 'The summary', body: z.record(z.string(), z.unknown()) } },
  },
  'POST /api/v1/vcenters': {
    operationId: 'registerVcenter',
    summary: 'Register a vCenter; its first full sync starts at once',
    tag: 'vcenters',
    body: registerSchema,
    responses: {
      '201': {
        description: 'Registered; `sync` says whether the first pass was enqueued',
        body: z.object({ vcenter: vcenterView, sync: syncAnswer }),
      },
    },
    errors: { '409': 'A vCenter with this id exists' },
  },
  'GET /api/v1/vcenters': {
    operationId: 'listVcenters',
    summary: 'Registered vCenters with their sync state',
    tag: 'vcenters',
    responses: { '200': { description: 'Every vCenter', body: z.object({ items: z.array(vcenterView) }) } },
  },
  'GET /api/v1/vcenters/{id}': {
    operationId: 'getVcenter',
    summary: 'One vCenter with its sync state and last verification',
    tag: 'vcenters',
    params: { id: vcenterId },
    responses: { '200': { description: 'The vCenter', body: z.object({ vcenter: vcenterView }) } },
    errors: { '404': 'No such vCenter' },
  },
  'DELETE /api/v1/vcenters/{id}': {
    operationId: 'deleteVcenter',
    summary: 'Forget a vCenter, its inventory and its password',
    tag: 'vcenters',
    params: { id: vcenterId },
    responses: { '204': { description: 'Deleted' } },
    errors: { '404': 'No such vCenter' },
  },
  'POST /api/v1/vcenters/{id}/sync': {
    operationId: 'requestSync',
    summary: 'Start a sync pass now',
    tag: 'vcenters',
    params: { id: vcenterId },
    body: syncRequestSchema,
    responses: { '202': { description: 'Enqueued', body: syncAnswer } },
    errors: {
      '404': 'No such vCenter',
      '503': 'The queue did not take it (Retry-After: the dispatcher picks it up by then)',
    },
  },
  'GET /api/v1/vms/{id}/thumbnail': {
    operationId: 'getThumbnail',
    summary: "The VM console's screenshot (ETag / 304, X-Cache, Age)",
    tag: 'operations',
    params: { id: vmId },
    responses: {
      '200': { description: 'PNG image', contentType: 'image/png' },
      '304': { description: 'Not modified (If-None-Match)' },
    },
    errors: { '404': 'No such VM', '503': 'vCenter busy or unreachable (Retry-After)' },
  },
  'POST /api/v1/vms/{id}/refresh': {
    operationId: 'refreshVm',
    summary: 'Re-read one VM from its vCenter (HIGH lane)',
    tag: 'operations',
    params: { id: vmId },
    responses: {
      '200': { description: 'Refreshed: the VM as vCenter shows it now' },
      '202': { description: 'Still queued' },
    },
    errors: { '404': 'No such VM' },
  },
  'POST /api/v1/vms/{id}/console': {
    operationId: 'openConsole',
    summary: 'A console ticket for the VM (CRITICAL lane)',
    tag: 'operations',
    params: { id: vmId },
    responses: { '200': { description: 'The ticket and where to open it' } },
    errors: { '404': 'No such VM', '503': 'vCenter busy or unreachable (Retry-After)' },
  },
  'GET /api/v1/queue/stats': {
    operationId: 'getQueueStats',
    summary: 'Lane depths, limiter and cache statistics',
    tag: 'operations',
    responses: { '200': { description: 'The statistics', body: z.record(z.string(), z.unknown()) } },
  },
  'POST /api/v1/projects/{id}/compute': {
    operationId: 'computeProject',
    summary: "Run a request on the project's node (placing the project first if it has none)",
    tag: 'placement',
    params: { id: projectIdSchema },
    body: computeRequestSchema,
    responses: {
      '200': { description: "The node's answer (headers x-vfleet-node, x-vfleet-token)" },
      '202': { description: 'Longer work: a job id to poll with `{"job": …}`' },
    },
    errors: {
      '413': '`project_too_large`: declared or reported data over PROJECT_DATA_LIMIT (sizeBytes, limitBytes)',
      '502': 'The node failed or could not be reached (the project stays where it is)',
      '503':
        '`capacity`: every slot is busy (Retry-After, position, ticket: retry with it to keep your place)',
      '504': 'The node did not answer within the deadline',
    },
  },
  'GET /api/v1/projects/{id}/placement': {
    operationId: 'getPlacement',
    summary: "The project's node, fencing token, since and last use",
    tag: 'placement',
    params: { id: projectIdSchema },
    responses: { '200': { description: 'The placement', body: z.record(z.string(), z.unknown()) } },
    errors: { '404': 'The project has never been placed' },
  },
  'DELETE /api/v1/projects/{id}/placement': {
    operationId: 'releasePlacement',
    summary: "Free the project's slot (and forget a recorded over-limit size)",
    tag: 'placement',
    params: { id: projectIdSchema },
    responses: {
      '200': { description: 'The placement after release', body: z.record(z.string(), z.unknown()) },
    },
    errors: { '404': 'The project has never been placed' },
  },
  'POST /api/v1/nodes/{id}/heartbeat': {
    operationId: 'nodeHeartbeat',
    summary: 'A node agent reports itself; the answer lists what it holds, under which tokens',
    tag: 'placement',
    params: { id: nodeIdSchema },
    body: heartbeatSchema,
    responses: { '200': { description: 'Assignments, revocations, timeout and signing key' } },
    errors: { '403': 'A node may only speak for itself', '409': 'The id belongs to another instance' },
  },
  'GET /api/v1/nodes': {
    operationId: 'listNodes',
    summary: 'Compute nodes with state (joining, ready, busy, suspect, expired), projects, heartbeat age',
    tag: 'placement',
    responses: {
      '200': {
        description: 'Every node',
        body: z.object({ items: z.array(z.record(z.string(), z.unknown())) }),
      },
    },
  },
  'POST /api/v1/nodes/{id}/metrics': {
    operationId: 'reportNodeMetrics',
    summary: "A node agent's report: CPU, memory, disk, services, reporter statistics (role node, own id)",
    tag: 'dashboard',
    params: { id: nodeId },
    body: metricsReportSchema,
    responses: {
      '200': { description: 'Stored; the answer suggests the next interval', body: anyObject('Accepted') },
    },
    errors: { '403': "The token's subject is not this node" },
  },
  'POST /api/v1/nodes/{id}/logs': {
    operationId: 'shipNodeLogs',
    summary: 'Log lines of a node, with per-node sequence numbers (role node, own id)',
    tag: 'dashboard',
    params: { id: nodeId },
    body: logBatchSchema,
    responses: {
      '200': { description: 'Stored (duplicates by sequence dropped) and pushed', body: anyObject('Counts') },
    },
    errors: { '403': "The token's subject is not this node" },
  },
  'POST /api/v1/nodes/{id}/connect-ticket': {
    operationId: 'issueNodeConnectTicket',
    summary:
      "A one-time ticket for the node's control connection, valid a minute: `?token=<ticket>` on the WebSocket " +
      'API, for agents that sign with their instance role (role node, own id)',
    tag: 'dashboard',
    params: { id: nodeId },
    responses: {
      '201': {
        description: 'The ticket and its expiry',
        body: z.object({ ticket: z.string(), expires_at: z.string() }),
      },
    },
    errors: { '403': 'The caller is not this node' },
  },
  'GET /api/dashboard/metrics': {
    operationId: 'getDashboardMetrics',
    summary: 'Every node: status (online / expired), agent connection, latest report',
    tag: 'dashboard',
    responses: { '200': { description: 'Nodes by id', body: anyObject('Nodes') } },
  },
  'GET /api/dashboard/history/{node}': {
    operationId: 'getNodeHistory',
    summary: "A node's last points (at most 100), oldest first",
    tag: 'dashboard',
    params: { node: nodeId },
    query: historyQuerySchema,
    responses: { '200': { description: 'The history', body: anyObject('History') } },
    errors: { '404': unknownNode },
  },
  'DELETE /api/dashboard/history/{node}': {
    operationId: 'clearNodeHistory',
    summary: "Clear a node's history",
    tag: 'dashboard',
    params: { node: nodeId },
    responses: { '204': { description: 'Cleared' } },
    errors: { '404': unknownNode },
  },
  'GET /api/dashboard/stats': {
    operationId: 'getDashboardStats',
    summary: 'Workers (active, expired), services, uptime',
    tag: 'dashboard',
    responses: { '200': { description: 'The statistics', body: anyObject('Stats') } },
  },
  'GET /api/dashboard/logs': {
    operationId: 'getDashboardLogs',
    summary:
      'Log lines by node, level, logger and text; the most recent, those after `cursor`, or those older than `before`',
    tag: 'dashboard',
    query: logsQuerySchema,
    responses: {
      '200': {
        description:
          'Lines (oldest first) and the cursor after them; with `before`: the `before` of the next older page and `more`',
        body: anyObject('Logs'),
      },
    },
  },
  'POST /api/dashboard/control-service': {
    operationId: 'controlService',
    summary:
      "Start, stop or restart a service on a node through its agent (recorded in the node's audit trail)",
    tag: 'dashboard',
    body: controlServiceSchema,
    responses: commandAnswers,
    errors: {
      '404': 'Unknown node, or a service not in its agent configuration',
      '409': 'The node is offline (no agent connection)',
    },
  },
  'GET /api/dashboard/nodes/{id}/reporter': {
    operationId: 'getReporter',
    summary: "A node's reporter statistics (from its last report) and the interval set for it",
    tag: 'dashboard',
    params: { id: nodeId },
    responses: { '200': { description: 'The reporter', body: anyObject('Reporter') } },
    errors: { '404': unknownNode },
  },
  'POST /api/dashboard/nodes/{id}/reporter': {
    operationId: 'controlReporter',
    summary: "Control a node's reporter: stop, start, status, report_now, set_interval (30-300 s)",
    tag: 'dashboard',
    params: { id: nodeId },
    body: reporterControlSchema,
    responses: commandAnswers,
    errors: { '404': unknownNode, '409': 'The node is offline (no agent connection)' },
  },
  'GET /api/dashboard/nodes/{id}/commands': {
    operationId: 'listNodeCommands',
    summary: "A node's command audit trail, newest first: who, what, when, result",
    tag: 'dashboard',
    params: { id: nodeId },
    query: commandsQuerySchema,
    responses: { '200': { description: 'The commands', body: anyObject('Commands') } },
  },
  'GET /api/v1/vcenters/{id}/datacenters': {
    operationId: 'listDatacenters',
    summary: 'Datacenters of a vCenter as your vCenter identity sees them',
    tag: 'provisioning',
    params: { id: vcenterId },
    responses: { '200': { description: 'The `datacenters` kind', body: provisioningAnswer } },
    errors: provisioningErrors,
  },
  'GET /api/v1/vcenters/{id}/datacenters/{dc}/compute': {
    operationId: 'listComputeResources',
    summary: 'Clusters and standalone hosts of a datacenter',
    tag: 'provisioning',
    params: { id: vcenterId, dc: moidParam },
    responses: { '200': { description: 'The `compute` kind', body: provisioningAnswer } },
    errors: provisioningErrors,
  },
  'GET /api/v1/vcenters/{id}/compute/{cr}/resources': {
    operationId: 'getComputeResources',
    summary: 'Pools, networks, datastores and templates one cluster or standalone host can use',
    tag: 'provisioning',
    params: { id: vcenterId, cr: moidParam },
    query: resourcesQuerySchema,
    responses: { '200': { description: 'One entry per asked kind', body: provisioningAnswer } },
    errors: provisioningErrors,
  },
  'PUT /api/v1/vcenters/{id}/credentials/me': {
    operationId: 'putMyVcenterIdentity',
    summary:
      'Register your own vCenter identity: resource answers are then loaded with it (checked by one login)',
    tag: 'provisioning',
    params: { id: vcenterId },
    body: credentialSchema,
    responses: {
      '200': {
        description: 'Registered; nothing of the credential is returned',
        body: z.object({ vcenterId: z.string(), identity: z.literal('personal') }),
      },
    },
    errors: { '404': 'No such vCenter', '503': 'The vCenter did not answer (Retry-After)' },
  },
  'DELETE /api/v1/vcenters/{id}/credentials/me': {
    operationId: 'deleteMyVcenterIdentity',
    summary: 'Remove your vCenter identity: answers use the service account again',
    tag: 'provisioning',
    params: { id: vcenterId },
    responses: { '204': { description: 'Removed' } },
    errors: { '404': 'No such vCenter, or you have no identity on it' },
  },
  'GET /api/v1/audit/console': {
    operationId: 'listConsoleAudit',
    summary:
      "Console audit trail, newest first: who opened which VM's console, when, from where (source address, user agent), and the outcome",
    tag: 'operations',
    query: consoleAuditQuerySchema,
    responses: {
      '200': {
        description: 'A page of the trail (only vCenters in your scope)',
        body: z.object({
          items: z.array(z.record(z.string(), z.unknown())),
          nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last'),
        }),
      },
    },
  },
} as const satisfies Record<RouteKey, RouteDoc>;
