// Cache — domain: how a cached value is stored in Redis and the blob store. One binary envelope for every
// tier: a small JSON header (when stored, ETag, size, encoding) followed by the payload, gzipped when it is
// larger than the threshold and compression actually saves space (PNGs rarely shrink).
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';

/** Turns values into bytes and back. */
export interface Codec<T> {
  encode(value: T): Buffer;
  decode(bytes: Buffer): T;
}

/** JSON values. */
export const jsonCodec: Codec<unknown> = {
  encode: (value) => Buffer.from(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(bytes.toString('utf8')),
};

/** Text kept as is (JSON bodies that are served without parsing). */
export const textCodec: Codec<string> = {
  encode: (value) => Buffer.from(value, 'utf8'),
  decode: (bytes) => bytes.toString('utf8'),
};

/** Raw bytes (thumbnails). */
export const binaryCodec: Codec<Buffer> = {
  encode: (value) => value,
  decode: (bytes) => bytes,
};

/** What the envelope says about its payload. */
export interface EntryMeta {
  /** Epoch ms when the value was loaded from its source. */
  readonly storedAt: number;
  /** Strong validator of the payload: base64url SHA-256, 22 characters. */
  readonly etag: string;
  /** Payload size before compression. */
  readonly size: number;
}

const MAGIC = Buffer.from('VFC1');
const FLAG_GZIP = 1;

/** The ETag of a payload. */
export function etagOf(payload: Buffer): string {
  return createHash('sha256').update(payload).digest('base64url').slice(0, 22);
}

/** Wraps `payload` with its metadata, compressing it when it is over `compressAboveBytes` and that helps. */
export function encodeEntry(payload: Buffer, meta: EntryMeta, compressAboveBytes: number): Buffer {
  let body = payload;
  let flags = 0;
  if (payload.length > compressAboveBytes) {
    const zipped = gzipSync(payload, { level: 6 });
    if (zipped.length < payload.length * 0.9) {
      body = zipped;
      flags |= FLAG_GZIP;
    }
  }
  const header = Buffer.from(JSON.stringify(meta));
  const fixed = Buffer.alloc(MAGIC.length + 1 + 4);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt8(flags, MAGIC.length);
  fixed.writeUInt32BE(header.length, MAGIC.length + 1);
  return Buffer.concat([fixed, header, body]);
}

/** Unwraps an envelope; undefined for bytes that are not one (a foreign or truncated value is a miss). */
export function decodeEntry(
  bytes: Buffer,
): { meta: EntryMeta; payload: Buffer; compressed: boolean } | undefined {
  const fixedLength = MAGIC.length + 5;
  if (bytes.length < fixedLength || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const flags = bytes.readUInt8(MAGIC.length);
  const headerLength = bytes.readUInt32BE(MAGIC.length + 1);
  if (bytes.length < fixedLength + headerLength) return undefined;
  try {
    const meta = JSON.parse(
      bytes.subarray(fixedLength, fixedLength + headerLength).toString('utf8'),
    ) as EntryMeta;
    const body = bytes.subarray(fixedLength + headerLength);
    const compressed = (flags & FLAG_GZIP) !== 0;
    const payload = compressed ? gunzipSync(body) : body;
    if (typeof meta.storedAt !== 'number' || typeof meta.etag !== 'string') return undefined;
    return { meta, payload, compressed };
  } catch {
    return undefined;
  }
}
