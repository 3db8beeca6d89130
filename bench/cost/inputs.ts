// Cost model — the workload the model prices: the scale given on the command line, and every other input
// with the bench figure (docs/benchmarks.md), code fact or seed it comes from. An input marked "assumption"
// is a guess no bench measured; each is a flag of `npm run cost` (`--<name> <value>`) so it can be varied.

export interface Scale {
  readonly vcenters: number;
  readonly vms: number;
  readonly users: number;
  /** Compute nodes running at the busy hours' peak (the Auto Scaling group's size then). */
  readonly nodes: number;
}

export interface Input {
  readonly value: number;
  readonly source: string;
}

/** The seed 001 scale the goal is judged at. */
export const seedScale: Scale = { vcenters: 1000, vms: 1_000_000, users: 2000, nodes: 100 };

const bench = (section: string) => `docs/benchmarks.md, ${section}`;

/** Every input other than the scale, with its source. */
export const inputs = {
  // Time.
  busyHoursPerMonth: {
    value: 220,
    source: 'assumption: 10 busy hours × 22 working days; seed 001 gives throughput, not a daily profile',
  },
  offHoursLoad: {
    value: 0.05,
    source: 'assumption: user traffic outside the busy hours, as a share of the busy-hour rate',
  },

  // Inventory sync (runs all month, whatever the users do).
  pollIntervalSeconds: {
    value: 60,
    source: `the registry's default interval since 0e722ca (${bench('"Incremental lag"')})`,
  },
  syncPassBilledMs: {
    value: 128,
    source: `${bench('"Cost of polling 1,000 vCenters every 60 s"')}: middle case, vfleet's own p95 13 ms × 3 for Lambda's CPU share + 2.5 vSphere round trips × 35 ms (assumed)`,
  },
  fullSyncsPerVcenterDay: {
    value: 1,
    source:
      'assumption: one full sync per vCenter a day (lost watches, expired sessions); the alarm pages at 10 lost watches an hour fleet-wide',
  },
  fullSyncBilledMsPerVm: {
    value: 0.27,
    source: `${bench('"Full sync and bulk load"')}: 50,017 objects in 7.75 s on a whole core = 0.155 ms per VM, × 1.7 for the 0.58 vCPU of 1,024 MB`,
  },
  fullSyncFixedMs: { value: 2000, source: 'assumption: login, view and watch set-up of a full sync' },
  sqsRequestsPerPass: {
    value: 2.1,
    source: `${bench('"Cost of polling 1,000 vCenters every 60 s"')}: receive and delete per pass, sends batched by 10`,
  },
  syncLogBytesPerPass: {
    value: 1160,
    source: `${bench('"Cost of polling 1,000 vCenters every 60 s"')}: the pass log and EMF line, ~50 GB for 43.2 M passes`,
  },
  auroraIosPerPass: {
    value: 3,
    source: `assumption; ${bench('"Incremental lag"')}: an empty pass is 3 statements, one of them a write`,
  },
  redisCommandsPerPass: {
    value: 2,
    source: `${bench('"Incremental lag"')}: 2 EVALSHA generation bumps per pass with changes`,
  },
  vsphereKbPerPass: {
    value: 10,
    source:
      'assumption: 2-3 SOAP round trips (WaitForUpdatesEx, a property read) of a few KB each, through NAT',
  },
  fullSyncKbPerVm: {
    value: 2,
    source: 'assumption: the 14 VM properties of a full sync in SOAP XML, per VM, through NAT',
  },
  scheduleBilledMs: {
    value: 300,
    source: `${bench('"Cost: streaming vs polling"')}: the dispatcher takes ≤ 1 s a tick; the janitors are alike (assumption)`,
  },

  // Users (busy-hour rates).
  queriesPerUserMinute: {
    value: 5,
    source: 'seed 001: 10,000+ queries a minute from 2,000 concurrent users, taken for every busy hour',
  },
  queryCachedShare: {
    value: 0.9,
    source: `${bench('"Inventory queries"')}: 98-99 % of the distinct-vCenter load came from cache; 0.9 leaves room for writes' invalidations`,
  },
  queryCachedBilledMs: {
    value: 3,
    source: `${bench('"Inventory queries"')}: cached p50 0.4-1 ms over HTTP on a whole core, × 3 for 512 MB (0.29 vCPU)`,
  },
  queryUncachedBilledMs: {
    value: 20,
    source: `${bench('"Inventory queries"')}: uncached simple filter p50 3-4 ms, name search 15 ms, × 3 for 512 MB; a mix`,
  },
  queryResponseKb: {
    value: 20,
    source: `assumption: a VM list page is ~60-70 KB (${bench('"Inventory queries"')}), one VM or a summary 1-5 KB; uncompressed`,
  },
  answerGzipShare: {
    value: 0.18,
    source: `${bench('"Inventory queries"')}, wire sizes: list pages gzip to 15-18 % of their bytes, hosts and the summary to 12-16 %; answers under 1,400 bytes are sent as they are (shared/http)`,
  },
  thumbnailsPerUserHour: {
    value: 30,
    source: 'assumption: thumbnails a user loads in a busy hour (the stampede bench loads 70 per page)',
  },
  thumbnailMissShare: {
    value: 0.3,
    source: `assumption: share of thumbnails older than the large preset's 300 s TTL; each miss is one LOW-lane job (${bench('"Stampede"')}: one screen call per key)`,
  },
  thumbnailWorkerBilledMs: {
    value: 500,
    source: `${bench('"Priority"')}: 400 ms per screen at vcsim, plus the limiter and the blob write`,
  },
  thumbnailKb: { value: 30, source: 'assumption: a VM screenshot as PNG, through NAT and to the client' },
  opsApiBilledMs: { value: 10, source: 'assumption: a cache hit or an enqueue in opsApi (512 MB)' },
  smallHandlerBilledMs: {
    value: 10,
    source: 'assumption: heartbeats, dashboard reads, WebSocket frames: one or two DynamoDB or Redis calls',
  },
  placementBilledMs: {
    value: 100,
    source: `${bench('"Placement race"')}: 23 ms p50 one at a time locally, plus the forward to the node`,
  },
  consolesPerUserDay: { value: 2, source: 'assumption: console opens per user per working day' },
  consoleBilledMs: {
    value: 300,
    source: `${bench('"Priority"')}: console latency p50 52-96 ms with 20 ms injected AcquireTicket delay; a real vCenter ~100-200 ms`,
  },
  provisioningPerUserDay: {
    value: 0.5,
    source: 'assumption: provisioning forms a user opens per working day',
  },
  provisioningBilledMs: {
    value: 1000,
    source: `${bench('"Provisioning resources"')}: first load p50 0.8 s, p95 1.0 s`,
  },
  dashboardClients: {
    value: 50,
    source: 'assumption: dashboard pages open in the busy hours (operators, not all 2,000 users)',
  },
  dashboardPingSeconds: { value: 60, source: "web/src/socket.ts: the dashboard's ping interval (60 s)" },
  agentPingSeconds: {
    value: 20,
    source:
      "agent/control.ts: the control connection's ping interval (20 s: three within the dashboard's 60 s expiry)",
  },
  dashboardApiPerClientMinute: {
    value: 1,
    source: 'assumption: dashboard reads (history, logs, stats) per open page a minute',
  },

  // Compute nodes (the placement capability's fleet).
  agentHeartbeatSeconds: { value: 10, source: 'agent/main.ts: AGENT_HEARTBEAT_MS default 10,000' },
  agentReportSeconds: {
    value: 60,
    source:
      "seed 004: the metrics reporter's adaptive interval is 30-300 s; the agent does not ship metrics yet",
  },
  placementRequestsPerNodeHour: {
    value: 60,
    source: `assumption; ${bench('"Placement race"')}: a request costs 3-5 DynamoDB calls`,
  },
  nodeQuietShare: {
    value: 0,
    source:
      'assumption: nodes kept above minNodes outside the busy hours, as a share of the peak (0: only minNodes)',
  },

  // Platform.
  coldStartsPerFunctionHour: {
    value: 5,
    source:
      'assumption: new containers per function an hour (each reads its secrets once and unwraps its key)',
  },
  platformLogBytesPerInvocation: {
    value: 450,
    source: 'Lambda START, END and REPORT lines (with the X-Ray segment id), ~450 bytes',
  },
  appLogBytesPerRequest: {
    value: 600,
    source: 'assumption: one INFO line per HTTP invocation from the Powertools logger (shared/observability)',
  },
  accessLogBytesPerRequest: {
    value: 350,
    source: "infra/stacks/stateless-stack.ts: API Gateway access logs in CDK's jsonWithStandardFields format",
  },
  logCompression: {
    value: 0.15,
    source: 'assumption: CloudWatch stores logs compressed; JSON log lines compress ~6-7x',
  },
  customMetricSeries: {
    value: 100,
    source:
      'the code: ~20 metric names (shared/*/metrics.ts, the sync worker), fanned out by Lane (4) and Kind × Served/Source (provisioning); rounded up',
  },
  xraySampledShare: {
    value: 0.05,
    source: "X-Ray's default sampling rule: the first request each second, then 5 %",
  },
  redisDataGb: {
    value: 2,
    source:
      'assumption: the query cache (bodies ≤ 70 KB, 60 s TTL in the large preset), thumbnails (300 s), limiter and dashboard state',
  },
  auroraBusyAcu: {
    value: 4,
    source:
      "assumption: the 1M-VM tables and indexes (~4 GB) fit in 4 ACU (8 GiB); the sync's ~170 statements/s and the uncached reads need < 1 vCPU",
  },
  auroraIosPerUncachedQuery: {
    value: 2,
    source: 'assumption: the hot pages are in the buffer cache; a miss reads a few index and heap pages',
  },
  auroraKbPerVm: {
    value: 4,
    source: 'assumption: a VM row with its indexes plus its share of hosts and datastores',
  },
  natShareOfAwsCalls: {
    value: 1,
    source:
      'infra/stacks/stateful-stack.ts: only S3 and DynamoDB have gateway endpoints; SQS, Secrets Manager and KMS calls go through NAT',
  },
  awsCallKb: { value: 2, source: 'assumption: an SQS, Secrets Manager or KMS call over HTTPS, both ways' },
} as const satisfies Record<string, Input>;

export type InputName = keyof typeof inputs;
export type InputValues = { readonly [K in InputName]: number };

/** The inputs' values, with any overrides (`--name value`) applied. */
export function inputValues(overrides: Partial<Record<string, number>> = {}): InputValues {
  const values = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.value])) as Record<
    string,
    number
  >;
  for (const [name, value] of Object.entries(overrides)) {
    if (!(name in inputs)) throw new Error(`unknown cost input --${name}; see bench/cost/inputs.ts`);
    if (value === undefined || !Number.isFinite(value) || value < 0) {
      throw new Error(`cost input --${name} must be a number >= 0`);
    }
    values[name] = value;
  }
  return values as InputValues;
}
