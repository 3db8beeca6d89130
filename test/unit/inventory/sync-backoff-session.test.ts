// Unit tests — inventory sync domain (pure): retry backoff of a failing vCenter, the failure text it records
// (no secrets), and the sealing of the serialised vSphere session (AES-256-GCM under a key derived from the
// vCenter's password and id).
import { describe, expect, it } from 'vitest';
import {
  backoffSeconds,
  describeFailure,
  maxBackoffSeconds,
} from '../../../shared/inventory/sync/backoff.ts';
import { openSession, sealSession } from '../../../shared/inventory/sync/session-crypto.ts';
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

  it('round-trips a session sealed with the same password and vCenter id', () => {
    const sealed = sealSession(session, 'pw-1', 'vc-1');

    expect(openSession(sealed, 'pw-1', 'vc-1')).toEqual(session);
  });

  it('does not carry the cookie in clear', () => {
    const sealed = sealSession(session, 'pw-1', 'vc-1');

    expect(sealed.toString('latin1')).not.toContain('52a1c0de');
    expect(sealed[0]).toBe(1); // format version
  });

  it('uses a fresh IV each time', () => {
    expect(sealSession(session, 'pw-1', 'vc-1').equals(sealSession(session, 'pw-1', 'vc-1'))).toBe(false);
  });

  it('fails to open with a wrong password (a rotated one) or under another vCenter id', () => {
    const sealed = sealSession(session, 'pw-1', 'vc-1');

    expect(openSession(sealed, 'pw-2', 'vc-1')).toBeUndefined();
    expect(openSession(sealed, 'pw-1', 'vc-2')).toBeUndefined();
  });

  it('refuses damaged, truncated, foreign-version or missing blobs', () => {
    const sealed = sealSession(session, 'pw-1', 'vc-1');
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
    const otherVersion = Buffer.from(sealed);
    otherVersion[0] = 2;

    expect(openSession(flipped, 'pw-1', 'vc-1')).toBeUndefined();
    expect(openSession(sealed.subarray(0, 20), 'pw-1', 'vc-1')).toBeUndefined();
    expect(openSession(otherVersion, 'pw-1', 'vc-1')).toBeUndefined();
    expect(openSession(null, 'pw-1', 'vc-1')).toBeUndefined();
  });
});
