// Infra stack — stateless: the functions, APIs, event sources, schedules and alarms, all generated from
// the topology, wired to the stateful stack's resources through typed props. Safe to redeploy at will.

import { ArnFormat, CfnOutput, CustomResource, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  type HttpStage,
  LogGroupLogDestination,
  WebSocketApi,
  WebSocketStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import {
  HttpIamAuthorizer,
  HttpJwtAuthorizer,
  WebSocketLambdaAuthorizer,
} from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, LayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Provider } from 'aws-cdk-lib/custom-resources';
import type { Construct } from 'constructs';
import { secretNames } from '#shared/contracts';
import { opsEnvironment } from '../../shared/ops/settings.ts';
import { rateLimitEnvironment } from '../../shared/ratelimit/settings.ts';
import {
  type EnvironmentConfig,
  scaledReservedConcurrency,
  type ThrottleConfig,
  vcenterAccessEnvironment,
} from '../config.ts';
import { ComputeNodes } from '../constructs/compute-nodes.ts';
import { DashboardSite } from '../constructs/dashboard-site.ts';
import { acknowledge, nagReference } from '../constructs/nag.ts';
import { createOpsAlarms } from '../constructs/ops-alarms.ts';
import { createPlacementAlarms } from '../constructs/placement-alarms.ts';
import { createProvisioningAlarms } from '../constructs/provisioning-alarms.ts';
import { VfleetFunction } from '../constructs/vfleet-function.ts';
import {
  type FunctionSpec,
  topology as projectTopology,
  scheduleEnvironment,
  type Topology,
} from '../topology.ts';
import { sharedDepsLayerCode } from './layer.ts';
import { pascal } from './naming.ts';
import type { StatefulResources } from './stateful-stack.ts';

export interface StatelessStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The data stores, network and queues this stack's functions use. */
  readonly stateful: StatefulResources;
  /** @default the project topology (infra/topology.ts) */
  readonly topology?: Topology;
}

/**
 * A stage's route settings for one throttle. `RouteSettings` is a plain JSON map in CloudFormation's own casing
 * (CDK passes it through unchanged, unlike `DefaultRouteSettings`).
 */
const throttleSettings = (t: ThrottleConfig) => ({
  ThrottlingRateLimit: t.rateLimit,
  ThrottlingBurstLimit: t.burstLimit,
});

/** Roles that need a bearer token: every HTTP route whose topology role is not null. */
const httpAuthorizationHeader = '$request.header.Authorization';
/** Browsers cannot set headers on a WebSocket, so $connect carries the token in the query string. */
const wsTokenSource = 'route.request.querystring.token';

export class StatelessStack extends Stack {
  /** Functions by topology name. */
  readonly functions: Readonly<Record<string, VfleetFunction>>;
  readonly httpApi: HttpApi;
  readonly httpStage: HttpStage;
  readonly webSocketApi: WebSocketApi;
  readonly webSocketStage: WebSocketStage;
  readonly alarmTopic: Topic;
  readonly alarms: readonly Alarm[];
  /** The compute nodes projects are placed on; undefined when no function of the topology needs them. */
  readonly computeNodes?: ComputeNodes;
  /** The shared-deps layer (layers/shared-deps) every function gets; their bundles leave its packages out. */
  readonly sharedDepsLayer: LayerVersion;
  /** The dashboard (web/): S3 behind CloudFront, with the API on the same origin. */
  readonly dashboard: DashboardSite;

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props);
    const { config, stateful } = props;
    const topology = props.topology ?? projectTopology;
    validateTopology(topology);

    this.sharedDepsLayer = new LayerVersion(this, 'SharedDepsLayer', {
      code: sharedDepsLayerCode(),
      description: `vfleet ${config.envName}: shared third-party packages, pre-bundled (layers/shared-deps)`,
      compatibleRuntimes: [Runtime.NODEJS_22_X],
      // Plain JavaScript, no native code: either architecture.
      compatibleArchitectures: [Architecture.ARM_64, Architecture.X86_64],
    });

    // Functions, with every dependency bound except the WebSocket management API (it does not exist yet).
    const functions: Record<string, VfleetFunction> = {};
    for (const [name, spec] of Object.entries(topology.functions)) {
      functions[name] = this.createFunction(name, spec, config, stateful, topology);
    }
    this.functions = functions;

    const http = this.createHttpApi(config, topology);
    this.httpApi = http.api;
    this.httpStage = http.stage;
    const ws = this.createWebSocketApi(config, topology);
    this.webSocketApi = ws.api;
    this.webSocketStage = ws.stage;
    if (config.manageApiGatewayAccountRole) this.addApiGatewayLoggingRole();
    this.dashboard = new DashboardSite(this, 'Dashboard', {
      envName: config.envName,
      auth: config.auth,
      login: config.dashboard.login,
      httpApi: this.httpApi,
      webSocketStage: this.webSocketStage,
    });
    for (const [name, spec] of Object.entries(topology.functions)) {
      if (spec.needs.includes('ws-management'))
        this.fnOf(name).bindWsManagement(this.webSocketApi, this.webSocketStage);
    }

    this.computeNodes = this.createComputeNodes(config, stateful, topology);

    this.addEventSources(stateful, topology);
    this.addSchedules(config, topology);
    // Deploy-time steps (schema migrations): a custom resource that re-runs whenever the function's bundle changes.
    for (const [name, spec] of Object.entries(topology.functions)) {
      if (spec.serves === 'deploy') this.addDeployStep(name, this.fnOf(name), config);
    }

    const { topic, alarms } = this.createAlarms(config, stateful, functions);
    this.alarmTopic = topic;
    this.alarms = alarms;
    this.suppressFunctionFindings(Object.values(functions));

    new CfnOutput(this, 'HttpApiUrl', { value: this.httpStage.url });
    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocketStage.url });
    new CfnOutput(this, 'AlarmTopicArn', { value: topic.topicArn });
  }

  /** The function of a topology name (the stack's functions exist before anything refers to them). */
  private fnOf(name: string): VfleetFunction {
    const fn = this.functions[name];
    if (!fn) throw new Error(`topology: unknown function "${name}"`);
    return fn;
  }

  /** One topology function: its construct, auth, schedule and ops settings, and the dependencies it needs. */
  private createFunction(
    name: string,
    spec: FunctionSpec,
    config: EnvironmentConfig,
    stateful: StatefulResources,
    topology: Topology,
  ): VfleetFunction {
    // Node agents listen on private addresses in the VPC, like the data stores.
    const inVpc = (['redis', 'postgres', 'nodes'] as const).some((need) => spec.needs.includes(need));
    const fn = new VfleetFunction(this, `${pascal(name)}Function`, {
      entry: spec.entry,
      bundleFiles: spec.bundleFiles,
      layer: spec.layer ?? true,
      description: `vfleet ${config.envName}: ${spec.description}`,
      memoryMb: spec.memoryMb,
      timeout: spec.timeoutSeconds === undefined ? undefined : Duration.seconds(spec.timeoutSeconds),
      reservedConcurrency: scaledReservedConcurrency(config, spec.reservedConcurrency),
      logRetention: config.logRetention,
      logLevel: config.logLevel,
      ...(inVpc ? { vpc: stateful.vpc, securityGroups: [stateful.appSecurityGroup] } : {}),
    });
    // Here, not per caller: every function the topology adds gets the packages its bundle leaves out.
    if (spec.layer ?? true) fn.addLayers(this.sharedDepsLayer);
    fn.bindAuth(config.auth);
    for (const [key, value] of Object.entries(scheduleEnvironment(topology.schedules))) {
      fn.addEnvironment(key, value);
    }
    // Limiter and cache settings (ESXI_*, *_CACHE_TTL) for every function that reaches the shared caches.
    if (spec.needs.includes('redis')) {
      for (const [key, value] of Object.entries(opsEnvironment(config.ops))) fn.addEnvironment(key, value);
      // The per-principal buckets live in Redis too (shared/ratelimit).
      for (const [key, value] of Object.entries(rateLimitEnvironment(config.rateLimits)))
        fn.addEnvironment(key, value);
    }
    // Who sees which vCenter, on every function (the HTTP middleware builds each caller's scope from it).
    for (const [key, value] of Object.entries(vcenterAccessEnvironment(config.vcenterAccess))) {
      fn.addEnvironment(key, value);
    }
    this.bindNeeds(fn, spec, config, stateful);
    return fn;
  }

  /** Binds each dependency a function declares (`ws-management` comes later: see the constructor). */
  private bindNeeds(
    fn: VfleetFunction,
    spec: FunctionSpec,
    config: EnvironmentConfig,
    stateful: StatefulResources,
  ): void {
    for (const need of spec.needs) {
      if (need === 'redis') fn.bindRedis(stateful.redis);
      else if (need === 'postgres') this.bindDatabaseRole(fn, spec, stateful);
      else if (need === 'dynamodb') {
        // Only the tables the function declares, each with its declared access.
        for (const [t, access] of Object.entries(spec.tables ?? {})) {
          const table = stateful.tables[t];
          if (!table) throw new Error(`topology: ${spec.entry} uses unknown table "${t}"`);
          fn.bindTable(t, table, access);
        }
      } else if (need === 'queues') {
        for (const q of spec.sendsTo ?? []) {
          const pair = stateful.queues[q];
          if (!pair) throw new Error(`topology: ${spec.entry} sends to unknown queue "${q}"`);
          fn.bindQueue(q, pair.queue);
        }
      } else if (need === 'secrets') {
        fn.bindSecrets(stateful.vcenterSecret);
        this.bindVcenterSecrets(fn, config, false);
      } else if (need === 'secrets-write') this.bindVcenterSecrets(fn, config, true);
      else if (need === 'cursor-key') this.bindOwnSecret(fn, config, secretNames.cursorKey);
      else if (need === 'placement-key') this.bindOwnSecret(fn, config, secretNames.placementKey);
      else if (need === 'blobs') fn.bindBlobs(stateful.blobBucket, stateful.blobAccessPolicy);
      else if (need === 'credentials-key') {
        // Exactly the envelope's two calls (shared/provisioning/credentials.ts), no wildcard actions.
        stateful.credentialsKey.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
        fn.addEnvironment('CREDENTIALS_KEY', `kms:${stateful.credentialsKey.keyArn}`);
      } else if (need === 'session-key') {
        // The keyring's two calls (shared/inventory/sync/session-keys.ts), granted to the sync functions only.
        stateful.sessionKey.grant(fn, 'kms:GenerateDataKey', 'kms:Decrypt');
        fn.addEnvironment('SESSION_KEY', `kms:${stateful.sessionKey.keyArn}`);
        fn.addEnvironment('SESSION_KEY_VERSION', String(config.sessionKeyVersion));
      }
    }
  }

  /**
   * PostgreSQL as the function's capability role (its own proxy secret); the migrations connect as the master
   * user and read every role's secret, to give each role its login (functions/inventory/migrate.ts).
   */
  private bindDatabaseRole(fn: VfleetFunction, spec: FunctionSpec, stateful: StatefulResources): void {
    const role = spec.dbRole;
    if (!role) throw new Error(`topology: ${spec.entry} needs postgres but names no dbRole`);
    if (role !== 'owner') {
      fn.bindPostgres(stateful.postgres, role);
      return;
    }
    fn.bindPostgres(stateful.postgres, stateful.postgres.user);
    const secrets = stateful.postgres.roleSecrets;
    for (const secret of Object.values(secrets)) secret.grantRead(fn);
    fn.addEnvironment(
      'PG_ROLE_SECRETS',
      Stack.of(this).toJsonString(
        Object.fromEntries(Object.entries(secrets).map(([r, s]) => [r, s.secretArn])),
      ),
    );
  }

  /**
   * HTTP API: the JWT authorizer authenticates; the handler's middleware checks the route's role claim
   * (API Gateway can only match scopes, and vfleet roles live in their own claim).
   */
  private createHttpApi(config: EnvironmentConfig, topology: Topology): { api: HttpApi; stage: HttpStage } {
    const api = new HttpApi(this, 'HttpApi', {
      description: `vfleet ${config.envName} HTTP API`,
      createDefaultStage: false,
    });
    const stage = api.addStage('HttpStage', {
      stageName: '$default',
      autoDeploy: true,
      // The stage default (DefaultRouteSettings); the upstream routes get their own below.
      throttle: config.apiThrottle.http,
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new LogGroup(this, 'HttpAccessLogs', { retention: config.logRetention }),
        ),
        format: AccessLogFormat.jsonWithStandardFields(),
      },
    });
    const jwtAuthorizer = new HttpJwtAuthorizer('JwtAuthorizer', config.auth.issuer, {
      jwtAudience: [config.auth.audience],
      identitySource: [httpAuthorizationHeader],
    });
    const iamAuthorizer = new HttpIamAuthorizer();
    const throttledRoutes: Record<string, ThrottleConfig> = { ...config.apiThrottle.httpRoutes };
    const routeSettings: Record<string, ReturnType<typeof throttleSettings>> = {};
    const httpIntegrations = new Map<string, HttpLambdaIntegration>();
    for (const route of topology.httpRoutes) {
      let integration = httpIntegrations.get(route.function);
      if (!integration) {
        integration = new HttpLambdaIntegration(
          `${pascal(route.function)}Integration`,
          this.fnOf(route.function),
        );
        httpIntegrations.set(route.function, integration);
      }
      const [httpRoute] = api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        // Node agents sign with their instance role (SigV4); everyone else carries a JWT.
        authorizer: route.role === null ? undefined : route.role === 'node' ? iamAuthorizer : jwtAuthorizer,
      });
      const throttle = throttledRoutes[`${route.method} ${route.path}`];
      if (throttle && httpRoute) {
        routeSettings[`${route.method} ${route.path}`] = throttleSettings(throttle);
        // Route settings name the route by key: CloudFormation refuses them until the route exists.
        stage.node.defaultChild?.node.addDependency(httpRoute);
      }
      if (route.role === null && httpRoute) {
        acknowledge(
          httpRoute,
          `${route.method} ${route.path} is public by design (contract role null): liveness probes and API document readers carry no token.`,
          'AwsSolutions-APIG4',
        );
      }
    }
    const unknown = Object.keys(throttledRoutes).filter((key) => !(key in routeSettings));
    if (unknown.length > 0)
      throw new Error(`apiThrottle.httpRoutes: no such route in the topology: ${unknown.join(', ')}`);
    (stage.node.defaultChild as CfnStage).routeSettings = routeSettings;
    return { api, stage };
  }

  /** WebSocket API: only $connect can carry an authorizer; the connection inherits its identity after that. */
  private createWebSocketApi(
    config: EnvironmentConfig,
    topology: Topology,
  ): { api: WebSocketApi; stage: WebSocketStage } {
    const api = new WebSocketApi(this, 'WebSocketApi', {
      description: `vfleet ${config.envName} WebSocket API`,
    });
    const wsAuthorizer = new WebSocketLambdaAuthorizer(
      'ConnectAuthorizer',
      this.fnOf(topology.wsAuthorizerFunction),
      {
        identitySource: [wsTokenSource],
      },
    );
    const wsIntegrations = new Map<string, WebSocketLambdaIntegration>();
    const wsRouteSettings: Record<string, ReturnType<typeof throttleSettings>> = {};
    const wsRouteResources: Construct[] = [];
    for (const route of topology.wsRoutes) {
      let integration = wsIntegrations.get(route.function);
      if (!integration) {
        integration = new WebSocketLambdaIntegration(
          `${pascal(route.function)}WsIntegration`,
          this.fnOf(route.function),
        );
        wsIntegrations.set(route.function, integration);
      }
      const wsRoute = api.addRoute(route.routeKey, {
        integration,
        authorizer: route.routeKey === '$connect' ? wsAuthorizer : undefined,
      });
      const throttle = config.apiThrottle.webSocketRoutes[route.routeKey];
      if (throttle) {
        wsRouteSettings[route.routeKey] = throttleSettings(throttle);
        wsRouteResources.push(wsRoute);
      }
      if (route.routeKey !== '$connect') {
        acknowledge(
          wsRoute,
          'WebSocket APIs authorize once, on $connect; API Gateway accepts no authorizer on other routes, and ' +
            'their frames arrive only on connections the $connect authorizer admitted.',
          'AwsSolutions-APIG4',
        );
      }
    }
    const stage = new WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: api,
      stageName: config.envName,
      autoDeploy: true,
      throttle: config.apiThrottle.webSocket,
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new LogGroup(this, 'WebSocketAccessLogs', { retention: config.logRetention }),
        ),
        format: AccessLogFormat.jsonWithStandardFields(),
      },
    });
    const unknown = Object.keys(config.apiThrottle.webSocketRoutes).filter(
      (key) => !(key in wsRouteSettings),
    );
    if (unknown.length > 0)
      throw new Error(`apiThrottle.webSocketRoutes: no such route in the topology: ${unknown.join(', ')}`);
    const cfnStage = stage.node.defaultChild as CfnStage;
    cfnStage.routeSettings = wsRouteSettings;
    for (const route of wsRouteResources) cfnStage.node.addDependency(route);
    return { api, stage };
  }

  /** Queue consumers: partial batch responses, so one bad message does not re-drive its whole batch. */
  private addEventSources(stateful: StatefulResources, topology: Topology): void {
    for (const source of topology.eventSources) {
      const pair = stateful.queues[source.queue];
      if (!pair) throw new Error(`topology: event source reads unknown queue "${source.queue}"`);
      const fn = this.fnOf(source.function);
      fn.addEventSource(
        new SqsEventSource(pair.queue, {
          batchSize: source.batchSize,
          maxConcurrency: source.maxConcurrency,
          reportBatchItemFailures: true,
        }),
      );
    }
  }

  /** EventBridge Scheduler rates, each invoking its function without retries. */
  private addSchedules(config: EnvironmentConfig, topology: Topology): void {
    for (const schedule of topology.schedules) {
      const fn = this.fnOf(schedule.function);
      new Schedule(this, `${pascal(schedule.name)}Schedule`, {
        description: `vfleet ${config.envName}: ${schedule.name} every ${schedule.everySeconds} s`,
        schedule: ScheduleExpression.rate(Duration.seconds(schedule.everySeconds)),
        // A late tick is useless (the next one is coming), so no retries pile up behind it.
        target: new LambdaInvoke(fn, { retryAttempts: 0, maxEventAge: Duration.minutes(1) }),
      });
      acknowledge(
        this,
        "The scheduler's invoke role names the function ARN plus its versions and aliases (<arn>:*), nothing else.",
        `AwsSolutions-IAM5[Resource::${nagReference(this, `${fn.functionArn}:*`)}]`,
      );
    }
  }

  /** Runs `fn` (CDK Provider framework onEvent shape) on every deploy that changes its code. */
  private addDeployStep(name: string, fn: VfleetFunction, config: EnvironmentConfig): void {
    const provider = new Provider(this, `${pascal(name)}Provider`, {
      onEventHandler: fn,
      logGroup: new LogGroup(this, `${pascal(name)}ProviderLogs`, { retention: config.logRetention }),
    });
    const codeAsset = fn.node.tryFindChild('Code');
    new CustomResource(this, `${pascal(name)}Step`, {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::VfleetDeployStep',
      properties: { Function: name, CodeHash: codeAsset instanceof Asset ? codeAsset.assetHash : 'unknown' },
    });
    const framework = provider.node.findChild('framework-onEvent');
    acknowledge(
      framework,
      "The Provider framework function is CDK's own code; its runtime and basic execution policy are CDK's " +
        'choice, and it may invoke only this step function (with its versions, <arn>:*).',
      'AwsSolutions-L1',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      `AwsSolutions-IAM5[Resource::${nagReference(this, `${fn.functionArn}:*`)}]`,
    );
  }

  /**
   * Per-vCenter credentials (shared/secrets/aws.ts): one secret each under `vfleet/<env>/vcenters/`, so the
   * grant is the name prefix; `write` adds create/replace/delete for the registry. Sets VCENTER_SECRET_PREFIX.
   */
  private bindVcenterSecrets(fn: VfleetFunction, config: EnvironmentConfig, write: boolean): void {
    const prefix = `vfleet/${config.envName}/vcenters/`;
    const resource = this.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${prefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const actions = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
    if (write) {
      actions.push(
        'secretsmanager:CreateSecret',
        'secretsmanager:PutSecretValue',
        'secretsmanager:DeleteSecret',
        'secretsmanager:TagResource',
      );
    }
    fn.addToRolePolicy(new PolicyStatement({ actions, resources: [resource] }));
    fn.addEnvironment('VCENTER_SECRET_PREFIX', prefix);
    acknowledge(
      fn,
      'vCenter credentials are one secret per registered vCenter, created at run time by the registry; the ' +
        'grant is scoped to their name prefix (vfleet/<env>/vcenters/*), not to all secrets.',
      `AwsSolutions-IAM5[Resource::${nagReference(this, resource)}]`,
    );
  }

  /**
   * One of the code's own secrets (`secretNames`: the cursor signing key of shared/inventory/cursor.ts, the
   * forward signing key of shared/placement/signing.ts) beside the vCenter credentials, read or created by the
   * first container that needs it. The grant names that one secret (`??????` is the suffix Secrets Manager
   * appends), not the vCenter passwords. Sets VCENTER_SECRET_PREFIX.
   */
  private bindOwnSecret(fn: VfleetFunction, config: EnvironmentConfig, secretName: string): void {
    const prefix = `vfleet/${config.envName}/vcenters/`;
    const resource = this.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${prefix}${secretName}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:CreateSecret'],
        resources: [resource],
      }),
    );
    fn.addEnvironment('VCENTER_SECRET_PREFIX', prefix);
  }

  /**
   * The compute nodes (an Auto Scaling group running the node agent) and the `nodes` need: the functions that
   * have it reach the agents' port and may set scale-in protection on the group's instances, nothing else.
   */
  private createComputeNodes(
    config: EnvironmentConfig,
    stateful: StatefulResources,
    topology: Topology,
  ): ComputeNodes | undefined {
    const users = Object.entries(topology.functions).filter(([, spec]) => spec.needs.includes('nodes'));
    if (users.length === 0) return undefined;
    const nodeRoutes = topology.httpRoutes.filter((route) => route.role === 'node');
    const nodes = new ComputeNodes(this, 'ComputeNodes', {
      envName: config.envName,
      vpc: stateful.vpc,
      ...config.nodes,
      controlUrl: this.httpApi.apiEndpoint,
      nodeRouteArns: nodeRoutes.map((route) =>
        this.httpApi.arnForExecuteApi(route.method, route.path.replace(/\{[^}]+\}/g, '*'), '$default'),
      ),
    });
    nodes.allowFrom(stateful.appSecurityGroup);
    for (const [name] of users) {
      const fn = this.fnOf(name);
      fn.addEnvironment('NODE_AUTO_SCALING_GROUP', nodes.group.autoScalingGroupName);
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['autoscaling:SetInstanceProtection', 'autoscaling:SetInstanceHealth'],
          resources: [nodes.group.autoScalingGroupArn],
        }),
      );
      acknowledge(
        fn,
        "The group's ARN carries a UUID AWS assigns at creation (autoScalingGroup:*:…); the grant is scoped by " +
          'the group name to this one group, and to setting protection and health alone.',
        `AwsSolutions-IAM5[Resource::${nagReference(this, nodes.group.autoScalingGroupArn)}]`,
      );
    }
    return nodes;
  }

  /** WebSocket access logs need the account's API Gateway CloudWatch role (an account-wide setting). */
  private addApiGatewayLoggingRole(): void {
    const role = new Role(this, 'ApiGatewayLoggingRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
      ],
    });
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    this.webSocketStage.node.addDependency(account);
    acknowledge(
      role,
      'AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for the account-wide API Gateway ' +
        'logging role; it grants only CloudWatch Logs writes.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
    );
  }

  /** One encrypted SNS topic; an alarm per DLQ (any message) and per function (any error, any throttle). */
  private createAlarms(
    config: EnvironmentConfig,
    stateful: StatefulResources,
    functions: Readonly<Record<string, VfleetFunction>>,
  ): { topic: Topic; alarms: Alarm[] } {
    const topic = this.createAlarmTopic(config);
    const action = new SnsAction(topic);

    const alarms: Alarm[] = [];
    const anyAbove0 = (id: string, metric: IMetric, description: string): void => {
      const alarm = new Alarm(this, id, {
        metric,
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      alarm.addAlarmAction(action);
      alarms.push(alarm);
    };
    const minute = Duration.minutes(1);
    for (const [name, pair] of Object.entries(stateful.queues)) {
      anyAbove0(
        `${pascal(name)}DlqDepthAlarm`,
        pair.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: minute,
          statistic: 'Maximum',
        }),
        `vfleet ${config.envName}: messages in the ${name} DLQ; inspect and redrive them`,
      );
    }
    for (const [name, fn] of Object.entries(functions)) {
      anyAbove0(
        `${pascal(name)}ErrorsAlarm`,
        fn.metricErrors({ period: minute, statistic: 'Sum' }),
        `vfleet ${config.envName}: ${name} function errors`,
      );
      anyAbove0(
        `${pascal(name)}ThrottlesAlarm`,
        fn.metricThrottles({ period: minute, statistic: 'Sum' }),
        `vfleet ${config.envName}: ${name} function throttled (reserved concurrency or account limit)`,
      );
    }
    // Sync failures (EMF from functions/inventory/sync-worker.ts): any vCenter failing its passes for 15
    // minutes. Not per vCenter: a dimension per vCenter would be 1,000+ custom metrics; the log line of each
    // failure carries the vCenter id, and GET /api/v1/vcenters shows which one fails and why.
    if (functions.syncWorker) alarms.push(...this.createSyncAlarms(config, action));
    alarms.push(...createOpsAlarms(this, { envName: config.envName, queues: stateful.queues, action }));
    if (this.computeNodes) alarms.push(...createPlacementAlarms(this, { envName: config.envName, action }));
    if (functions.provisioningApi)
      alarms.push(...createProvisioningAlarms(this, { envName: config.envName, action }));
    return { topic, alarms };
  }

  /** The alarm topic, encrypted with its own key, with the on-call e-mail subscribed when configured. */
  private createAlarmTopic(config: EnvironmentConfig): Topic {
    const key = new Key(this, 'AlarmTopicKey', {
      description: `vfleet ${config.envName} alarm topic encryption`,
      enableKeyRotation: true,
    });
    // CloudWatch publishes to the encrypted topic, so it must be able to use the key.
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new Topic(this, 'AlarmTopic', {
      displayName: `vfleet ${config.envName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (config.alarmEmail) topic.addSubscription(new EmailSubscription(config.alarmEmail));
    return topic;
  }

  /** SyncFailures for 15 minutes, and more than `syncWatchLostPerHour` lost watches in an hour. */
  private createSyncAlarms(config: EnvironmentConfig, action: SnsAction): Alarm[] {
    const syncFailures = new Alarm(this, 'SyncFailuresAlarm', {
      metric: new Metric({
        namespace: 'vfleet',
        metricName: 'SyncFailures',
        dimensionsMap: { service: 'vfleet' },
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `vfleet ${config.envName}: vCenter syncs failing for 15 minutes; see GET /api/v1/vcenters (lastError)`,
    });
    syncFailures.addAlarmAction(action);
    // Lost watches (each one a full sync in the same pass): one is normal after a vCenter restart; a rate
    // means sessions or collectors are lost systematically and the fleet is doing full syncs instead.
    const watchLost = new Alarm(this, 'SyncWatchLostAlarm', {
      metric: new Metric({
        namespace: 'vfleet',
        metricName: 'SyncWatchLost',
        dimensionsMap: { service: 'vfleet' },
        period: Duration.hours(1),
        statistic: 'Sum',
      }),
      threshold: config.syncWatchLostPerHour,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `vfleet ${config.envName}: more than ${config.syncWatchLostPerHour} inventory watches lost in an hour; ` +
        'see the sync worker\'s "watch lost" log lines for the vCenters and reasons',
    });
    watchLost.addAlarmAction(action);
    return [syncFailures, watchLost];
  }

  /** cdk-nag findings every vfleet function shares, each acknowledged with its reason. */
  private suppressFunctionFindings(functions: readonly VfleetFunction[]): void {
    for (const fn of functions) {
      acknowledge(
        fn,
        'Pinned to nodejs22.x on purpose: the code is built for and tested on Node 20/22 locally; moving to ' +
          'Node 24 is a deliberate upgrade with its own test run, not a side effect of a cdk-lib bump.',
        'AwsSolutions-L1',
      );
      acknowledge(
        fn,
        'AWSLambdaBasicExecutionRole (writes to the function log group) and AWSLambdaVPCAccessExecutionRole ' +
          '(ENI management for VPC functions) are the AWS-maintained minimal policies for Lambda.',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      );
      acknowledge(
        fn,
        'X-Ray PutTraceSegments and PutTelemetryRecords accept no resource-level permission.',
        'AwsSolutions-IAM5[Resource::*]',
      );
    }
  }
}

/** Refuses a topology the stacks cannot build correctly, naming the entry. */
export function validateTopology(topology: Topology): void {
  const names = new Set(Object.keys(topology.functions));
  const need = (what: string, name: string): void => {
    if (!names.has(name)) throw new Error(`topology: ${what} names unknown function "${name}"`);
  };
  // Least privilege is declared, never defaulted: a need without its list would have to grant everything.
  for (const [name, spec] of Object.entries(topology.functions)) {
    if (spec.needs.includes('postgres') && !spec.dbRole)
      throw new Error(`topology: function "${name}" needs postgres but names no dbRole`);
    if (spec.needs.includes('dynamodb') && Object.keys(spec.tables ?? {}).length === 0)
      throw new Error(`topology: function "${name}" needs dynamodb but lists no tables`);
    if (spec.needs.includes('queues') && (spec.sendsTo ?? []).length === 0)
      throw new Error(`topology: function "${name}" needs queues but lists none in sendsTo`);
  }
  for (const r of topology.httpRoutes) need(`HTTP route ${r.method} ${r.path}`, r.function);
  for (const r of topology.wsRoutes) need(`WebSocket route ${r.routeKey}`, r.function);
  need('wsAuthorizerFunction', topology.wsAuthorizerFunction);
  for (const s of topology.schedules) {
    need(`schedule ${s.name}`, s.function);
    if (s.everySeconds < 60 || s.everySeconds % 60 !== 0) {
      throw new Error(
        `topology: schedule ${s.name} everySeconds must be a whole number of minutes (EventBridge rates)`,
      );
    }
  }
  for (const e of topology.eventSources) {
    need(`event source on ${e.queue}`, e.function);
    const queue = topology.queues[e.queue];
    if (!queue) throw new Error(`topology: event source reads unknown queue "${e.queue}"`);
    const timeout = topology.functions[e.function]?.timeoutSeconds ?? 10;
    // Lambda refuses a mapping whose queue would re-deliver a message while the function still runs.
    if (queue.visibilityTimeoutSeconds < timeout) {
      throw new Error(
        `topology: queue ${e.queue} visibilityTimeoutSeconds (${queue.visibilityTimeoutSeconds}) is below ` +
          `function ${e.function} timeoutSeconds (${timeout})`,
      );
    }
    if (e.maxConcurrency < 2 || e.maxConcurrency > 1000) {
      throw new Error(`topology: event source on ${e.queue} maxConcurrency must be in 2..1000`);
    }
    if (e.batchSize < 1 || e.batchSize > 10) {
      throw new Error(`topology: event source on ${e.queue} batchSize must be in 1..10 (FIFO queues)`);
    }
  }
}
