// Local runtime — creates the topology's DynamoDB tables in DynamoDB Local, as the stateful stack does in AWS.
import {
  CreateTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { Topology } from '../topology.ts';

/** Creates each table as `<prefix>-<name>` (idempotent) and returns the physical names by logical name. */
export async function ensureTables(
  client: DynamoDBClient,
  tables: Topology['tables'],
  prefix: string,
): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  await Promise.all(
    Object.entries(tables).map(async ([logical, spec]) => {
      const TableName = `${prefix}-${logical}`;
      names[logical] = TableName;
      const keys = [spec.partitionKey, ...(spec.sortKey ? [spec.sortKey] : [])];
      try {
        await client.send(
          new CreateTableCommand({
            TableName,
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: keys.map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
            KeySchema: keys.map((AttributeName, i) => ({
              AttributeName,
              KeyType: i === 0 ? 'HASH' : 'RANGE',
            })),
          }),
        );
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error;
      }
      await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName });
      if (spec.ttlAttribute) {
        await client
          .send(
            new UpdateTimeToLiveCommand({
              TableName,
              TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true },
            }),
          )
          .catch((error: Error) => {
            // Already enabled on a reused table.
            if (!/already enabled/i.test(error.message)) throw error;
          });
      }
    }),
  );
  return names;
}
