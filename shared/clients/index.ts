// Secondary adapters — the process-wide clients for Redis, PostgreSQL, DynamoDB and SQS. Each lives in its
// own module so a function's bundle carries only the clients it uses (package.json `sideEffects: false`
// lets esbuild drop the rest of this barrel).
import { closeDynamo } from './dynamodb.ts';
import { closePostgres } from './postgres.ts';
import { closeRedis } from './redis.ts';
import { closeSqs } from './sqs.ts';

export { dynamo } from './dynamodb.ts';
export { postgres } from './postgres.ts';
export {
  createRedisClient,
  dedicatedConnection,
  type RedisClient,
  type RedisClientOptions,
  RedisLoginError,
  redis,
} from './redis.ts';
export { sqs } from './sqs.ts';

/** Closes every client that was opened (the local runtime and tests call this on shutdown). */
export async function closeClients(): Promise<void> {
  closeDynamo();
  closeSqs();
  await Promise.allSettled([closeRedis(), closePostgres()]);
}
