// Primary adapter — deploy-time migration: a CloudFormation custom resource handler (CDK Provider framework
// shape). Create and Update apply the inventory migrations on the writer; Delete does nothing, because
// removing the stack must never drop inventory data.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { postgres } from '#shared/clients';
import { numberEnv } from '#shared/config';
import { applyRoleLogins, migrate } from '#shared/inventory';
import { logger } from '#shared/observability';
import { readDatabasePassword } from '#shared/secrets';

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
  // The capability roles log in through the RDS Proxy with their own secrets (set by the CDK): role → ARN.
  const secrets = Object.entries(JSON.parse(process.env.PG_ROLE_SECRETS ?? '{}') as Record<string, string>);
  const logins = await Promise.all(
    secrets.map(async ([role, arn]) => ({ role, password: await readDatabasePassword(arn) })),
  );
  await applyRoleLogins(postgres('writer'), logins);
  logger.info('capability role logins set', { roles: logins.map((login) => login.role) });
  return {
    PhysicalResourceId: physicalResourceId,
    Data: { Applied: result.applied.join(',') || 'none', VmPartitions: result.vmPartitions },
  };
};
