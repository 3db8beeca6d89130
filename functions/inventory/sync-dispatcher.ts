// Primary adapter — the scheduled sync dispatcher (EventBridge, every minute): enqueues every due vCenter into
// the sync FIFO queue, one message group per vCenter, then the vCenters whose drift check is due into the ops
// LOW lane (one `inventory-verify` job each, at most once per SYNC_VERIFY_INTERVAL).

import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import {
  dispatchDueVcenters,
  dispatchDueVerifications,
  dispatchPeriodSeconds,
  verifyIntervalSeconds,
} from '#shared/inventory/sync';
import { logger } from '#shared/observability';

// Checked at start-up: a bad SYNC_VERIFY_INTERVAL or SYNC_DISPATCH_SECONDS fails the cold start with its name.
const verifyInterval = verifyIntervalSeconds();
const dispatchPeriod = dispatchPeriodSeconds();

export const handler = async (): Promise<{ enqueued: number; failed: number; verifications: number }> => {
  const db = postgres('writer');
  const result = await dispatchDueVcenters(db, {
    sqs: sqs(),
    queueUrl: requireEnv(envNames.queueUrl('sync')),
    periodSeconds: dispatchPeriod,
  });
  if (result.enqueued > 0 || result.failed.length > 0) {
    logger.info('sync dispatch', { enqueued: result.enqueued, failed: result.failed.length });
  }
  // The syncs are out first: a failing drift check never holds them back.
  const verify = await dispatchDueVerifications(db, {
    sqs: sqs(),
    queueUrl: requireEnv(envNames.queueUrl('ops-low')),
    intervalSeconds: verifyInterval,
  }).catch((error: unknown) => {
    logger.error('verification dispatch failed', { error: error as Error });
    return { enqueued: 0, failed: [] as string[] };
  });
  if (verify.enqueued > 0 || verify.failed.length > 0) {
    logger.info('verification dispatch', { enqueued: verify.enqueued, failed: verify.failed.length });
  }
  return { enqueued: result.enqueued, failed: result.failed.length, verifications: verify.enqueued };
};
