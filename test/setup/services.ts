// Test harness — vitest globalSetup for the integration and e2e projects: starts the project's own Redis,
// PostgreSQL and DynamoDB Local (never the machine's) in parallel, provides their details, stops them after.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDynamoDb } from '../../infra/local/services/dynamodb.ts';
import { startPostgres } from '../../infra/local/services/postgres.ts';
import { startRedis } from '../../infra/local/services/redis.ts';
import type { RunningService } from '../../infra/local/services/types.ts';
import './context.ts';

/** Starts the services for `project` and returns the teardown that stops them. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), `vfleet-test-${project.name}-`));
  const started: RunningService[] = [];
  const track = <T extends RunningService>(service: T): T => {
    started.push(service);
    return service;
  };
  const teardown = async () => {
    await Promise.allSettled(started.map((service) => service.stop()));
    await rm(dir, { recursive: true, force: true });
  };

  const began = performance.now();
  // allSettled, so that one failure still leaves the others tracked and stopped before rethrowing.
  const [redis, postgres, dynamodb] = await Promise.allSettled([
    startRedis({ dir: join(dir, 'redis') }).then(track),
    startPostgres({ dir: join(dir, 'postgres') }).then(track),
    startDynamoDb({ dir: join(dir, 'dynamodb') }).then(track),
  ]);
  if (redis.status === 'rejected' || postgres.status === 'rejected' || dynamodb.status === 'rejected') {
    await teardown();
    const errors = [redis, postgres, dynamodb].flatMap((result) =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    throw new AggregateError(
      errors,
      `[${project.name}] could not start the test services:\n${errors.join('\n')}`,
    );
  }
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  console.info(
    `[${project.name}] services up in ${seconds} s: redis :${redis.value.port}, postgres :${postgres.value.port}, dynamodb :${dynamodb.value.port}`,
  );

  const pg = postgres.value;
  project.provide('services', {
    redisUrl: redis.value.url,
    dynamodbUrl: dynamodb.value.url,
    dynamodb: { region: dynamodb.value.region, credentials: dynamodb.value.credentials },
    postgres: {
      url: pg.url,
      host: pg.host,
      port: pg.port,
      database: pg.database,
      user: pg.user,
      password: pg.password,
    },
    logDir: dir,
  });
  return teardown;
}
