// Primary adapter — deploy-time migration: a CloudFormation custom resource handler (CDK Provider framework
// shape). Create and Update apply the inventory migrations on the writer; Delete does nothing, because
// removing the stack must never drop inventory data.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { postgres } from '#shared/clients';
import { numberEnv } from '#shared/config';
import { migrate } from '#shared/inventory';
import { logger } from '#shared/observability';

/** What the CDK Provider framework expects back from an onEvent handler. */
export interface CustomResourceResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string | number>;
}

// One stable id: the resource is "the inventory schema of this database", so updates never replace it.
const physicalResourceId = 'vfleet-inventory-schema';

export const handler = async (event: CloudFormationCustomResourceEvent): Promise<CustomResourceResponse> => {
  if (event.RequestType === 'Delete') {
    logger.info('inventory schema left in place on Delete');
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const vmPartitions = numberEnv('INVENTORY_VM_PARTITIONS', 16, { min: 1, max: 1024 });
  // A failure throws: the Provider framework reports it to CloudFormation, which rolls the deploy back.
  const result = await migrate(postgres('writer'), { vmPartitions, log: (line) => logger.info(line) });
  logger.info('inventory migrations applied', { applied: result.applied, vmPartitions: result.vmPartitions });
  return {
    PhysicalResourceId: physicalResourceId,
    Data: { Applied: result.applied.join(',') || 'none', VmPartitions: result.vmPartitions },
  };
};
