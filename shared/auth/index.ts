// Auth — bearer-token verification and role checks shared by the WebSocket authorizer, the local
// emulation of API Gateway's JWT authorizer, and the HTTP role middleware.
import { createLocalJWKSet, createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { optionalEnv, requireEnv } from '#shared/config';
import { type Role, roleSatisfies, roles } from '#shared/contracts';

export type { Role };
export { roleSatisfies };

export const knownRoles: readonly Role[] = roles;

/** The identity a verified token carries. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly Role[];
}

/** The token is missing, malformed, expired or not ours. The reason is safe to show. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

type KeySet = ReturnType<typeof createRemoteJWKSet> | ReturnType<typeof createLocalJWKSet>;
let keySet: { source: string; keys: KeySet } | undefined;

// AWS: the issuer's JWKS URL (cached and refreshed by jose). Local: the dev issuer's public keys inline.
function keys(): KeySet {
  const inline = optionalEnv('AUTH_JWKS_JSON', '');
  const source = inline || requireEnv('AUTH_JWKS_URL');
  if (keySet?.source !== source) {
    keySet = {
      source,
      keys: inline ? createLocalJWKSet(JSON.parse(inline)) : createRemoteJWKSet(new URL(source)),
    };
  }
  return keySet.keys;
}

/**
 * Reads roles from a claim value. API Gateway's HTTP JWT authorizer hands array claims to Lambda
 * flattened into a string such as `[admin viewer]`, so both shapes are accepted.
 */
export function parseRoles(claim: unknown): Role[] {
  const values = Array.isArray(claim)
    ? claim.map(String)
    : typeof claim === 'string'
      ? claim.replace(/^\[|\]$/g, '').split(/[\s,]+/)
      : [];
  return values.filter((value): value is Role => (knownRoles as readonly string[]).includes(value));
}

/** Verifies a bearer token (signature, issuer, audience, expiry) and returns its principal. */
export async function verifyToken(token: string): Promise<Principal> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys(), {
      issuer: requireEnv('AUTH_ISSUER'),
      audience: requireEnv('AUTH_AUDIENCE'),
    }));
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'ERR_JWT_INVALID';
    throw new InvalidTokenError(`token rejected (${code})`);
  }
  if (!payload.sub) throw new InvalidTokenError('token has no subject');
  return { subject: payload.sub, roles: parseRoles(payload.roles) };
}

/** Extracts the token from an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1];
}
