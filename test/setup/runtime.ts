// Test harness — the whole local runtime on a migrated database of the test's own, with a dev issuer in a
// temporary directory, for tests that call the HTTP API as a client would (the runtime's own defaults give it
// prefixed Redis keys and a file secret store).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { DevIssuer } from '../../infra/local/dev-issuer.ts';
import { type LocalRuntime, type LocalRuntimeOptions, startLocalRuntime } from '../../infra/local/runtime.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { freshDatabase, type TestDatabase } from './database.ts';
import { loadTestIssuer } from './issuer.ts';
import { plantSecret, plantSecretStore } from './leaks.ts';

/** A running runtime and what a test reads of it; `stop()` ends it and drops its database. */
export interface TestRuntime {
  readonly runtime: LocalRuntime;
  readonly issuer: DevIssuer;
  /** Where the dev issuer keeps its key (`dev-issuer.json`), for tests that sign tokens of their own. */
  readonly issuerDir: string;
  readonly db: TestDatabase;
  stop(): Promise<void>;
}

/** What a test may change of the runtime: more environment, other schedule periods. */
export type TestRuntimeOptions = Pick<LocalRuntimeOptions, 'env' | 'scheduleOverrides'>;

export async function startTestRuntime(
  label: string,
  options: TestRuntimeOptions = {},
): Promise<TestRuntime> {
  const db = await freshDatabase(label);
  const pool = new pg.Pool({ ...db.postgres, max: 2 });
  await migrate(pool, { vmPartitions: 2 });
  await pool.end();
  const issuerDir = await mkdtemp(join(tmpdir(), `vfleet-${label}-`));
  const issuer = await loadTestIssuer(issuerDir);
  const runtime = await startLocalRuntime({
    root: resolve(import.meta.dirname, '../..'),
    issuer,
    services: db.services,
    tablePrefix: db.name,
    ...options,
  });
  return {
    runtime,
    issuer,
    issuerDir,
    db,
    async stop() {
      // What the functions stored (vCenter passwords, signing keys) must not have reached any output either.
      for (const env of Object.values(runtime.functionEnv))
        if (env.PG_PASSWORD) plantSecret('pg-role-password', env.PG_PASSWORD);
      const store = runtime.env.SECRET_STORE;
      if (store?.startsWith('file:')) await plantSecretStore(store.slice('file:'.length));
      await runtime.stop();
      await db.dispose();
      await rm(issuerDir, { recursive: true, force: true });
    },
  };
}
