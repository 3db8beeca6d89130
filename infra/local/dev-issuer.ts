// Local runtime — the development token issuer: one ES256 key kept under .vfleet/ (mode 0600) so tokens
// survive restarts, its public JWKS for the verifiers, and minting of tokens for any role.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import type { Role } from '../topology.ts';

export const devIssuerName = 'https://vfleet.local/dev-issuer';
export const devAudience = 'vfleet';

export interface DevIssuer {
  readonly issuer: string;
  readonly audience: string;
  /** Public key set, as the verifiers read it from `AUTH_JWKS_JSON`. */
  readonly jwks: { keys: JWK[] };
  /**
   * Signs a token for `roles`, valid for `ttlSeconds` (default 12 h), for `audience` (default the API's) with
   * extra `claims` (an ID token's `nonce`, `name`; `groups` for the vCenter scope).
   */
  mint(
    roles: readonly Role[],
    options?: {
      subject?: string;
      ttlSeconds?: number;
      audience?: string;
      claims?: Record<string, string | readonly string[]>;
    },
  ): Promise<string>;
}

interface StoredKey {
  readonly kid: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

async function loadOrCreateKey(file: string): Promise<StoredKey> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StoredKey;
  } catch {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = randomUUID();
    const stored: StoredKey = {
      kid,
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    };
    await writeFile(file, JSON.stringify(stored), { mode: 0o600 });
    return stored;
  }
}

/** Loads the issuer whose key lives in `stateDir` (created on first use). */
export async function loadDevIssuer(stateDir: string): Promise<DevIssuer> {
  await mkdir(stateDir, { recursive: true });
  const stored = await loadOrCreateKey(join(stateDir, 'dev-issuer.json'));
  const signingKey = await importJWK(stored.privateJwk, 'ES256');
  return {
    issuer: devIssuerName,
    audience: devAudience,
    jwks: { keys: [stored.publicJwk] },
    mint: (
      roles,
      {
        subject = `dev-${roles.join('-')}`,
        ttlSeconds = 12 * 60 * 60,
        audience = devAudience,
        claims = {},
      } = {},
    ) =>
      new SignJWT({ ...claims, roles: [...roles] })
        .setProtectedHeader({ alg: 'ES256', kid: stored.kid })
        .setIssuer(devIssuerName)
        .setAudience(audience)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(signingKey),
  };
}

/** The environment that points the verifiers (shared/auth) at this issuer. */
export function devIssuerEnv(issuer: DevIssuer): Record<string, string> {
  return {
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    AUTH_JWKS_JSON: JSON.stringify(issuer.jwks),
    AUTH_ALGORITHMS: 'ES256',
  };
}
