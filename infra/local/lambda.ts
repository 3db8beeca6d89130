// Local runtime — runs topology functions in-process as Lambda would: the handler module is imported
// once (a warm container), each call gets a Lambda-shaped context, the timeout and reserved concurrency
// are enforced. Every function shares this process, so each call runs in its own invocation context
// (withInvocationContext): what it logs names its own function and request, even with others running.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { withFunctionEnvironment } from '#shared/config';
import { withInvocationContext } from '#shared/observability';
import type { FunctionSpec } from '../topology.ts';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** The function ran out of its reserved concurrency, as Lambda's TooManyRequestsException. */
export class ThrottledError extends Error {
  override readonly name = 'TooManyRequestsException';
}

/** The function exceeded its timeout. */
export class FunctionTimeoutError extends Error {
  override readonly name = 'FunctionTimeoutError';
}

export type Invoke = (functionName: string, event: unknown) => Promise<unknown>;

/** Options of {@link createInvoker}. */
export interface InvokerOptions {
  /**
   * The variables that differ per function (its database login, its tables), laid over `process.env` for its
   * import and each of its invocations, as each Lambda function has an environment of its own. @default none
   */
  readonly environmentOf?: (functionName: string) => Readonly<Record<string, string>>;
}

/** Creates an invoker for `functions`, whose entries are resolved against `root`. */
export function createInvoker(
  functions: Readonly<Record<string, FunctionSpec>>,
  root: string,
  options: InvokerOptions = {},
): Invoke {
  const environmentOf = options.environmentOf ?? (() => ({}));
  const modules = new Map<string, Promise<Handler>>();
  const inFlight = new Map<string, number>();
  const invoked = new Set<string>();

  const load = (name: string, spec: FunctionSpec): Promise<Handler> => {
    let loaded = modules.get(name);
    if (!loaded) {
      loaded = import(pathToFileURL(resolve(root, spec.entry)).href).then((module) => {
        if (typeof module.handler !== 'function') throw new Error(`${spec.entry} exports no handler`);
        return module.handler as Handler;
      });
      modules.set(name, loaded);
    }
    return loaded;
  };

  return async (name, event) => {
    const spec = functions[name];
    if (!spec) throw new Error(`No function named ${name} in the topology`);
    const running = inFlight.get(name) ?? 0;
    if (spec.reservedConcurrency !== undefined && running >= spec.reservedConcurrency) {
      throw new ThrottledError(`${name} is at its reserved concurrency (${spec.reservedConcurrency})`);
    }
    // Counted before any await, so calls arriving together cannot all pass the check above.
    inFlight.set(name, running + 1);
    const timeoutMs = (spec.timeoutSeconds ?? 10) * 1000;
    const deadline = Date.now() + timeoutMs;
    const context: Context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName: `vfleet-local-${name}`,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:vfleet-local-${name}`,
      memoryLimitInMB: String(spec.memoryMb ?? 256),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/vfleet-local-${name}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      const env = environmentOf(name);
      const handler = await withFunctionEnvironment(env, () => load(name, spec));
      // The first call of a warm module is its cold start, as in a new Lambda container.
      const coldStart = !invoked.has(name);
      invoked.add(name);
      const running = withFunctionEnvironment(env, () =>
        withInvocationContext(context, { coldStart }, async () => handler(event, context)),
      );
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new FunctionTimeoutError(`${name} timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([running, timedOut]);
      } catch (error) {
        // Lambda would freeze a timed-out handler; here it runs on, so a later failure is still reported.
        if (error instanceof FunctionTimeoutError) {
          running.catch((late: unknown) => console.error(`[lambda] ${name} failed after its timeout:`, late));
        }
        throw error;
      }
    } finally {
      clearTimeout(timer);
      inFlight.set(name, (inFlight.get(name) ?? 1) - 1);
    }
  };
}
