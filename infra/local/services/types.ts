// Local runtime — secondary adapters: the contract every project-started service (Redis, PostgreSQL,
// DynamoDB Local, vcsim) fulfils. Each runs on a free loopback port and is stopped by `stop()` or on exit.

export interface RunningService {
  readonly name: string;
  readonly port: number;
  /** Connection URL: redis://…, postgres://…, http://… or https://…/sdk. */
  readonly url: string;
  /** Stops the process and removes its temporary state; safe to call twice. */
  stop(): Promise<void>;
}
