// Test harness — a fresh, isolated namespace on the shared test services, so test files can run in parallel
// against one Redis, one PostgreSQL and one DynamoDB Local without seeing each other's data.
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';
import { localDynamoDbClient } from '../../infra/local/services/dynamodb.ts';
import type { TestServices } from './context.ts';

/** One test's slice of the services; `dispose()` removes everything created under it. */
export interface TestNamespace {
  /** Unique id, `<label>_<random>`: lower-case letters, digits and `_`. */
  readonly id: string;
  readonly services: TestServices;
  /** PostgreSQL schema created for this namespace. */
  readonly schema: string;
  /** Client config whose `search_path` is `<schema>, public` (public holds pg_trgm's functions). */
  readonly pg: pg.ClientConfig;
  /** Prefix for every Redis key, `<id>:`. */
  readonly redisKeyPrefix: string;
  /** A DynamoDB table name unique to this namespace: `<base>-<id>`. */
  tableName(base: string): string;
  /** Drops the schema, deletes the prefixed Redis keys and the namespace's DynamoDB tables. */
  dispose(): Promise<void>;
}

async function withPg<T>(config: pg.ClientConfig, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates a fresh namespace (a PostgreSQL schema, a Redis key prefix, a DynamoDB table suffix). */
export async function freshNamespace(label = 't'): Promise<TestNamespace> {
  const services = inject('services');
  const id = `${label.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${randomBytes(5).toString('hex')}`;
  const { host, port, database, user, password } = services.postgres;
  const base: pg.ClientConfig = { host, port, database, user, password };
  await withPg(base, (client) => client.query(`CREATE SCHEMA ${pg.escapeIdentifier(id)}`));
  const suffix = `-${id}`;

  return {
    id,
    services,
    schema: id,
    pg: { ...base, options: `-c search_path=${id},public` },
    redisKeyPrefix: `${id}:`,
    tableName: (name) => `${name}${suffix}`,
    async dispose() {
      await withPg(base, (client) =>
        client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(id)} CASCADE`),
      );
      const redis = new Redis(services.redisUrl, { maxRetriesPerRequest: 1 });
      try {
        for (let cursor = '0'; ; ) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${id}:*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
          if (cursor === '0') break;
        }
      } finally {
        redis.disconnect();
      }
      const dynamo = localDynamoDbClient(services.dynamodbUrl);
      try {
        let start: string | undefined;
        do {
          const page = await dynamo.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
          for (const table of (page.TableNames ?? []).filter((name) => name.endsWith(suffix))) {
            await dynamo.send(new DeleteTableCommand({ TableName: table }));
          }
          start = page.LastEvaluatedTableName;
        } while (start);
      } finally {
        dynamo.destroy();
      }
    },
  };
}
