// Primary adapter — the sync worker (SQS FIFO `sync`, batch size 1): one pass for the message's vCenter,
// then, in streaming mode, the continuation re-enqueued before the time budget ends. A lost watch (the pass
// fell back to a full sync) is logged as `watch lost` with its reason and counted as SyncWatchLost. A vCenter's own failure
// is recorded on its row (backoff, last error, the SyncFailures metric) and the message is done: retrying
// through SQS would only block the vCenter's message group. Only infrastructure failures (the database) fail
// the message.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { postgres, sqs } from '#shared/clients';
import { numberEnv, requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import { continueDedupId, parseSyncMessage, sendSyncMessages, syncVcenter } from '#shared/inventory/sync';
import { logger, metrics } from '#shared/observability';
import { secretStore } from '#shared/secrets';

export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  const streamForMs = numberEnv('SYNC_STREAM_SECONDS', 840, { min: 1, max: 900 }) * 1000;
  const marginMs = numberEnv('SYNC_MARGIN_MS', 15_000, { min: 0, max: 120_000 });
  for (const record of event.Records) {
    const message = parseSyncMessage(record.body);
    if (!message) {
      logger.warn('not a sync message; dropped', { messageId: record.messageId });
      continue;
    }
    try {
      const result = await syncVcenter(
        message.vcenterId,
        { writer: postgres('writer'), reader: postgres('reader'), secrets: secretStore() },
        {
          remainingMs: () => context.getRemainingTimeInMillis(),
          full: message.full === true,
          ...(message.dueAt ? { dueAt: message.dueAt } : {}),
          streamForMs,
          marginMs,
        },
      );
      const log = { reason: message.reason, dueAt: message.dueAt, ...result };
      if (result.watchLost) {
        // Single losses are normal (a vCenter restarted, a session expired); the alarm watches the rate.
        logger.warn('watch lost', { vcenterId: message.vcenterId, reason: result.watchLost });
        metrics.addMetric('SyncWatchLost', MetricUnit.Count, 1);
      }
      if (result.status === 'failed') {
        logger.warn('sync failed', log);
        metrics.addMetric('SyncFailures', MetricUnit.Count, 1);
      } else if (result.status === 'synced') {
        logger.info('sync pass', log);
        metrics.addMetric('SyncPasses', MetricUnit.Count, 1);
        metrics.addMetric('SyncChangedRows', MetricUnit.Count, result.changed + result.deleted);
      }
      metrics.addMetadata('vcenterId', message.vcenterId);
      if (result.continueStreaming) {
        const failed = await sendSyncMessages(sqs(), requireEnv(envNames.queueUrl('sync')), [
          {
            message: { vcenterId: message.vcenterId, reason: 'continue' },
            deduplicationId: continueDedupId(message.vcenterId, result.sequence),
          },
        ]);
        // Not re-enqueued: the dispatcher revives the vCenter when its lease (next_sync_at) runs out.
        if (failed.length > 0)
          logger.warn('streaming continuation not enqueued', { vcenterId: message.vcenterId });
      }
    } catch (error) {
      logger.error('sync message failed', { messageId: record.messageId, error: error as Error });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  metrics.publishStoredMetrics();
  return { batchItemFailures };
};
