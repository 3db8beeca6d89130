// Integration tests — the services the project starts itself: real Redis, PostgreSQL (with pg_trgm) and
// DynamoDB Local answer over their own protocols, and stopping them (or killing their parent) leaves nothing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoDbClient, startDynamoDb } from '../../infra/local/services/dynamodb.ts';
import { startPostgres } from '../../infra/local/services/postgres.ts';
import { ServiceStartError } from '../../infra/local/services/process.ts';
import { startRedis } from '../../infra/local/services/redis.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

/** Resolves true when a TCP connection to 127.0.0.1:port is accepted, false when it is refused. */
function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** True while any process is left in process group `pgid`. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

describe('the shared test services', () => {
  let ns: TestNamespace;

  beforeAll(async () => {
    ns = await freshNamespace('services');
  });

  afterAll(async () => {
    await ns.dispose();
  });

  it('are the project’s own instances, not the machine’s', () => {
    // Prepare / Act
    const { redisUrl, postgres, dynamodbUrl } = ns.services;

    // Assess: loopback, and never the machine's standard ports.
    expect(new URL(redisUrl).hostname).toBe('127.0.0.1');
    expect(Number(new URL(redisUrl).port)).not.toBe(6379);
    expect(postgres.host).toBe('127.0.0.1');
    expect(postgres.port).not.toBe(5432);
    expect(new URL(dynamodbUrl).hostname).toBe('127.0.0.1');
  });

  it('Redis answers PING, SET and GET', async () => {
    // Prepare
    const redis = new Redis(ns.services.redisUrl, { maxRetriesPerRequest: 1 });
    const key = `${ns.redisKeyPrefix}greeting`;

    try {
      // Act
      const pong = await redis.ping();
      await redis.set(key, 'hello', 'EX', 60);
      const value = await redis.get(key);

      // Assess
      expect(pong).toBe('PONG');
      expect(value).toBe('hello');
    } finally {
      redis.disconnect();
    }
  });

  it('PostgreSQL runs SQL with pg_trgm similarity in the namespace schema', async () => {
    // Prepare
    const client = new pg.Client(ns.pg);
    await client.connect();

    try {
      await client.query('CREATE TABLE vm (name text PRIMARY KEY)');
      await client.query("INSERT INTO vm VALUES ('web-frontend-01'), ('db-primary-01'), ('web-frontend-02')");
      await client.query('CREATE INDEX vm_name_trgm ON vm USING gin (name gin_trgm_ops)');

      // Act
      const { rows } = await client.query<{ name: string; score: number; schema: string }>(
        `SELECT name, similarity(name, $1) AS score, current_schema() AS schema
           FROM vm WHERE name % $1 ORDER BY score DESC, name`,
        ['web-frontend'],
      );
      const { rows: settings } = await client.query<{ encoding: string; fsync: string }>(
        "SELECT pg_encoding_to_char(encoding) AS encoding, current_setting('fsync') AS fsync FROM pg_database WHERE datname = current_database()",
      );

      // Assess
      expect(rows.map((row) => row.name)).toEqual(['web-frontend-01', 'web-frontend-02']);
      expect(rows[0]?.score).toBeGreaterThan(0.5);
      expect(rows[0]?.schema).toBe(ns.schema);
      expect(settings[0]).toEqual({ encoding: 'UTF8', fsync: 'off' });
    } finally {
      await client.end();
    }
  });

  it('PostgreSQL refuses a wrong password', async () => {
    // Prepare
    const client = new pg.Client({ ...ns.pg, password: 'wrong' });
    client.on('error', () => {});

    // Act / Assess
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('DynamoDB Local creates a table, puts and gets an item', async () => {
    // Prepare
    const dynamo = localDynamoDbClient(ns.services.dynamodbUrl);
    const TableName = ns.tableName('nodes');

    try {
      await dynamo.send(
        new CreateTableCommand({
          TableName,
          AttributeDefinitions: [{ AttributeName: 'nodeId', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'nodeId', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );

      // Act
      await dynamo.send(
        new PutItemCommand({ TableName, Item: { nodeId: { S: 'node-1' }, cpu: { N: '42' } } }),
      );
      const { Item } = await dynamo.send(
        new GetItemCommand({ TableName, Key: { nodeId: { S: 'node-1' } }, ConsistentRead: true }),
      );

      // Assess
      expect(Item).toEqual({ nodeId: { S: 'node-1' }, cpu: { N: '42' } });
    } finally {
      dynamo.destroy();
    }
  });
});

describe('starting and stopping services', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vfleet-services-test-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stop() closes each port, ends each process group and removes PostgreSQL’s data', async () => {
    // Prepare
    const [redis, postgres, dynamodb] = await Promise.all([
      startRedis({ dir: join(dir, 'redis') }),
      startPostgres({ dir: join(dir, 'postgres') }),
      startDynamoDb({ dir: join(dir, 'dynamodb') }),
    ]);
    const services = [redis, postgres, dynamodb];
    expect(new Set(services.map((service) => service.port)).size).toBe(3);
    for (const service of services) {
      expect(await accepts(service.port)).toBe(true);
      expect(groupAlive(service.pid)).toBe(true);
    }
    expect(existsSync(postgres.dataDir)).toBe(true);

    // Act
    await Promise.all(services.map((service) => service.stop()));
    await Promise.all(services.map((service) => service.stop())); // idempotent

    // Assess
    for (const service of services) {
      expect(await accepts(service.port), `${service.name} port ${service.port}`).toBe(false);
      expect(groupAlive(service.pid), `${service.name} process group ${service.pid}`).toBe(false);
    }
    expect(existsSync(postgres.dataDir)).toBe(false);
  });

  it('a service that dies at start fails with an error quoting its log', async () => {
    // Prepare: a stand-in redis-server that complains and exits, as a bad build or config would.
    const fake = join(dir, 'broken-redis-server');
    await writeFile(fake, '#!/bin/sh\necho "FATAL: cannot start (simulated)" >&2\nexit 3\n');
    await chmod(fake, 0o755);

    // Act
    const failure = await startRedis({ dir: join(dir, 'broken'), command: fake }).catch((error) => error);

    // Assess
    expect(failure).toBeInstanceOf(ServiceStartError);
    expect(failure.message).toContain('redis exited with code 3 before it was ready');
    expect(failure.message).toContain('FATAL: cannot start (simulated)');
  });

  it('stop() keeps its parent alive while a service outlasts stopTimeoutMs, then SIGKILLs it', async () => {
    // Prepare: a parent whose only pending work is stop(), and a service that ignores SIGTERM, so stop()
    // waits past stopTimeoutMs for an unref'd child (the parent used to exit with code 13 mid-stop).
    const script = join(dir, 'stubborn-parent.mts');
    const processModule = resolve('infra/local/services/process.ts');
    await writeFile(
      script,
      `import { readFile } from 'node:fs/promises';
import { spawnService, waitUntilReady } from ${JSON.stringify(processModule)};
const proc = await spawnService({
  name: 'stubborn',
  command: 'sh',
  args: ['-c', 'trap "" TERM; echo ignoring-TERM; while :; do sleep 0.05; done'],
  dir: ${JSON.stringify(join(dir, 'stubborn'))},
  stopTimeoutMs: 300,
});
await waitUntilReady(proc, async () => {
  if (!(await readFile(proc.logFile, 'utf8')).includes('ignoring-TERM')) throw new Error('no trap yet');
});
const started = Date.now();
await proc.stop();
console.log(JSON.stringify({ pid: proc.pid, ms: Date.now() - started, how: proc.exitDescription() }));
`,
    );

    // Act
    const parent = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    parent.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    parent.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      err += chunk;
    });
    const code = await new Promise<number | null>((done) => parent.once('exit', (c) => done(c)));

    // Assess
    expect(code, err).toBe(0);
    const line = out.split('\n').find((candidate) => candidate.startsWith('{'));
    const stopped = JSON.parse(line ?? '{}') as { pid: number; ms: number; how: string };
    expect(stopped.how).toBe('was killed by SIGKILL');
    expect(stopped.ms).toBeGreaterThanOrEqual(300);
    expect(groupAlive(stopped.pid)).toBe(false);
  });

  it('a parent killed with SIGKILL still leaves no service behind', async () => {
    // Prepare: a separate Node process starts Redis, reports its pid and port, then waits.
    const script = join(dir, 'parent.mts');
    const redisModule = resolve('infra/local/services/redis.ts');
    await writeFile(
      script,
      `import { startRedis } from ${JSON.stringify(redisModule)};
const redis = await startRedis({ dir: ${JSON.stringify(join(dir, 'orphan'))} });
console.log(JSON.stringify({ pid: redis.pid, port: redis.port }));
setInterval(() => {}, 1_000);
`,
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const started = await new Promise<{ pid: number; port: number }>((done, fail) => {
      parent.stdout.setEncoding('utf8');
      let out = '';
      parent.stdout.on('data', (chunk: string) => {
        out += chunk;
        const line = out.split('\n').find((candidate) => candidate.startsWith('{'));
        if (line) done(JSON.parse(line));
      });
      parent.once('exit', (code) => fail(new Error(`parent exited early with ${code}`)));
    });
    expect(await accepts(started.port)).toBe(true);

    // Act: no exit handler can run; the watchdog has to notice.
    parent.kill('SIGKILL');

    // Assess
    expect(await waitFor(() => !groupAlive(started.pid), 8_000)).toBe(true);
    expect(await accepts(started.port)).toBe(false);
  });
});
