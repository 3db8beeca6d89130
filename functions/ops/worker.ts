// Primary adapter — the ops worker: consumes a lane's FIFO queue (one function per lane, so each lane has its
// own maxConcurrency and reserved-concurrency cap) and reports partial batch failures. The inventory's jobs are
// wired here from the ops service's sessions and limiter: the VM refresh (`vm-refresh`, HIGH) and the drift
// check (`inventory-verify`, LOW); the provisioning completions (`provisioning-load`, LOW).
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { postgres, sqs } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import { runVmRefreshJob, vmRefreshDeps } from '#shared/inventory';
import { runInventoryVerifyJob, sqsPassRequests } from '#shared/inventory/sync';
import { loadOpsSettings, type OpsService, opsService, processLaneBatch, recordLaneWait } from '#shared/ops';
import { provisioningService, runProvisioningLoad } from '#shared/provisioning';

// Checked at start-up: a bad ESXI_*/…_TTL value fails the cold start with the variable's name.
loadOpsSettings();

const withInventoryJobs = (service: OpsService): OpsService => ({
  ...service,
  runners: {
    ...service.runners,
    'vm-refresh': (job) => runVmRefreshJob(vmRefreshDeps(service), job),
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
    'provisioning-load': (job) => runProvisioningLoad(provisioningService(), job),
  },
});

export const handler = async (event: SQSEvent): Promise<SQSBatchResponse> =>
  processLaneBatch(withInventoryJobs(opsService()), event);
