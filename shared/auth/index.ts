// Auth — bearer-token verification and role checks shared by the WebSocket authorizer, the local
// emulation of API Gateway's JWT authorizer, and the HTTP role middleware.
import { createLocalJWKSet, createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { numberEnv, optionalEnv, requireEnv } from '#shared/config';
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

/** Clock skew allowed between the issuer and this process when checking `exp`, `nbf` and `iat`. */
export const clockSkewSeconds = 5;

/**
 * The signing algorithms accepted (`AUTH_ALGORITHMS`, comma-separated; the issuer's own, so a token signed
 * with another algorithm — `none`, or HMAC with a public key as secret — is refused before any key is tried).
 */
function algorithms(): string[] {
  return optionalEnv('AUTH_ALGORITHMS', 'RS256')
    .split(',')
    .map((alg) => alg.trim())
    .filter(Boolean);
}

/** The longest lifetime (`exp - iat`) a token may claim (`AUTH_MAX_TOKEN_LIFETIME_SECONDS`, default 12 h). */
function maxLifetimeSeconds(): number {
  return numberEnv('AUTH_MAX_TOKEN_LIFETIME_SECONDS', 12 * 60 * 60, { min: 60 });
}

/**
 * Checks a verified token's times: `exp` and `iat` present, `iat` not in the future, and a lifetime within
 * the cap (an issuer misconfigured to mint year-long tokens is refused, not trusted for a year). Claims may
 * be numbers or, as API Gateway's JWT authorizer hands them to Lambda, numeric strings.
 */
export function checkTokenTimes(claims: Record<string, unknown>, nowSeconds = Date.now() / 1000): void {
  const time = (name: string): number | undefined => {
    const value = claims[name];
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
  };
  const exp = time('exp');
  const iat = time('iat');
  const nbf = time('nbf');
  if (exp === undefined) throw new InvalidTokenError('token has no expiry (exp)');
  if (iat === undefined) throw new InvalidTokenError('token has no issue time (iat)');
  if (exp <= nowSeconds - clockSkewSeconds) throw new InvalidTokenError('token expired');
  if (iat > nowSeconds + clockSkewSeconds) throw new InvalidTokenError('token issued in the future');
  if (nbf !== undefined && nbf > nowSeconds + clockSkewSeconds)
    throw new InvalidTokenError('token not valid yet');
  const cap = maxLifetimeSeconds();
  if (exp - iat > cap) throw new InvalidTokenError(`token lifetime exceeds ${cap} s`);
}

/**
 * Verifies a bearer token (signature with one of the issuer's algorithms, issuer, audience, subject, and the
 * times of {@link checkTokenTimes}) and returns its principal.
 */
export async function verifyToken(token: string): Promise<Principal> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys(), {
      issuer: requireEnv('AUTH_ISSUER'),
      audience: requireEnv('AUTH_AUDIENCE'),
      algorithms: algorithms(),
      requiredClaims: ['exp', 'iat', 'sub'],
      clockTolerance: clockSkewSeconds,
    }));
  } catch (error) {
    // jose names the failing claim (`exp`, `iat`, `aud`…); the reason is safe to show, the token is not.
    const { code = 'ERR_JWT_INVALID', claim } = error as { code?: string; claim?: string };
    throw new InvalidTokenError(`token rejected (${code}${claim ? `: ${claim}` : ''})`);
  }
  checkTokenTimes(payload);
  if (!payload.sub) throw new InvalidTokenError('token has no subject');
  return { subject: payload.sub, roles: parseRoles(payload.roles) };
}

/** Extracts the token from an `Authorization: Bearer …` header value. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1];
}

export {
  loadVcenterScopes,
  parseVcenterScopes,
  VcenterScope,
  type VcenterScopeMap,
  vcenterScopeEnvNames,
  vcenterScopeFor,
} from './vcenter-scope.ts';
