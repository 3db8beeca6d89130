// Node agent — its dashboard side, wired: the log shipper (the agent's own lines and its services' output),
// the supervisor of the configured services, the metrics reporter, and the control connection that carries
// operators' commands to them. `startAgent` starts it when given `dashboard` options.
import { ControlConnection, type ControlConnectionOptions, commandHandler } from './control.ts';
import { type NodeRoute, nodeRoutePoster, type PostNodeRoute } from './http.ts';
import { type LogLevel, type LogRecord, LogShipper, type LogShipperOptions } from './logs.ts';
import { type SystemSample, systemSampler } from './metrics.ts';
import { Reporter, type ReporterOptions } from './reporter.ts';
import { type OutputLine, type ServicesConfig, Supervisor } from './supervisor.ts';

export interface NodeDashboardOptions {
  /** The services operators may act on (name → process or systemd unit). @default {} */
  readonly services?: ServicesConfig;
  /** The WebSocket API for the control connection; without it no commands reach this node. */
  readonly wsUrl?: string;
  /**
   * The node token for the control connection (read at each connect). Without one, each connect asks the
   * control plane for a one-time ticket on the node routes, authenticated as every report is (SigV4 in AWS).
   */
  readonly token?: () => Promise<string>;
  /** Mounts whose usage is reported. @default ['/'] */
  readonly mounts?: readonly string[];
  /** Replaces the system sampler (tests script the values). */
  readonly sample?: () => Promise<SystemSample>;
  /** Where the log sequence is kept across restarts. */
  readonly seqFile?: string;
  readonly reporter?: Pick<
    ReporterOptions,
    'minIntervalSeconds' | 'maxIntervalSeconds' | 'initialIntervalSeconds' | 'secondMs'
  >;
  readonly logs?: Pick<LogShipperOptions, 'batchMs' | 'maxBuffered' | 'retryMinMs' | 'retryMaxMs'>;
  readonly control?: Pick<
    ControlConnectionOptions,
    'pingMs' | 'maxAgeMs' | 'reconnectMinMs' | 'reconnectMaxMs'
  >;
  /** The systemctl to run for systemd units. @default 'systemctl' */
  readonly systemctl?: string;
}

export interface NodeDashboard {
  readonly supervisor: Supervisor;
  readonly logs: LogShipper;
  readonly reporter: Reporter;
  readonly control: ControlConnection | undefined;
  /** One line of the agent's own log. */
  log(level: LogLevel, part: string, message: string): void;
  /** Closes the control connection, stops the reporter and the supervised processes, flushes the logs. */
  stop(): Promise<void>;
}

const levelWords: Record<string, LogLevel> = {
  DEBUG: 'DEBUG',
  INFO: 'INFO',
  WARN: 'WARNING',
  WARNING: 'WARNING',
  ERR: 'ERROR',
  ERROR: 'ERROR',
  CRITICAL: 'CRITICAL',
  FATAL: 'CRITICAL',
};
const levelPrefix = /^\s*[[(]?(DEBUG|INFO|WARN|WARNING|ERR|ERROR|CRITICAL|FATAL)[\])]?(?=[\s:|-])/i;

/** A service's output line as a log record: the level it names, else INFO on stdout and ERROR on stderr. */
export function outputRecord(line: OutputLine): LogRecord {
  const named = levelPrefix.exec(line.text)?.[1]?.toUpperCase();
  return {
    level: (named && levelWords[named]) || (line.stream === 'stderr' ? 'ERROR' : 'INFO'),
    logger: `service.${line.service}`,
    message: line.text,
    module: line.service,
    funcName: line.stream,
    lineno: line.lineno,
    timestamp: line.at,
  };
}

/** A one-time ticket for the control connection, from POST /api/v1/nodes/{id}/connect-ticket. */
async function connectTicket(post: PostNodeRoute): Promise<string> {
  const answer = await post('connect-ticket', {});
  const ticket = (answer.body as { ticket?: unknown } | null)?.ticket;
  if (answer.status !== 201 || typeof ticket !== 'string')
    throw new Error(`connect ticket refused: ${answer.status} ${JSON.stringify(answer.body)}`);
  return ticket;
}

export async function startNodeDashboard(
  route: NodeRoute,
  options: NodeDashboardOptions,
): Promise<NodeDashboard> {
  const post = nodeRoutePoster(route);
  const logs = await LogShipper.open({ post, seqFile: options.seqFile, ...options.logs });
  const log = (level: LogLevel, part: string, message: string) =>
    logs.log({ level, logger: `agent.${part}`, message, module: `agent/${part}` });
  const supervisor = new Supervisor(options.services ?? {}, {
    onLine: (line) => logs.log(outputRecord(line)),
    onEvent: (level, service, message) =>
      logs.log({ level, logger: 'agent.supervisor', message, module: 'agent/supervisor', funcName: service }),
    systemctl: options.systemctl,
  });
  const reporter = new Reporter({
    post,
    sample: options.sample ?? systemSampler(options.mounts),
    services: () => supervisor.statuses(),
    log: (level, message) => log(level, 'reporter', message),
    ...options.reporter,
  });
  await supervisor.startAll();
  reporter.begin();
  const control = options.wsUrl
    ? new ControlConnection({
        wsUrl: options.wsUrl,
        token: options.token ?? (() => connectTicket(post)),
        onCommand: commandHandler(supervisor, reporter),
        log: (level, message) => log(level, 'control', message),
        ...options.control,
      })
    : undefined;
  control?.start();
  log(
    'INFO',
    'lifecycle',
    `agent ${route.nodeId} started with services ${supervisor.names().join(', ') || 'none'}`,
  );
  return {
    supervisor,
    logs,
    reporter,
    control,
    log,
    async stop() {
      await control?.close();
      reporter.close();
      await reporter.settled();
      await supervisor.stopAll();
      await logs.close();
    },
  };
}
