// Provisioning — use case: personal vCenter identities. A caller registers their own vCenter user
// (PUT …/credentials/me, checked by one login, never returned or echoed) or removes it (DELETE); their resource
// answers are then loaded with it and cached under its hash. Sessions are pooled per identity (one per process)
// and capped in total: vCenter limits sessions per user and in all.

import * as z from 'zod';
import { type CredentialIdentity, credentialScope } from '#shared/cache';
import { BadRequestError, NotFoundError, ServiceUnavailableError } from '#shared/http';
import {
  NetworkError,
  SoapFault,
  TimeoutError,
  type VcenterEndpointRow,
  VsphereClient,
  vcenterTls,
} from '#shared/vsphere';
import type { CredentialStore, PersonalCredential } from './credentials.ts';
import type { Queryable } from './inventory-source.ts';

/** The body of PUT …/credentials/me. */
export const credentialSchema = z.object({
  username: z.string().min(1).max(256).describe('Your vCenter user, e.g. alice@vsphere.local'),
  password: z.string().min(1).max(1024).describe('Checked by one login; stored encrypted, never returned'),
});

/** The registered vCenter's endpoint and TLS trust. @throws NotFoundError */
export async function vcenterEndpoint(db: Queryable, vcenterId: string): Promise<VcenterEndpointRow> {
  const { rows } = await db.query<VcenterEndpointRow>(
    'SELECT url, username, secret_ref, tls_insecure, ca_pem FROM vcenters WHERE id = $1',
    [vcenterId],
  );
  if (!rows[0]) throw new NotFoundError(`No vCenter ${vcenterId} is registered`);
  return rows[0];
}

/** Opens one login with `credential` to see it work; the session is logged out at once. */
async function checkLogin(endpoint: VcenterEndpointRow, credential: PersonalCredential): Promise<void> {
  let client: VsphereClient | undefined;
  try {
    client = await VsphereClient.connect({
      url: endpoint.url,
      username: credential.username,
      password: credential.password,
      ...vcenterTls(endpoint),
      pooled: false,
      timeoutMs: 10_000,
    });
  } catch (error) {
    if (error instanceof NetworkError || error instanceof TimeoutError) {
      throw new ServiceUnavailableError('The vCenter did not answer; try again later', 5);
    }
    if (error instanceof SoapFault) {
      throw new BadRequestError('The vCenter refused this user name and password', {
        password: 'refused by the vCenter',
      });
    }
    throw error;
  } finally {
    await client?.close();
  }
}

/** PUT …/credentials/me: checks the credential with one login, then stores it for the caller. */
export async function registerCredential(
  deps: { db: Queryable; credentials: Pick<CredentialStore, 'put' | 'delete'> },
  vcenterId: string,
  subject: string,
  credential: PersonalCredential,
): Promise<void> {
  await checkLogin(await vcenterEndpoint(deps.db, vcenterId), credential);
  await deps.credentials.put(vcenterId, subject, credential);
}

/** DELETE …/credentials/me. @throws NotFoundError when the caller had none */
export async function removeCredential(
  deps: { db: Queryable; credentials: Pick<CredentialStore, 'put' | 'delete'> },
  vcenterId: string,
  subject: string,
): Promise<void> {
  await vcenterEndpoint(deps.db, vcenterId);
  if (!(await deps.credentials.delete(vcenterId, subject))) {
    throw new NotFoundError(`You have no personal identity on vCenter ${vcenterId}`);
  }
}

/**
 * Personal sessions of one process: one pooled session per identity, at most `cap` identities. A new identity
 * over the cap replaces the least recently used one when that has been idle for `idleMs` (longer than any
 * load), and is refused with 503 otherwise, so no session in use is ever logged out under a load.
 */
export class PersonalSessions {
  private readonly clients = new Map<string, { client: Promise<VsphereClient>; usedAt: number }>();

  constructor(
    private readonly cap: number,
    private readonly idleMs: number,
  ) {}

  /** Open sessions (tests, stats). */
  get size(): number {
    return this.clients.size;
  }

  async open(endpoint: VcenterEndpointRow, credential: PersonalCredential): Promise<VsphereClient> {
    const identity: CredentialIdentity = { url: endpoint.url, username: credential.username };
    const scope = credentialScope(identity);
    const held = this.clients.get(scope);
    if (!held && this.clients.size >= this.cap) {
      const [oldest, entry] = this.clients.entries().next().value as [
        string,
        { client: Promise<VsphereClient>; usedAt: number },
      ];
      if (Date.now() - entry.usedAt < this.idleMs) {
        throw new ServiceUnavailableError('Too many personal vCenter sessions are in use; try again', 5);
      }
      this.clients.delete(oldest);
      await entry.client.then((client) => client.close()).catch(() => undefined);
    }
    // Map order is use order: re-insert at the end.
    this.clients.delete(scope);
    const client =
      held?.client ??
      VsphereClient.connect({
        url: endpoint.url,
        username: credential.username,
        password: credential.password,
        ...vcenterTls(endpoint),
        pooled: true,
        // Within a waiting user's deadline (the kinds' loads wait for this login).
        timeoutMs: 5_000,
      });
    this.clients.set(scope, { client, usedAt: Date.now() });
    client.catch(() => this.clients.delete(scope));
    return client;
  }
}
