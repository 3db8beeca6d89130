// Observability — the one logger, metrics and tracer every function uses, so all log the same way.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import type {
  ConstructorOptions,
  LogItemExtraInput,
  LogItemMessage,
} from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'vfleet';

/** One invocation run by {@link withInvocationContext}: its Lambda context and each logger's stand-in for it. */
interface Invocation {
  readonly context: Context;
  readonly coldStart: boolean;
  readonly loggers: WeakMap<InvocationLogger, InvocationLogger>;
}

// On globalThis, so that every copy of this module in a process (a test runner may load two) shares the store.
const storeKey = Symbol.for('vfleet.observability.invocations');
const shared = globalThis as { [storeKey]?: AsyncLocalStorage<Invocation> };
shared[storeKey] ??= new AsyncLocalStorage<Invocation>();
const invocations = shared[storeKey];

/**
 * Runs `fn` as one invocation of the function `context` describes: whatever it logs, across awaits too, carries
 * that context (function_name, request id, cold_start…). For the local runtime, where every function runs in one
 * process, concurrently; in AWS a process is one function, nothing calls this and the logger is Powertools' own.
 */
export function withInvocationContext<T>(context: Context, options: { coldStart: boolean }, fn: () => T): T {
  return invocations.run({ context, coldStart: options.coldStart, loggers: new WeakMap() }, fn);
}

// Which loggers are stand-ins, for which invocation. Module state rather than class fields: Powertools' constructor
// may log before a subclass's fields exist.
const standIns = new WeakMap<InvocationLogger, Invocation>();
let creatingStandIn = false;

/** `logger`'s stand-in for the current invocation; undefined outside one (always in AWS), or for a stand-in. */
function standInOf(logger: InvocationLogger): InvocationLogger | undefined {
  if (creatingStandIn || standIns.has(logger)) return undefined;
  const invocation = invocations.getStore();
  if (!invocation) return undefined;
  let standIn = invocation.loggers.get(logger);
  if (!standIn) {
    // createChild copies level, formatter and keys, calling methods overridden below: they must reach Powertools
    // directly meanwhile.
    creatingStandIn = true;
    try {
      standIn = logger.createChild() as InvocationLogger;
    } finally {
      creatingStandIn = false;
    }
    standIns.set(standIn, invocation);
    standIn.addContext(invocation.context);
    invocation.loggers.set(logger, standIn);
  }
  return standIn;
}

/**
 * Powertools' Logger, except inside {@link withInvocationContext}: there each logger has a stand-in (a child made
 * for the invocation, holding its context and temporary keys) that prints and keeps keys in its place, so
 * concurrent invocations never see each other's context or keys, and a handler's `addContext` (the middy
 * middleware's) leaves the shared state alone. Outside an invocation every call goes straight to Powertools.
 */
class InvocationLogger extends Logger {
  protected override createLogger(options?: ConstructorOptions): Logger {
    return new InvocationLogger(options);
  }

  protected override processLogItem(level: number, input: LogItemMessage, extra: LogItemExtraInput): void {
    const standIn = standInOf(this);
    if (standIn) standIn.processLogItem(level, input, extra);
    else super.processLogItem(level, input, extra);
  }

  // The runtime knows whether the invocation is its function's first; Powertools would count per logger.
  protected override getColdStart(): boolean {
    return standIns.get(this)?.coldStart ?? super.getColdStart();
  }

  override addContext(context: Parameters<Logger['addContext']>[0]): void {
    // Inside an invocation its stand-in already holds the context the runtime gave it.
    if (!standInOf(this)) super.addContext(context);
  }

  override appendKeys(attributes: Parameters<Logger['appendKeys']>[0]): void {
    const standIn = standInOf(this);
    if (standIn) standIn.appendKeys(attributes);
    else super.appendKeys(attributes);
  }

  override removeKeys(keys: string[]): void {
    const standIn = standInOf(this);
    if (standIn) standIn.removeKeys(keys);
    else super.removeKeys(keys);
  }

  override resetKeys(): void {
    const standIn = standInOf(this);
    if (standIn) standIn.resetKeys();
    else super.resetKeys();
  }
}

export const logger: Logger = new InvocationLogger({ serviceName });

export const metrics = new Metrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'vfleet',
});
