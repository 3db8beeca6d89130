// Local runtime — `npm run token -- --role <role>`: mints a development token from the local issuer.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { knownRoles } from '#shared/auth';
import type { Role } from '../topology.ts';
import { loadDevIssuer } from './dev-issuer.ts';

const { values } = parseArgs({
  options: {
    role: { type: 'string', multiple: true, default: ['admin'] },
    subject: { type: 'string' },
    ttl: { type: 'string', default: String(12 * 60 * 60) },
  },
});

const roles = values.role as string[];
const unknown = roles.filter((role) => !(knownRoles as readonly string[]).includes(role));
if (unknown.length) {
  console.error(`unknown role ${unknown.join(', ')}; roles are ${knownRoles.join(', ')}`);
  process.exit(2);
}
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
  console.error(`--ttl must be a positive number of seconds, got "${values.ttl}"`);
  process.exit(2);
}
const stateDir = process.env.VFLEET_STATE_DIR ?? join(resolve(import.meta.dirname, '../..'), '.vfleet');
const issuer = await loadDevIssuer(stateDir);
console.log(await issuer.mint(roles as Role[], { subject: values.subject, ttlSeconds }));
