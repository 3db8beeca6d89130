// Health — use case: probe each dependency with a deadline and report per-dependency status (the detailed check,
// behind a role), and the public check: the same round's overall status, cached per container for a few seconds
// and shared by concurrent callers, so a flood of public calls costs at most one probe round per period.
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { dynamo, postgres, redis } from '#shared/clients';
import { numberEnv, requireEnv } from '#shared/config';
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

/** One probe per dependency: resolves when it answers. */
export type Probes = Readonly<Record<string, () => Promise<unknown>>>;

const probes: Probes = {
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

/** Probes Redis, PostgreSQL (reader) and DynamoDB (or `using`) in parallel, each within `timeoutMs`. */
export async function checkHealth(timeoutMs = 2_000, using: Probes = probes): Promise<HealthReport> {
  const names = Object.keys(using);
  const results = await Promise.all(names.map((name) => probe(using[name]!, timeoutMs)));
  const dependencies = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
  const status = results.every((result) => result.status === 'up') ? 'ok' : 'degraded';
  return { status, dependencies };
}

/** The public answer: the overall status of the last probe round, and when it ran. Nothing names a dependency. */
export interface PublicHealth {
  readonly status: HealthReport['status'];
  readonly checkedAt: string;
}

/** A probe round's status kept for `ttlMs`: calls within it, and calls while a round runs, share that round. */
export class CachedHealth {
  private last: { at: number; answer: PublicHealth } | undefined;
  private running: Promise<PublicHealth> | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly check: () => Promise<HealthReport> = () => checkHealth(),
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached answer while fresh, else the running round's, else a new round's. */
  async get(): Promise<PublicHealth> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return this.last.answer;
    this.running ??= this.round().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<PublicHealth> {
    const report = await this.check();
    const at = this.now();
    const answer = { status: report.status, checkedAt: new Date(at).toISOString() };
    this.last = { at, answer };
    return answer;
  }
}

let publicHealthMemo: { client: unknown; health: CachedHealth } | undefined;

/**
 * The process's public check, cached `HEALTH_CACHE_SECONDS` (default 5); started afresh once the clients were
 * closed and reopened (the local runtime does that between runs). @throws ConfigError naming the setting
 */
export function publicHealth(): CachedHealth {
  const client = redis();
  if (publicHealthMemo?.client !== client) {
    const ttlSeconds = numberEnv('HEALTH_CACHE_SECONDS', 5, { min: 1, max: 300 });
    publicHealthMemo = { client, health: new CachedHealth(ttlSeconds * 1000) };
  }
  return publicHealthMemo.health;
}
