// Unit tests — the cache envelope (compression over the threshold, only when it helps), credential scopes,
// the directory blob store, the S3 blob store (aws-sdk-client-mock) and the refusal to run without an L3.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  blobStore,
  directoryBlobStore,
  resetBlobStore,
  s3BlobStore,
} from '../../../shared/cache/blob-store.ts';
import { decodeEntry, encodeEntry, etagOf } from '../../../shared/cache/codec.ts';
import { credentialScope, serviceScope } from '../../../shared/cache/scope.ts';

describe('cache envelope', () => {
  it('compresses a large, compressible payload and restores it', () => {
    const payload = Buffer.from(
      JSON.stringify({ items: Array.from({ length: 500 }, (_, i) => ({ id: i })) }),
    );
    const meta = { storedAt: 123, etag: etagOf(payload), size: payload.length };
    const bytes = encodeEntry(payload, meta, 1024);
    const decoded = decodeEntry(bytes);

    expect(bytes.length).toBeLessThan(payload.length / 2);
    expect(decoded?.compressed).toBe(true);
    expect(decoded?.payload.equals(payload)).toBe(true);
    expect(decoded?.meta).toEqual(meta);
  });

  it('leaves small or incompressible payloads as they are, and refuses foreign bytes', () => {
    const small = Buffer.from('tiny');
    expect(decodeEntry(encodeEntry(small, { storedAt: 1, etag: 'e', size: 4 }, 1024))?.compressed).toBe(
      false,
    );
    const random = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(Math.random() * 256)));
    expect(decodeEntry(encodeEntry(random, { storedAt: 1, etag: 'e', size: 4096 }, 1024))?.compressed).toBe(
      false,
    );
    expect(decodeEntry(Buffer.from('{"not":"an envelope"}'))).toBeUndefined();
  });
});

describe('credential scopes', () => {
  it('differ per user and endpoint, are stable, and carry no secret', () => {
    const a = credentialScope({ url: 'https://vc-1.example.com/sdk', username: 'alice' });
    expect(credentialScope({ url: 'https://VC-1.example.com/sdk', username: 'alice' })).toBe(a);
    expect(credentialScope({ url: 'https://vc-1.example.com/sdk', username: 'bob' })).not.toBe(a);
    expect(credentialScope({ url: 'https://vc-2.example.com/sdk', username: 'alice' })).not.toBe(a);
    expect(a).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(serviceScope('inventory')).not.toBe(a);
  });
});

describe('blob stores', () => {
  const s3 = mockClient(S3Client);
  afterEach(() => {
    s3.reset();
    resetBlobStore();
    delete process.env.BLOB_DIR;
    delete process.env.BLOB_BUCKET;
  });

  it('keeps blobs in a directory under hashed names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vfleet-blobs-'));
    try {
      const store = directoryBlobStore(dir);
      await store.put('thumbnail/scope/../../etc', Buffer.from('png'));
      expect((await store.get('thumbnail/scope/../../etc'))?.toString()).toBe('png');
      expect(await store.get('missing')).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('puts and gets objects under the prefix in S3, a missing key being undefined', async () => {
    s3.on(PutObjectCommand).resolves({});
    s3.on(GetObjectCommand, { Key: 'cache/k1' }).resolves({
      Body: { transformToByteArray: async () => new Uint8Array([1, 2, 3]) } as never,
    });
    s3.on(GetObjectCommand, { Key: 'cache/k2' }).rejects(new NoSuchKey({ message: 'no', $metadata: {} }));
    const store = s3BlobStore({ bucket: 'b', client: new S3Client({ region: 'eu-west-1' }) });

    await store.put('k1', Buffer.from([1, 2, 3]));
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'b',
      Key: 'cache/k1',
    });
    expect([...((await store.get('k1')) ?? [])]).toEqual([1, 2, 3]);
    expect(await store.get('k2')).toBeUndefined();
  });

  it('chooses S3 or a directory from the environment and never falls back to memory', () => {
    expect(() => blobStore()).toThrow(/BLOB_BUCKET \(AWS\) or BLOB_DIR \(local\) is required/);
    process.env.BLOB_DIR = '/tmp/x';
    expect(blobStore().location).toBe('/tmp/x');
    resetBlobStore();
    process.env.BLOB_BUCKET = 'bucket-1';
    expect(blobStore().location).toBe('s3://bucket-1/cache/');
  });
});
