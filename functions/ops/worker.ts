// Primary adapter — the ops worker: consumes a lane's FIFO queue (one function per lane, so each lane has its
// own maxConcurrency and reserved-concurrency cap) and reports partial batch failures. The LOW lane also runs
// the inventory's drift check (`inventory-verify`), wired here from the ops service's sessions and limiter.
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import { runInventoryVerifyJob, sqsPassRequests } from '#shared/inventory/sync';
import { loadOpsSettings, type OpsService, opsService, processLaneBatch, recordLaneWait } from '#shared/ops';

// Checked at start-up: a bad ESXI_*/…_TTL value fails the cold start with the variable's name.
loadOpsSettings();

const withVerify = (service: OpsService): OpsService => ({
  ...service,
  runners: {
    ...service.runners,
    'inventory-verify': (job) =>
      runInventoryVerifyJob(
        {
          writer: postgres('writer'),
          client: (id) => service.sessions.forVcenter(id),
          limiter: service.limiter,
          requestPass: sqsPassRequests(sqs(), requireEnv(envNames.queueUrl('sync'))),
          onGrant: (waitMs) => recordLaneWait('LOW', waitMs),
        },
        job,
      ),
  },
});

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> =>
  processLaneBatch(withVerify(opsService()), event);
