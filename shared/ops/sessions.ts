// Ops — secondary adapter: logged-in vSphere sessions per registered vCenter. Routes and workers ask for
// `forVcenter(id)` and never see a password; `identity(id)` (endpoint + user, no secret) namespaces cache keys.
// Implementations: the vCenter registry (PostgreSQL `vcenters` row + the secret store), and explicit
// credentials for tests, benchmarks and labs.
import type { CredentialIdentity } from '#shared/cache';
import { NotFoundError } from '#shared/http';
import {
  type ClientOptions,
  openVcenter,
  type SecretReader,
  type VcenterEndpointRow,
  VsphereClient,
} from '#shared/vsphere';

export type { SecretReader };

/** A vCenter's identity as the cache sees it: endpoint and user, never the secret. */
export interface VcenterIdentity extends CredentialIdentity {
  readonly vcenterId: string;
}

/** Sessions to registered vCenters. */
export interface VcenterSessions {
  /** @throws NotFoundError for a vCenter that is not registered */
  identity(vcenterId: string): Promise<VcenterIdentity>;
  /** A logged-in client (pooled per credential in this process). @throws NotFoundError for an unknown vCenter */
  forVcenter(vcenterId: string): Promise<VsphereClient>;
}

/** Explicit credentials of one vCenter (tests, benchmarks, labs). */
export interface VcenterCredentials {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Skip certificate verification (self-signed lab endpoints, vcsim). @default false */
  readonly insecure?: boolean;
  readonly ca?: ClientOptions['ca'];
}

const unknownVcenter = (id: string) => new NotFoundError(`No vCenter ${id} is registered`);

/** Sessions from explicit credentials, for vCenters registered with {@link StaticVcenterSessions.register}. */
export class StaticVcenterSessions implements VcenterSessions {
  private readonly entries = new Map<string, VcenterCredentials>();

  register(vcenterId: string, credentials: VcenterCredentials): this {
    this.entries.set(vcenterId, credentials);
    return this;
  }

  async identity(vcenterId: string): Promise<VcenterIdentity> {
    const entry = this.entries.get(vcenterId);
    if (!entry) throw unknownVcenter(vcenterId);
    return { vcenterId, url: entry.url, username: entry.username };
  }

  async forVcenter(vcenterId: string): Promise<VsphereClient> {
    const entry = this.entries.get(vcenterId);
    if (!entry) throw unknownVcenter(vcenterId);
    return VsphereClient.connect({
      url: entry.url,
      username: entry.username,
      password: entry.password,
      insecure: entry.insecure ?? false,
      ...(entry.ca === undefined ? {} : { ca: entry.ca }),
      timeoutMs: 15_000,
    });
  }
}

/**
 * Sessions for vCenters in the registry: the `vcenters` row (migrations 001/002) gives the endpoint, user, TLS
 * trust and secret reference, the secret store the password; `openVcenter` opens the process's pooled session
 * from them (the sync opens its own, unpooled, from the same row). Rows are remembered for a minute per process.
 */
export function registryVcenterSessions(deps: {
  db: { query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[] }> };
  secrets: SecretReader;
}): VcenterSessions {
  const rows = new Map<string, { row: VcenterEndpointRow; until: number }>();
  const row = async (vcenterId: string): Promise<VcenterEndpointRow> => {
    const memo = rows.get(vcenterId);
    if (memo && memo.until > Date.now()) return memo.row;
    const { rows: found } = await deps.db.query<VcenterEndpointRow>(
      'SELECT url, username, secret_ref, tls_insecure, ca_pem FROM vcenters WHERE id = $1',
      [vcenterId],
    );
    const first = found[0];
    if (!first) throw unknownVcenter(vcenterId);
    rows.set(vcenterId, { row: first, until: Date.now() + 60_000 });
    return first;
  };
  return {
    async identity(vcenterId) {
      const { url, username } = await row(vcenterId);
      return { vcenterId, url, username };
    },
    async forVcenter(vcenterId) {
      // The VM operations' pool: one session per credential in the process, shared by every job.
      return openVcenter(await row(vcenterId), { pooled: true, secrets: deps.secrets, timeoutMs: 15_000 });
    },
  };
}

// Process-wide override, kept on globalThis so that every copy of this module (a test runner may load two)
// sees the same one.
const overrideKey = Symbol.for('vfleet.ops.vcenterSessions');
type WithOverride = typeof globalThis & { [overrideKey]?: VcenterSessions };

/** Makes every ops use case in this process use `sessions` (tests, benchmarks); undefined restores the default. */
export function setVcenterSessions(sessions: VcenterSessions | undefined): void {
  (globalThis as WithOverride)[overrideKey] = sessions;
}

/** The override set by {@link setVcenterSessions}, if any. */
export function vcenterSessionsOverride(): VcenterSessions | undefined {
  return (globalThis as WithOverride)[overrideKey];
}
