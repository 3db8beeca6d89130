// Cache — secondary adapters: the blob store behind the last-known-good tier (L3). S3 in AWS (`BLOB_BUCKET`),
// a local directory in development (`BLOB_DIR`). Never silently in memory: with neither set, start-up fails
// naming both, because a tier that vanishes with the process would hide outages instead of covering them.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '#shared/config';

/** Bytes by key, durable beyond any process. */
export interface BlobStore {
  /** Undefined when there is no such blob. */
  get(key: string): Promise<Buffer | undefined>;
  put(key: string, bytes: Buffer): Promise<void>;
  /** Where the blobs live, for logs and docs (no credentials). */
  readonly location: string;
}

/**
 * The S3 client module, loaded on the first blob read or write: the last-known-good tier is reached only when
 * the faster tiers miss, and loading the whole client at init cost every function that uses the cache about
 * 10 ms of cold start (bench:bundles) whether it ever reached S3 or not.
 */
let s3Module: Promise<typeof import('@aws-sdk/client-s3')> | undefined;
const loadS3 = () => {
  s3Module ??= import('@aws-sdk/client-s3');
  return s3Module;
};

/** Blobs as objects in an S3 bucket, under `prefix`. */
export function s3BlobStore(options: { bucket: string; prefix?: string; client?: S3Client }): BlobStore {
  const prefix = options.prefix ?? 'cache/';
  let client = options.client;
  const s3 = async () => {
    const module = await loadS3();
    client ??= new module.S3Client({});
    return { module, client };
  };
  return {
    location: `s3://${options.bucket}/${prefix}`,
    async get(key) {
      const { module, client } = await s3();
      const { GetObjectCommand, NoSuchKey } = module;
      try {
        const answer = await client.send(new GetObjectCommand({ Bucket: options.bucket, Key: prefix + key }));
        if (!answer.Body) return undefined;
        return Buffer.from(await answer.Body.transformToByteArray());
      } catch (error) {
        if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
        throw error;
      }
    },
    async put(key, bytes) {
      const { module, client } = await s3();
      await client.send(
        new module.PutObjectCommand({
          Bucket: options.bucket,
          Key: prefix + key,
          Body: bytes,
          ContentType: 'application/octet-stream',
        }),
      );
    },
  };
}

/** Blobs as files under `dir` (development and tests); writes are atomic (temporary file, then rename). */
export function directoryBlobStore(dir: string): BlobStore {
  // Keys may hold any character; the file name is their hash, fanned out over 256 directories.
  const pathOf = (key: string) => {
    const digest = createHash('sha256').update(key).digest('hex');
    return { folder: join(dir, digest.slice(0, 2)), file: join(dir, digest.slice(0, 2), digest.slice(2)) };
  };
  return {
    location: dir,
    async get(key) {
      try {
        return await readFile(pathOf(key).file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async put(key, bytes) {
      const { folder, file } = pathOf(key);
      await mkdir(folder, { recursive: true });
      const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(temporary, bytes);
      await rename(temporary, file);
    },
  };
}

let fromEnv: BlobStore | undefined;

/**
 * The process's blob store: S3 when `BLOB_BUCKET` is set (AWS), else the directory `BLOB_DIR` (local).
 * @throws ConfigError when neither is set.
 */
export function blobStore(): BlobStore {
  if (fromEnv) return fromEnv;
  const bucket = process.env.BLOB_BUCKET?.trim();
  const dir = process.env.BLOB_DIR?.trim();
  if (bucket) fromEnv = s3BlobStore({ bucket });
  else if (dir) fromEnv = directoryBlobStore(dir);
  else {
    throw new ConfigError(
      'BLOB_BUCKET (AWS) or BLOB_DIR (local) is required: the last-known-good cache tier is never kept in memory',
    );
  }
  return fromEnv;
}

/** Forgets the process's blob store (tests that change BLOB_DIR). */
export function resetBlobStore(): void {
  fromEnv = undefined;
}
