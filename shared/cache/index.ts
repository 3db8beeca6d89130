// Cache — public surface (`#shared/cache`): the tiered cache (L1 process LRU → L2 Redis → L3 blob store),
// credential scopes for its keys and the blob stores (the inventory's QueryCache on it is in shared/inventory).
export { type BlobStore, blobStore, directoryBlobStore, resetBlobStore, s3BlobStore } from './blob-store.ts';
export {
  binaryCodec,
  type Codec,
  decodeEntry,
  type EntryMeta,
  encodeEntry,
  etagOf,
  jsonCodec,
  textCodec,
} from './codec.ts';
export { type CredentialIdentity, credentialScope, serviceScope } from './scope.ts';
export { CacheTags } from './tags.ts';
export {
  type CacheAnswer,
  type CacheEntry,
  type CacheKey,
  CacheLoadError,
  type CacheLock,
  type CacheStatus,
  type Freshness,
  type GetOptions,
  keyPrefixFromEnv,
  TieredCache,
  type TieredCacheOptions,
} from './tiered-cache.ts';
