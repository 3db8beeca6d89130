// Cache — domain: credential scopes. Every cache key lives under the scope of the credential that produced
// its value, so an answer fetched with one vCenter credential is never served to a caller holding another.
// The scope is a hash of the credential's identity (endpoint and user), never of its secret.
import { createHash } from 'node:crypto';

/** Who a cached value was fetched as: the endpoint and the user, never the password or token. */
export interface CredentialIdentity {
  /** The endpoint, e.g. `https://vc-1.example.com/sdk`. */
  readonly url: string;
  readonly username: string;
}

/**
 * The cache scope of a credential: 16 base64url characters of SHA-256 over the normalised URL and the user.
 * Stable across processes and deploys; reveals nothing about the secret.
 */
export function credentialScope(identity: CredentialIdentity): string {
  let url = identity.url;
  try {
    url = new URL(identity.url).href;
  } catch {
    // Not a URL (a service name such as `inventory`): hashed as given.
  }
  return createHash('sha256').update(`cred\n${url}\n${identity.username}`).digest('base64url').slice(0, 16);
}

/** The scope of answers that do not depend on a vCenter credential (e.g. inventory read from PostgreSQL). */
export function serviceScope(service: string): string {
  return credentialScope({ url: `service:${service}`, username: '' });
}
