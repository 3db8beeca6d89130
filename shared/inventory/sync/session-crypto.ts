// Inventory sync — domain (pure): seals the serialised vSphere session (its cookie is a bearer credential)
// before it is stored in the vcenters row. The key is derived from the vCenter's password with HKDF, so
// the database alone never yields a usable session, and a rotated password simply retires the old one.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { SerializedSession } from '#shared/vsphere';

const version = 1;

function key(password: string, vcenterId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', password, vcenterId, 'vfleet/vsphere-session/v1', 32));
}

/** AES-256-GCM: `[version][iv 12][tag 16][ciphertext]`. */
export function sealSession(session: SerializedSession, password: string, vcenterId: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key(password, vcenterId), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(session), 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([version]), iv, cipher.getAuthTag(), body]);
}

/** The session sealed by {@link sealSession}, or undefined when it cannot be opened (other password, damage). */
export function openSession(
  sealed: Buffer | null,
  password: string,
  vcenterId: string,
): SerializedSession | undefined {
  if (!sealed || sealed.length < 30 || sealed[0] !== version) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key(password, vcenterId), sealed.subarray(1, 13));
    decipher.setAuthTag(sealed.subarray(13, 29));
    const text = Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as SerializedSession;
  } catch {
    return undefined;
  }
}
