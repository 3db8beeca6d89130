// Primary adapter — the ops worker: consumes a lane's FIFO queue (one function per lane, so each lane has its
// own maxConcurrency and reserved-concurrency cap) and reports partial batch failures.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadOpsSettings, opsService, processLaneBatch } from '#shared/ops';

// Checked at start-up: a bad ESXI_*/…_TTL value fails the cold start with the variable's name.
loadOpsSettings();

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> =>
  processLaneBatch(opsService(), event);
