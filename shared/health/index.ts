// Health — use case: probe each dependency with a deadline and report per-dependency status.
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamo, postgres, redis } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';

export interface DependencyStatus {
  readonly status: 'up' | 'down';
  readonly latencyMs: number;
  /** Why it is down: an error code or class, never a connection string or credential. */
  readonly reason?: string;
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly dependencies: Record<string, DependencyStatus>;
}

const probes: Record<string, () => Promise<unknown>> = {
  redis: () => redis().ping(),
  postgres: () => postgres('reader').query('SELECT 1'),
  dynamodb: () =>
    dynamo().send(new DescribeTableCommand({ TableName: requireEnv(envNames.tableName('connections')) })),
};

function reasonOf(error: unknown): string {
  const { code, name } = error as { code?: unknown; name?: unknown };
  return typeof code === 'string' ? code : typeof name === 'string' ? name : 'Error';
}

async function probe(run: () => Promise<unknown>, timeoutMs: number): Promise<DependencyStatus> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })), timeoutMs);
  });
  try {
    await Promise.race([run(), deadline]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), reason: reasonOf(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** Probes Redis, PostgreSQL (reader) and DynamoDB in parallel, each within `timeoutMs`. */
export async function checkHealth(timeoutMs = 2_000): Promise<HealthReport> {
  const names = Object.keys(probes);
  const results = await Promise.all(names.map((name) => probe(probes[name]!, timeoutMs)));
  const dependencies = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
  const status = results.every((result) => result.status === 'up') ? 'ok' : 'degraded';
  return { status, dependencies };
}
