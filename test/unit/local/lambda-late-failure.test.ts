// Unit tests — the local invoker after a function timeout: Lambda would freeze the handler, but in-process it
// runs on, so a failure after the timeout is logged (not lost, and never an unhandled rejection).
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInvoker, FunctionTimeoutError } from '../../../infra/local/lambda.ts';
import { meet } from '../../fixtures/functions/meetings.ts';

const root = resolve(import.meta.dirname, '../../..');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createInvoker, a handler failing after its timeout', () => {
  it('rejects with the timeout, then logs the late failure', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const logged: unknown[][] = [];
    let reported: () => void = () => {};
    const lateLogged = new Promise<void>((resolve) => {
      reported = resolve;
    });
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      logged.push(args);
      if (String(args[0]).includes('failed after its timeout')) reported();
    });
    try {
      const invoke = createInvoker(
        {
          late: {
            entry: 'test/fixtures/functions/fail-after-meeting.ts',
            description: 'test',
            serves: 'queue',
            needs: [],
            timeoutSeconds: 1,
          },
        },
        root,
      );
      const run = randomUUID();
      await expect(invoke('late', { run, who: 'late', parties: 2 })).rejects.toThrow(FunctionTimeoutError);
      expect(logged).toEqual([]);
      await meet(run, 2); // lets the timed-out handler go on, and fail
      await lateLogged;
      expect(logged).toHaveLength(1);
      expect(logged[0]?.[1]).toMatchObject({ message: 'late failed late' });
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
