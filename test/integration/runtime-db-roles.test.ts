// Integration tests — the local runtime connects each function to PostgreSQL as its capability role (topology
// `dbRole`, migration 006), as the RDS Proxy logins do in AWS: the inventory query API's connections are the
// query role's, a grant taken away from that role fails the request that needed it, a function without the
// `postgres` need has no login at all, and the migrations keep the owner's.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNames } from '#shared/contracts';
import { type FunctionSpec, functions, tables } from '../../infra/topology.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';

let t: TestRuntime;
let owner: pg.Pool;
let viewer: string;

async function get(path: string) {
  const res = await fetch(`${t.runtime.httpUrl}${path}`, { headers: { authorization: `Bearer ${viewer}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The users connected to this test's database, other than the owner's own pool. */
async function connectedUsers(): Promise<string[]> {
  const { rows } = await owner.query<{ usename: string }>(
    'SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND usename <> current_user',
  );
  return rows.map((row) => row.usename).sort();
}

beforeAll(async () => {
  t = await startTestRuntime('rtroles');
  owner = new pg.Pool({ ...t.db.postgres, max: 1 });
  viewer = await t.issuer.mint(['viewer']);
  await owner.query(
    `INSERT INTO vcenters (id, name, url, username, secret_ref) VALUES ('vc-roles', 'vc-roles', 'https://vc-roles.invalid/sdk', 'u', 'none')`,
  );
  await owner.query(
    `INSERT INTO vms (vcenter_id, moid, name, power_state) VALUES ('vc-roles', 'vm-1', 'one', 'poweredOn')`,
  );
}, 180_000);

afterAll(async () => {
  await owner?.end();
  await t?.stop();
});

describe('local runtime database roles', () => {
  it("gives each function its capability role's login, the migrations the owner's, others none", () => {
    const env = t.runtime.functionEnv;
    expect(env.inventoryQuery?.PG_USER).toBe('vfleet_query');
    expect(env.syncWorker?.PG_USER).toBe('vfleet_inventory');
    expect(env.opsConsole?.PG_USER ?? env.opsApi?.PG_USER).toBe('vfleet_ops');
    expect(env.inventoryMigrate).toMatchObject({});
    expect(env.inventoryMigrate?.PG_USER).toBeUndefined();
    expect(env.me).toMatchObject({ PG_USER: '', PG_PASSWORD: '' });
    for (const [name, spec] of Object.entries(functions) as [string, FunctionSpec][]) {
      if (spec.dbRole && spec.dbRole !== 'owner') expect(env[name]?.PG_USER, name).toBe(spec.dbRole);
      // Never the owner's password: each role has its own.
      expect(env[name]?.PG_PASSWORD, name).not.toBe(t.db.postgres.password);
      // Only the tables it declares, as the stack sets them in AWS: the others read as unset.
      for (const table of Object.keys(tables))
        expect(env[name]?.[envNames.tableName(table)], `${name}: ${table}`).toBe(
          table in (spec.tables ?? {}) ? undefined : '',
        );
    }
  });

  it('serves the VM list over connections of the query role, not the owner', async () => {
    expect(await connectedUsers()).toEqual([]);

    const answer = await get('/api/v1/vms');

    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect((answer.body.items as unknown[]).length).toBe(1);
    expect(await connectedUsers()).toEqual(['vfleet_query']);
  });

  it("fails a request whose query the function's role may not run (the grant is what lets it through)", async () => {
    // Another filter than above, so the answer is not in the query cache and reaches PostgreSQL.
    await owner.query('REVOKE SELECT ON vms FROM vfleet_query');
    try {
      const denied = await get('/api/v1/vms?power_state=poweredOn');
      expect(denied.status).toBe(500);
      // The cause stays in the logs; the caller gets the generic answer.
      expect(JSON.stringify(denied.body)).not.toMatch(/permission|vfleet_query/);
    } finally {
      await owner.query('GRANT SELECT ON vms TO vfleet_query');
    }
    const allowed = await get('/api/v1/vms?power_state=poweredOn');
    expect(allowed.status).toBe(200);
  });
});
