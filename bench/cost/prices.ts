// Cost model — the one list of AWS prices `npm run cost` uses (bench/cost/model.ts reads nothing else).
//
// Region: us-east-1, on-demand list prices, USD, free tiers ignored. us-east-1 because seed 001 priced its
// $6,000/month there; infra/config.ts deploys to eu-west-1, whose list prices are a few per cent higher for most
// of these (NAT, EC2, ElastiCache, Aurora, CloudWatch Logs), so read the figure as a floor for eu-west-1.
//
// How they were obtained (2026-12-03): `checked` prices were read from a public transcription of the AWS Price
// List API for us-east-1 (queried 2025-10-28, effective 2025-10-01; Aurora PostgreSQL Serverless v2, Lambda,
// API Gateway, NAT/VPC) or from several independent pricing write-ups that agree (DynamoDB after the
// November 2024 on-demand cut, CloudWatch); no AWS page was fetched from this machine. `checked: false` prices
// are from memory of the pricing pages and should be checked before the figure is relied on.

/** One list price: `usd` per `unit`. */
export interface Price {
  readonly usd: number;
  readonly unit: string;
  /** Read from a source (see the header) rather than from memory. */
  readonly checked: boolean;
  readonly note?: string;
}

export const priceList = {
  region: 'us-east-1',
  /** When the list was compiled; the checked prices' own date is in the header. */
  date: '2026-12-03',
  hoursPerMonth: 730,
} as const;

export const prices = {
  // Aurora PostgreSQL Serverless v2, Aurora Standard storage configuration.
  auroraAcuHour: { usd: 0.12, unit: 'ACU-hour', checked: true },
  auroraStorageGbMonth: { usd: 0.1, unit: 'GB-month', checked: true },
  auroraIoMillion: { usd: 0.2, unit: 'million I/O requests', checked: true },
  // RDS Proxy in front of Aurora Serverless v2: billed on the instances' ACUs, with a minimum of 8 ACUs.
  rdsProxyAcuHour: { usd: 0.015, unit: 'ACU-hour (min 8 ACUs)', checked: false },
  rdsProxyMinAcu: { usd: 8, unit: 'ACUs billed at least', checked: false },
  // ElastiCache for Valkey (the engine infra/stacks/stateful-stack.ts deploys): nodes ~20 % below Redis OSS.
  elasticacheServerlessGbHour: { usd: 0.084, unit: 'GB-hour of data (Valkey, min 0.1 GB)', checked: true },
  elasticacheServerlessEcpuMillion: { usd: 0.0023, unit: 'million ECPUs (Valkey)', checked: false },
  // Lambda arm64, first pricing tier.
  lambdaGbSecond: { usd: 0.0000133334, unit: 'GB-second (arm64)', checked: true },
  lambdaRequestMillion: { usd: 0.2, unit: 'million requests', checked: true },
  // API Gateway HTTP API (first 300 M a month) and WebSocket API (first 1 B messages).
  httpApiMillion: { usd: 1.0, unit: 'million requests', checked: true },
  wsMessageMillion: { usd: 1.0, unit: 'million messages (32 KB each)', checked: true },
  wsConnectionMinuteMillion: { usd: 0.25, unit: 'million connection minutes', checked: true },
  dataTransferOutGb: { usd: 0.09, unit: 'GB to the internet (first 10 TB)', checked: true },
  sqsFifoMillion: { usd: 0.5, unit: 'million FIFO requests (64 KB each)', checked: false },
  dynamoWriteMillion: { usd: 0.625, unit: 'million on-demand write request units', checked: true },
  dynamoReadMillion: { usd: 0.125, unit: 'million on-demand read request units', checked: true },
  dynamoStorageGbMonth: { usd: 0.25, unit: 'GB-month', checked: false },
  secretMonth: { usd: 0.4, unit: 'secret-month', checked: false },
  secretsApiTenThousand: { usd: 0.05, unit: '10,000 API calls', checked: false },
  kmsKeyMonth: { usd: 1.0, unit: 'customer managed key-month', checked: false },
  kmsRequestsTenThousand: { usd: 0.03, unit: '10,000 requests', checked: false },
  logsIngestGb: { usd: 0.5, unit: 'GB ingested (Standard class)', checked: true },
  logsStorageGbMonth: { usd: 0.03, unit: 'GB-month stored (compressed)', checked: true },
  metricMonth: { usd: 0.3, unit: 'custom metric-month (first 10,000)', checked: true },
  alarmMetricMonth: { usd: 0.1, unit: 'standard-resolution alarm metric-month', checked: true },
  xrayTraceMillion: { usd: 5.0, unit: 'million traces recorded', checked: false },
  natHour: { usd: 0.045, unit: 'NAT gateway-hour', checked: true },
  natGb: { usd: 0.045, unit: 'GB processed by NAT', checked: true },
  publicIpv4Hour: { usd: 0.005, unit: 'public IPv4 address-hour', checked: true },
  interfaceEndpointHour: { usd: 0.01, unit: 'interface endpoint-hour per AZ', checked: true },
  ebsGp3GbMonth: { usd: 0.08, unit: 'GB-month (gp3)', checked: false },
  s3PutThousand: { usd: 0.005, unit: '1,000 PUT requests', checked: false },
  s3GetThousand: { usd: 0.0004, unit: '1,000 GET requests', checked: false },
  s3StorageGbMonth: { usd: 0.023, unit: 'GB-month (Standard)', checked: false },
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof prices;

/** Hourly on-demand prices of the instance and node types a config may name; a missing one fails the run. */
export const instanceHour: Readonly<Record<string, Price>> = {
  't3.large': { usd: 0.0832, unit: 'instance-hour (Linux)', checked: false },
  't3.xlarge': { usd: 0.1664, unit: 'instance-hour (Linux)', checked: false },
  'm7g.xlarge': { usd: 0.1632, unit: 'instance-hour (Linux)', checked: false },
};

export const cacheNodeHour: Readonly<Record<string, Price>> = {
  'cache.t4g.medium': { usd: 0.052, unit: 'node-hour (Valkey)', checked: false },
  'cache.m7g.large': { usd: 0.1264, unit: 'node-hour (Valkey)', checked: false },
  'cache.r7g.large': { usd: 0.1752, unit: 'node-hour (Valkey)', checked: false },
  'cache.r7g.xlarge': { usd: 0.3504, unit: 'node-hour (Valkey)', checked: false },
};

/** The price of `type` from `table`, or a throw that names the file to add it to. */
export function hourlyPrice(table: Readonly<Record<string, Price>>, type: string): Price {
  const price = table[type];
  if (!price) throw new Error(`bench/cost/prices.ts has no hourly price for ${type}; add it there`);
  return price;
}
