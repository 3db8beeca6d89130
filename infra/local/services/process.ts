// Local runtime — secondary adapter plumbing: starts a service's child process in its own process group with
// its output in a log file, waits for readiness against a deadline, and stops the whole group on stop(), on
// parent exit and on SIGINT/SIGTERM/SIGHUP. A detached watchdog stops the group even if the parent is killed.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningService } from './types.ts';

/** A project-started service, with what a test or an operator needs to check on it. */
export interface ManagedService extends RunningService {
  /** Process id of the service's leader, which is also its process-group id. */
  readonly pid: number;
  /** Where the service's stdout and stderr go. */
  readonly logFile: string;
}

/** How to start one service process. */
export interface SpawnServiceOptions {
  /** Short name used in log file names and errors (`redis`, `postgres` …). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Directory for the log file `<name>.log`; created if missing. */
  readonly dir: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Run as this user and group (PostgreSQL refuses to run as root). */
  readonly uid?: number;
  readonly gid?: number;
  /**
   * The signal that asks the service to shut down cleanly.
   * @default 'SIGTERM'
   */
  readonly stopSignal?: NodeJS.Signals;
  /**
   * How long stop() waits after `stopSignal` before it sends SIGKILL to the group.
   * @default 10_000
   */
  readonly stopTimeoutMs?: number;
  /** Paths removed after the process has stopped (its temporary state), also by the watchdog. */
  readonly cleanupPaths?: readonly string[];
}

/** A started child process in its own process group. */
export interface ServiceProcess {
  readonly name: string;
  /** Leader pid, equal to the process-group id. */
  readonly pid: number;
  readonly logFile: string;
  /** True once the leader has exited. */
  readonly exited: boolean;
  /** How the leader exited, for error messages. */
  exitDescription(): string;
  /** Last lines of the log file, for error messages. */
  logTail(lines?: number): Promise<string>;
  /** Stops the whole process group (clean signal, then SIGKILL) and removes `cleanupPaths`; idempotent. */
  stop(): Promise<void>;
  /**
   * Sends `signal` to the whole group and waits for the leader's exit, keeping `cleanupPaths` (the state a
   * restart reuses); a later stop() still removes them.
   * @default signal 'SIGKILL' (a crash)
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A service that did not come up; the message quotes the end of its log. */
export class ServiceStartError extends Error {
  override readonly name = 'ServiceStartError';
  constructor(
    message: string,
    readonly logFile: string,
    readonly logTailText: string,
  ) {
    super(`${message}\n--- last lines of ${logFile} ---\n${logTailText || '(empty)'}\n---`);
  }

  /** True when the port was taken between choosing it and binding it, so a retry on a new port helps. */
  get addressInUse(): boolean {
    return /address already in use|could not bind|BindException|EADDRINUSE/i.test(this.logTailText);
  }
}

const live = new Set<LiveProcess>();
let hooksInstalled = false;

interface LiveProcess {
  readonly pid: number;
  readonly stopSignal: NodeJS.Signals;
  readonly watchdogPid: number | undefined;
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Ask every live service to stop; synchronous, because it also runs in process 'exit'. */
function signalAllLive(): void {
  for (const entry of live) signalGroup(entry.pid, entry.stopSignal);
}

function onParentSignal(signal: NodeJS.Signals): void {
  signalAllLive();
  // When nobody else handles the signal, restore the default (terminate) by re-raising it; otherwise the
  // other handler (the dev server, vitest) decides when to exit.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onParentSignal);
    process.kill(process.pid, signal);
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', signalAllLive);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onParentSignal);
}

// The watchdog covers the parent dying without running any handler (SIGKILL, OOM): it polls the parent once a
// second, exits quietly when the service group is gone, and otherwise stops the group after the parent died.
const WATCHDOG_SCRIPT = `
parent=$1; pgid=$2; sig=$3; shift 3
while kill -0 "$parent" 2>/dev/null; do
  kill -0 -"$pgid" 2>/dev/null || exit 0
  sleep 1
done
kill -"$sig" -"$pgid" 2>/dev/null
i=0
while [ "$i" -lt 10 ] && kill -0 -"$pgid" 2>/dev/null; do sleep 1; i=$((i + 1)); done
kill -KILL -"$pgid" 2>/dev/null
[ "$#" -gt 0 ] && rm -rf "$@"
exit 0
`;

function startWatchdog(pgid: number, stopSignal: NodeJS.Signals, cleanupPaths: readonly string[]) {
  const watchdog = spawn(
    'sh',
    [
      '-c',
      WATCHDOG_SCRIPT,
      'vfleet-watchdog',
      String(process.pid),
      String(pgid),
      stopSignal.slice(3),
      ...cleanupPaths,
    ],
    { detached: true, stdio: 'ignore' },
  );
  watchdog.on('error', () => {});
  watchdog.unref();
  return watchdog.pid;
}

async function readTail(file: string, lines = 30): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 16_384);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}

function exitDescriptionOf(child: ChildProcess): string {
  if (child.signalCode) return `was killed by ${child.signalCode}`;
  if (child.exitCode !== null) return `exited with code ${child.exitCode}`;
  return 'is running';
}

/**
 * Starts `command` in a new process group with stdout and stderr appended to `<dir>/<name>.log`.
 * The group is stopped by the returned `stop()`, on parent exit and on SIGINT/SIGTERM/SIGHUP.
 */
export async function spawnService(options: SpawnServiceOptions): Promise<ServiceProcess> {
  const { name, command, args, dir } = options;
  const stopSignal = options.stopSignal ?? 'SIGTERM';
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const cleanupPaths = options.cleanupPaths ?? [];
  await mkdir(dir, { recursive: true });
  const logFile = join(dir, `${name}.log`);
  installExitHooks();

  // The child gets its own copy of the descriptor, so it can write the log even after dropping root.
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: options.cwd ?? dir,
      env: options.env ?? process.env,
      stdio: ['ignore', logFd, logFd],
      // detached = setsid(): a process group of its own, so stop() reaches every process it forks.
      detached: true,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
  } finally {
    closeSync(logFd);
  }
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (error) => resolve(error));
  });
  if (spawnError || child.pid === undefined) {
    throw new ServiceStartError(
      `${name}: could not start ${command}: ${spawnError?.message ?? 'no pid'}`,
      logFile,
      await readTail(logFile),
    );
  }
  // Keep the parent's event loop free to exit; stop() (which refs it again) and the exit hooks own it.
  child.unref();

  const pid = child.pid;
  const entry: LiveProcess = { pid, stopSignal, watchdogPid: startWatchdog(pid, stopSignal, cleanupPaths) };
  live.add(entry);
  const isExited = () => child.exitCode !== null || child.signalCode !== null;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!isExited()) {
        // Hold the parent's event loop until the leader's exit is seen: unref'd, it holds nothing once the
        // timer below has fired, and a parent with no other work would exit mid-stop (code 13 under a
        // top-level await) before the SIGKILLed leader is reaped.
        child.ref();
        signalGroup(pid, stopSignal);
        // An aborted timer, so a quick exit leaves nothing holding the parent's event loop open.
        const timer = new AbortController();
        const timedOut = await Promise.race([
          exitedPromise.then(() => false),
          sleep(stopTimeoutMs, true, { signal: timer.signal }).catch(() => false),
        ]);
        timer.abort();
        if (timedOut) signalGroup(pid, 'SIGKILL');
        await exitedPromise;
      }
      // The leader is gone; anything it left in its group (a stray worker) gets a short grace, then SIGKILL.
      const deadline = Date.now() + 3_000;
      while (signalGroup(pid, 0) && Date.now() < deadline) await sleep(25);
      signalGroup(pid, 'SIGKILL');
      live.delete(entry);
      if (entry.watchdogPid !== undefined) signalGroup(entry.watchdogPid, 'SIGKILL');
      await Promise.all(cleanupPaths.map((path) => rm(path, { recursive: true, force: true })));
    })();
    return stopping;
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (!isExited()) {
      child.ref();
      signalGroup(pid, signal);
      await exitedPromise;
    }
    // Children the leader left behind (PostgreSQL's backends after a SIGKILL of the postmaster) go too.
    signalGroup(pid, 'SIGKILL');
    const deadline = Date.now() + 3_000;
    while (signalGroup(pid, 0) && Date.now() < deadline) await sleep(25);
    // Its watchdog sees the group gone and exits without cleaning up; the exit hooks need not signal it.
    live.delete(entry);
  };

  return {
    name,
    pid,
    logFile,
    get exited() {
      return isExited();
    },
    exitDescription: () => exitDescriptionOf(child),
    logTail: (lines?: number) => readTail(logFile, lines),
    stop,
    kill,
  };
}

/**
 * A service that can crash and come back on the same port with the same state: the fault suite kills Redis
 * and PostgreSQL under load and starts them again while the runtime's clients keep their addresses.
 */
export interface RestartableService extends ManagedService {
  /** False between kill() and the end of restart(). */
  readonly running: boolean;
  /**
   * Kills the service's process group (SIGKILL by default: a crash; the clean stop signal for a clean
   * shutdown), keeping its port and its state.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the state it had (kills it first if it runs); resolves once ready. */
  restart(): Promise<void>;
}

/**
 * Wraps a started service process into a {@link RestartableService}: `spawnAgain` starts the same program on
 * the same port and state and resolves once it is ready. `pid` and `logFile` follow the current process.
 */
export function restartable<T extends object>(
  first: ServiceProcess,
  spawnAgain: () => Promise<ServiceProcess>,
  fields: T & { readonly name: string; readonly port: number; readonly url: string },
): T & RestartableService {
  let current = first;
  let running = true;
  let stopped = false;
  const kill = async (signal?: NodeJS.Signals) => {
    running = false;
    await current.kill(signal);
  };
  return {
    ...fields,
    get pid() {
      return current.pid;
    },
    get logFile() {
      return current.logFile;
    },
    get running() {
      return running && !current.exited;
    },
    kill,
    async restart() {
      if (stopped) throw new Error(`${fields.name}: stopped, cannot restart`);
      await kill('SIGKILL');
      current = await spawnAgain();
      running = true;
    },
    stop: () => {
      stopped = true;
      running = false;
      return current.stop();
    },
  };
}

/** Options for {@link waitUntilReady}. */
export interface ReadyOptions {
  /** @default 60_000 */
  readonly timeoutMs?: number;
  /** @default 50 */
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until it resolves, the process exits, or the deadline passes. On failure the process is
 * stopped and a {@link ServiceStartError} quoting the log tail and the last probe error is thrown.
 */
export async function waitUntilReady(
  proc: ServiceProcess,
  probe: () => Promise<unknown>,
  options: ReadyOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt yet';
  for (;;) {
    if (proc.exited) {
      const description = proc.exitDescription();
      await proc.stop();
      throw new ServiceStartError(
        `${proc.name} ${description} before it was ready`,
        proc.logFile,
        await proc.logTail(),
      );
    }
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline) {
      await proc.stop();
      throw new ServiceStartError(
        `${proc.name} was not ready within ${timeoutMs} ms (last probe error: ${lastError})`,
        proc.logFile,
        await proc.logTail(),
      );
    }
    await sleep(intervalMs);
  }
}

/** Options for {@link runToCompletion}: a one-shot command such as `initdb`. */
export interface RunOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Directory of the log file `<name>.log`. */
  readonly dir: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
  /** @default 120_000 */
  readonly timeoutMs?: number;
}

/** Runs a one-shot command with its output in `<dir>/<name>.log`; throws with the log tail unless it exits 0. */
export async function runToCompletion(options: RunOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const proc = await spawnService({ ...options, stopSignal: 'SIGTERM', stopTimeoutMs: 2_000 });
  const deadline = Date.now() + timeoutMs;
  while (!proc.exited && Date.now() < deadline) await sleep(20);
  const description = proc.exitDescription();
  await proc.stop();
  if (description !== 'exited with code 0') {
    const why = description === 'is running' ? `did not finish within ${timeoutMs} ms` : description;
    throw new ServiceStartError(`${options.name} ${why}`, proc.logFile, await proc.logTail());
  }
}

/**
 * Runs `start` again (with a new port) when it failed because the port was taken in the meantime: a free
 * port is only free until someone binds it.
 */
export async function retryOnAddressInUse<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !(error instanceof ServiceStartError) || !error.addressInUse) throw error;
    }
  }
}
