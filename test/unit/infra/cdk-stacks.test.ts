// Unit tests — the CDK app for dev, staging and prod: every topology function, route, queue, DLQ and table
// appears with its settings, auth sits where the topology says, alarms cover every DLQ and function, and
// cdk-nag AwsSolutions leaves no unacknowledged error or warning.

import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { envNamesList, scaledReservedConcurrency } from '../../../infra/config.ts';
import { pascal } from '../../../infra/stacks/naming.ts';
import { envNames, topology } from '../../../infra/topology.ts';
import { logicalIdOf, onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

const queueCount = Object.keys(topology.queues).length;
const functionCount = Object.keys(topology.functions).length;
const deploySteps = Object.entries(topology.functions).filter(([, spec]) => spec.serves === 'deploy');

describe.each(envNamesList)('CDK app, env=%s', (envName) => {
  let s: Synthesized;
  beforeAll(() => {
    // Prepare: one synthesis shared by every assertion below. Bundles do not differ between environments,
    // so only dev pays for esbuild (as `cdk synth` does); the others synthesize with placeholder assets.
    s = synthesize(envName, { bundle: envName === 'dev' });
  }, 120_000);

  it('builds one Lambda per topology function with the construct defaults and the topology settings', () => {
    // Plus one Provider framework function per deploy step, and the dashboard's two deploy-time handlers
    // (its BucketDeployment and its bucket's auto-delete).
    s.stateless.resourceCountIs('AWS::Lambda::Function', functionCount + deploySteps.length + 2);
    for (const [name, spec] of Object.entries(topology.functions)) {
      const { resource } = onlyResource(s.stateless, 'AWS::Lambda::Function', {
        Description: `vfleet ${envName}: ${spec.description}`,
      });
      const p = resource.Properties;
      expect(p.Runtime, name).toBe('nodejs22.x');
      expect(p.Architectures, name).toEqual(['arm64']);
      expect(p.Handler, name).toBe('index.handler');
      expect(p.TracingConfig, name).toEqual({ Mode: 'Active' });
      expect(p.MemorySize, name).toBe(spec.memoryMb ?? 256);
      expect(p.Timeout, name).toBe(spec.timeoutSeconds ?? 10);
      expect(p.ReservedConcurrentExecutions, name).toBe(
        scaledReservedConcurrency(s.config, spec.reservedConcurrency),
      );
      expect((p.LoggingConfig as { LogGroup?: unknown }).LogGroup, name).toBeDefined();

      const env = (p.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'vfleet',
        POWERTOOLS_METRICS_NAMESPACE: 'vfleet',
        LOG_LEVEL: s.config.logLevel,
        AUTH_ISSUER: s.config.auth.issuer,
        AUTH_AUDIENCE: s.config.auth.audience,
        AUTH_JWKS_URL: s.config.auth.jwksUrl,
      });
      const needs = new Set<string>(spec.needs);
      // Node agents listen on private addresses, like the data stores.
      const inVpc = needs.has('redis') || needs.has('postgres') || needs.has('nodes');
      expect(p.VpcConfig !== undefined, `${name} in VPC`).toBe(inVpc);
      if (needs.has('redis'))
        expect(env).toMatchObject({ REDIS_CLUSTER: 'true', REDIS_URL: expect.anything() });
      if (needs.has('postgres')) {
        expect(env).toMatchObject({
          PG_IAM_AUTH: 'true',
          PG_SSL: 'true',
          PG_PORT: '5432',
          PG_DATABASE: 'vfleet',
        });
        for (const v of ['PG_WRITER_HOST', 'PG_READER_HOST', 'PG_USER'])
          expect(env[v], `${name} ${v}`).toBeDefined();
        expect(env.PG_PASSWORD, 'no password in the environment').toBeUndefined();
      }
      for (const table of Object.keys(topology.tables)) {
        const listed =
          needs.has('dynamodb') &&
          (spec.tables as Record<string, unknown> | undefined)?.[table] !== undefined;
        expect(env[envNames.tableName(table)] !== undefined, `${name} ${table}`).toBe(listed);
      }
      expect(env.WS_MANAGEMENT_ENDPOINT !== undefined, `${name} ws`).toBe(needs.has('ws-management'));
    }
  });

  it('runs every deploy-time function as a custom resource that changes with its code', () => {
    const steps = s.stateless.findResources('Custom::VfleetDeployStep');
    expect(Object.keys(steps)).toHaveLength(deploySteps.length);
    for (const [name] of deploySteps) {
      const step = Object.values(steps).find((r) => r.Properties.Function === name);
      expect(step, name).toBeDefined();
      expect(step?.Properties.CodeHash, name).toMatch(/^[0-9a-f]{64}$/);
      // The Provider framework that backs the step is configured to invoke exactly this function.
      const fnId = logicalIdOf(s.stacks.stateless.functions[name]!);
      const frameworks = Object.values(s.stateless.findResources('AWS::Lambda::Function')).filter((f) =>
        JSON.stringify(f.Properties.Environment ?? {}).includes(fnId),
      );
      expect(frameworks, name).toHaveLength(1);
    }
  });

  it('gives every function an explicit log group with the environment retention', () => {
    for (const fn of Object.values(s.stacks.stateless.functions)) {
      const logGroupId = logicalIdOf(fn.logGroup);
      const logGroup = s.stateless.toJSON().Resources[logGroupId];
      expect(logGroup.Properties.RetentionInDays).toBe(s.config.logRetention);
      const lambda = s.stateless.toJSON().Resources[logicalIdOf(fn)];
      expect(lambda.Properties.LoggingConfig.LogGroup).toEqual({ Ref: logGroupId });
    }
  });

  it('puts a JWT authorizer on every HTTP route with a human role, IAM on node routes, none on public ones', () => {
    const authorizer = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Authorizer', { AuthorizerType: 'JWT' });
    expect(authorizer.resource.Properties).toMatchObject({
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: s.config.auth.issuer, Audience: [s.config.auth.audience] },
    });
    for (const route of topology.httpRoutes) {
      const { resource } = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Route', {
        RouteKey: `${route.method} ${route.path}`,
      });
      if (route.role === null) {
        expect(resource.Properties.AuthorizationType, route.path).toBe('NONE');
      } else if (route.role === 'node') {
        // Node agents sign with their instance role (SigV4).
        expect(resource.Properties.AuthorizationType, route.path).toBe('AWS_IAM');
      } else {
        expect(resource.Properties.AuthorizationType, route.path).toBe('JWT');
        expect(resource.Properties.AuthorizerId, route.path).toEqual({ Ref: authorizer.logicalId });
      }
      const target = JSON.stringify(resource.Properties.Target);
      const integrationId = /"Ref":"([^"]+)"/.exec(target)?.[1] ?? '';
      const integration = s.stateless.toJSON().Resources[integrationId];
      expect(JSON.stringify(integration.Properties.IntegrationUri)).toContain(
        logicalIdOf(s.stacks.stateless.functions[route.function]!),
      );
    }
    const publicRoutes = topology.httpRoutes
      .filter((r) => r.role === null)
      .map((r) => `${r.method} ${r.path}`);
    expect(publicRoutes).toEqual(['GET /health', 'GET /api/v1/openapi.json']);
  });

  it('authorizes WebSocket $connect with the topology authorizer reading the token query parameter', () => {
    const authorizerFn = logicalIdOf(s.stacks.stateless.functions[topology.wsAuthorizerFunction]!);
    const authorizer = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
    });
    expect(authorizer.resource.Properties.IdentitySource).toEqual(['route.request.querystring.token']);
    expect(JSON.stringify(authorizer.resource.Properties.AuthorizerUri)).toContain(authorizerFn);
    for (const route of topology.wsRoutes) {
      const { resource } = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Route', {
        RouteKey: route.routeKey,
      });
      if (route.routeKey === '$connect') {
        expect(resource.Properties).toMatchObject({
          AuthorizationType: 'CUSTOM',
          AuthorizerId: { Ref: authorizer.logicalId },
        });
      } else {
        expect(resource.Properties.AuthorizationType ?? 'NONE', route.routeKey).toBe('NONE');
      }
    }
    const api = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET' });
    expect(api.resource.Properties.RouteSelectionExpression).toBe('$request.body.action');
  });

  it('deploys both API stages automatically with access logs', () => {
    for (const stage of Object.values(s.stateless.findResources('AWS::ApiGatewayV2::Stage'))) {
      expect(stage.Properties.AutoDeploy).toBe(true);
      expect(stage.Properties.AccessLogSettings.DestinationArn).toBeDefined();
      expect(stage.Properties.AccessLogSettings.Format).toContain('requestId');
    }
    s.stateless.resourceCountIs('AWS::ApiGatewayV2::Stage', 2);
  });

  it('grants execute-api:ManageConnections on this stage to the functions needing ws-management', () => {
    for (const [name, spec] of Object.entries(topology.functions)) {
      const fn = s.stacks.stateless.functions[name]!;
      const policies = s.stateless.findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: logicalIdOf(fn.role!.node.findChild('Resource').node.scope!) }] },
      });
      const text = JSON.stringify(policies);
      const needs = (spec.needs as readonly string[]).includes('ws-management');
      expect(text.includes('execute-api:ManageConnections'), name).toBe(needs);
      if (needs) expect(text).toContain(`/${envName}/*/@connections/*`);
    }
  });

  it('creates a FIFO queue and a FIFO DLQ per topology queue, encrypted, TLS-only, with the redrive count', () => {
    s.stateful.resourceCountIs('AWS::SQS::Queue', queueCount * 2);
    for (const [name, spec] of Object.entries(topology.queues)) {
      const dlqId = logicalIdOf(s.stacks.stateful.queues[name]!.deadLetterQueue);
      const { resource } = onlyResource(s.stateful, 'AWS::SQS::Queue', {
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
      });
      expect(resource.Properties).toMatchObject({
        FifoQueue: true,
        ContentBasedDeduplication: spec.contentBasedDeduplication,
        VisibilityTimeout: spec.visibilityTimeoutSeconds,
        SqsManagedSseEnabled: true,
        RedrivePolicy: { maxReceiveCount: spec.maxReceiveCount },
      });
      expect(resource.Properties.QueueName, 'no hard-coded physical name').toBeUndefined();
      const dlq = s.stateful.toJSON().Resources[dlqId];
      expect(dlq.Properties).toMatchObject({ FifoQueue: true, SqsManagedSseEnabled: true });
    }
    const sslDenies = Object.values(s.stateful.findResources('AWS::SQS::QueuePolicy')).filter((policy) =>
      JSON.stringify(policy).includes('"aws:SecureTransport":"false"'),
    );
    expect(sslDenies).toHaveLength(queueCount * 2);
  });

  it('creates every topology table on demand with PITR, TTL and encryption', () => {
    s.stateful.resourceCountIs('AWS::DynamoDB::Table', Object.keys(topology.tables).length);
    for (const [name, spec] of Object.entries(topology.tables)) {
      const id = logicalIdOf(s.stacks.stateful.tables[name]!);
      const table = s.stateful.toJSON().Resources[id];
      expect(table.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: spec.partitionKey, KeyType: 'HASH' },
          ...('sortKey' in spec ? [{ AttributeName: spec.sortKey, KeyType: 'RANGE' }] : []),
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      });
      if ('ttlAttribute' in spec) {
        expect(table.Properties.TimeToLiveSpecification).toEqual({
          AttributeName: spec.ttlAttribute,
          Enabled: true,
        });
      }
      expect(table.Properties.TableName).toBeUndefined();
    }
  });

  it('alarms to an encrypted, TLS-only SNS topic on any DLQ message and any function error or throttle', () => {
    const topic = onlyResource(s.stateless, 'AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    s.stateless.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
    const alarmed = (metricName: string) =>
      Object.values(
        s.stateless.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: metricName } }),
      );
    // One per queue and two per function; capability alarms (sync failures, ops lane waits) have their own tests.
    expect(
      [...alarmed('ApproximateNumberOfMessagesVisible'), ...alarmed('Errors'), ...alarmed('Throttles')]
        .length,
    ).toBe(queueCount + 2 * functionCount);
    for (const alarm of [
      ...alarmed('ApproximateNumberOfMessagesVisible'),
      ...alarmed('Errors'),
      ...alarmed('Throttles'),
    ]) {
      expect(alarm.Properties).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topic.logicalId }],
      });
    }
    expect(alarmed('ApproximateNumberOfMessagesVisible')).toHaveLength(queueCount);
    expect(alarmed('Errors')).toHaveLength(functionCount);
    expect(alarmed('Throttles')).toHaveLength(functionCount);
    for (const name of Object.keys(topology.queues)) {
      const dlq = s.stacks.stateful.queues[name]!.deadLetterQueue;
      const text = JSON.stringify(alarmed('ApproximateNumberOfMessagesVisible'));
      // The DLQ's name reaches the alarm through a cross-stack reference naming its logical id.
      expect(text, `${name} DLQ alarm`).toContain(logicalIdOf(dlq));
    }
  });

  it('creates Aurora PostgreSQL Serverless v2 (writer + reader) behind an IAM-auth, TLS-only RDS Proxy', () => {
    onlyResource(s.stateful, 'AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      StorageEncrypted: true,
      EnableIAMDatabaseAuthentication: true,
      DeletionProtection: s.config.aurora.deletionProtection,
      ServerlessV2ScalingConfiguration: {
        MinCapacity: s.config.aurora.minAcu,
        MaxCapacity: s.config.aurora.maxAcu,
      },
    });
    s.stateful.resourceCountIs('AWS::RDS::DBInstance', 2);
    s.stateful.allResourcesProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless' });
    onlyResource(s.stateful, 'AWS::RDS::DBProxy', {
      RequireTLS: true,
      // The master and one secret per capability role, each IAM-only.
      Auth: Array(5).fill(Match.objectLike({ IAMAuth: 'REQUIRED' })),
    });
    onlyResource(s.stateful, 'AWS::RDS::DBProxyEndpoint', { TargetRole: 'READ_ONLY' });
    // The master's and each capability role's secret rotate.
    s.stateful.resourceCountIs('AWS::SecretsManager::RotationSchedule', 5);
  });

  it('creates ElastiCache Valkey as configured, encrypted in transit', () => {
    if (s.config.redis.kind === 'serverless') {
      onlyResource(s.stateful, 'AWS::ElastiCache::ServerlessCache', { Engine: 'valkey' });
      s.stateful.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 0);
    } else {
      onlyResource(s.stateful, 'AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey',
        CacheNodeType: s.config.redis.nodeType,
        ClusterMode: 'enabled',
        NumNodeGroups: s.config.redis.shards,
        MultiAZEnabled: true,
        TransitEncryptionEnabled: true,
        AtRestEncryptionEnabled: true,
      });
      s.stateful.resourceCountIs('AWS::ElastiCache::ServerlessCache', 0);
    }
  });

  it('creates the VPC from explicit AZs with public, private and isolated subnets', () => {
    s.stateful.resourceCountIs('AWS::EC2::Subnet', 3 * s.config.availabilityZones.length);
    for (const az of s.config.availabilityZones) {
      expect(
        Object.keys(s.stateful.findResources('AWS::EC2::Subnet', { Properties: { AvailabilityZone: az } })),
      ).toHaveLength(3);
    }
    s.stateful.resourceCountIs('AWS::EC2::NatGateway', s.config.natGateways);
    s.stateful.resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  it('creates the blob bucket private, encrypted, TLS-only, and the vCenter credentials secret', () => {
    const bucketId = logicalIdOf(s.stacks.stateful.blobBucket);
    const bucket = s.stateful.toJSON().Resources[bucketId];
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    s.stateful.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
    onlyResource(s.stateful, 'AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('vCenter credentials'),
    });
  });

  it('leaves no unacknowledged cdk-nag AwsSolutions error or warning, and every acknowledgement has a reason', () => {
    expect(s.nagViolations).toEqual([]);
    expect(s.acknowledgements.length).toBeGreaterThan(0);
    for (const ack of s.acknowledgements) {
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(40);
    }
  });

  it('names the stacks per environment and keeps physical names generated', () => {
    expect(s.stacks.stateful.stackName).toBe(`vfleet-${envName}-stateful`);
    expect(s.stacks.stateless.stackName).toBe(`vfleet-${envName}-stateless`);
    for (const fn of Object.values(s.stateless.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.FunctionName).toBeUndefined();
    }
    expect(pascal('ops-critical')).toBe('OpsCritical');
  });
});
