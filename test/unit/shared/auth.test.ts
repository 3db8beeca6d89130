// Unit tests — shared/auth: role parsing (both claim shapes), role hierarchy, token verification.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bearerToken,
  checkTokenTimes,
  InvalidTokenError,
  parseRoles,
  roleSatisfies,
  verifyToken,
} from '#shared/auth';
import { type DevIssuer, devIssuerEnv, loadDevIssuer } from '../../../infra/local/dev-issuer.ts';

let issuer: DevIssuer;
let stateDir: string;
const saved = { ...process.env };

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-auth-'));
  issuer = await loadDevIssuer(stateDir);
});

afterEach(() => {
  process.env = { ...saved };
});

describe('parseRoles', () => {
  it('reads a JSON array claim and the `[a b]` string API Gateway flattens arrays into', () => {
    expect(parseRoles(['admin', 'viewer'])).toEqual(['admin', 'viewer']);
    expect(parseRoles('[operator node]')).toEqual(['operator', 'node']);
    expect(parseRoles('viewer')).toEqual(['viewer']);
  });

  it('drops unknown roles and non-role values', () => {
    expect(parseRoles(['root', 'viewer'])).toEqual(['viewer']);
    expect(parseRoles(42)).toEqual([]);
    expect(parseRoles(undefined)).toEqual([]);
  });
});

describe('roleSatisfies', () => {
  it('lets admin act as operator and viewer, operator as viewer', () => {
    expect(roleSatisfies(['admin'], 'operator')).toBe(true);
    expect(roleSatisfies(['admin'], 'viewer')).toBe(true);
    expect(roleSatisfies(['operator'], 'viewer')).toBe(true);
  });

  it('keeps node separate and never lets a lower role act as a higher one', () => {
    expect(roleSatisfies(['node'], 'viewer')).toBe(false);
    expect(roleSatisfies(['viewer'], 'operator')).toBe(false);
    expect(roleSatisfies(['operator'], 'admin')).toBe(false);
    expect(roleSatisfies(['admin'], 'node')).toBe(false);
    expect(roleSatisfies(['node'], 'node')).toBe(true);
  });
});

describe('verifyToken', () => {
  it('accepts a token of the configured issuer and returns subject and roles', async () => {
    Object.assign(process.env, devIssuerEnv(issuer));
    const token = await issuer.mint(['operator'], { subject: 'alice' });
    await expect(verifyToken(token)).resolves.toEqual({ subject: 'alice', roles: ['operator'] });
  });

  it('rejects expired tokens, foreign keys, wrong audiences and garbage', async () => {
    Object.assign(process.env, devIssuerEnv(issuer));
    const expired = await issuer.mint(['admin'], { ttlSeconds: -10 });
    await expect(verifyToken(expired)).rejects.toThrow(InvalidTokenError);

    const other = await loadDevIssuer(await mkdtemp(join(tmpdir(), 'vfleet-auth-other-')));
    await expect(verifyToken(await other.mint(['admin']))).rejects.toThrow(
      /ERR_JWKS_NO_MATCHING_KEY|ERR_JWS/,
    );

    process.env.AUTH_AUDIENCE = 'someone-else';
    await expect(verifyToken(await issuer.mint(['admin']))).rejects.toThrow(
      /ERR_JWT_CLAIM_VALIDATION_FAILED/,
    );

    Object.assign(process.env, devIssuerEnv(issuer));
    await expect(verifyToken('not-a-token')).rejects.toThrow(InvalidTokenError);
  });

  it('rejects an unsigned token that claims to be ours', async () => {
    Object.assign(process.env, devIssuerEnv(issuer));
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(
      JSON.stringify({ sub: 'mallory', roles: ['admin'], iss: issuer.issuer, aud: issuer.audience }),
    ).toString('base64url');
    await expect(verifyToken(`${header}.${payload}.`)).rejects.toThrow(InvalidTokenError);
    // A symmetric key of our own choosing must not pass either.
    const forged = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('x'.repeat(32)));
    await expect(verifyToken(forged)).rejects.toThrow(InvalidTokenError);
  });
});

describe('token strictness', () => {
  /** Signs arbitrary claims with the dev issuer's own key, so only the claim under test differs. */
  async function signed(claims: Record<string, unknown>): Promise<string> {
    const stored = JSON.parse(await readFile(join(stateDir, 'dev-issuer.json'), 'utf8')) as {
      privateJwk: JWK;
      kid: string;
    };
    const signingKey = await importJWK(stored.privateJwk, 'ES256');
    return new SignJWT({ roles: ['admin'], ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: stored.kid })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject('mallory')
      .sign(signingKey);
  }
  const now = () => Math.floor(Date.now() / 1000);

  it('refuses a token without exp, though signed by the issuer with roles (it answered 200 before)', async () => {
    Object.assign(process.env, devIssuerEnv(issuer));
    await expect(verifyToken(await signed({ iat: now() }))).rejects.toThrow(/exp/);
    await expect(verifyToken(await signed({ iat: now(), exp: now() + 60 }))).resolves.toMatchObject({
      subject: 'mallory',
    });
  });

  it('refuses a token without iat, issued in the future, or not valid yet (beyond the clock skew)', async () => {
    Object.assign(process.env, devIssuerEnv(issuer));
    await expect(verifyToken(await signed({ exp: now() + 60 }))).rejects.toThrow(/iat/);
    await expect(verifyToken(await signed({ iat: now() + 600, exp: now() + 900 }))).rejects.toThrow(
      InvalidTokenError,
    );
    await expect(
      verifyToken(await signed({ iat: now(), nbf: now() + 600, exp: now() + 900 })),
    ).rejects.toThrow(InvalidTokenError);
    // Within the skew both pass: clocks of issuer and verifier differ by a few seconds in practice.
    await expect(
      verifyToken(await signed({ iat: now() + 2, nbf: now() + 2, exp: now() + 900 })),
    ).resolves.toMatchObject({ subject: 'mallory' });
  });

  it('caps the lifetime a token may claim (default 12 h, a setting)', async () => {
    Object.assign(process.env, devIssuerEnv(issuer));
    const year = await signed({ iat: now(), exp: now() + 365 * 24 * 3600 });
    await expect(verifyToken(year)).rejects.toThrow(/lifetime exceeds 43200 s/);
    await expect(verifyToken(await issuer.mint(['viewer']))).resolves.toMatchObject({ roles: ['viewer'] });
    process.env.AUTH_MAX_TOKEN_LIFETIME_SECONDS = '3600';
    await expect(verifyToken(await issuer.mint(['viewer']))).rejects.toThrow(/lifetime exceeds 3600 s/);
  });

  it("refuses an algorithm that is not the issuer's, even with a valid signature", async () => {
    Object.assign(process.env, devIssuerEnv(issuer));
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
    process.env.AUTH_JWKS_JSON = JSON.stringify({ keys: [...issuer.jwks.keys, jwk] });
    const rsa = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject('mallory')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    await expect(verifyToken(rsa)).rejects.toThrow(/ERR_JOSE_ALG_NOT_ALLOWED/);
    process.env.AUTH_ALGORITHMS = 'ES256,RS256';
    await expect(verifyToken(rsa)).resolves.toMatchObject({ subject: 'mallory' });
  });

  it('reads claim times as API Gateway hands them to Lambda (numeric strings)', () => {
    const t = now();
    expect(() => checkTokenTimes({ iat: String(t), exp: String(t + 60) })).not.toThrow();
    expect(() => checkTokenTimes({ iat: String(t) })).toThrow(/exp/);
    expect(() => checkTokenTimes({ iat: String(t), exp: String(t + 13 * 3600) })).toThrow(/lifetime/);
    expect(() => checkTokenTimes({ iat: t - 7200, exp: t - 3600 })).toThrow(/expired/);
  });
});

describe('bearerToken', () => {
  it('extracts the token from an Authorization header and ignores other schemes', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer xyz')).toBe('xyz');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
