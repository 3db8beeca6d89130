// Unit tests — inventory cursors: round trip, and refusal of anything this API did not issue for this query.
import { describe, expect, it } from 'vitest';
import {
  decodeCursor,
  encodeCursor,
  InvalidCursorError,
  queryFingerprint,
} from '../../../shared/inventory/cursor.ts';

const fingerprint = queryFingerprint('{"kind":"vms"}');

describe('keyset cursors', () => {
  it('round-trips the sort key of the last row', () => {
    const cursor = encodeCursor(['prod-web-01', 'vc-0001', 'vm-42'], fingerprint);

    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, fingerprint)).toEqual(['prod-web-01', 'vc-0001', 'vm-42']);
  });

  it('keeps names with quotes, unicode and separators intact', () => {
    const name = 'db "primary" – ünïcode\t:/%_';
    expect(decodeCursor(encodeCursor([name, 'vc-1', 'vm-1'], fingerprint), fingerprint)[0]).toBe(name);
  });

  it('refuses a cursor issued for a different query', () => {
    const other = queryFingerprint('{"kind":"vms","powerState":"poweredOn"}');
    const cursor = encodeCursor(['a', 'vc-1', 'vm-1'], other);

    expect(() => decodeCursor(cursor, fingerprint)).toThrow(/different query/);
  });

  it.each([
    ['not base64url', '!!!'],
    ['empty', ''],
    ['not JSON', Buffer.from('hello').toString('base64url')],
    ['a JSON array', Buffer.from('[1,2,3]').toString('base64url')],
    [
      'a wrong version',
      Buffer.from(JSON.stringify({ v: 2, q: fingerprint, k: ['a', 'vc-1', 'vm-1'] })).toString('base64url'),
    ],
    [
      'a short key',
      Buffer.from(JSON.stringify({ v: 1, q: fingerprint, k: ['a', 'vc-1'] })).toString('base64url'),
    ],
    [
      'a vCenter id with a colon',
      Buffer.from(JSON.stringify({ v: 1, q: fingerprint, k: ['a', 'vc:1', 'vm-1'] })).toString('base64url'),
    ],
    [
      'extra fields',
      Buffer.from(JSON.stringify({ v: 1, q: fingerprint, k: ['a', 'vc-1', 'vm-1'], x: 1 })).toString(
        'base64url',
      ),
    ],
    ['too long', 'A'.repeat(5000)],
  ])('refuses %s', (_, cursor) => {
    expect(() => decodeCursor(cursor, fingerprint)).toThrow(InvalidCursorError);
  });

  it('refuses a cursor whose key was edited', () => {
    const cursor = encodeCursor(['a', 'vc-1', 'vm-1'], fingerprint);
    const json = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { k: unknown[] };
    json.k = ['a', 'vc-1', "vm-1' OR 1=1 --"];
    const tampered = Buffer.from(JSON.stringify(json)).toString('base64url');

    expect(() => decodeCursor(tampered, fingerprint)).toThrow(InvalidCursorError);
  });
});
