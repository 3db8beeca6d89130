// Inventory — domain: opaque keyset cursors. A cursor is base64url JSON holding the last row's sort key and
// a fingerprint of the query it came from, so a cursor that was edited, truncated or taken from another
// query is refused (400) instead of silently paging something else.
import { createHash } from 'node:crypto';
import * as z from 'zod';
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

/** Encodes the position after `key` for the query whose fingerprint is `fingerprint`. */
export function encodeCursor(key: SortKey, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ v: cursorVersion, q: fingerprint, k: key })).toString('base64url');
}

/**
 * Decodes a cursor issued by {@link encodeCursor} for the same query.
 * @throws InvalidCursorError when it is malformed or belongs to another query.
 */
export function decodeCursor(cursor: string, fingerprint: string): SortKey {
  if (cursor.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw new InvalidCursorError('is not a cursor this API issued');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
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
