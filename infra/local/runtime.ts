// Local runtime — composes the local cloud from the topology: HTTP API, WebSocket API, SQS FIFO endpoint
// with event-source pollers, schedule timers and DynamoDB tables, all invoking the unchanged handlers.
// Only endpoints and credentials differ from AWS, and they reach the handlers as environment variables.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { closeClients } from '#shared/clients';
import { topology as defaultTopology, envNames, scheduleEnvironment, type Topology } from '../topology.ts';
import { dashboardSite } from './dashboard.ts';
import { databaseEnvironment, ensureLocalRoleLogins } from './database-roles.ts';
import { type DevIssuer, devIssuerEnv } from './dev-issuer.ts';
import { createDevOidcProvider } from './dev-oidc.ts';
import { startHttpApi } from './http-api.ts';
import { createInvoker, type Invoke } from './lambda.ts';
import { startSchedules } from './schedules.ts';
import { type SqsStore, startEventSourcePollers, startLocalSqs } from './sqs/index.ts';
import { ensureTables } from './tables.ts';
import { startWebSocketApi } from './websocket-api.ts';

/** Where the runtime finds the services it does not start itself. */
export interface BackingServices {
  readonly redisUrl: string;
  readonly postgres: {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly password: string;
  };
  readonly dynamodbUrl: string;
}

/** The backing services as the runtime takes them, from the project-started Redis, PostgreSQL and DynamoDB. */
export function backingServices(started: {
  readonly redis: { readonly url: string };
  readonly postgres: BackingServices['postgres'];
  readonly dynamodb: { readonly url: string };
}): BackingServices {
  const { host, port, database, user, password } = started.postgres;
  return {
    redisUrl: started.redis.url,
    postgres: { host, port, database, user, password },
    dynamodbUrl: started.dynamodb.url,
  };
}

export interface LocalRuntimeOptions {
  /** Repository root, against which function entries resolve. */
  readonly root: string;
  readonly services: BackingServices;
  readonly issuer: DevIssuer;
  /** @default the project's topology */
  readonly topology?: Topology;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly httpPort?: number;
  /** @default 0 */
  readonly wsPort?: number;
  /** Physical DynamoDB table names are `<prefix>-<table>`. @default 'vfleet-local' */
  readonly tablePrefix?: string;
  /** Per-queue overrides (tests shorten visibility timeouts so retries come quickly). */
  readonly queueOverrides?: Readonly<Record<string, { visibilityTimeoutSeconds?: number }>>;
  /** More environment for the functions. */
  readonly env?: Readonly<Record<string, string>>;
  /** Per-schedule periods (tests and `npm run dev` run the sync dispatcher faster than every minute). */
  readonly scheduleOverrides?: Readonly<Record<string, { everySeconds: number }>>;
}

export interface LocalRuntime {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly sqsEndpoint: string;
  /** The environment the functions run with. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * What each function's environment has over `env`: its database login (`PG_USER`, `PG_PASSWORD`), and the
   * table names it does not declare set empty.
   */
  readonly functionEnv: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly invoke: Invoke;
  /** The local SQS's queues, for inspection and fault injection (the fault suite's duplicate deliveries). */
  readonly sqsStore: SqsStore;
  queueUrl(queue: string): string;
  deadLetterQueueUrl(queue: string): string;
  stop(): Promise<void>;
}

// Local credentials: requests never leave the machine, so they only need to be well-formed.
const localAwsEnv = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_SESSION_TOKEN: '',
};

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const base = options.topology ?? defaultTopology;
  const topology: Topology = {
    ...base,
    schedules: base.schedules.map((schedule) => ({
      ...schedule,
      ...options.scheduleOverrides?.[schedule.name],
    })),
  };
  const host = options.host ?? '127.0.0.1';
  const { services } = options;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const close of stops.reverse())
      await close().catch((error) => console.error('[runtime] stop:', error));
    await closeClients();
  };

  try {
    const sqs = await startLocalSqs({ queues: topology.queues, host, overrides: options.queueOverrides });
    stops.push(() => sqs.stop());

    const dynamo = new DynamoDBClient({ endpoint: services.dynamodbUrl, ...awsClientDefaults() });
    const tableNames = await ensureTables(dynamo, topology.tables, options.tablePrefix ?? 'vfleet-local');
    dynamo.destroy();

    // Each function connects as its capability role (topology `dbRole`), as through the RDS Proxy in AWS.
    const rolePasswords = await ensureLocalRoleLogins(services.postgres);
    // And it sees only the tables it declares, as in AWS, where the stack sets only their names: a table left
    // out of the topology fails here too, not first in a deployment.
    const functionEnv = Object.fromEntries(
      Object.entries(topology.functions).map(([name, spec]) => [
        name,
        { ...databaseEnvironment(spec, rolePasswords), ...undeclaredTablesUnset(spec, topology.tables) },
      ]),
    );
    const invoke = createInvoker(topology.functions, options.root, {
      environmentOf: (name) => functionEnv[name] ?? {},
    });
    // The WebSocket API comes first: its management endpoint is part of the functions' environment.
    const ws = await startWebSocketApi({ topology, invoke, host, port: options.wsPort ?? 0 });
    stops.push(() => ws.close());

    const env: Record<string, string> = {
      ...localAwsEnv,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: services.dynamodbUrl,
      POWERTOOLS_SERVICE_NAME: 'vfleet',
      POWERTOOLS_METRICS_NAMESPACE: 'vfleet',
      POWERTOOLS_DEV: 'true',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN',
      REDIS_URL: services.redisUrl,
      PG_WRITER_HOST: services.postgres.host,
      PG_READER_HOST: services.postgres.host,
      PG_PORT: String(services.postgres.port),
      PG_DATABASE: services.postgres.database,
      // The owner's login, for the migrations and whatever runs outside a function; each function has its
      // capability role's instead (functionEnv).
      PG_USER: services.postgres.user,
      PG_PASSWORD: services.postgres.password,
      WS_MANAGEMENT_ENDPOINT: ws.managementEndpoint,
      // Redis keys carry the runtime's prefix, as its tables do, so runtimes sharing one Redis (test files run
      // in parallel) never read each other's cached answers.
      VFLEET_KEY_PREFIX: `${options.tablePrefix ?? 'vfleet-local'}:`,
      // A real file store for secrets (vCenter passwords, the cursor signing key) unless the caller names one.
      SECRET_STORE: `file:${join(tmpdir(), `${options.tablePrefix ?? 'vfleet-local'}-secrets.json`)}`,
      // The cache's last-known-good tier (S3 in AWS) is a directory locally.
      BLOB_DIR: join(options.root, '.vfleet', 'blobs'),
      ...devIssuerEnv(options.issuer),
      ...scheduleEnvironment(topology.schedules),
      ...Object.fromEntries(
        Object.keys(topology.queues).map((queue) => [envNames.queueUrl(queue), sqs.queueUrl(queue)]),
      ),
      ...Object.fromEntries(
        Object.entries(tableNames).map(([table, name]) => [envNames.tableName(table), name]),
      ),
      ...options.env,
    };
    // Handlers run in this process, as in one warm Lambda container each; they read process.env.
    Object.assign(process.env, env);

    const http = await startHttpApi({
      topology,
      invoke,
      host,
      port: options.httpPort ?? 0,
      // Same origin as the API, as CloudFront and the issuer sit beside it in AWS.
      mounts: [createDevOidcProvider(options.issuer), dashboardSite({ root: options.root, wsUrl: ws.url })],
    });
    stops.push(() => http.close());

    const pollers = startEventSourcePollers({ sqs, eventSources: topology.eventSources, invoke });
    stops.push(() => pollers.stop());

    const timers = startSchedules(topology.schedules, invoke);
    stops.push(async () => timers.stop());

    return {
      httpUrl: http.url,
      wsUrl: ws.url,
      sqsEndpoint: sqs.endpoint,
      env,
      functionEnv,
      invoke,
      sqsStore: sqs.store,
      queueUrl: (queue) => sqs.queueUrl(queue),
      deadLetterQueueUrl: (queue) => sqs.deadLetterQueueUrl(queue),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The table-name variables of the tables `spec` does not declare, set empty (read as unset). */
function undeclaredTablesUnset(
  spec: Topology['functions'][string],
  tables: Topology['tables'],
): Record<string, string> {
  const declared = new Set(Object.keys(spec.tables ?? {}));
  return Object.fromEntries(
    Object.keys(tables)
      .filter((table) => !declared.has(table))
      .map((table) => [envNames.tableName(table), '']),
  );
}

function awsClientDefaults() {
  return { region: localAwsEnv.AWS_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}
