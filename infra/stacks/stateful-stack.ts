// Infra stack — stateful: everything that holds data (network, Aurora + RDS Proxy, ElastiCache, DynamoDB
// tables and SQS queues from the topology, the blob bucket, the vCenter credentials secret). Code deploys
// never touch this stack, so a redeploy of functions cannot risk data.

import { Duration, Names, type RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  type ISecurityGroup,
  type IVpc,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import {
  CfnReplicationGroup,
  CfnServerlessCache,
  CfnSubnetGroup,
  CfnUser,
  CfnUserGroup,
} from 'aws-cdk-lib/aws-elasticache';
import { type IManagedPolicy, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import {
  AuroraPostgresEngineVersion,
  CfnDBProxyEndpoint,
  ClusterInstance,
  Credentials,
  DatabaseCluster,
  DatabaseClusterEngine,
  DatabaseSecret,
} from 'aws-cdk-lib/aws-rds';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import {
  type ISecret,
  Secret,
  SecretRotation,
  SecretRotationApplication,
} from 'aws-cdk-lib/aws-secretsmanager';
import { type IQueue, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { redisAccessString } from '#shared/contracts';
import { type EnvironmentConfig, removalPolicyFor } from '../config.ts';
import { acknowledge, nagReference } from '../constructs/nag.ts';
import type { PostgresEndpoint, RedisEndpoint } from '../constructs/vfleet-function.ts';
import { databaseRoles, topology as projectTopology, type Topology } from '../topology.ts';
import { pascal } from './naming.ts';

/** A topology queue and the DLQ its messages move to after `maxReceiveCount` receives. */
export interface QueuePair {
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
}

/** What the stateless stacks receive from this one: typed, read-only handles. */
export interface StatefulResources {
  readonly vpc: IVpc;
  /** Security group of the functions that reach PostgreSQL and Redis; the data stores admit only it. */
  readonly appSecurityGroup: ISecurityGroup;
  readonly postgres: PostgresEndpoint;
  readonly redis: RedisEndpoint;
  /** DynamoDB tables, by topology name. */
  readonly tables: Readonly<Record<string, ITable>>;
  /** FIFO queues and their DLQs, by topology name. */
  readonly queues: Readonly<Record<string, QueuePair>>;
  readonly blobBucket: IBucket;
  /** Object read/write/delete and listing on `blobBucket`, attached to the functions that need blobs. */
  readonly blobAccessPolicy: IManagedPolicy;
  readonly vcenterSecret: ISecret;
  /** Wraps the data keys of personal vCenter credentials (envelope encryption, shared/provisioning). */
  readonly credentialsKey: IKey;
  /** Wraps the data keys that seal saved vSphere sessions (shared/inventory/sync/session-keys.ts). */
  readonly sessionKey: IKey;
}

export interface StatefulStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** @default the project topology (infra/topology.ts) */
  readonly topology?: Topology;
}

/** Database name and the user the functions connect as (through the proxy, with IAM tokens). */
const databaseName = 'vfleet';
const databaseUser = 'vfleet';
const redisPort = 6379;

export class StatefulStack extends Stack implements StatefulResources {
  readonly vpc: Vpc;
  readonly appSecurityGroup: SecurityGroup;
  readonly postgres: PostgresEndpoint;
  readonly redis: RedisEndpoint;
  readonly tables: Readonly<Record<string, ITable>>;
  readonly queues: Readonly<Record<string, QueuePair>>;
  readonly blobBucket: Bucket;
  readonly blobAccessPolicy: ManagedPolicy;
  readonly vcenterSecret: Secret;
  readonly credentialsKey: Key;
  readonly sessionKey: Key;
  readonly database: DatabaseCluster;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config } = props;
    const topology = props.topology ?? projectTopology;
    const dataRemoval = removalPolicyFor(config, false);

    this.vpc = this.createNetwork(config, dataRemoval);
    this.appSecurityGroup = new SecurityGroup(this, 'AppSecurityGroup', {
      vpc: this.vpc,
      description: 'vfleet functions that reach PostgreSQL and Redis',
      allowAllOutbound: true,
    });

    const { cluster, endpoint } = this.createDatabase(config);
    this.database = cluster;
    this.postgres = endpoint;
    this.redis = this.createRedis(config);
    this.tables = this.createTables(config, topology, dataRemoval);
    this.queues = this.createQueues(topology, dataRemoval);
    const { bucket, accessPolicy } = this.createBlobStore(dataRemoval);
    this.blobBucket = bucket;
    this.blobAccessPolicy = accessPolicy;
    this.vcenterSecret = this.createVcenterSecret(config);
    this.credentialsKey = new Key(this, 'CredentialsKey', {
      description: `vfleet ${config.envName} personal vCenter credentials (data keys of the credentials table)`,
      enableKeyRotation: true,
      removalPolicy: dataRemoval,
    });
    this.sessionKey = new Key(this, 'SessionKey', {
      description: `vfleet ${config.envName} saved vSphere sessions (data keys of the session_keys table)`,
      enableKeyRotation: true,
      removalPolicy: dataRemoval,
    });
  }

  /**
   * The VPC: public subnets only hold the NAT gateways; functions run in private (egress) subnets, data stores
   * in isolated ones. Rejected traffic goes to a flow log.
   */
  private createNetwork(config: EnvironmentConfig, dataRemoval: RemovalPolicy): Vpc {
    const vpc = new Vpc(this, 'Vpc', {
      availabilityZones: [...config.availabilityZones],
      natGateways: config.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'isolated', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: {
        // Free endpoints: DynamoDB and S3 traffic skips the NAT gateways.
        s3: { service: GatewayVpcEndpointAwsService.S3 },
        dynamodb: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    vpc.addFlowLog('FlowLogs', {
      trafficType: FlowLogTrafficType.REJECT,
      destination: FlowLogDestination.toCloudWatchLogs(
        new LogGroup(this, 'FlowLogGroup', { retention: config.logRetention, removalPolicy: dataRemoval }),
      ),
    });
    return vpc;
  }

  /** The topology's DynamoDB tables: on demand, point-in-time recovery, TTL, by topology name. */
  private createTables(
    config: EnvironmentConfig,
    topology: Topology,
    dataRemoval: RemovalPolicy,
  ): Record<string, ITable> {
    return Object.fromEntries(
      Object.entries(topology.tables).map(([name, spec]) => [
        name,
        new Table(this, `${pascal(name)}Table`, {
          partitionKey: { name: spec.partitionKey, type: AttributeType.STRING },
          sortKey: spec.sortKey ? { name: spec.sortKey, type: AttributeType.STRING } : undefined,
          billingMode: BillingMode.PAY_PER_REQUEST,
          pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
          timeToLiveAttribute: spec.ttlAttribute,
          encryption: TableEncryption.AWS_MANAGED,
          deletionProtection: config.removalPolicy === 'retain',
          removalPolicy: dataRemoval,
        }),
      ]),
    );
  }

  /** The topology's FIFO queues, each with its DLQ, by topology name. */
  private createQueues(topology: Topology, dataRemoval: RemovalPolicy): Record<string, QueuePair> {
    return Object.fromEntries(
      Object.entries(topology.queues).map(([name, spec]) => {
        // Physical names are CloudFormation's (with the required .fifo suffix), so environments sharing an
        // account never collide; handlers find queues through QUEUE_URL_<NAME>.
        const deadLetterQueue = new Queue(this, `${pascal(name)}Dlq`, {
          fifo: true,
          retentionPeriod: Duration.days(14),
          encryption: QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
          removalPolicy: dataRemoval,
        });
        const queue = new Queue(this, `${pascal(name)}Queue`, {
          fifo: true,
          contentBasedDeduplication: spec.contentBasedDeduplication,
          visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
          retentionPeriod: Duration.days(4),
          encryption: QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
          deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.maxReceiveCount },
          removalPolicy: dataRemoval,
        });
        return [name, { queue, deadLetterQueue }];
      }),
    );
  }

  /** The blob bucket (versioned, access-logged) and the policy the functions that need blobs get. */
  private createBlobStore(dataRemoval: RemovalPolicy): { bucket: Bucket; accessPolicy: ManagedPolicy } {
    const accessLogs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: dataRemoval,
    });
    acknowledge(
      accessLogs,
      'This bucket is the access-log destination; logging it into itself would loop.',
      'AwsSolutions-S1',
    );
    const bucket = new Bucket(this, 'Blobs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'blobs/',
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: dataRemoval,
    });

    const blobObjects = `${bucket.bucketArn}/*`;
    const accessPolicy = new ManagedPolicy(this, 'BlobAccess', {
      description: 'vfleet functions: read, write and delete blob cache objects, list the bucket',
      statements: [
        new PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: [blobObjects],
        }),
        new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
      ],
    });
    acknowledge(
      accessPolicy,
      'Cache keys are created at run time, so object access covers every key of this one bucket (and no other).',
      `AwsSolutions-IAM5[Resource::${nagReference(this, blobObjects)}]`,
    );
    return { bucket, accessPolicy };
  }

  /** One JSON document of credentials keyed by vCenter id; the vCenter registry writes it. */
  private createVcenterSecret(config: EnvironmentConfig): Secret {
    const secret = new Secret(this, 'VcenterCredentials', {
      description: 'vfleet: vCenter credentials by vCenter id (JSON), written by the vCenter registry',
      secretObjectValue: {},
      removalPolicy: removalPolicyFor(config, false),
    });
    acknowledge(
      secret,
      'These are credentials issued by each vCenter administrator; Secrets Manager has no way to change a ' +
        'vCenter password, so rotation happens at the vCenter and the registry API stores the new value.',
      'AwsSolutions-SMG4',
    );
    return secret;
  }

  /** Aurora PostgreSQL Serverless v2 (writer + reader) behind an RDS Proxy that accepts IAM tokens. */
  private createDatabase(config: EnvironmentConfig): {
    cluster: DatabaseCluster;
    endpoint: PostgresEndpoint;
  } {
    const proxySecurityGroup = new SecurityGroup(this, 'ProxySecurityGroup', {
      vpc: this.vpc,
      description: 'vfleet RDS Proxy',
      allowAllOutbound: false,
    });
    const databaseSecurityGroup = new SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc: this.vpc,
      description: 'vfleet Aurora PostgreSQL',
      allowAllOutbound: false,
    });
    const cluster = this.createAuroraCluster(config, databaseSecurityGroup);
    const roleSecrets = this.createRoleSecrets(cluster);
    const endpoint = this.createProxy(cluster, proxySecurityGroup, roleSecrets);
    acknowledge(
      cluster,
      'Functions reach PostgreSQL only through the RDS Proxy (which listens on 5432 whatever the cluster port), ' +
        'and the cluster admits only the proxy security group; a non-default port would add no protection.',
      'AwsSolutions-RDS11',
    );
    if (!config.aurora.deletionProtection) {
      acknowledge(
        cluster,
        `Deletion protection is off in ${config.envName} on purpose: the environment is disposable.`,
        'AwsSolutions-RDS10',
      );
    }
    return { cluster, endpoint };
  }

  /** The Aurora cluster in isolated subnets, its password rotated every 30 days. */
  private createAuroraCluster(config: EnvironmentConfig, securityGroup: SecurityGroup): DatabaseCluster {
    const cluster = new DatabaseCluster(this, 'Aurora', {
      engine: DatabaseClusterEngine.auroraPostgres({ version: AuroraPostgresEngineVersion.VER_16_11 }),
      credentials: Credentials.fromGeneratedSecret(databaseUser),
      defaultDatabaseName: databaseName,
      writer: ClusterInstance.serverlessV2('writer', { enablePerformanceInsights: true }),
      // Scales with the writer so a failover lands on an instance of the same size.
      readers: [
        ClusterInstance.serverlessV2('reader', { scaleWithWriter: true, enablePerformanceInsights: true }),
      ],
      serverlessV2MinCapacity: config.aurora.minAcu,
      serverlessV2MaxCapacity: config.aurora.maxAcu,
      vpc: this.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      storageEncrypted: true,
      iamAuthentication: true,
      deletionProtection: config.aurora.deletionProtection,
      backup: { retention: Duration.days(config.aurora.backupRetentionDays) },
      cloudwatchLogsExports: ['postgresql'],
      cloudwatchLogsRetention: config.logRetention,
      removalPolicy: removalPolicyFor(config, true),
    });
    // Retention of the log group RDS creates at run time is set by CDK's singleton LogRetention function.
    const logRetention = this.node.children.find((c) => c.node.id.startsWith('LogRetention'));
    if (logRetention) {
      acknowledge(
        logRetention,
        "CDK's LogRetention function sets retention on the log group RDS creates at run time, whose name is not " +
          'known before; it needs the basic Lambda execution policy and logs permissions on any group.',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'AwsSolutions-IAM5[Resource::*]',
      );
    }
    cluster.addRotationSingleUser({
      automaticallyAfter: Duration.days(30),
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    });
    return cluster;
  }

  /**
   * One login per capability role (migration 006): a generated secret each, rotated every 30 days like the master
   * (single user: the role changes its own password), which the proxy uses to reach the database as that role.
   * The deploy step sets each role's password from its secret (functions/inventory/migrate.ts).
   */
  private createRoleSecrets(cluster: DatabaseCluster): Record<string, DatabaseSecret> {
    return Object.fromEntries(
      databaseRoles.map((role) => {
        const secret = new DatabaseSecret(this, `${pascal(role)}DbSecret`, { username: role });
        new SecretRotation(this, `${pascal(role)}DbSecretRotation`, {
          application: SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
          secret,
          target: cluster,
          vpc: this.vpc,
          vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
          automaticallyAfter: Duration.days(30),
        });
        return [role, secret];
      }),
    );
  }

  /** The RDS Proxy (IAM auth, TLS): its default endpoint reaches the writer, a READ_ONLY one the readers. */
  private createProxy(
    cluster: DatabaseCluster,
    proxySecurityGroup: SecurityGroup,
    roleSecrets: Record<string, DatabaseSecret>,
  ): PostgresEndpoint {
    const secret = cluster.secret;
    if (!secret) throw new Error('Aurora cluster has no generated secret; the RDS Proxy needs one');
    const proxy = cluster.addProxy('Proxy', {
      // The master (the migrations) and one secret per capability role: each function's IAM token names one.
      secrets: [secret, ...Object.values(roleSecrets)],
      vpc: this.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      securityGroups: [proxySecurityGroup],
      iamAuth: true,
      requireTLS: true,
    });
    cluster.connections.allowDefaultPortFrom(proxySecurityGroup, 'RDS Proxy to Aurora');
    proxySecurityGroup.addIngressRule(this.appSecurityGroup, Port.tcp(5432), 'vfleet functions to RDS Proxy');
    // The proxy's default endpoint reaches the writer; a READ_ONLY endpoint spreads reads over the readers.
    const readerEndpoint = new CfnDBProxyEndpoint(this, 'ProxyReaderEndpoint', {
      dbProxyName: proxy.dbProxyName,
      dbProxyEndpointName: Names.uniqueResourceName(this, { maxLength: 60, separator: '-' })
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, ''),
      vpcSubnetIds: this.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_ISOLATED }).subnetIds,
      vpcSecurityGroupIds: [proxySecurityGroup.securityGroupId],
      targetRole: 'READ_ONLY',
    });
    return {
      proxy,
      writerHost: proxy.endpoint,
      readerHost: readerEndpoint.attrEndpoint,
      port: 5432,
      database: databaseName,
      user: databaseUser,
      roleSecrets,
    };
  }

  /**
   * The functions' ElastiCache RBAC user: a Valkey user that logs in with a generated password (kept in Secrets
   * Manager, read once per container by shared/clients/redis.ts) and holds the ACL of `redisAccessString`, in
   * a user group of its own. With the group attached, the cache refuses every unauthenticated command.
   */
  private createRedisUser(config: EnvironmentConfig): { secret: Secret; group: CfnUserGroup } {
    const id = (suffix: string) =>
      `${Names.uniqueResourceName(this, { maxLength: 30, separator: '-' })}-${suffix}`
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, '');
    const userName = id('app');
    const secret = new Secret(this, 'RedisUserSecret', {
      description: `vfleet ${config.envName}: login of the functions' ElastiCache RBAC user`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: userName }),
        generateStringKey: 'password',
        // ElastiCache passwords are 16-128 printable characters without some punctuation; letters and digits
        // are always accepted.
        excludePunctuation: true,
        passwordLength: 64,
      },
      removalPolicy: removalPolicyFor(config, false),
    });
    acknowledge(
      secret,
      'Secrets Manager offers no rotation function for ElastiCache RBAC users, and each function container ' +
        'reads this login once: a rotation must add the new password to the user beside the old one (RBAC ' +
        'accepts two), let containers recycle, then drop the old one. Until that runbook is automated the ' +
        'password changes by replacing the secret value and redeploying the stateful stack.',
      'AwsSolutions-SMG4',
    );
    const user = new CfnUser(this, 'RedisUser', {
      engine: 'valkey',
      userId: userName,
      userName,
      accessString: redisAccessString,
      authenticationMode: {
        Type: 'password',
        // A dynamic reference: CloudFormation resolves it, the template holds only the secret's ARN.
        Passwords: [secret.secretValueFromJson('password').unsafeUnwrap()],
      },
    });
    const group = new CfnUserGroup(this, 'RedisUserGroup', {
      engine: 'valkey',
      userGroupId: id('users'),
      userIds: [user.userId],
    });
    group.addDependency(user);
    return { secret, group };
  }

  /**
   * ElastiCache Valkey in cluster mode with TLS and RBAC (no unauthenticated access): serverless, or a Multi-AZ
   * replication group.
   */
  private createRedis(config: EnvironmentConfig): RedisEndpoint {
    const securityGroup = new SecurityGroup(this, 'RedisSecurityGroup', {
      vpc: this.vpc,
      description: 'vfleet ElastiCache',
      allowAllOutbound: false,
    });
    // Serverless also serves reads from replicas on port + 1.
    securityGroup.addIngressRule(
      this.appSecurityGroup,
      Port.tcpRange(redisPort, redisPort + 1),
      'vfleet functions to ElastiCache',
    );
    const subnetIds = this.vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_ISOLATED }).subnetIds;

    const { secret: authSecret, group: userGroup } = this.createRedisUser(config);

    if (config.redis.kind === 'serverless') {
      // Serverless encrypts at rest and requires TLS in transit; it has no switch to turn either off.
      const cache = new CfnServerlessCache(this, 'Redis', {
        engine: 'valkey',
        majorEngineVersion: '8',
        serverlessCacheName: Names.uniqueResourceName(this, { maxLength: 40, separator: '-' })
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, ''),
        description: 'vfleet caches, limiter leases, metrics history',
        securityGroupIds: [securityGroup.securityGroupId],
        subnetIds,
        cacheUsageLimits: {
          dataStorage: { maximum: config.redis.maxDataStorageGb, unit: 'GB' },
          ecpuPerSecond: { maximum: config.redis.maxEcpuPerSecond },
        },
        snapshotRetentionLimit: 1,
        userGroupId: userGroup.userGroupId,
      });
      cache.addDependency(userGroup);
      return { host: cache.attrEndpointAddress, port: cache.attrEndpointPort, authSecret };
    }

    const subnetGroup = new CfnSubnetGroup(this, 'RedisSubnets', {
      description: 'vfleet ElastiCache isolated subnets',
      subnetIds,
    });
    const group = new CfnReplicationGroup(this, 'Redis', {
      replicationGroupDescription: 'vfleet caches, limiter leases, metrics history',
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: config.redis.nodeType,
      // Cluster mode: the handlers always use a cluster client and hash-tagged keys.
      clusterMode: 'enabled',
      cacheParameterGroupName: 'default.valkey8.cluster.on',
      numNodeGroups: config.redis.shards,
      replicasPerNodeGroup: config.redis.replicasPerShard,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      port: redisPort,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [securityGroup.securityGroupId],
      snapshotRetentionLimit: 15,
      userGroupIds: [userGroup.userGroupId],
    });
    group.addDependency(userGroup);
    acknowledge(
      group,
      'Authenticated by ElastiCache RBAC (the user group above, a password user whose login is in Secrets ' +
        'Manager), which replaces the legacy AUTH token; this rule only recognises AuthToken, and a ' +
        'replication group cannot have both.',
      'AwsSolutions-AEC6',
    );
    return {
      host: group.attrConfigurationEndPointAddress,
      port: group.attrConfigurationEndPointPort,
      authSecret,
    };
  }
}
