// Unit tests — the local runtime's in-process Lambda invoker: warm modules, context, timeout and reserved
// concurrency (throttling).
import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createInvoker, FunctionTimeoutError, ThrottledError } from '../../../infra/local/lambda.ts';

const root = resolve(import.meta.dirname, '../../..');
const slow = {
  entry: 'test/fixtures/functions/slow.ts',
  description: 'test',
  serves: 'queue',
  needs: [],
} as const;

describe('createInvoker', () => {
  it('gives the handler a Lambda-shaped context whose remaining time counts down from the timeout', async () => {
    const invoke = createInvoker({ slow: { ...slow, timeoutSeconds: 5 } }, root);
    await invoke('slow', { waitMs: 0 }); // the module loaded (warm), before the clock is faked
    // On a fake clock only the handler's own wait moves time: 50 ms into a 5 s timeout leave exactly 4,950.
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    try {
      const running = invoke('slow', { waitMs: 50 });
      await vi.advanceTimersByTimeAsync(50);
      const result = (await running) as { functionName: string; remainingMs: number };
      expect(result.functionName).toBe('vfleet-local-slow');
      expect(result.remainingMs).toBe(4_950);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fails an invocation that outlives the function timeout', async () => {
    const invoke = createInvoker({ slow: { ...slow, timeoutSeconds: 1 } }, root);
    await expect(invoke('slow', { waitMs: 1_500 })).rejects.toThrow(FunctionTimeoutError);
  });

  it('throttles beyond the reserved concurrency and admits again once a slot frees', async () => {
    const invoke = createInvoker({ slow: { ...slow, reservedConcurrency: 2 } }, root);
    const running = [invoke('slow', { waitMs: 300 }), invoke('slow', { waitMs: 300 })];
    await expect(invoke('slow', { waitMs: 0 })).rejects.toThrow(ThrottledError);
    await Promise.all(running);
    await expect(invoke('slow', { waitMs: 0 })).resolves.toMatchObject({ functionName: 'vfleet-local-slow' });
  });

  it('refuses a function the topology does not declare', async () => {
    const invoke = createInvoker({}, root);
    await expect(invoke('nope', {})).rejects.toThrow(/No function named nope/);
  });
});
