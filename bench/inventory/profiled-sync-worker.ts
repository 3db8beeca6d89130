// Benchmarks — the sync worker as the lag bench runs it: the real handler (functions/inventory/sync-worker.ts),
// each invocation profiled (bench/inventory/pass-profile.ts) and kept in `invocations` for the bench to read.
// The bench's topology points syncWorker here; the product's topology never does.
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handler as worker } from '../../functions/inventory/sync-worker.ts';
import { installPassProfiler, profiled, type Store } from './pass-profile.ts';

installPassProfiler();

/** Every invocation so far, in order of start; `timing` is set when it has returned. */
export const invocations: Store[] = [];

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
  (
    await profiled(
      () => worker(event, context),
      (live) => invocations.push(live),
    )
  ).result;
