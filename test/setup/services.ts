// Test harness — vitest globalSetup for the integration and e2e projects: starts the project's own Redis,
// PostgreSQL and DynamoDB Local (never the machine's) in parallel, provides their details, and after the
// project's last test runs the secret-leak scan (test/setup/leak-scan.ts) before stopping them.
import { cp, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDynamoDb } from '../../infra/local/services/dynamodb.ts';
import { startPostgres } from '../../infra/local/services/postgres.ts';
import { startRedis } from '../../infra/local/services/redis.ts';
import type { RunningService } from '../../infra/local/services/types.ts';
import './context.ts';
import { runLeakScan } from './leak-scan.ts';
import { describeLeaks, leakEnv, plantSecretStore } from './leaks.ts';

/** Starts the services for `project` and returns the teardown that stops them. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runStarted = Date.now();
  const dir = await mkdtemp(join(tmpdir(), `vfleet-test-${project.name}-`));
  const started: RunningService[] = [];
  const track = <T extends RunningService>(service: T): T => {
    started.push(service);
    return service;
  };
  const stopAll = async () => {
    await Promise.allSettled(started.map((service) => service.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  // The registry and the captures live with the services, so each project scans what its own tests planted.
  const registryFile = join(dir, 'planted-secrets.jsonl');
  const captureDir = join(dir, 'captured');
  await mkdir(captureDir);
  await writeFile(registryFile, '');
  // Inherited by the test processes (started after this) and whatever they spawn.
  process.env[leakEnv.registry] = registryFile;
  process.env[leakEnv.captureDir] = captureDir;

  const began = performance.now();
  // allSettled, so that one failure still leaves the others tracked and stopped before rethrowing.
  const [redis, postgres, dynamodb] = await Promise.allSettled([
    startRedis({ dir: join(dir, 'redis') }).then(track),
    startPostgres({ dir: join(dir, 'postgres') }).then(track),
    startDynamoDb({ dir: join(dir, 'dynamodb') }).then(track),
  ]);
  if (redis.status === 'rejected' || postgres.status === 'rejected' || dynamodb.status === 'rejected') {
    await stopAll();
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

  return async () => {
    try {
      // Both projects' set-ups run in vitest's one main process, and the later one's paths are what the test
      // processes inherited: plant into this project's own registry, which this teardown reads.
      process.env[leakEnv.registry] = registryFile;
      process.env[leakEnv.captureDir] = captureDir;
      // Local runtimes keep their secret store at $TMPDIR/<prefix>-secrets.json by default (infra/local/runtime.ts):
      // whatever this run's functions stored there (vCenter passwords, signing keys) is planted too.
      for (const name of await readdir(tmpdir())) {
        const path = join(tmpdir(), name);
        if (name.endsWith('-secrets.json') && (await stat(path)).mtimeMs >= runStarted)
          await plantSecretStore(path);
      }
      const scan = await runLeakScan({
        registryFile,
        captureDir,
        logFiles: [redis.value, postgres.value, dynamodb.value].map((service) => service.logFile),
        redisUrl: redis.value.url,
        dynamodb: {
          endpoint: dynamodb.value.url,
          region: dynamodb.value.region,
          credentials: dynamodb.value.credentials,
        },
      });
      const short = Object.entries(scan.tooShort).map(([kind, n]) => `${n} ${kind}`);
      console.info(
        `[${project.name}] secret-leak scan: ${scan.secrets} planted secrets in ${scan.sources} sources ` +
          `(${(scan.bytes / 2 ** 20).toFixed(1)} MB): ${scan.leaks.length} found` +
          (short.length > 0 ? `; too short to scan: ${short.join(', ')}` : ''),
      );
      if (scan.leaks.length > 0) {
        // vitest reports an error thrown here but still exits 0; the exit code is what fails CI.
        process.exitCode = 1;
        // Keep what leaked for a look (the run's directory is removed below); .vfleet/ is not committed.
        const kept = join(process.cwd(), '.vfleet', 'leak-scan', project.name);
        await rm(kept, { recursive: true, force: true });
        await cp(captureDir, join(kept, 'captured'), { recursive: true });
        throw new Error(
          `[${project.name}] secrets planted by the tests appear in captured output (copied to ${kept}):\n${describeLeaks(scan.leaks)}`,
        );
      }
    } finally {
      await stopAll();
    }
  };
}
