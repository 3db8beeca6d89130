// Inventory — use case: bring a database's inventory schema up to date (node-pg-migrate over the SQL files
// in ./migrations). `npm run dev`, the tests, the benchmarks and the deploy-time migrate function all call
// this one function, so every environment runs the same migrations the same way.
import { join } from 'node:path';
import { runner } from 'node-pg-migrate';
import pg from 'pg';

/** Options for {@link migrate}. */
export interface MigrateOptions {
  /**
   * Hash partitions of the VM table. Only used when the table is first created; later runs keep the count
   * the table has.
   * @default 16
   */
  readonly vmPartitions?: number;
  /**
   * Directory of the SQL migration files. A Lambda bundle must ship them next to its code.
   * @default `INVENTORY_MIGRATIONS_DIR`, else ./migrations beside this module
   */
  readonly dir?: string;
  /** Progress lines (one per applied migration); silent by default. */
  readonly log?: (message: string) => void;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Names of the migrations applied by this run (empty when the schema was already current). */
  readonly applied: readonly string[];
  /** Partitions the VM table has now. */
  readonly vmPartitions: number;
}

/** Where the migration files live: beside this module in the repository, or as the environment says. */
export function migrationsDir(): string {
  return process.env.INVENTORY_MIGRATIONS_DIR ?? join(import.meta.dirname, 'migrations');
}

// Only the ledger table's name; it lives in the connection's current schema, next to the inventory.
const migrationsTable = 'inventory_migrations';

/**
 * Applies the pending inventory migrations in one transaction, under node-pg-migrate's advisory lock (a
 * concurrent run waits, then finds nothing to do). Safe to call on every start.
 *
 * @param connection - a pool, a connected client (left open), or a client config (opened and closed here).
 *   Tables go to the connection's current schema, so a `search_path` option isolates a test.
 */
export async function migrate(
  connection: pg.Pool | pg.ClientBase | pg.ClientConfig,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const vmPartitions = options.vmPartitions ?? 16;
  if (!Number.isInteger(vmPartitions) || vmPartitions < 1 || vmPartitions > 1024) {
    throw new RangeError(`vmPartitions must be an integer between 1 and 1024, got ${vmPartitions}`);
  }
  let client: pg.ClientBase;
  let release: () => Promise<void>;
  if (connection instanceof pg.Pool) {
    const pooled = await connection.connect();
    client = pooled;
    // The session setting below must not leak to the pool's next user.
    release = async () => pooled.release(true);
  } else if ('query' in connection) {
    client = connection as pg.ClientBase;
    release = async () => {
      await client.query('RESET vfleet.vm_partitions');
    };
  } else {
    const own = new pg.Client(connection as pg.ClientConfig);
    await own.connect();
    client = own;
    release = () => own.end();
  }
  try {
    // The SQL migration creates this many partitions (see 001_inventory.sql).
    await client.query("SELECT set_config('vfleet.vm_partitions', $1, false)", [String(vmPartitions)]);
    const { rows } = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    const schema = rows[0]?.schema;
    if (!schema) throw new Error('The connection has no current schema: check its search_path');
    const log = options.log ?? (() => {});
    const ran = await runner({
      dbClient: client,
      dir: options.dir ?? migrationsDir(),
      direction: 'up',
      migrationsTable,
      migrationsSchema: schema,
      checkOrder: true,
      singleTransaction: true,
      advisoryLockMode: 'wait',
      logger: { debug: () => {}, info: log, warn: log, error: log },
    });
    const partitions = await client.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM pg_inherits
        WHERE inhparent = to_regclass(quote_ident(current_schema()) || '.vms')`,
    );
    return { applied: ran.map((migration) => migration.name), vmPartitions: partitions.rows[0]?.count ?? 0 };
  } finally {
    await release();
  }
}
