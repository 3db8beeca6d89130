// Integration tests — the provisioning answers on the tiered cache, against the real Redis and a directory
// blob store: a large kind (500 templates) is stored gzipped in Redis and in the blob store and read back
// equal, a small one is stored as is, and a kind whose tag changed after it was loaded is loaded again while
// one with untouched tags is served from the cache (CacheTags, the selective invalidation the sync drives).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheTags,
  type Codec,
  credentialScope,
  decodeEntry,
  directoryBlobStore,
  jsonCodec,
  TieredCache,
} from '../../shared/cache/index.ts';
import type { KindValue, TemplateItem } from '../../shared/provisioning/kinds.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let blobDir: string;

beforeAll(async () => {
  ns = await freshNamespace('prov_cache');
  redis = new Redis(ns.services.redisUrl, { keyPrefix: ns.redisKeyPrefix });
  blobDir = await mkdtemp(join(tmpdir(), 'vfleet-prov-cache-'));
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.dispose();
  if (blobDir) await rm(blobDir, { recursive: true, force: true });
});

const templates = (n: number): KindValue => {
  const items: TemplateItem[] = Array.from({ length: n }, (_, i) => ({
    id: `vm-${1000 + i}`,
    name: `template-${String(i).padStart(4, '0')}-ubuntu-22.04-golden`,
    guestFullName: 'Ubuntu Linux (64-bit)',
    numCpu: 2,
    memoryMb: 4096,
  }));
  return { items, total: n, source: 'live', tags: ['domain-c7', ...items.map((t) => t.id)] };
};

const cacheOf = (namespace: string) =>
  new TieredCache<KindValue>({
    namespace,
    redis,
    codec: jsonCodec as Codec<KindValue>,
    ttlSeconds: 300,
    staleSeconds: 0,
    blobs: directoryBlobStore(join(blobDir, namespace)),
    keyPrefix: '',
  });

async function storedEnvelopes(namespace: string) {
  const keys = (await redis.keys(`${ns.redisKeyPrefix}c:${namespace}:{*`)).filter(
    (k) => !/:(lock|fail)$/.test(k),
  );
  const l2 = await Promise.all(keys.map((k) => redis.getBuffer(k.slice(ns.redisKeyPrefix.length))));
  const files = (await readdir(join(blobDir, namespace), { recursive: true, withFileTypes: true })).filter(
    (f) => f.isFile(),
  );
  const l3 = await Promise.all(files.map((f) => readFile(join(f.parentPath, f.name))));
  return { l2: l2.filter((b): b is Buffer => b !== null), l3 };
}

describe('provisioning answers on the tiered cache', () => {
  const key = {
    scope: credentialScope({ url: 'https://vc.example/sdk', username: 'svc' }),
    key: 'vc\ntemplates\nc7',
  };

  it('gzips a large kind in Redis and the blob store, and reads it back equal', async () => {
    const cache = cacheOf('prov-templates-big');
    const value = templates(500);
    const json = Buffer.from(JSON.stringify(value));
    expect(json.length).toBeGreaterThan(8 * 1024);
    await cache.put(key, value);
    const { l2, l3 } = await storedEnvelopes('prov-templates-big');
    expect(l2).toHaveLength(1);
    expect(l3).toHaveLength(1);
    for (const stored of [...l2, ...l3]) {
      const entry = decodeEntry(stored);
      expect(entry?.compressed).toBe(true);
      expect(stored.length).toBeLessThan(json.length / 4);
      expect(JSON.parse(entry?.payload.toString('utf8') ?? '')).toEqual(value);
    }
    cache.clearLocal();
    expect((await cache.peek(key))?.value).toEqual(value);
  });

  it('stores a small kind as is', async () => {
    const cache = cacheOf('prov-templates-small');
    await cache.put(key, templates(3));
    const { l2 } = await storedEnvelopes('prov-templates-small');
    expect(decodeEntry(l2[0] as Buffer)?.compressed).toBe(false);
  });

  it('reloads a kind whose tag changed after its load, and serves one whose tags did not', async () => {
    const cache = cacheOf('prov-templates-tags');
    const tags = new CacheTags(redis, { keyPrefix: '' });
    const other = { ...key, key: 'vc\ntemplates\nc8' };
    let loads = 0;
    const load = (value: KindValue) => async () => {
      loads++;
      return value;
    };
    const options = { invalidatedAt: (v: KindValue) => tags.changedAt('vc', v.tags) };
    await cache.get(key, load(templates(2)), options);
    await cache.get(other, load({ ...templates(2), tags: ['domain-c8'] }), options);
    expect(loads).toBe(2);
    // Act: a template of c7 changed.
    await tags.touch('vc', ['vm-1001']);
    const again = await cache.get(key, load(templates(3)), options);
    const untouched = await cache.get(other, load(templates(9)), options);
    // Assess: c7 loaded again (with its new value), c8 from the cache.
    expect(again.status).toBe('miss');
    expect(again.value.total).toBe(3);
    expect(untouched.status).toBe('hit');
    expect(untouched.value.total).toBe(2);
    expect(loads).toBe(3);
  });
});
