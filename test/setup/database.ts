// Test harness — a PostgreSQL database of a test's own on the shared test services, for tests whose handlers
// read PG_* from the environment (which has no search_path option, so a namespace's schema will not do).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import type { TestServices } from './context.ts';

/** A fresh database; `dispose()` drops it. */
export interface TestDatabase {
  /** `<label>_<random>`, also a good table and key prefix. */
  readonly name: string;
  /** Connection details of this database. */
  readonly postgres: TestServices['postgres'];
  /** The test services with this database, as `startLocalRuntime` takes them. */
  readonly services: Pick<TestServices, 'redisUrl' | 'dynamodbUrl' | 'postgres'>;
  dispose(): Promise<void>;
}

async function onServer(statement: string): Promise<void> {
  const client = new pg.Client(inject('services').postgres);
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (no schema yet: run the migrations on `postgres`). */
export async function freshDatabase(label: string): Promise<TestDatabase> {
  const services = inject('services');
  const name = `${label}_${randomBytes(4).toString('hex')}`;
  await onServer(`CREATE DATABASE ${name}`);
  const postgres = { ...services.postgres, database: name };
  return {
    name,
    postgres,
    services: { redisUrl: services.redisUrl, dynamodbUrl: services.dynamodbUrl, postgres },
    dispose: () => onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
