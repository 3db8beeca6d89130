// Provisioning — composition root: the process's provisioning dependencies (per-kind caches on the shared tiered
// cache, the cache tags, the inventory reader, and the ops service's limiter, job queue and service-account
// sessions), built once from the environment (settings checked at start-up) and rebuilt only when the clients
// were closed and reopened (the local runtime does that between runs).
import { blobStore, CacheTags, type Codec, credentialScope, jsonCodec, TieredCache } from '#shared/cache';
import { postgres, redis } from '#shared/clients';
import { opsService } from '#shared/ops';
import { type Kind, type KindValue, kinds } from './kinds.ts';
import type { LiveComputeResource } from './live-source.ts';
import type { ProvisioningDeps } from './resources.ts';
import { loadProvisioningSettings } from './settings.ts';

let memo: { client: unknown; deps: ProvisioningDeps } | undefined;

/** The process's provisioning dependencies. @throws ConfigError naming an invalid setting */
export function provisioningService(): ProvisioningDeps {
  const settings = loadProvisioningSettings();
  const client = redis();
  if (memo?.client === client) return memo.deps;
  const ops = opsService();
  const blobs = blobStore();
  const cacheOf = <T>(namespace: string, kind: Kind) =>
    new TieredCache<T>({
      namespace,
      redis: client,
      codec: jsonCodec as Codec<T>,
      ttlSeconds: settings.ttlSeconds[kind],
      // No stale window: past its TTL a value is reloaded at once; the blob store keeps it as last-known-good.
      staleSeconds: 0,
      blobs,
      // A caller waits for another process's load no longer than its own deadline.
      waitMs: settings.deadlineMs[kind],
      lockMs: Math.max(15_000, settings.completionDeadlineMs),
    });
  const deps: ProvisioningDeps = {
    db: postgres('reader'),
    limiter: ops.limiter,
    jobs: ops.jobs,
    caches: Object.fromEntries(
      kinds.map((kind) => [kind, cacheOf<KindValue>(`prov-${kind}`, kind)]),
    ) as Record<Kind, TieredCache<KindValue>>,
    computeIndex: cacheOf<Record<string, LiveComputeResource>>('prov-compute-index', 'compute'),
    tags: new CacheTags(client),
    settings,
    async identity(vcenterId) {
      const service = await ops.sessions.identity(vcenterId);
      return {
        scope: credentialScope(service),
        personal: false,
        client: () => ops.sessions.forVcenter(vcenterId),
      };
    },
  };
  memo = { client, deps };
  return deps;
}
