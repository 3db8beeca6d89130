// Node agent — the services an operator may start, stop and restart on this node: exactly those in the
// agent's configuration, nothing else. A service is either a process the agent supervises itself (command,
// arguments, environment; dev and tests use these) whose stdout and stderr lines go to the log shipper, or a
// systemd unit driven through `systemctl start|stop|restart|is-active <unit>` (execFile, no shell) where the
// configuration says so and permits control. No automatic restarts: a process that dies shows `error` (or
// `stopped` after a clean exit) until an operator acts, so a crash loop cannot hide behind a green state.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import * as z from 'zod';

export const serviceStates = ['running', 'stopped', 'error'] as const;
export type ServiceState = (typeof serviceStates)[number];
export const serviceActions = ['start', 'stop', 'restart'] as const;
export type ServiceAction = (typeof serviceActions)[number];

/** The control plane's rule for service names (they are keys of the metrics report). */
const serviceName = z.string().regex(/^[A-Za-z0-9@._:-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 @ . _ : -');

const processServiceSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().min(1).optional(),
  /** Started with the agent. */
  autostart: z.boolean().default(true),
});

const systemdServiceSchema = z.strictObject({
  systemd: z.string().regex(/^[A-Za-z0-9@._:-]{1,256}$/, 'must be a systemd unit name'),
  /** false: the state is reported, but start/stop/restart answer `not_permitted`. */
  control: z.boolean().default(true),
});

/** The agent's services: name → a supervised process or a systemd unit (AGENT_SERVICES_FILE holds it as JSON). */
export const servicesConfigSchema = z.record(
  serviceName,
  z.union([processServiceSchema, systemdServiceSchema]),
);
export type ServicesConfig = z.input<typeof servicesConfigSchema>;
type ParsedConfig = z.output<typeof servicesConfigSchema>;

/** Why a command could not be carried out; `code` is the protocol's `service_ack` error code. */
export class ServiceError extends Error {
  constructor(
    readonly code: 'unknown_service' | 'not_permitted' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** One line of a supervised process's output. */
export interface OutputLine {
  readonly service: string;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
  /** The line's number in its stream since the process started. */
  readonly lineno: number;
  readonly at: Date;
}

export interface SupervisorOptions {
  /** Each line a supervised process writes. */
  readonly onLine?: (line: OutputLine) => void;
  /** What the supervisor did or saw (started, exited …), for the agent's own log. */
  readonly onEvent?: (level: 'INFO' | 'WARNING' | 'ERROR', service: string, message: string) => void;
  /** How long a process has after SIGTERM before SIGKILL. @default 5 000 */
  readonly stopTimeoutMs?: number;
  /** The systemctl to run (tests give a stand-in). @default 'systemctl' */
  readonly systemctl?: string;
}

interface Backend {
  status(): Promise<ServiceState>;
  act(action: ServiceAction): Promise<void>;
  pid(): number | undefined;
  close(): Promise<void>;
}

class ProcessBackend implements Backend {
  private child: ChildProcess | undefined;
  private state: ServiceState = 'stopped';
  private stopping = false;

  constructor(
    private readonly name: string,
    private readonly config: z.output<typeof processServiceSchema>,
    private readonly options: SupervisorOptions,
  ) {}

  async status(): Promise<ServiceState> {
    return this.state;
  }

  pid(): number | undefined {
    return this.state === 'running' ? this.child?.pid : undefined;
  }

  async act(action: ServiceAction): Promise<void> {
    if (action !== 'start') await this.stop();
    if (action !== 'stop') await this.start();
  }

  private async start(): Promise<void> {
    if (this.state === 'running') return;
    const child = spawn(this.config.command, this.config.args, {
      env: { ...process.env, ...this.config.env },
      cwd: this.config.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await once(child, 'spawn');
    } catch (error) {
      this.state = 'error';
      throw new ServiceError('failed', `${this.name} did not start: ${(error as Error).message}`);
    }
    this.child = child;
    this.state = 'running';
    this.stopping = false;
    for (const stream of ['stdout', 'stderr'] as const) {
      let lineno = 0;
      createInterface({ input: child[stream]!, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (text) => {
        this.options.onLine?.({ service: this.name, stream, text, lineno: ++lineno, at: new Date() });
      });
    }
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      const clean = this.stopping || code === 0;
      this.state = clean ? 'stopped' : 'error';
      if (!this.stopping) {
        this.options.onEvent?.(
          clean ? 'INFO' : 'ERROR',
          this.name,
          `${this.name} exited ${signal ? `on ${signal}` : `with code ${code}`}`,
        );
      }
    });
    this.options.onEvent?.('INFO', this.name, `${this.name} started (pid ${child.pid})`);
  }

  private async stop(): Promise<void> {
    const child = this.child;
    if (!child || this.state !== 'running') return;
    this.stopping = true;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), this.options.stopTimeoutMs ?? 5_000);
    await exited;
    clearTimeout(kill);
    this.options.onEvent?.('INFO', this.name, `${this.name} stopped`);
  }

  close(): Promise<void> {
    return this.stop();
  }
}

/** systemctl's words for a denied action (polkit or a missing privilege). */
const deniedPattern = /access denied|interactive authentication required|not permitted|permission denied/i;

class SystemdBackend implements Backend {
  constructor(
    private readonly name: string,
    private readonly config: z.output<typeof systemdServiceSchema>,
    private readonly systemctl: string,
  ) {}

  private run(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string; missing: boolean }> {
    return new Promise((resolve) => {
      execFile(this.systemctl, args, { timeout: 20_000 }, (error, stdout, stderr) => {
        const missing = (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
        resolve({ ok: !error, stdout: String(stdout), stderr: String(stderr), missing });
      });
    });
  }

  async status(): Promise<ServiceState> {
    // is-active exits non-zero for anything but active; what it prints says which.
    const { stdout } = await this.run(['is-active', this.config.systemd]);
    const word = stdout.trim();
    if (['active', 'activating', 'reloading', 'deactivating', 'refreshing'].includes(word)) return 'running';
    if (word === 'inactive') return 'stopped';
    return 'error';
  }

  pid(): undefined {
    return undefined;
  }

  async act(action: ServiceAction): Promise<void> {
    if (!this.config.control) {
      throw new ServiceError('not_permitted', `${this.name} may be watched but not controlled on this node`);
    }
    const result = await this.run([action, this.config.systemd]);
    if (result.ok) return;
    if (result.missing) throw new ServiceError('failed', `${this.name}: systemctl is not installed here`);
    const said = result.stderr.trim().slice(0, 500) || `systemctl ${action} failed`;
    throw new ServiceError(deniedPattern.test(said) ? 'not_permitted' : 'failed', said);
  }

  async close(): Promise<void> {
    // A systemd unit lives on without the agent.
  }
}

export class Supervisor {
  private readonly services = new Map<string, Backend>();
  private readonly autostart: string[] = [];
  /** Per service, the action under way: actions on one service run one after another. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(config: ServicesConfig, options: SupervisorOptions = {}) {
    const parsed: ParsedConfig = servicesConfigSchema.parse(config);
    for (const [name, service] of Object.entries(parsed)) {
      if ('systemd' in service) {
        this.services.set(name, new SystemdBackend(name, service, options.systemctl ?? 'systemctl'));
      } else {
        this.services.set(name, new ProcessBackend(name, service, options));
        if (service.autostart) this.autostart.push(name);
      }
    }
  }

  has(name: string): boolean {
    return this.services.has(name);
  }

  names(): string[] {
    return [...this.services.keys()];
  }

  private backend(name: string): Backend {
    const backend = this.services.get(name);
    if (!backend) throw new ServiceError('unknown_service', `${name} is not in this agent's configuration`);
    return backend;
  }

  async status(name: string): Promise<ServiceState> {
    return this.backend(name).status();
  }

  /** Every configured service's state (the metrics report's `services`). */
  async statuses(): Promise<Record<string, ServiceState>> {
    const names = this.names();
    const states = await Promise.all(names.map((name) => this.backend(name).status()));
    return Object.fromEntries(names.map((name, i) => [name, states[i]!]));
  }

  /** The process id of a running supervised process (undefined for systemd units and stopped services). */
  pid(name: string): number | undefined {
    return this.backend(name).pid();
  }

  /**
   * Carries out an operator's action and answers the service's state after it.
   * @throws ServiceError (`unknown_service`, `not_permitted`, `failed`)
   */
  async act(name: string, action: ServiceAction): Promise<ServiceState> {
    const backend = this.backend(name);
    const previous = this.running.get(name) ?? Promise.resolve();
    const done = previous
      .catch(() => undefined)
      .then(async () => {
        try {
          await backend.act(action);
        } catch (error) {
          if (error instanceof ServiceError) throw error;
          throw new ServiceError('failed', `${name}: ${(error as Error).message}`);
        }
        return backend.status();
      });
    this.running.set(name, done);
    return done;
  }

  /** Starts the processes marked `autostart` (a failure is the service's `error` state, not the agent's). */
  async startAll(): Promise<void> {
    await Promise.all(this.autostart.map((name) => this.act(name, 'start').catch(() => undefined)));
  }

  /** Stops the supervised processes (systemd units are left as they are). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.services.values()].map((backend) => backend.close()));
  }
}
