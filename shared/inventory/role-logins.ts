// Inventory — use case (deploy time): turns the capability roles of migration 006 into logins with the
// passwords of their RDS Proxy secrets. The password is sent only as a SCRAM-SHA-256 verifier (computed here),
// so neither a statement log nor an error can show it.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Queryable } from './queries.ts';

/** The capability roles migration 006 creates (one login each in AWS). */
export const capabilityRoles = [
  'vfleet_inventory',
  'vfleet_query',
  'vfleet_ops',
  'vfleet_provisioning',
] as const;
export type CapabilityRole = (typeof capabilityRoles)[number];

/** PostgreSQL's SCRAM-SHA-256 verifier of `password` (RFC 5802/7677, as `ALTER ROLE … PASSWORD` stores it). */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Lets each capability role log in with its password; unknown role names are refused before anything runs. */
export async function applyRoleLogins(
  db: Queryable,
  logins: readonly { readonly role: string; readonly password: string }[],
): Promise<void> {
  for (const { role } of logins) {
    if (!(capabilityRoles as readonly string[]).includes(role))
      throw new Error(`not a capability role: ${role}`);
  }
  for (const { role, password } of logins) {
    await db.query(
      `ALTER ROLE ${pg.escapeIdentifier(role)} WITH LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(password))}`,
    );
  }
}
