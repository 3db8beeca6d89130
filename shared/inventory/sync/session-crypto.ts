// Inventory sync — domain (pure): seals the serialised vSphere session (its cookie is a bearer credential)
// before it is stored in the vcenters row. The key is an envelope data key (session-keys.ts: from KMS in AWS,
// the local secret store's key in dev), never derived from anything the database or the vCenter password
// gives: a database dump plus the password opens nothing. Each record names the key version it was sealed
// with, so a rotated key still opens old records and the next sync pass re-seals them.
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { openWith, sealWith } from '#shared/secrets';
import type { SerializedSession } from '#shared/vsphere';

/** Record format 2: `[2][key version u32 BE][iv 12][tag 16][ciphertext]`. */
const format = 2;
/** Format 1 (before envelope keys): `[1][iv 12][tag 16][ciphertext]` under HKDF(password). Opened, never written. */
const legacyFormat = 1;
const header = 5;

/** A data key and the version it is stored under. */
export interface SealKey {
  readonly version: number;
  readonly key: Buffer;
}

/** Where sealing keys come from: the current one for new seals, any stored one for opening. */
export interface SessionKeyring {
  /** The key new seals use. */
  current(): Promise<SealKey>;
  /** The key of `version`; undefined when no such key was ever stored. */
  byVersion(version: number): Promise<Buffer | undefined>;
}

/** A session opened from its record, and whether the record should be sealed again under the current key. */
export interface OpenedSession {
  readonly session: SerializedSession;
  /** The key version it was sealed with; 0 for a legacy (password-derived) record. */
  readonly version: number;
}

const aad = (vcenterId: string, version: number) => `vfleet/vsphere-session/v2\n${vcenterId}\n${version}`;

/** Seals `session` for the vCenter under `key` (AES-256-GCM, bound to the vCenter id and the key version). */
export function sealSession(session: SerializedSession, key: SealKey, vcenterId: string): Buffer {
  const prefix = Buffer.alloc(header);
  prefix[0] = format;
  prefix.writeUInt32BE(key.version, 1);
  const body = sealWith(key.key, Buffer.from(JSON.stringify(session), 'utf8'), aad(vcenterId, key.version));
  return Buffer.concat([prefix, body]);
}

/** The key version a record was sealed with (0: legacy), or undefined when it is no sealed session. */
export function sealedVersion(sealed: Buffer | null): number | undefined {
  if (!sealed) return undefined;
  if (sealed[0] === format && sealed.length >= header + 28) return sealed.readUInt32BE(1);
  if (sealed[0] === legacyFormat && sealed.length >= 30) return 0;
  return undefined;
}

/**
 * The session sealed by {@link sealSession}, or undefined when it cannot be opened (unknown key, another
 * vCenter's record, damage). `password` opens only a legacy record, so that the deploy which introduced
 * envelope keys costs no re-login; the pass then re-seals it under the current key.
 */
export async function openSession(
  sealed: Buffer | null,
  vcenterId: string,
  keys: SessionKeyring,
  password?: string,
): Promise<OpenedSession | undefined> {
  const version = sealedVersion(sealed);
  if (!sealed || version === undefined) return undefined;
  try {
    if (version === 0) {
      if (password === undefined) return undefined;
      return { session: openLegacy(sealed, password, vcenterId), version };
    }
    const key = await keys.byVersion(version);
    if (!key) return undefined;
    const text = openWith(key, sealed.subarray(header), aad(vcenterId, version)).toString('utf8');
    return { session: JSON.parse(text) as SerializedSession, version };
  } catch {
    return undefined;
  }
}

function openLegacy(sealed: Buffer, password: string, vcenterId: string): SerializedSession {
  const key = Buffer.from(hkdfSync('sha256', password, vcenterId, 'vfleet/vsphere-session/v1', 32));
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 13));
  decipher.setAuthTag(sealed.subarray(13, 29));
  return JSON.parse(
    Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8'),
  ) as SerializedSession;
}
