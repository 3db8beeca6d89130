// Benchmarks — `npm run inventory:generate -- --vcenters 1000 --vms-per-vcenter 1000`: migrates the target
// database and writes a synthetic inventory into it (see synthetic.ts), with a progress bar on stderr.
// Connection: --database-url, else DATABASE_URL, else the PG_* variables the functions use; or
// --start-postgres to run a project-started PostgreSQL for the duration (printed, then stopped).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPostgres } from '../../infra/local/services/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { generateInventory } from './synthetic.ts';

/** A one-line progress bar on stderr (redrawn in place on a terminal, every 10 % otherwise). */
export function progressBar(label: string): (done: number, total: number) => void {
  const started = performance.now();
  let lastDecile = -1;
  return (done, total) => {
    const fraction = total === 0 ? 1 : done / total;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const width = 30;
    const filled = Math.round(fraction * width);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${seconds} s`;
    if (process.stderr.isTTY) {
      process.stderr.write(`\r${line}${done >= total ? '\n' : ''}`);
    } else if (Math.floor(fraction * 10) !== lastDecile) {
      lastDecile = Math.floor(fraction * 10);
      process.stderr.write(`${line}\n`);
    }
  };
}

function connectionFromEnv(): pg.PoolConfig {
  if (process.env.DATABASE_URL) return { connectionString: process.env.DATABASE_URL };
  if (!process.env.PG_WRITER_HOST) {
    throw new Error(
      'No database: pass --database-url, set DATABASE_URL or PG_WRITER_HOST…, or use --start-postgres',
    );
  }
  return {
    host: process.env.PG_WRITER_HOST,
    port: Number(process.env.PG_PORT ?? 5432),
    user: process.env.PG_USER,
    password: process.env.PG_PASSWORD,
    database: process.env.PG_DATABASE,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      vcenters: { type: 'string', default: '1000' },
      'vms-per-vcenter': { type: 'string', default: '1000' },
      'hosts-per-vcenter': { type: 'string', default: '100' },
      'datastores-per-vcenter': { type: 'string', default: '20' },
      'clusters-per-vcenter': { type: 'string', default: '10' },
      'vm-partitions': { type: 'string', default: '16' },
      seed: { type: 'string', default: '42' },
      'database-url': { type: 'string' },
      'start-postgres': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run inventory:generate -- [--vcenters N] [--vms-per-vcenter M] [--hosts-per-vcenter H]\n' +
        '  [--datastores-per-vcenter D] [--clusters-per-vcenter C] [--vm-partitions P] [--seed S]\n' +
        '  [--database-url postgres://…] [--start-postgres]',
    );
    return;
  }
  const int = (name: keyof typeof values) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number`);
    return value;
  };

  let stop: (() => Promise<void>) | undefined;
  let config: pg.PoolConfig;
  if (values['start-postgres']) {
    const service = await startPostgres({ dir: await mkdtemp(join(tmpdir(), 'vfleet-generate-')) });
    stop = service.stop;
    config = { connectionString: service.url };
    console.error(`started PostgreSQL on ${service.host}:${service.port} (stopped when this command ends)`);
  } else {
    config = values['database-url'] ? { connectionString: values['database-url'] } : connectionFromEnv();
  }
  const pool = new pg.Pool({ ...config, max: 2 });
  try {
    const migrated = await migrate(pool, { vmPartitions: int('vm-partitions') });
    console.error(
      `schema ready (${migrated.applied.length} migrations applied, ${migrated.vmPartitions} VM partitions)`,
    );
    const result = await generateInventory(pool, {
      vcenters: int('vcenters'),
      vmsPerVcenter: int('vms-per-vcenter'),
      hostsPerVcenter: int('hosts-per-vcenter'),
      datastoresPerVcenter: int('datastores-per-vcenter'),
      clustersPerVcenter: int('clusters-per-vcenter'),
      seed: int('seed'),
      onProgress: progressBar('VMs'),
    });
    console.log(JSON.stringify(result));
  } finally {
    await pool.end();
    await stop?.();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
