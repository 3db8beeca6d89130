// Cost model — pure functions: the month's workload from the scale and the inputs (bench/cost/inputs.ts),
// then each service's monthly cost from that workload, the deployed stacks' facts (bench/cost/facts.ts) and
// the price list (bench/cost/prices.ts). No I/O; `npm run cost` (bench/cost/run.ts) prints and records it.
import type { DeployFacts } from './facts.ts';
import type { InputValues, Scale } from './inputs.ts';
import { cacheNodeHour, hourlyPrice, instanceHour, type PriceName, priceList, prices } from './prices.ts';

export interface LineItem {
  readonly service: string;
  readonly item: string;
  readonly usd: number;
  /** The arithmetic, in words and numbers. */
  readonly how: string;
  /** Counted in the control plane's figure judged against seed 001 (false: the node fleet). */
  readonly inGoal: boolean;
}

export interface CostReport {
  readonly scale: Scale;
  readonly lines: readonly LineItem[];
  /** The control plane: everything but the compute nodes. */
  readonly controlPlaneUsd: number;
  readonly nodesUsd: number;
  readonly totalUsd: number;
  /** Priced alternatives for the largest fixed items, not in the totals. */
  readonly alternatives: readonly LineItem[];
}

/** Invocations and billed milliseconds of one function in the month. */
export interface FunctionLoad {
  readonly invocations: number;
  readonly billedMs: number;
  readonly http: boolean;
}

/** The month's workload, in counts. */
export interface Workload {
  readonly passes: number;
  readonly fullSyncs: number;
  readonly fullSyncMs: number;
  readonly queries: number;
  readonly thumbnails: number;
  readonly thumbnailMisses: number;
  readonly consoles: number;
  readonly provisioning: number;
  readonly nodeHours: number;
  readonly heartbeats: number;
  readonly reports: number;
  readonly placementRequests: number;
  readonly dashboardClientMinutes: number;
  readonly pings: number;
  readonly pushes: number;
  readonly wsConnects: number;
  readonly dashboardReads: number;
  readonly coldStarts: number;
  readonly functions: Readonly<Record<string, FunctionLoad>>;
}

const hours = priceList.hoursPerMonth;
const seconds = hours * 3600;
const million = 1e6;
/** Busy hours are 10 a working day (inputs.busyHoursPerMonth). */
const busyHoursPerDay = 10;

const usd = (n: number) => Math.round(n * 100) / 100;
const fmt = (n: number) =>
  n >= 100 ? Math.round(n).toLocaleString('en-US') : Number(n.toPrecision(3)).toLocaleString('en-US');
const m = (n: number) => `${fmt(n / million)} M`;

/** The workload the scale and inputs imply. */
export function workload(scale: Scale, v: InputValues, facts: DeployFacts): Workload {
  const busy = v.busyHoursPerMonth;
  const quiet = hours - busy;
  // User traffic: the busy hours at the full rate, the rest at offHoursLoad of it.
  const userHours = busy + quiet * v.offHoursLoad;
  const days = busy / busyHoursPerDay;
  const vmsPerVcenter = scale.vcenters > 0 ? scale.vms / scale.vcenters : 0;

  const passes = (scale.vcenters * seconds) / v.pollIntervalSeconds;
  const fullSyncs = scale.vcenters * v.fullSyncsPerVcenterDay * (hours / 24);
  const fullSyncMs = v.fullSyncFixedMs + vmsPerVcenter * v.fullSyncBilledMsPerVm;
  const queries = scale.users * v.queriesPerUserMinute * 60 * userHours;
  const thumbnails = scale.users * v.thumbnailsPerUserHour * userHours;
  const thumbnailMisses = thumbnails * v.thumbnailMissShare;
  const consoles = scale.users * v.consolesPerUserDay * days;
  const provisioning = scale.users * v.provisioningPerUserDay * days;

  const nodeHours =
    scale.nodes * busy + Math.max(facts.nodeMin, Math.ceil(scale.nodes * v.nodeQuietShare)) * quiet;
  const heartbeats = (nodeHours * 3600) / v.agentHeartbeatSeconds;
  const reports = (nodeHours * 3600) / v.agentReportSeconds;
  const placementRequests = nodeHours * v.placementRequestsPerNodeHour;

  const dashboardClientMinutes = v.dashboardClients * busy * 60;
  // Dashboards' pings, and every node agent's on its control connection (each one is the node's contact).
  const pings =
    (dashboardClientMinutes * 60) / v.dashboardPingSeconds + (nodeHours * 3600) / v.agentPingSeconds;
  // Half the clients watch every node, half one node (the dashboard bench's mix): a report reaches ~half of them.
  const busyReports = (scale.nodes * busy * 3600) / v.agentReportSeconds;
  const pushes = busyReports * (v.dashboardClients / 2);
  // A dashboard page connects once a working day; an agent reconnects about once a day (assumption).
  const wsConnects = v.dashboardClients * days + nodeHours / 24;
  const dashboardReads = dashboardClientMinutes * v.dashboardApiPerClientMinute;

  const functions: Record<string, FunctionLoad> = {
    syncWorker: {
      invocations: passes + fullSyncs,
      billedMs: passes * v.syncPassBilledMs + fullSyncs * fullSyncMs,
      http: false,
    },
    inventoryQuery: {
      invocations: queries,
      billedMs:
        queries *
        (v.queryCachedShare * v.queryCachedBilledMs + (1 - v.queryCachedShare) * v.queryUncachedBilledMs),
      http: true,
    },
    opsApi: { invocations: thumbnails, billedMs: thumbnails * v.opsApiBilledMs, http: true },
    opsWorkerLow: {
      invocations: thumbnailMisses,
      billedMs: thumbnailMisses * v.thumbnailWorkerBilledMs,
      http: false,
    },
    opsConsole: { invocations: consoles, billedMs: consoles * v.consoleBilledMs, http: true },
    // A form loads datacenters, compute, then one compute resource's resources: 3 requests.
    provisioningApi: {
      invocations: provisioning * 3,
      billedMs: provisioning * 3 * v.provisioningBilledMs,
      http: true,
    },
    placementNodes: { invocations: heartbeats, billedMs: heartbeats * v.smallHandlerBilledMs, http: true },
    placement: {
      invocations: placementRequests,
      billedMs: placementRequests * v.placementBilledMs,
      http: true,
    },
    dashboardIngest: {
      invocations: reports,
      // Each push is one PostToConnection (~2 ms of the function's time, made in parallel).
      billedMs: reports * v.smallHandlerBilledMs + pushes * 2,
      http: true,
    },
    dashboardApi: {
      invocations: dashboardReads,
      billedMs: dashboardReads * v.smallHandlerBilledMs,
      http: true,
    },
    wsMessage: { invocations: pings, billedMs: pings * v.smallHandlerBilledMs, http: false },
    wsConnection: {
      invocations: wsConnects * 2,
      billedMs: wsConnects * 2 * v.smallHandlerBilledMs,
      http: false,
    },
    wsAuthorizer: { invocations: wsConnects, billedMs: wsConnects * v.smallHandlerBilledMs, http: false },
  };
  for (const schedule of facts.schedules) {
    const ticks = seconds / schedule.everySeconds;
    functions[schedule.function] = { invocations: ticks, billedMs: ticks * v.scheduleBilledMs, http: false };
  }
  const coldStarts = Object.keys(facts.functionMemoryMb).length * v.coldStartsPerFunctionHour * hours;

  return {
    passes,
    fullSyncs,
    fullSyncMs,
    queries,
    thumbnails,
    thumbnailMisses,
    consoles,
    provisioning,
    nodeHours,
    heartbeats,
    reports,
    placementRequests,
    dashboardClientMinutes,
    pings,
    pushes,
    wsConnects,
    dashboardReads,
    coldStarts,
    functions,
  };
}

/** Traces X-Ray records for `invocations` under its default rule: 1 a second (reservoir), then 5 %. */
export function sampledTraces(invocations: number, sampledShare: number): number {
  const reservoir = Math.min(invocations, seconds);
  return reservoir + (invocations - reservoir) * sampledShare;
}

/** Monthly cost of an ElastiCache serverless (Valkey) cache holding `dataGb` and doing `ecpus`. */
export function serverlessCacheUsd(dataGb: number, ecpus: number): number {
  return (
    Math.max(dataGb, 0.1) * hours * prices.elasticacheServerlessGbHour.usd +
    (ecpus / million) * prices.elasticacheServerlessEcpuMillion.usd
  );
}

/** The month's cost of every service at `scale`. */
export function costModel(scale: Scale, v: InputValues, facts: DeployFacts): CostReport {
  const w = workload(scale, v, facts);
  const lines: LineItem[] = [];
  const add = (service: string, item: string, amount: number, how: string, inGoal = true) =>
    lines.push({ service, item, usd: usd(amount), how, inGoal });
  const p = (name: PriceName) => prices[name].usd;
  const busy = v.busyHoursPerMonth;
  const quiet = hours - busy;
  const vmsPerVcenter = scale.vcenters > 0 ? scale.vms / scale.vcenters : 0;

  // Aurora Serverless v2: every instance (the reader scales with the writer) at the busy ACUs in the busy
  // hours and at the configured minimum otherwise; the sync keeps it awake all month.
  const quietAcu = Math.max(facts.auroraMinAcu, 0.5);
  const busyAcu = Math.min(Math.max(v.auroraBusyAcu, quietAcu), facts.auroraMaxAcu);
  const acuHours = facts.auroraInstances * (busyAcu * busy + quietAcu * quiet);
  add(
    'Aurora Serverless v2',
    'capacity',
    acuHours * p('auroraAcuHour'),
    `${facts.auroraInstances} instances × (${busyAcu} ACU × ${busy} h + ${quietAcu} ACU × ${quiet} h) = ${fmt(acuHours)} ACU-h × $${p('auroraAcuHour')}`,
  );
  const storageGb = (scale.vms * v.auroraKbPerVm) / million;
  const uncached = w.queries * (1 - v.queryCachedShare);
  const ios = w.passes * v.auroraIosPerPass + uncached * v.auroraIosPerUncachedQuery;
  add(
    'Aurora Serverless v2',
    'storage and I/O',
    storageGb * p('auroraStorageGbMonth') + (ios / million) * p('auroraIoMillion'),
    `${fmt(storageGb)} GB × $${p('auroraStorageGbMonth')} + (${m(w.passes)} passes × ${v.auroraIosPerPass} + ${m(uncached)} uncached reads × ${v.auroraIosPerUncachedQuery}) I/Os × $${p('auroraIoMillion')}/M`,
  );
  if (facts.rdsProxy) {
    const floor = p('rdsProxyMinAcu');
    const proxyAcuHours =
      Math.max(floor, facts.auroraInstances * busyAcu) * busy +
      Math.max(floor, facts.auroraInstances * quietAcu) * quiet;
    add(
      'RDS Proxy',
      'on the instances’ ACUs',
      proxyAcuHours * p('rdsProxyAcuHour'),
      `max(${floor}, ACUs in use) = ${fmt(proxyAcuHours)} ACU-h × $${p('rdsProxyAcuHour')}`,
    );
  }

  // ElastiCache.
  const ecpus =
    w.queries * (2 + v.queryResponseKb) +
    w.thumbnails * (2 + v.thumbnailKb) +
    w.thumbnailMisses * 6 +
    w.passes * v.redisCommandsPerPass +
    w.reports * 3 +
    w.pings * 2;
  const serverless = serverlessCacheUsd(v.redisDataGb, ecpus);
  const serverlessHow = `${v.redisDataGb} GB × ${hours} h × $${p('elasticacheServerlessGbHour')} + ${m(ecpus)} ECPUs (1 per KB moved) × $${p('elasticacheServerlessEcpuMillion')}/M`;
  if (facts.redis.kind === 'replication-group') {
    const node = hourlyPrice(cacheNodeHour, facts.redis.nodeType);
    add(
      'ElastiCache (Valkey)',
      `${facts.redis.nodes} × ${facts.redis.nodeType}`,
      facts.redis.nodes * hours * node.usd,
      `${facts.redis.nodes} nodes × ${hours} h × $${node.usd}`,
    );
    add('ElastiCache (Valkey)', 'alternative: serverless', serverless, serverlessHow);
    const oneShard = 2 * hours * node.usd;
    add(
      'ElastiCache (Valkey)',
      `alternative: 1 shard + 1 replica of ${facts.redis.nodeType}`,
      oneShard,
      `2 nodes × ${hours} h × $${node.usd}`,
    );
  } else {
    add('ElastiCache (Valkey)', 'serverless', serverless, serverlessHow);
  }

  // Lambda, per function.
  let invocations = 0;
  let httpInvocations = 0;
  let traces = 0;
  for (const [name, load] of Object.entries(w.functions)) {
    const memoryMb = facts.functionMemoryMb[name];
    if (memoryMb === undefined)
      throw new Error(`the cost model prices ${name}, which the stacks do not deploy`);
    const gbSeconds = (load.billedMs / 1000) * (memoryMb / 1024);
    invocations += load.invocations;
    if (load.http) httpInvocations += load.invocations;
    traces += sampledTraces(load.invocations, v.xraySampledShare);
    add(
      'Lambda',
      name,
      gbSeconds * p('lambdaGbSecond') + (load.invocations / million) * p('lambdaRequestMillion'),
      `${m(load.invocations)} invocations × ${fmt(load.invocations > 0 ? load.billedMs / load.invocations : 0)} ms × ${memoryMb} MB = ${fmt(gbSeconds)} GB-s`,
    );
  }

  // API Gateway: every HTTP function's invocation is an HTTP API request.
  add(
    'API Gateway',
    'HTTP API requests',
    (httpInvocations / million) * p('httpApiMillion'),
    `${m(httpInvocations)} requests × $${p('httpApiMillion')}/M`,
  );
  const wsMessages = w.pings * 2 + w.pushes;
  const connectionMinutes = w.dashboardClientMinutes + w.nodeHours * 60;
  add(
    'API Gateway',
    'WebSocket messages and minutes',
    (wsMessages / million) * p('wsMessageMillion') +
      (connectionMinutes / million) * p('wsConnectionMinuteMillion'),
    `${m(wsMessages)} messages (pings, updates, pushes) + ${m(connectionMinutes)} connection minutes (dashboards, agents)`,
  );
  const outGb =
    (w.queries * v.queryResponseKb * v.answerGzipShare +
      w.thumbnails * v.thumbnailKb +
      (httpInvocations - w.queries - w.thumbnails) * 2) /
    million;
  add(
    'Data transfer',
    'responses to the internet',
    outGb * p('dataTransferOutGb'),
    `${fmt(outGb)} GB (queries × ${v.queryResponseKb} KB gzipped to ${Math.round(v.answerGzipShare * 100)} %, thumbnails × ${v.thumbnailKb} KB, others × 2 KB) × $${p('dataTransferOutGb')}`,
  );

  // Queues: sync passes, full syncs and LOW-lane jobs (send, receive, delete).
  const sqsRequests = w.passes * v.sqsRequestsPerPass + (w.fullSyncs + w.thumbnailMisses) * 3;
  add(
    'SQS',
    'FIFO requests',
    (sqsRequests / million) * p('sqsFifoMillion'),
    `${m(sqsRequests)} requests × $${p('sqsFifoMillion')}/M`,
  );

  // DynamoDB: node heartbeats and placement, dashboard connection lookups, WebSocket connections.
  const writes = w.heartbeats + w.placementRequests + w.wsConnects * 2;
  const reads = w.placementRequests * 4 + w.reports + w.dashboardReads + w.pings;
  add(
    'DynamoDB',
    'on-demand requests',
    (writes / million) * p('dynamoWriteMillion') +
      (reads / million) * p('dynamoReadMillion') +
      p('dynamoStorageGbMonth'),
    `${m(writes)} writes × $${p('dynamoWriteMillion')}/M + ${m(reads)} reads × $${p('dynamoReadMillion')}/M + ~1 GB`,
  );

  // Secrets Manager: the stacks' secrets plus the two signing keys functions create on first use.
  const secrets = facts.secrets + 2;
  const secretCalls = w.coldStarts + w.fullSyncs;
  add(
    'Secrets Manager',
    `${secrets} secrets`,
    secrets * p('secretMonth') + (secretCalls / 10_000) * p('secretsApiTenThousand'),
    `${secrets} × $${p('secretMonth')} + ${m(secretCalls)} reads (cold starts, logins) × $${p('secretsApiTenThousand')}/10k`,
  );
  const kmsRequests = w.coldStarts + w.provisioning;
  add(
    'KMS',
    `${facts.kmsKeys} keys`,
    facts.kmsKeys * p('kmsKeyMonth') + (kmsRequests / 10_000) * p('kmsRequestsTenThousand'),
    `${facts.kmsKeys} × $${p('kmsKeyMonth')} + ${m(kmsRequests)} requests × $${p('kmsRequestsTenThousand')}/10k`,
  );

  // CloudWatch.
  const ingestGb =
    (invocations * v.platformLogBytesPerInvocation +
      httpInvocations * v.appLogBytesPerRequest +
      w.passes * v.syncLogBytesPerPass +
      (httpInvocations + wsMessages) * v.accessLogBytesPerRequest) /
    1e9;
  const retentionMonths = facts.logRetentionDays / 30;
  add(
    'CloudWatch',
    'logs',
    ingestGb * p('logsIngestGb') + ingestGb * retentionMonths * v.logCompression * p('logsStorageGbMonth'),
    `${fmt(ingestGb)} GB ingested (Lambda platform and app lines, sync passes, API access logs) × $${p('logsIngestGb')} + ${fmt(retentionMonths)} months kept at ${v.logCompression} compressed`,
  );
  add(
    'CloudWatch',
    'metrics and alarms',
    v.customMetricSeries * p('metricMonth') + facts.alarmMetrics * p('alarmMetricMonth'),
    `${v.customMetricSeries} metric series × $${p('metricMonth')} + ${facts.alarms} alarms on ${facts.alarmMetrics} metrics (from the synth) × $${p('alarmMetricMonth')}`,
  );
  add(
    'X-Ray',
    'traces (active tracing on every function)',
    (traces / million) * p('xrayTraceMillion'),
    `${m(traces)} traces sampled of ${m(invocations)} invocations × $${p('xrayTraceMillion')}/M`,
  );

  // NAT: the gateways and their addresses, and the bytes to vCenters and to AWS APIs without an endpoint.
  const natGb =
    (w.passes * v.vsphereKbPerPass +
      w.fullSyncs * vmsPerVcenter * v.fullSyncKbPerVm +
      w.thumbnailMisses * v.thumbnailKb +
      (sqsRequests + secretCalls + kmsRequests) * v.awsCallKb * v.natShareOfAwsCalls) /
    million;
  add(
    'VPC',
    `${facts.natGateways} NAT gateways`,
    facts.natGateways * hours * p('natHour') +
      facts.publicIpv4 * hours * p('publicIpv4Hour') +
      natGb * p('natGb'),
    `${facts.natGateways} × ${hours} h × $${p('natHour')} + ${facts.publicIpv4} IPv4 × $${p('publicIpv4Hour')}/h + ${fmt(natGb)} GB × $${p('natGb')}`,
  );
  if (facts.interfaceEndpoints > 0) {
    add(
      'VPC',
      `${facts.interfaceEndpoints} interface endpoints`,
      facts.interfaceEndpoints * facts.availabilityZones * hours * p('interfaceEndpointHour'),
      `${facts.interfaceEndpoints} × ${facts.availabilityZones} AZs × ${hours} h × $${p('interfaceEndpointHour')}`,
    );
  }

  // S3 blob tier: last-known-good thumbnails and provisioning answers.
  const puts = w.thumbnailMisses + w.provisioning * 4;
  const blobGb = (scale.vms * 0.1 * v.thumbnailKb) / million;
  add(
    'S3',
    'blob tier',
    (puts / 1000) * p('s3PutThousand') +
      (w.thumbnailMisses / 1000) * p('s3GetThousand') +
      blobGb * p('s3StorageGbMonth'),
    `${m(puts)} PUTs × $${p('s3PutThousand')}/1k + ${fmt(blobGb)} GB (a tenth of the VMs' screens)`,
  );

  // The node fleet: the capacity handed to projects (seed 002), not part of seed 001's system.
  const instance = hourlyPrice(instanceHour, facts.nodeInstanceType);
  const over = scale.nodes > facts.nodeMax ? ` (above the group's maxNodes ${facts.nodeMax})` : '';
  add(
    'EC2 Auto Scaling group',
    `${facts.nodeInstanceType} nodes${over}`,
    w.nodeHours * instance.usd + (w.nodeHours / hours) * facts.nodeVolumeGb * p('ebsGp3GbMonth'),
    `${fmt(w.nodeHours)} node-hours (${scale.nodes} in the busy hours, ${facts.nodeMin} otherwise) × $${instance.usd} + ${facts.nodeVolumeGb} GB gp3 each`,
    false,
  );

  const counted = lines.filter((l) => !l.item.startsWith('alternative:'));
  const alternatives = lines.filter((l) => l.item.startsWith('alternative:'));
  const controlPlaneUsd = usd(counted.filter((l) => l.inGoal).reduce((s, l) => s + l.usd, 0));
  const nodesUsd = usd(counted.filter((l) => !l.inGoal).reduce((s, l) => s + l.usd, 0));
  return {
    scale,
    lines: counted,
    controlPlaneUsd,
    nodesUsd,
    totalUsd: usd(controlPlaneUsd + nodesUsd),
    alternatives,
  };
}
