// What the page reads of the dashboard API and its WebSocket messages (docs/architecture.md, "The WebSocket
// protocol"). The server's own schemas are zod in shared/dashboard; these are the page's view of them, kept
// free of the DOM so the message store can be tested in Node.

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
export const logLevels: readonly LogLevel[] = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];

export type ServiceState = 'running' | 'stopped' | 'error';
export type ServiceAction = 'start' | 'stop' | 'restart';

export interface MetricsReport {
  readonly timestamp: string;
  readonly received_at: string;
  readonly cpu_percent: number;
  readonly memory: { percent: number; total: number; available: number; used: number };
  readonly disk: {
    percent: number;
    mounts: { mount: string; total: number; used: number; free: number; percent: number }[];
  };
  readonly services: Record<string, ServiceState>;
  readonly reporter?: {
    active: boolean;
    total_reports: number;
    failed_reports: number;
    success_rate_percent: number;
    current_interval_seconds: number;
    last_report_status: string | null;
  };
}

/** A node as the dashboard knows it; `removed` only ever arrives as a `node_status`. */
export interface NodeView {
  readonly node_id: string;
  readonly status: 'online' | 'expired' | 'removed';
  readonly last_seen?: string;
  readonly agent_connected?: boolean;
  readonly metrics: MetricsReport | null;
}

export interface HistoryPoint {
  readonly timestamp: string;
  readonly received_at: string;
  readonly cpu_percent: number;
  readonly memory_percent: number;
  readonly disk_percent: number;
}

export interface LogLine {
  readonly node_id: string;
  readonly seq: number;
  readonly timestamp: string;
  readonly level: LogLevel;
  readonly logger_name: string;
  readonly message: string;
  readonly module?: string;
  readonly funcName?: string;
  readonly lineno?: number;
}

/** node id → last sequence number read (sent as base64url JSON). */
export type LogCursor = Record<string, number>;

export interface LogFilters {
  readonly node?: string;
  readonly level?: LogLevel;
  readonly logger?: string;
}

export interface LogSources {
  readonly nodes: string[];
  readonly loggers: string[];
  readonly log_levels: string[];
}

/** A service or reporter command as the API and `service_result` show it. */
export interface CommandView {
  readonly command_id: string;
  readonly node_id: string;
  readonly kind: 'service' | 'reporter';
  readonly action: string;
  readonly service_name?: string;
  readonly status: string;
  readonly success: boolean;
  readonly result?: { status?: ServiceState; error?: { code: string; message: string } } & Record<
    string,
    unknown
  >;
  readonly requested_by: string;
  readonly requested_at: string;
  readonly finished_at?: string;
}

export interface DashboardStats {
  readonly total_workers: number;
  readonly active_workers: number;
  readonly expired_workers: number;
  readonly agents_connected: number;
  readonly total_services: number;
  readonly services_running: number;
  readonly services_error: number;
  readonly uptime_seconds: number;
}

/** `GET /api/dashboard/logs`'s answer. */
export interface LogPage {
  readonly logs: LogLine[];
  readonly cursor: string;
}

export interface LogsQuery extends LogFilters {
  readonly q?: string;
  readonly cursor?: string;
  readonly limit?: number;
}

/** `GET /api/dashboard/logs?before=`: lines older than each node's position (per node, the lowest seq held). */
export interface OlderLogsQuery extends LogFilters {
  readonly q?: string;
  readonly before: string;
  readonly limit?: number;
}

/** The answer to an `OlderLogsQuery`. */
export interface OlderLogPage {
  readonly logs: LogLine[];
  /** The `before` of the next older page. */
  readonly before: string;
  /** Whether some node has older lines left. */
  readonly more: boolean;
}

export function encodeCursor(cursor: LogCursor): string {
  const text = JSON.stringify(cursor);
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeCursor(text: string): LogCursor {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (entry): entry is [string, number] => typeof entry[1] === 'number',
    ),
  );
}

/** The server's log filter, for lines that reach the page by other ways than the subscription. */
export function matches(line: LogLine, filters: LogFilters & { readonly q?: string }): boolean {
  return (
    (!filters.node || line.node_id === filters.node) &&
    (!filters.level || line.level === filters.level) &&
    (!filters.logger || line.logger_name === filters.logger) &&
    (!filters.q || line.message.toLowerCase().includes(filters.q.toLowerCase()))
  );
}
