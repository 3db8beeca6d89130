// Unit tests — shared/auth: role parsing (both claim shapes), role hierarchy, token verification.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken, InvalidTokenError, parseRoles, roleSatisfies, verifyToken } from '#shared/auth';
import { type DevIssuer, devIssuerEnv, loadDevIssuer } from '../../../infra/local/dev-issuer.ts';

let issuer: DevIssuer;
const saved = { ...process.env };

beforeAll(async () => {
  issuer = await loadDevIssuer(await mkdtemp(join(tmpdir(), 'vfleet-auth-')));
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

describe('bearerToken', () => {
  it('extracts the token from an Authorization header and ignores other schemes', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('bearer xyz')).toBe('xyz');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
