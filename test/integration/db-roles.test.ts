// Integration tests — the capability database roles of migration 006 against a real PostgreSQL: the
// migrations create them, each may do what its functions need, and none may write another capability's data
// (the ops role cannot UPDATE inventory rows or a vCenter's saved session; the query role writes nothing).

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRoleLogins } from '../../shared/inventory/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

describe('capability database roles', () => {
  let ns: TestNamespace;
  let pool: pg.Pool;

  beforeAll(async () => {
    ns = await freshNamespace('roles');
    pool = new pg.Pool({ ...ns.pg, max: 2 });
    await migrate(pool, { vmPartitions: 2 });
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref) VALUES ('vc-r', 'vc-r', 'https://vc-r.invalid/sdk', 'u', 'none')`,
    );
    await pool.query(
      `INSERT INTO vms (vcenter_id, moid, name, power_state) VALUES ('vc-r', 'vm-1', 'one', 'poweredOn')`,
    );
  });

  afterAll(async () => {
    await pool?.end();
    await ns?.dispose();
  });

  /** Runs `sql` as `role` (SET LOCAL ROLE in a transaction that is rolled back); answers the SQLSTATE or 'ok'. */
  async function as(role: string, sql: string): Promise<string> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL ROLE ${pg.escapeIdentifier(role)}`);
      await client.query(sql);
      return 'ok';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
  }
  const denied = '42501'; // insufficient_privilege

  it('creates one role per capability, none of them a superuser or able to log in unless the deploy says so', async () => {
    const { rows } = await pool.query(
      `SELECT rolname, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname LIKE 'vfleet\\_%' ORDER BY 1`,
    );
    expect(rows.map((row) => row.rolname)).toEqual(
      expect.arrayContaining(['vfleet_inventory', 'vfleet_ops', 'vfleet_provisioning', 'vfleet_query']),
    );
    for (const row of rows)
      expect([row.rolsuper, row.rolcreaterole, row.rolcreatedb]).toEqual([false, false, false]);
  });

  it('lets the ops role read the inventory and record a drift check, but not UPDATE inventory rows or sessions', async () => {
    expect(await as('vfleet_ops', 'SELECT name FROM vms')).toBe('ok');
    expect(
      await as(
        'vfleet_ops',
        "UPDATE vcenters SET last_verify_at = now(), updated_at = now() WHERE id = 'vc-r'",
      ),
    ).toBe('ok');
    // On confirmed drift the check also schedules the repairing full sync (migration 008).
    expect(
      await as('vfleet_ops', "UPDATE vcenters SET pc_version = NULL, next_sync_at = now() WHERE id = 'vc-r'"),
    ).toBe('ok');
    expect(await as('vfleet_ops', "UPDATE vcenters SET last_full_sync_at = now() WHERE id = 'vc-r'")).toBe(
      denied,
    );
    expect(await as('vfleet_ops', "UPDATE vms SET name = 'x' WHERE vcenter_id = 'vc-r'")).toBe(denied);
    expect(await as('vfleet_ops', "DELETE FROM vms WHERE vcenter_id = 'vc-r'")).toBe(denied);
    expect(await as('vfleet_ops', "UPDATE vcenters SET session = NULL WHERE id = 'vc-r'")).toBe(denied);
    expect(await as('vfleet_ops', 'SELECT wrapped FROM session_keys')).toBe(denied);
  });

  it('lets the query and provisioning roles read and nothing more', async () => {
    for (const role of ['vfleet_query', 'vfleet_provisioning']) {
      expect(await as(role, 'SELECT count(*) FROM vms')).toBe('ok');
      expect(await as(role, 'SELECT count(*) FROM inventory_containers')).toBe('ok');
      expect(await as(role, "UPDATE vms SET name = 'x'")).toBe(denied);
      expect(
        await as(role, "INSERT INTO hosts (vcenter_id, moid, name) VALUES ('vc-r', 'host-9', 'h')"),
      ).toBe(denied);
      expect(await as(role, 'UPDATE vcenters SET last_verify_at = now()')).toBe(denied);
      expect(await as(role, 'SELECT wrapped FROM session_keys')).toBe(denied);
    }
  });

  it('lets the inventory role write the inventory and its session keys, and nothing own the schema but the migrations', async () => {
    expect(await as('vfleet_inventory', "UPDATE vms SET name = 'renamed' WHERE vcenter_id = 'vc-r'")).toBe(
      'ok',
    );
    expect(await as('vfleet_inventory', "UPDATE vcenters SET session = NULL WHERE id = 'vc-r'")).toBe('ok');
    expect(
      await as(
        'vfleet_inventory',
        "INSERT INTO session_keys (version, wrapped, wrapped_by) VALUES (9, '\\x00', 't')",
      ),
    ).toBe('ok');
    expect(await as('vfleet_inventory', 'DELETE FROM session_keys')).toBe(denied);
    expect(await as('vfleet_inventory', 'DROP TABLE vms')).toBe(denied);
    expect(await as('vfleet_inventory', 'ALTER TABLE vcenters ADD COLUMN x int')).toBe(denied);
  });

  it('turns a role into a login with its secret password (sent as a SCRAM verifier), limited like the role', async () => {
    // Prepare: what the deploy step does with the ops role's proxy secret.
    const password = randomBytes(24).toString('base64url');
    await applyRoleLogins(pool, [{ role: 'vfleet_ops', password }]);
    const { rows } = await pool.query("SELECT rolpassword FROM pg_authid WHERE rolname = 'vfleet_ops'");
    expect(String(rows[0]?.rolpassword)).toMatch(/^SCRAM-SHA-256\$4096:/);
    await expect(applyRoleLogins(pool, [{ role: 'postgres', password }])).rejects.toThrow(
      /not a capability role/,
    );

    // Act: log in as the role over TCP (the server asks for SCRAM), in the namespace's schema.
    const login = new pg.Client({ ...ns.pg, user: 'vfleet_ops', password });
    await login.connect();
    try {
      const read = await login.query('SELECT count(*)::int AS n FROM vms');
      const write = await login
        .query("UPDATE vms SET name = 'x'")
        .catch((error) => error as { code: string });

      // Assess
      expect(read.rows[0]?.n).toBe(1);
      expect((write as { code?: string }).code).toBe(denied);
    } finally {
      await login.end();
    }
    await expect(
      new pg.Client({ ...ns.pg, user: 'vfleet_ops', password: 'wrong' }).connect(),
    ).rejects.toThrow();
  });

  it('lets the ops role append to and read the console audit, and no role change or remove a row', async () => {
    const row = `INSERT INTO console_audit (subject, vcenter_id, vm_moid, outcome) VALUES ('s', 'vc-r', 'vm-1', 'issued')`;
    expect(await as('vfleet_ops', row)).toBe('ok');
    expect(await as('vfleet_ops', 'SELECT subject, source_ip FROM console_audit')).toBe('ok');
    expect(await as('vfleet_ops', "UPDATE console_audit SET subject = 'other'")).toBe(denied);
    expect(await as('vfleet_ops', 'DELETE FROM console_audit')).toBe(denied);
    for (const role of ['vfleet_query', 'vfleet_provisioning', 'vfleet_inventory']) {
      expect(await as(role, 'SELECT subject FROM console_audit'), role).toBe(denied);
      expect(await as(role, row), role).toBe(denied);
    }
  });
});
