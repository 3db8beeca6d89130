// Infra construct: VfleetFunction, the one NodejsFunction subclass every vfleet Lambda is built with. It
// holds the defaults (ARM64, Node 22, tracing, explicit log group, source maps, local esbuild) and the
// bind* helpers that grant access to a resource and set the environment variable naming it, in one call.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { ISecurityGroup, IVpc } from 'aws-cdk-lib/aws-ec2';
import { SubnetType } from 'aws-cdk-lib/aws-ec2';
import { type IManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IDatabaseProxy } from 'aws-cdk-lib/aws-rds';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { lambdaBundling } from '../bundling.ts';
import type { AuthConfig } from '../config.ts';
import { envNames } from '../topology.ts';
import { acknowledge, nagReference } from './nag.ts';

/** Repository root: entries in the topology are relative to it. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where a function reaches Redis (ElastiCache, cluster mode, TLS) and the login it uses (RBAC). */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: string;
  /** The RBAC user's login (`{"username", "password"}`), read once per container. */
  readonly authSecret: ISecret;
}

/** Where a function reaches PostgreSQL: the RDS Proxy endpoints, authenticated with IAM tokens. */
export interface PostgresEndpoint {
  readonly proxy: IDatabaseProxy;
  readonly writerHost: string;
  readonly readerHost: string;
  readonly port: number;
  readonly database: string;
  /** The master user (the migrations' owner): the IAM token of the deploy step is issued for it. */
  readonly user: string;
  /** The capability roles' logins (migration 006), each with its own proxy secret, by role name. */
  readonly roleSecrets: Readonly<Record<string, ISecret>>;
}

export interface VfleetFunctionProps {
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  /**
   * Directories (relative to the repository root) copied beside the bundle under their own names.
   * @default - none
   */
  readonly bundleFiles?: readonly string[];
  /**
   * Leave the shared-deps layer's packages out of the bundle (the caller attaches the layer); `false` bundles
   * every dependency. @default true
   */
  readonly layer?: boolean;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default - no reservation (the account's unreserved pool) */
  readonly reservedConcurrency?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the log group when the function goes. @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Power-tools log level. @default 'INFO' */
  readonly logLevel?: string;
  /**
   * The VPC, for functions that reach Redis or PostgreSQL; they run in its private (egress) subnets.
   * @default - not in a VPC
   */
  readonly vpc?: IVpc;
  /** Security groups in `vpc`. @default - required when `vpc` is given */
  readonly securityGroups?: readonly ISecurityGroup[];
}

/** The project's bundling options, plus a hook copying `dirs` into the bundle's output directory. */
function bundlingWith(dirs: readonly string[], layer: boolean): BundlingOptions {
  const bundling = lambdaBundling({ layer });
  if (dirs.length === 0) return bundling;
  return {
    ...bundling,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (inputDir, outputDir) =>
        dirs.map(
          (dir) => `cp -R "${path.join(inputDir, dir)}" "${path.join(outputDir, path.basename(dir))}"`,
        ),
    },
  };
}

/** A vfleet Lambda function: the project's defaults, plus bind* helpers for its dependencies. */
export class VfleetFunction extends NodejsFunction {
  /** Environment variable names set by bind* calls, for assertions and the docs. */
  public readonly boundEnvironment = new Set<string>();
  private readonly inVpc: boolean;

  constructor(scope: Construct, id: string, props: VfleetFunctionProps) {
    if (props.vpc && (props.securityGroups ?? []).length === 0) {
      throw new Error(`VfleetFunction ${id}: securityGroups are required when vpc is given`);
    }
    if (props.memoryMb !== undefined && (props.memoryMb < 128 || props.memoryMb > 10_240)) {
      throw new Error(`VfleetFunction ${id}: memoryMb must be in 128..10240 (got ${props.memoryMb})`);
    }
    // Created before super() cannot use `this`; a sibling construct keeps the group's id stable.
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: path.resolve(repoRoot, props.entry),
      handler: 'handler',
      description: props.description,
      projectRoot: repoRoot,
      depsLockFilePath: path.join(repoRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memoryMb ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: props.reservedConcurrency,
      tracing: Tracing.ACTIVE,
      logGroup,
      bundling: bundlingWith(props.bundleFiles ?? [], props.layer ?? true),
      // The bundled SDK keeps connections alive itself; the variable would only duplicate that.
      awsSdkConnectionReuse: false,
      ...(props.vpc
        ? {
            vpc: props.vpc,
            vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
            securityGroups: [...(props.securityGroups ?? [])],
          }
        : {}),
      environment: {
        // Stack traces point into the TypeScript sources instead of minified bundles.
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'vfleet',
        POWERTOOLS_METRICS_NAMESPACE: 'vfleet',
        LOG_LEVEL: props.logLevel ?? 'INFO',
      },
    });
    this.inVpc = props.vpc !== undefined;
  }

  private setEnv(name: string, value: string): void {
    this.addEnvironment(name, value);
    this.boundEnvironment.add(name);
  }

  private requireVpc(what: string): void {
    if (!this.inVpc) {
      throw new Error(`VfleetFunction ${this.node.id}: ${what} is only reachable inside the VPC; pass vpc`);
    }
  }

  /**
   * ElastiCache in cluster mode over TLS, logged in as the RBAC user: read access to its login's secret and
   * `REDIS_AUTH_SECRET_ARN` (never the value); network access comes from the app security group.
   */
  bindRedis(redis: RedisEndpoint): this {
    this.requireVpc('Redis');
    redis.authSecret.grantRead(this);
    this.setEnv('REDIS_URL', `rediss://${redis.host}:${redis.port}`);
    this.setEnv('REDIS_CLUSTER', 'true');
    this.setEnv('REDIS_AUTH_SECRET_ARN', redis.authSecret.secretArn);
    return this;
  }

  /**
   * PostgreSQL through the RDS Proxy with IAM tokens as `user` (a capability role, or the master user for the
   * migrations): grants `rds-db:connect` for that user alone; no password.
   */
  bindPostgres(db: PostgresEndpoint, user: string): this {
    this.requireVpc('PostgreSQL');
    if (user !== db.user && !db.roleSecrets[user])
      throw new Error(`VfleetFunction ${this.node.id}: no proxy secret for database user ${user}`);
    db.proxy.grantConnect(this, user);
    this.setEnv('PG_WRITER_HOST', db.writerHost);
    this.setEnv('PG_READER_HOST', db.readerHost);
    this.setEnv('PG_PORT', String(db.port));
    this.setEnv('PG_DATABASE', db.database);
    this.setEnv('PG_USER', user);
    this.setEnv('PG_IAM_AUTH', 'true');
    this.setEnv('PG_SSL', 'true');
    return this;
  }

  /** A DynamoDB table from the topology: its data actions on this one table (read, or read and write), `TABLE_<NAME>`. */
  bindTable(name: string, table: ITable, access: 'read' | 'write' = 'write'): this {
    if (access === 'read') table.grantReadData(this);
    else table.grantReadWriteData(this);
    this.setEnv(envNames.tableName(name), table.tableName);
    return this;
  }

  /** A queue from the topology, for sending: `QUEUE_URL_<NAME>`. Consumers get theirs from the event source. */
  bindQueue(name: string, queue: IQueue): this {
    queue.grantSendMessages(this);
    this.setEnv(envNames.queueUrl(name), queue.queueUrl);
    return this;
  }

  /** The WebSocket management API (`execute-api:ManageConnections`) and its endpoint. */
  bindWsManagement(api: WebSocketApi, stage: WebSocketStage): this {
    // Scoped to this stage; connection ids are minted per connection, so the last segment stays a wildcard.
    const connections = `${Stack.of(api).formatArn({ service: 'execute-api', resource: api.apiId })}/${stage.stageName}/*/@connections/*`;
    this.addToRolePolicy(
      new PolicyStatement({ actions: ['execute-api:ManageConnections'], resources: [connections] }),
    );
    acknowledge(
      this,
      'ManageConnections is scoped to this API stage; connection ids are created per client, so they cannot be listed.',
      `AwsSolutions-IAM5[Resource::${nagReference(this, connections)}]`,
    );
    this.setEnv('WS_MANAGEMENT_ENDPOINT', stage.callbackUrl);
    return this;
  }

  /**
   * The vCenter credentials secret: `VCENTER_SECRET_ARN`, read access.
   * @param options.write also allow updating it (the vCenter registry stores credentials)
   */
  bindSecrets(secret: ISecret, options: { readonly write?: boolean } = {}): this {
    secret.grantRead(this);
    if (options.write) secret.grantWrite(this);
    this.setEnv('VCENTER_SECRET_ARN', secret.secretArn);
    return this;
  }

  /**
   * The blob bucket (last-known-good cache tier): `BLOB_BUCKET`, and the bucket's access policy. The policy
   * lives with the bucket in the stateful stack, so its object wildcard is reviewed (and acknowledged) there.
   */
  bindBlobs(bucket: IBucket, access: IManagedPolicy): this {
    if (!this.role)
      throw new Error(`VfleetFunction ${this.node.id}: has no role to attach the blob policy to`);
    this.role.addManagedPolicy(access);
    this.setEnv('BLOB_BUCKET', bucket.bucketName);
    return this;
  }

  /** Token verification settings (public facts, no secret): `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_JWKS_URL`. */
  bindAuth(auth: AuthConfig): this {
    this.setEnv('AUTH_ISSUER', auth.issuer);
    this.setEnv('AUTH_AUDIENCE', auth.audience);
    this.setEnv('AUTH_JWKS_URL', auth.jwksUrl);
    return this;
  }
}
