// Dashboard — domain: the shapes that cross the wire (agent reports, queries, operator commands), as zod
// schemas the handlers parse with and the API document shows.
import * as z from 'zod';
import { nodeIdPattern } from '#shared/contracts';

/** A node id (`nodeIdPattern` of the contracts, shared with placement): the agent token's subject. */
export const nodeId = z
  .string()
  .regex(nodeIdPattern, 'must be 1-63 of a-z, 0-9 and -')
  .describe("The node id (the agent token's subject)");

export const serviceStates = ['running', 'stopped', 'error'] as const;
export const logLevels = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type LogLevel = (typeof logLevels)[number];

const percent = z.number().min(0).max(100);
const bytes = z.number().int().min(0);
const serviceName = z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/);
const isoTime = z.iso.datetime({ offset: true });

/** Reporter statistics the agent sends with each report (read back by `GET …/reporter`). */
export const reporterStatsSchema = z.strictObject({
  active: z.boolean(),
  total_reports: z.number().int().min(0),
  failed_reports: z.number().int().min(0),
  success_rate_percent: percent,
  current_interval_seconds: z.number().min(30).max(300),
  last_report_status: z.string().max(200).nullable(),
});

/** `POST /api/v1/nodes/{id}/metrics`. */
export const metricsReportSchema = z.strictObject({
  timestamp: isoTime.describe("The agent's own time of the sample"),
  cpu_percent: percent,
  memory: z.strictObject({ percent, total: bytes, available: bytes, used: bytes }),
  disk: z.strictObject({
    percent,
    mounts: z
      .array(
        z.strictObject({
          mount: z.string().min(1).max(256),
          total: bytes,
          used: bytes,
          free: bytes,
          percent,
        }),
      )
      .max(64),
  }),
  services: z.record(serviceName, z.enum(serviceStates)).default({}),
  reporter: reporterStatsSchema.optional(),
});
export type MetricsReport = z.infer<typeof metricsReportSchema>;

/** One log line as the agent ships it. */
export const logLineSchema = z.strictObject({
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).describe('Per-node sequence number, increasing'),
  timestamp: isoTime.describe("The line's own time"),
  level: z.enum(logLevels),
  logger_name: z.string().min(1).max(200),
  message: z.string().max(8_000),
  module: z.string().max(200).optional(),
  funcName: z.string().max(200).optional(),
  lineno: z.number().int().min(0).optional(),
});
export type LogLine = z.infer<typeof logLineSchema>;

/** `POST /api/v1/nodes/{id}/logs`. */
export const logBatchSchema = z.strictObject({ logs: z.array(logLineSchema).min(1).max(1_000) });

/** A stored line: the agent's line with its node. */
export type StoredLogLine = LogLine & { readonly node_id: string };

const limit = (max: number, fallback: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const historyQuerySchema = z.strictObject({ limit: limit(100, 100) });

/** Log filters: by node, level and logger (exact), plus a search in the message (`q`, HTTP only). */
export const logFiltersSchema = z.strictObject({
  node: nodeId.optional(),
  level: z.enum(logLevels).optional(),
  logger: z.string().min(1).max(200).optional(),
});
export type LogFilters = z.infer<typeof logFiltersSchema>;

export const logsQuerySchema = logFiltersSchema.extend({
  q: z.string().min(1).max(200).optional(),
  cursor: z.string().min(1).max(8_000).optional().describe('`cursor` of an earlier answer: lines after it'),
  before: z
    .string()
    .min(1)
    .max(8_000)
    .optional()
    .describe(
      'Older lines: `before` of an earlier answer, or base64url JSON {"<node>": <lowest seq held>}; lines below each node\'s position (a node not named: from its newest)',
    ),
  limit: limit(1_000, 100),
});
export type LogsQuery = z.infer<typeof logsQuerySchema>;

export const serviceActions = ['start', 'stop', 'restart'] as const;
export const controlServiceSchema = z.strictObject({
  worker_id: nodeId,
  service_name: serviceName,
  action: z.enum(serviceActions),
});
export type ControlServiceRequest = z.infer<typeof controlServiceSchema>;

export const reporterActions = ['stop', 'start', 'status', 'report_now', 'set_interval'] as const;
export const reporterControlSchema = z
  .strictObject({
    action: z.enum(reporterActions),
    interval_seconds: z.number().int().min(30).max(300).optional(),
  })
  .refine((body) => (body.action === 'set_interval') === (body.interval_seconds !== undefined), {
    path: ['interval_seconds'],
    message: 'interval_seconds (30-300) goes with action set_interval, and only with it',
  });
export type ReporterControlRequest = z.infer<typeof reporterControlSchema>;

export const commandsQuerySchema = z.strictObject({ limit: limit(100, 20) });

/** WebSocket `subscribe` frame. */
export const subscribeFrameSchema = z.strictObject({
  action: z.literal('subscribe'),
  filters: logFiltersSchema.default({}),
  cursor: z.string().min(1).max(8_000).optional(),
});

/** WebSocket `ping` frame (`history`: points per node in the `update`). */
export const pingFrameSchema = z.strictObject({
  action: z.literal('ping'),
  history: z.number().int().min(0).max(100).optional(),
});

/**
 * The agent's reports over its own WebSocket connection: the same report and batch as the HTTPS routes. The node
 * is the connection's own (its token's subject); a `node_id`, if sent, must name that node.
 */
export const metricsFrameSchema = z.strictObject({
  action: z.literal('metrics'),
  node_id: nodeId.optional(),
  report: metricsReportSchema,
});
export const logsFrameSchema = logBatchSchema.extend({
  action: z.literal('logs'),
  node_id: nodeId.optional(),
});

/** The agent's acknowledgement of a command (`service_ack` or `reporter_ack`). */
export const ackFrameSchema = z.strictObject({
  action: z.enum(['service_ack', 'reporter_ack']),
  command_id: z.string().min(1).max(100),
  ok: z.boolean(),
  /** `service_ack`: the service's state after the command. */
  status: z.enum(serviceStates).optional(),
  /** `reporter_ack`: the reporter's statistics after the command. */
  reporter: reporterStatsSchema.optional(),
  error: z
    .strictObject({
      code: z.enum(['unknown_service', 'not_permitted', 'failed']),
      message: z.string().max(2_000),
    })
    .optional(),
});
export type AckFrame = z.infer<typeof ackFrameSchema>;
