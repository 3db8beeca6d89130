// Local runtime — secondary adapters: the services the project starts itself (Redis, PostgreSQL, DynamoDB
// Local, vcsim), each on a free loopback port and stopped on exit. `npm run dev` and the tests use these.
export {
  type DynamoDbService,
  localDynamoDbClient,
  type StartDynamoDbOptions,
  startDynamoDb,
} from './dynamodb.ts';
export { freePort } from './free-port.ts';
export {
  findPostgresBinDir,
  type PostgresService,
  type StartPostgresOptions,
  startPostgres,
} from './postgres.ts';
export { type ManagedService, ServiceStartError } from './process.ts';
export { type RedisService, type StartRedisOptions, startRedis } from './redis.ts';
export type { RunningService } from './types.ts';
export { startVcsim } from './vcsim.ts';
