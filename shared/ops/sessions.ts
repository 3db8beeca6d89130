// Ops — secondary adapter: logged-in vSphere sessions per registered vCenter. Routes and workers ask for
// `forVcenter(id)` and never see a password; `identity(id)` (endpoint + user, no secret) namespaces cache keys.
// Implementations: the vCenter registry (PostgreSQL `vcenters` row + the secret store), and explicit
// credentials for tests, benchmarks and labs.
import type { CredentialIdentity } from '#shared/cache';
import { NotFoundError } from '#shared/http';
import { type ClientOptions, VsphereClient } from '#shared/vsphere';

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

/** Reads a secret by reference (a Secrets Manager ARN, or a key of the local secret store). */
export interface SecretReader {
  get(ref: string): Promise<string>;
}

/** Columns of the registry (`vcenters`, migrations 001/002) this module reads; none is secret. */
interface VcenterRow {
  url: string;
  username: string;
  secret_ref: string;
  tls_insecure: boolean;
  ca_pem: string | null;
}

/**
 * Sessions for vCenters in the registry: the `vcenters` row gives the endpoint, user, TLS trust and secret
 * reference, the secret store the password. Rows are remembered for a minute per process.
 */
export function registryVcenterSessions(deps: {
  db: { query<R extends object>(text: string, values: unknown[]): Promise<{ rows: R[] }> };
  secrets: SecretReader;
}): VcenterSessions {
  const rows = new Map<string, { row: VcenterRow; until: number }>();
  const row = async (vcenterId: string): Promise<VcenterRow> => {
    const memo = rows.get(vcenterId);
    if (memo && memo.until > Date.now()) return memo.row;
    const { rows: found } = await deps.db.query<VcenterRow>(
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
      const entry = await row(vcenterId);
      return VsphereClient.connect({
        url: entry.url,
        username: entry.username,
        password: await deps.secrets.get(entry.secret_ref),
        insecure: entry.tls_insecure,
        ...(entry.ca_pem ? { ca: entry.ca_pem } : {}),
        timeoutMs: 15_000,
      });
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
