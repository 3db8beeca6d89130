// The dashboard API over HTTP with the session's bearer token. Answers come back with their status (the
// control call's 200 and 202 differ); a 401 means the session is over and goes to `onUnauthorized`.
import type { DashboardStats, LogPage, LogsQuery, OlderLogPage, OlderLogsQuery } from './protocol.ts';

export interface ApiAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
}

export interface DashboardApi {
  stats(): Promise<DashboardStats>;
  logs(query: LogsQuery): Promise<LogPage>;
  olderLogs(query: OlderLogsQuery): Promise<OlderLogPage>;
  controlService(body: { worker_id: string; service_name: string; action: string }): Promise<ApiAnswer>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createApi(options: {
  readonly baseUrl: string;
  readonly token: () => string | undefined;
  readonly onUnauthorized: () => void;
}): DashboardApi {
  async function call<T>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const token = options.token();
    if (!token) {
      options.onUnauthorized();
      throw new ApiError(401, 'The session has ended');
    }
    const response = await fetch(`${options.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as T) : (undefined as T);
    if (response.status === 401) options.onUnauthorized();
    return { status: response.status, body: parsed };
  }

  async function read<T>(path: string): Promise<T> {
    const answer = await call<T & { message?: string }>('GET', path);
    if (answer.status !== 200) {
      throw new ApiError(answer.status, answer.body?.message ?? `${path} answered ${answer.status}`);
    }
    return answer.body;
  }

  return {
    stats: () => read<DashboardStats>('/api/dashboard/stats'),
    logs: (query) => read<LogPage>(`/api/dashboard/logs?${logParams(query)}`),
    olderLogs: (query) => read<OlderLogPage>(`/api/dashboard/logs?${logParams(query)}`),
    controlService: (body) => call('POST', '/api/dashboard/control-service', body),
  };
}

function logParams(query: LogsQuery | OlderLogsQuery): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  return params;
}
