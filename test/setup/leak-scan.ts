// Test harness — the scan itself, run by the globalSetup's teardown (test/setup/services.ts) while the test
// Redis and DynamoDB Local still run: gathers every captured source and looks for every planted secret in them
// (test/setup/leaks.ts has the registry and the matching).
import { readFile } from 'node:fs/promises';
import { DynamoDBClient, ListTablesCommand, paginateScan } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import {
  filesUnder,
  findLeaks,
  type Leak,
  minimumSecretLength,
  parseRegistry,
  type Source,
} from './leaks.ts';

export interface LeakScanInput {
  readonly registryFile: string;
  /** The test processes' captured output and error bodies. */
  readonly captureDir: string;
  /** Service log files (Redis, PostgreSQL, DynamoDB Local). */
  readonly logFiles: readonly string[];
  readonly redisUrl: string;
  readonly dynamodb: {
    readonly endpoint: string;
    readonly region: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
}

export interface LeakScanResult {
  readonly secrets: number;
  /** Planted values too short to scan, by kind. */
  readonly tooShort: Readonly<Record<string, number>>;
  readonly sources: number;
  readonly bytes: number;
  readonly leaks: readonly Leak[];
}

/** Every key of the test Redis and its value (strings, hashes, lists, sets, sorted sets), as one source. */
async function redisSource(url: string): Promise<Source> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  const lines: string[] = [];
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string'
            ? await redis.get(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'list'
                ? JSON.stringify(await redis.lrange(key, 0, -1))
                : type === 'set'
                  ? JSON.stringify(await redis.smembers(key))
                  : type === 'zset'
                    ? JSON.stringify(await redis.zrange(key, 0, -1))
                    : '';
        lines.push(`${key} ${value ?? ''}`);
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return { name: `redis (${lines.length} keys at the end of the run)`, text: lines.join('\n') };
}

/** Every item of every DynamoDB Local table (audit trails, connections, commands), one source per table. */
async function dynamoSources(input: LeakScanInput['dynamodb']): Promise<Source[]> {
  const client = new DynamoDBClient({
    endpoint: input.endpoint,
    region: input.region,
    credentials: input.credentials,
  });
  try {
    const sources: Source[] = [];
    let start: string | undefined;
    do {
      const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
      for (const table of page.TableNames ?? []) {
        const lines: string[] = [];
        for await (const scan of paginateScan({ client }, { TableName: table })) {
          for (const item of scan.Items ?? []) lines.push(JSON.stringify(item));
        }
        sources.push({ name: `dynamodb table ${table}`, text: lines.join('\n') });
      }
      start = page.LastEvaluatedTableName;
    } while (start);
    return sources;
  } finally {
    client.destroy();
  }
}

/** Gathers the sources and scans them for the registry's secrets. */
export async function runLeakScan(input: LeakScanInput): Promise<LeakScanResult> {
  const registry = await readFile(input.registryFile, 'utf8').catch(() => '');
  const secrets = parseRegistry(registry);
  const tooShort: Record<string, number> = {};
  for (const s of secrets) {
    if (s.value.length < minimumSecretLength) tooShort[s.kind] = (tooShort[s.kind] ?? 0) + 1;
  }
  const logs = await Promise.all(
    input.logFiles.map(async (file) => ({ name: file, text: await readFile(file, 'utf8').catch(() => '') })),
  );
  const sources = [
    ...(await filesUnder(input.captureDir)),
    ...logs,
    await redisSource(input.redisUrl),
    ...(await dynamoSources(input.dynamodb)),
  ];
  return {
    secrets: secrets.length,
    tooShort,
    sources: sources.length,
    bytes: sources.reduce((sum, s) => sum + s.text.length, 0),
    leaks: findLeaks(secrets, sources),
  };
}
