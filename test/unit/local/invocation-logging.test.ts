// Unit tests — logs name the function that wrote them in the local runtime, where every function shares one
// process and one logger: two functions run at once through the invoker, each logging after an await while the
// other is in flight. Outside an invocation (as in AWS) the logger is Powertools' own.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createInvoker } from '../../../infra/local/lambda.ts';
import { logger } from '../../../shared/observability/index.ts';

const root = resolve(import.meta.dirname, '../../..');
const spec = (entry: string) =>
  ({ entry: `test/fixtures/functions/${entry}`, description: 'test', serves: 'queue', needs: [] }) as const;
const functions = {
  withMiddleware: spec('log-between-meetings-middy.ts'),
  plain: spec('log-between-meetings.ts'),
};

type Line = Record<string, unknown>;

/** JSON log lines written to stdout from now on (Powertools' own console writes there outside dev mode). */
function captureLogs(): Line[] {
  const lines: Line[] = [];
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    for (const text of String(chunk).split('\n')) {
      if (!text.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(text) as Line);
      } catch {
        // Not a log line.
      }
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write);
  return lines;
}

describe('logging in the local runtime', () => {
  beforeEach(() => {
    logger.setLogLevel('INFO'); // the unit project runs SILENT
  });
  afterEach(() => {
    logger.setLogLevel('SILENT');
    vi.restoreAllMocks();
  });

  it('names its own function and request in each line while two functions run concurrently', async () => {
    const lines = captureLogs();
    const invoke = createInvoker(functions, root);
    const run = randomUUID();
    const answers = await Promise.all([
      invoke('withMiddleware', { run, who: 'a', parties: 2 }),
      invoke('plain', { run, who: 'b', parties: 2 }),
    ]);
    expect(answers).toEqual(['a', 'b']);

    const logged = (who: string) =>
      lines.filter((l) => l.message === 'between the meetings' && l.who === who);
    const [a] = logged('a');
    const [b] = logged('b');
    expect(logged('a')).toHaveLength(1);
    expect(logged('b')).toHaveLength(1);
    expect(a).toMatchObject({
      function_name: 'vfleet-local-withMiddleware',
      function_arn: 'arn:aws:lambda:local:000000000000:function:vfleet-local-withMiddleware',
      cold_start: true,
      appended: 'a',
    });
    expect(b).toMatchObject({ function_name: 'vfleet-local-plain', cold_start: true, appended: 'b' });
    expect(a?.function_request_id).toEqual(expect.any(String));
    expect(b?.function_request_id).toEqual(expect.any(String));
    expect(a?.function_request_id).not.toBe(b?.function_request_id);

    // The next call of a warm function is no cold start, and carries no key of the previous invocation.
    await invoke('plain', { run: randomUUID(), who: 'c', parties: 1 });
    const [c] = logged('c');
    expect(c).toMatchObject({ function_name: 'vfleet-local-plain', cold_start: false, appended: 'c' });
    expect(c?.function_request_id).not.toBe(b?.function_request_id);

    // The middleware's addContext inside an invocation did not become the process-wide context.
    logger.info('outside any invocation');
    const outside = lines.find((l) => l.message === 'outside any invocation');
    expect(outside).toBeDefined();
    expect(outside).not.toHaveProperty('function_name');
    expect(outside).not.toHaveProperty('appended');
  });

  it('keeps the context a handler adds when no invocation context is set (one function per process, as in AWS)', () => {
    const lines = captureLogs();
    const context = {
      functionName: 'vfleet-prod-opsApi',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:vfleet-prod-opsApi',
      memoryLimitInMB: '512',
      awsRequestId: 'req-1',
    } as Context;
    logger.addContext(context);
    logger.appendKeys({ vcenterId: 'vc-1' });
    try {
      logger.info('in a handler');
    } finally {
      logger.resetKeys();
    }
    expect(lines.find((l) => l.message === 'in a handler')).toMatchObject({
      function_name: 'vfleet-prod-opsApi',
      function_request_id: 'req-1',
      vcenterId: 'vc-1',
    });
  });
});
