// Local runtime — secondary adapter: the capability database roles of migration 006 as logins on the local
// PostgreSQL, so each function connects as its topology `dbRole`, as it does through the RDS Proxy in AWS, and a
// grant a function lacks fails locally and in the tests instead of being hidden by the superuser. The migrations
// (the `owner` role) still run as the superuser.
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { applyRoleLogins, type CapabilityRole, capabilityRoles } from '#shared/inventory';
import type { FunctionSpec } from '../topology.ts';

/** The owner's (superuser's) login on the local PostgreSQL. */
export interface OwnerLogin {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

/**
 * A capability role's local password: derived from the owner's, so every runtime on one PostgreSQL (test files
 * run in parallel, each with a runtime of its own, and roles are cluster-wide) sets and uses the same one.
 */
export function localRolePassword(ownerPassword: string, role: CapabilityRole): string {
  return createHmac('sha256', ownerPassword).update(`vfleet-local-role:${role}`).digest('base64url');
}

/**
 * Lets each capability role log in with its local password, and answers the passwords by role. A role the
 * migrations have not created yet on this PostgreSQL (roles are cluster-wide; a test's database may be empty) is
 * created here as migration 006 creates it, without grants: those come with each database's migrations.
 * Serialised across runtimes by an advisory lock (in the `postgres` database), since concurrent ALTER ROLEs of
 * one role fail with "tuple concurrently updated"; a migration creating a role meanwhile is tolerated as it
 * tolerates others.
 */
export async function ensureLocalRoleLogins(
  owner: OwnerLogin,
): Promise<Readonly<Record<CapabilityRole, string>>> {
  // Roles are the cluster's, advisory locks a database's: the lock is taken in the maintenance database, which
  // every runtime on this PostgreSQL shares whatever database it serves.
  const client = new pg.Client({ ...owner, database: 'postgres' });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('vfleet-local-role-logins'))");
    for (const role of capabilityRoles) {
      await client.query(
        `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${pg.escapeLiteral(role)}) THEN
           CREATE ROLE ${pg.escapeIdentifier(role)} NOLOGIN;
         END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
      );
    }
    const logins = capabilityRoles.map((role) => ({
      role,
      password: localRolePassword(owner.password, role),
    }));
    await applyRoleLogins(client, logins);
    await client.query('COMMIT');
    return Object.fromEntries(logins.map(({ role, password }) => [role, password])) as Record<
      CapabilityRole,
      string
    >;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * The database login of one function, laid over the runtime's environment: its capability role and that role's
 * password; the owner (the runtime's own login) for the migrations; no login at all for a function without the
 * `postgres` need (it has none in AWS either).
 */
export function databaseEnvironment(
  spec: FunctionSpec,
  passwords: Readonly<Record<CapabilityRole, string>>,
): Readonly<Record<string, string>> {
  if (!spec.needs.includes('postgres')) return { PG_USER: '', PG_PASSWORD: '' };
  const role = spec.dbRole ?? 'owner';
  if (role === 'owner') return {};
  return { PG_USER: role, PG_PASSWORD: passwords[role] };
}
