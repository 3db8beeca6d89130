// Test and bench harness — what a deployed function sees at start-up, for importing a bundle as a cold start
// would: handlers read configuration at import or first use, so the import must not fail for want of a
// variable. Values are inert (nothing is contacted during an import). Used by the layer test and bench:bundles.
export const lambdaLikeEnv: Readonly<Record<string, string>> = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'vfleet-import-probe',
  POWERTOOLS_SERVICE_NAME: 'vfleet',
  POWERTOOLS_METRICS_NAMESPACE: 'vfleet',
  LOG_LEVEL: 'INFO',
  AUTH_ISSUER: 'https://auth.example.com/',
  AUTH_AUDIENCE: 'vfleet-api',
  AUTH_JWKS_URL: 'https://auth.example.com/.well-known/jwks.json',
  REDIS_URL: 'rediss://127.0.0.1:6379',
  REDIS_CLUSTER: 'true',
  PG_WRITER_HOST: '127.0.0.1',
  PG_READER_HOST: '127.0.0.1',
  PG_PORT: '5432',
  PG_DATABASE: 'vfleet',
  PG_USER: 'vfleet',
  PG_IAM_AUTH: 'true',
  PG_SSL: 'true',
  WS_MANAGEMENT_ENDPOINT: 'https://example.execute-api.eu-west-1.amazonaws.com/dev',
  VCENTER_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:import-probe',
  BLOB_BUCKET: 'import-probe',
};
