// Test harness — what the integration and e2e globalSetup (test/setup/services.ts) hands to tests through
// vitest's provide/inject, with the type augmentation that makes `inject('services')` typed.

/** Connection details of the services started for one vitest project; shaped to fit the local runtime. */
export interface TestServices {
  /** `redis://127.0.0.1:<port>` */
  readonly redisUrl: string;
  /** DynamoDB Local's endpoint, `http://127.0.0.1:<port>`. */
  readonly dynamodbUrl: string;
  readonly dynamodb: {
    readonly region: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  };
  /** Database `vfleet` with pg_trgm enabled; the user is a superuser. */
  readonly postgres: {
    readonly url: string;
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly password: string;
  };
  /** Directory holding each service's log file for this run. */
  readonly logDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: TestServices;
  }
}
