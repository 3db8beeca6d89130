// Unit tests — inventory cursors: round trip, and refusal of anything this API did not issue for this query
// (edited, forged, signed with another key, taken from another query).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeCursor,
  encodeCursor,
  InvalidCursorError,
  queryFingerprint,
} from '../../../shared/inventory/cursor.ts';

const fingerprint = queryFingerprint('{"kind":"vms"}');
const key = Buffer.alloc(32, 1);
/** A payload signed with `key`, as encodeCursor would sign it, for building edited cursors. */
const signed = (payload: string) =>
  `${payload}.${createHmac('sha256', key).update(payload).digest().subarray(0, 16).toString('base64url')}`;

describe('keyset cursors', () => {
  it('round-trips the sort key of the last row', () => {
    const cursor = encodeCursor(['prod-web-01', 'vc-0001', 'vm-42'], fingerprint, key);

    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(decodeCursor(cursor, fingerprint, key)).toEqual(['prod-web-01', 'vc-0001', 'vm-42']);
  });

  it('keeps names with quotes, unicode and separators intact', () => {
    const name = 'db "primary" – ünïcode\t:/%_';
    expect(decodeCursor(encodeCursor([name, 'vc-1', 'vm-1'], fingerprint, key), fingerprint, key)[0]).toBe(
      name,
    );
  });

  it('refuses a cursor issued for a different query', () => {
    const other = queryFingerprint('{"kind":"vms","powerState":"poweredOn"}');
    const cursor = encodeCursor(['a', 'vc-1', 'vm-1'], other, key);

    expect(() => decodeCursor(cursor, fingerprint, key)).toThrow(/different query/);
  });

  it.each([
    ['not base64url', '!!!'],
    ['empty', ''],
    ['not JSON', signed(Buffer.from('hello').toString('base64url'))],
    ['a JSON array', signed(Buffer.from('[1,2,3]').toString('base64url'))],
    [
      'a wrong version',
      signed(
        Buffer.from(JSON.stringify({ v: 2, q: fingerprint, k: ['a', 'vc-1', 'vm-1'] })).toString('base64url'),
      ),
    ],
    [
      'a short key',
      signed(Buffer.from(JSON.stringify({ v: 1, q: fingerprint, k: ['a', 'vc-1'] })).toString('base64url')),
    ],
    [
      'a vCenter id with a colon',
      signed(
        Buffer.from(JSON.stringify({ v: 1, q: fingerprint, k: ['a', 'vc:1', 'vm-1'] })).toString('base64url'),
      ),
    ],
    [
      'extra fields',
      signed(
        Buffer.from(JSON.stringify({ v: 1, q: fingerprint, k: ['a', 'vc-1', 'vm-1'], x: 1 })).toString(
          'base64url',
        ),
      ),
    ],
    ['too long', 'A'.repeat(5000)],
  ])('refuses %s', (_, cursor) => {
    expect(() => decodeCursor(cursor, fingerprint, key)).toThrow(InvalidCursorError);
  });

  it('refuses a cursor whose sort key was edited, though still well-formed (it was accepted before signing)', () => {
    const cursor = encodeCursor(['a', 'vc-1', 'vm-1'], fingerprint, key);
    const [payload, mac] = cursor.split('.') as [string, string];
    const json = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { k: unknown[] };
    json.k = ['zzz', 'vc-1', 'vm-1'];
    const edited = `${Buffer.from(JSON.stringify(json)).toString('base64url')}.${mac}`;

    expect(() => decodeCursor(edited, fingerprint, key)).toThrow(/is not a cursor this API issued/);
  });

  it('refuses a cursor signed with another key (another deployment, or a forger)', () => {
    const cursor = encodeCursor(['a', 'vc-1', 'vm-1'], fingerprint, Buffer.alloc(32, 2));

    expect(() => decodeCursor(cursor, fingerprint, key)).toThrow(InvalidCursorError);
  });
});
