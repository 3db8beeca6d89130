// Primary adapter — the scheduled sync dispatcher (EventBridge, every minute): enqueues every due vCenter into
// the sync FIFO queue, one message group per vCenter.

import { envNames } from '#infra/topology';
import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { dispatchDueVcenters } from '#shared/inventory/sync';
import { logger } from '#shared/observability';

export const handler = async (): Promise<{ enqueued: number; failed: number }> => {
  const result = await dispatchDueVcenters(postgres('writer'), {
    sqs: sqs(),
    queueUrl: requireEnv(envNames.queueUrl('sync')),
  });
  if (result.enqueued > 0 || result.failed.length > 0) {
    logger.info('sync dispatch', { enqueued: result.enqueued, failed: result.failed.length });
  }
  return { enqueued: result.enqueued, failed: result.failed.length };
};
