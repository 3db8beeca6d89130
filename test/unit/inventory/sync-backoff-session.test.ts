// Unit tests — inventory sync domain (pure): retry backoff of a failing vCenter, the failure text it records
// (no secrets), and the sealing of the serialised vSphere session (AES-256-GCM under an envelope data key of a
// named version, bound to the vCenter id; never a key derived from the vCenter's password).
import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  backoffSeconds,
  describeFailure,
  maxBackoffSeconds,
} from '../../../shared/inventory/sync/backoff.ts';
import {
  openSession,
  type SealKey,
  type SessionKeyring,
  sealedVersion,
  sealSession,
} from '../../../shared/inventory/sync/session-crypto.ts';
import type { SerializedSession } from '../../../shared/vsphere/index.ts';

const mid = () => 0.5; // jitter factor exactly 1.0

describe('sync backoff', () => {
  it('doubles the interval per consecutive failure', () => {
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, 60, mid))).toEqual([60, 120, 240, 480]);
  });

  it('waits at least 30 s per step even for a shorter interval', () => {
    expect(backoffSeconds(1, 10, mid)).toBe(30);
    expect(backoffSeconds(0, 10, mid)).toBe(30);
  });

  it('caps at an hour, also for absurd failure counts', () => {
    expect(backoffSeconds(8, 300, mid)).toBe(maxBackoffSeconds);
    expect(backoffSeconds(10_000, 300, mid)).toBe(maxBackoffSeconds);
    expect(Number.isFinite(backoffSeconds(10_000, 86_400, mid))).toBe(true);
  });

  it('jitters within ±20 %', () => {
    expect(backoffSeconds(2, 100, () => 0)).toBe(160);
    expect(backoffSeconds(2, 100, () => 0.999_999)).toBe(240);
    expect(backoffSeconds(20, 100, () => 0.999_999)).toBe(Math.round(maxBackoffSeconds * 1.2));
  });

  it('spreads a fleet that failed together', () => {
    const waits = new Set(Array.from({ length: 50 }, () => backoffSeconds(3, 300)));

    expect(waits.size).toBeGreaterThan(10);
    for (const wait of waits) {
      expect(wait).toBeGreaterThanOrEqual(960);
      expect(wait).toBeLessThanOrEqual(1440);
    }
  });
});

describe('sync failure text', () => {
  it('keeps the error kind and message but not the password, however short', () => {
    const long = describeFailure(new Error('login as admin with S3cret-pw refused'), ['S3cret-pw']);
    const short = describeFailure(new TypeError('bad pw x9 given'), ['x9']);

    expect(long).toBe('Error: login as admin with *** refused');
    expect(short).toBe('TypeError: bad pw *** given');
  });

  it('hides a session cookie echoed by a server', () => {
    const text = describeFailure(new Error('Cookie: vmware_soap_session="abc123def"; Path=/'), []);

    expect(text).not.toContain('abc123def');
  });

  it('describes non-Error values and cuts long messages at 500 characters', () => {
    expect(describeFailure('plain failure', [undefined])).toBe('Error: plain failure');
    const long = describeFailure(new Error('x'.repeat(2_000)), []);
    expect(long).toHaveLength(500);
    expect(long.endsWith('...')).toBe(true);
  });
});

describe('session sealing', () => {
  const session: SerializedSession = {
    v: 1,
    url: 'https://vc.example/sdk',
    username: 'svc-vfleet',
    cookie: 'vmware_soap_session="52a1c0de-0000-4000-8000-000000000001"',
    serviceContent: {} as SerializedSession['serviceContent'],
  };
  const v1: SealKey = { version: 1, key: randomBytes(32) };
  const v2: SealKey = { version: 2, key: randomBytes(32) };
  /** A keyring holding versions 1 and 2, sealing with `current`. */
  const keyring = (current: SealKey, known: SealKey[] = [v1, v2]): SessionKeyring => ({
    current: async () => current,
    byVersion: async (version) => known.find((key) => key.version === version)?.key,
  });

  it('round-trips a session, naming the key version it was sealed with', async () => {
    const sealed = sealSession(session, v2, 'vc-1');

    expect(sealedVersion(sealed)).toBe(2);
    expect(await openSession(sealed, 'vc-1', keyring(v2))).toEqual({ session, version: 2 });
  });

  it('opens a record of an older key version after a rotation (the caller re-seals it)', async () => {
    const sealed = sealSession(session, v1, 'vc-1');

    expect(await openSession(sealed, 'vc-1', keyring(v2))).toEqual({ session, version: 1 });
  });

  it('does not carry the cookie in clear, and uses a fresh IV each time', () => {
    const sealed = sealSession(session, v1, 'vc-1');

    expect(sealed.toString('latin1')).not.toContain('52a1c0de');
    expect(sealed[0]).toBe(2); // record format
    expect(sealSession(session, v1, 'vc-1').equals(sealed)).toBe(false);
  });

  it('cannot be opened with the vCenter password, under another vCenter id, or without its key', async () => {
    const sealed = sealSession(session, v1, 'vc-1');

    expect(await openSession(sealed, 'vc-1', keyring(v1, [v2]), 'pw-1')).toBeUndefined();
    expect(await openSession(sealed, 'vc-2', keyring(v1))).toBeUndefined();
    // The version is authenticated: a record relabelled to another key version does not open.
    const relabelled = Buffer.from(sealed);
    relabelled.writeUInt32BE(2, 1);
    expect(
      await openSession(relabelled, 'vc-1', keyring(v1, [v1, { version: 2, key: v1.key }])),
    ).toBeUndefined();
  });

  it('opens a legacy (password-derived) record only with its password, to re-seal it once', async () => {
    // Format 1, as sessions were sealed before envelope keys: HKDF(password, vCenter id).
    const key = Buffer.from(hkdfSync('sha256', 'pw-1', 'vc-1', 'vfleet/vsphere-session/v1', 32));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
    const legacy = Buffer.concat([Buffer.from([1]), iv, cipher.getAuthTag(), body]);

    expect(sealedVersion(legacy)).toBe(0);
    expect(await openSession(legacy, 'vc-1', keyring(v1), 'pw-1')).toEqual({ session, version: 0 });
    expect(await openSession(legacy, 'vc-1', keyring(v1), 'pw-2')).toBeUndefined();
    expect(await openSession(legacy, 'vc-1', keyring(v1))).toBeUndefined();
  });

  it('refuses damaged, truncated, foreign-format or missing blobs', async () => {
    const sealed = sealSession(session, v1, 'vc-1');
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
    const otherFormat = Buffer.from(sealed);
    otherFormat[0] = 3;

    expect(await openSession(flipped, 'vc-1', keyring(v1))).toBeUndefined();
    expect(await openSession(sealed.subarray(0, 20), 'vc-1', keyring(v1))).toBeUndefined();
    expect(await openSession(otherFormat, 'vc-1', keyring(v1))).toBeUndefined();
    expect(await openSession(null, 'vc-1', keyring(v1))).toBeUndefined();
  });
});
