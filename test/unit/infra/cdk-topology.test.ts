// Unit tests — the stacks are generated from whatever topology they are given: a fixture topology with a
// queue worker, an event source, a schedule, reserved concurrency and every kind of dependency comes out as
// the matching AWS resources, and a topology the stacks cannot build is refused with its entry named.

import { beforeAll, describe, expect, it } from 'vitest';
import { validateTopology } from '../../../infra/stacks/stateless-stack.ts';
import { envNames, type Topology, topology } from '../../../infra/topology.ts';
import { logicalIdOf, onlyResource, type Synthesized, synthesize } from './cdk-synth.ts';

const fixture: Topology = {
  ...topology,
  functions: {
    ...topology.functions,
    opsWorker: {
      entry: 'functions/health/handler.ts',
      description: 'fixture: ops lane worker',
      serves: 'queue',
      memoryMb: 512,
      timeoutSeconds: 30,
      reservedConcurrency: 10,
      needs: ['redis', 'postgres', 'queues', 'secrets', 'blobs'],
      dbRole: 'vfleet_ops',
      sendsTo: ['ops-low'],
    },
    dispatcher: {
      entry: 'functions/health/handler.ts',
      description: 'fixture: sync dispatcher',
      serves: 'schedule',
      needs: ['queues'],
      sendsTo: ['sync'],
    },
  },
  httpRoutes: [
    ...topology.httpRoutes,
    { method: 'POST', path: '/api/v1/things/{id}', function: 'dispatcher', role: 'operator' },
  ],
  eventSources: [{ queue: 'ops-low', function: 'opsWorker', batchSize: 5, maxConcurrency: 4 }],
  schedules: [{ name: 'sync-dispatcher', function: 'dispatcher', everySeconds: 120 }],
  tables: { ...topology.tables, placements: { partitionKey: 'projectId', sortKey: 'nodeId' } },
};

describe('CDK stacks built from a fixture topology (env=staging)', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthesize('staging', { topology: fixture, bundle: false });
  }, 120_000);

  it('adds an SQS event source with the topology batch size, maxConcurrency and partial batch responses', () => {
    const worker = logicalIdOf(s.stacks.stateless.functions.opsWorker!);
    const { resource } = onlyResource(s.stateless, 'AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: worker },
    });
    expect(resource.Properties).toMatchObject({
      BatchSize: 5,
      ScalingConfig: { MaximumConcurrency: 4 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(JSON.stringify(resource.Properties.EventSourceArn)).toContain(
      logicalIdOf(s.stacks.stateful.queues['ops-low']!.queue),
    );
  });

  it('scales reserved concurrency by the environment factor', () => {
    const { resource } = onlyResource(s.stateless, 'AWS::Lambda::Function', {
      Description: 'vfleet staging: fixture: ops lane worker',
    });
    // staging scale 0.5 × 10
    expect(resource.Properties).toMatchObject({
      ReservedConcurrentExecutions: 5,
      MemorySize: 512,
      Timeout: 30,
    });
  });

  it('binds every dependency: queue URLs, secret, bucket, Redis and PostgreSQL', () => {
    const { resource } = onlyResource(s.stateless, 'AWS::Lambda::Function', {
      Description: 'vfleet staging: fixture: ops lane worker',
    });
    const env = (resource.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    // Exactly the queues it lists (sendsTo), no other.
    for (const queue of Object.keys(topology.queues))
      expect(env[envNames.queueUrl(queue)] !== undefined, queue).toBe(queue === 'ops-low');
    for (const name of [
      'VCENTER_SECRET_ARN',
      'BLOB_BUCKET',
      'REDIS_URL',
      'PG_WRITER_HOST',
      'PG_READER_HOST',
    ]) {
      expect(env[name], name).toBeDefined();
    }
    expect(resource.Properties.VpcConfig).toBeDefined();
    const policies = JSON.stringify(s.stateless.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('rds-db:connect');
    expect(policies).toContain('secretsmanager:GetSecretValue');
    expect(policies).toContain('sqs:SendMessage');
    expect(policies).toContain('sqs:ReceiveMessage');
  });

  it('creates an EventBridge Scheduler schedule invoking the topology function at its rate', () => {
    const dispatcher = logicalIdOf(s.stacks.stateless.functions.dispatcher!);
    const { resource } = onlyResource(s.stateless, 'AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(2 minutes)',
    });
    expect(JSON.stringify((resource.Properties.Target as { Arn: unknown }).Arn)).toContain(dispatcher);
  });

  it('creates added tables and routes, with the JWT authorizer on the new route', () => {
    onlyResource(s.stateful, 'AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'projectId', KeyType: 'HASH' },
        { AttributeName: 'nodeId', KeyType: 'RANGE' },
      ],
    });
    const { resource } = onlyResource(s.stateless, 'AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /api/v1/things/{id}',
    });
    expect(resource.Properties.AuthorizationType).toBe('JWT');
  });

  it('stays clean under cdk-nag with the extra grants', () => {
    expect(s.nagViolations).toEqual([]);
  });
});

describe('validateTopology', () => {
  const broken =
    (patch: Partial<Topology>): (() => void) =>
    () =>
      validateTopology({ ...fixture, ...patch });

  it('accepts the project topology and the fixture', () => {
    expect(() => validateTopology(topology)).not.toThrow();
    expect(() => validateTopology(fixture)).not.toThrow();
  });

  it('names a route whose function does not exist', () => {
    expect(broken({ httpRoutes: [{ method: 'GET', path: '/x', function: 'nope', role: 'viewer' }] })).toThrow(
      /HTTP route GET \/x names unknown function "nope"/,
    );
  });

  it('refuses a queue whose visibility timeout is shorter than its consumer timeout', () => {
    expect(
      broken({
        queues: {
          ...fixture.queues,
          'ops-low': { visibilityTimeoutSeconds: 20, maxReceiveCount: 3, contentBasedDeduplication: true },
        },
      }),
    ).toThrow(
      /queue ops-low visibilityTimeoutSeconds \(20\) is below function opsWorker timeoutSeconds \(30\)/,
    );
  });

  it('refuses maxConcurrency below the AWS minimum of 2 and schedules that are not whole minutes', () => {
    expect(
      broken({
        eventSources: [{ queue: 'ops-low', function: 'opsWorker', batchSize: 1, maxConcurrency: 1 }],
      }),
    ).toThrow(/maxConcurrency must be in 2\.\.1000/);
    expect(broken({ schedules: [{ name: 'fast', function: 'dispatcher', everySeconds: 30 }] })).toThrow(
      /schedule fast everySeconds must be a whole number of minutes/,
    );
  });
});
