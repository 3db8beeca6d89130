// Inventory — domain: opaque keyset cursors. A cursor is base64url JSON holding the last row's sort key and
// a fingerprint of the query it came from, signed (HMAC-SHA256 with a key from the secret store), so a cursor
// that was edited, truncated, forged or taken from another query is refused (400) instead of silently paging
// something else.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';
import { secretNames } from '#shared/contracts';
import type { SecretStore } from '#shared/secrets';
import { moidPattern, vcenterIdPattern } from './ids.ts';

/** The sort key of every inventory list: (name, vcenter_id, moid), unique and stable. */
export type SortKey = readonly [name: string, vcenterId: string, moid: string];

const cursorVersion = 1;

const cursorSchema = z.strictObject({
  v: z.literal(cursorVersion),
  q: z.string().regex(/^[0-9a-f]{16}$/),
  k: z.tuple([z.string().max(1024), z.string().regex(vcenterIdPattern), z.string().regex(moidPattern)]),
});

/** The cursor is not one this API issued for this query. */
export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

/** A short fingerprint of a normalised query (its filters, not its limit or position). */
export function queryFingerprint(normalisedFilters: string): string {
  return createHash('sha256').update(normalisedFilters).digest('hex').slice(0, 16);
}

/** The signing key, created (32 random bytes) by the first container that needs it; all share it after. */
export async function loadCursorKey(secrets: SecretStore): Promise<Uint8Array> {
  const stored = await secrets.getOrCreate(secretNames.cursorKey, () =>
    randomBytes(32).toString('base64url'),
  );
  return Buffer.from(stored, 'base64url');
}

const signature = (payload: string, signingKey: Uint8Array) =>
  createHmac('sha256', signingKey).update(payload).digest().subarray(0, 16).toString('base64url');

/** Encodes the position after `key` for the query whose fingerprint is `fingerprint`, signed. */
export function encodeCursor(key: SortKey, fingerprint: string, signingKey: Uint8Array): string {
  const payload = Buffer.from(JSON.stringify({ v: cursorVersion, q: fingerprint, k: key })).toString(
    'base64url',
  );
  return `${payload}.${signature(payload, signingKey)}`;
}

/**
 * Decodes a cursor issued by {@link encodeCursor} for the same query, after checking its signature.
 * @throws InvalidCursorError when it is malformed, edited, signed with another key or belongs to another query.
 */
export function decodeCursor(cursor: string, fingerprint: string, signingKey: Uint8Array): SortKey {
  const match = cursor.length <= 2048 ? /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})$/.exec(cursor) : null;
  const [, payload = '', mac = ''] = match ?? [];
  const expected = Buffer.from(signature(payload, signingKey), 'base64url');
  const given = Buffer.from(mac, 'base64url');
  if (!match || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new InvalidCursorError('is not a cursor this API issued');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('is not a cursor this API issued');
  }
  const result = cursorSchema.safeParse(parsed);
  if (!result.success) throw new InvalidCursorError('is not a cursor this API issued');
  if (result.data.q !== fingerprint) {
    throw new InvalidCursorError('belongs to a different query: keep the filters of the first page');
  }
  return result.data.k;
}
