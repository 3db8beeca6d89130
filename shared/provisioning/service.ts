// Provisioning — composition root: the process's provisioning dependencies (per-kind caches on the shared tiered
// cache, the cache tags, the inventory reader, and the ops service's limiter, job queue and service-account
// sessions), built once from the environment (settings checked at start-up) and rebuilt only when the clients
// were closed and reopened (the local runtime does that between runs).
import { blobStore, CacheTags, type Codec, credentialScope, jsonCodec, TieredCache } from '#shared/cache';
import { dynamo, postgres, redis } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames, secretNames } from '#shared/contracts';
import { opsService } from '#shared/ops';
import { keyWrapperFromEnv, secretStore } from '#shared/secrets';
import { CredentialStore, type KeyWrapper, type PersonalCredential } from './credentials.ts';
import { PersonalSessions, vcenterEndpoint } from './identity.ts';
import { type Kind, type KindValue, kinds } from './kinds.ts';
import type { LiveComputeResource } from './live-source.ts';
import type { ProvisioningDeps } from './resources.ts';
import { loadProvisioningSettings } from './settings.ts';

/** The use case's dependencies and the personal credentials the credentials routes write. */
export interface ProvisioningService extends ProvisioningDeps {
  readonly credentials: Pick<CredentialStore, 'get' | 'put' | 'delete'>;
}

/**
 * The wrapper of the credentials' data keys, from `CREDENTIALS_KEY`: `kms:<key arn>` (AWS, set by the CDK), or
 * `secret-store` (the default locally): a 256-bit key kept in the secret store, created on first use.
 */
function credentialKeys(): KeyWrapper {
  return keyWrapperFromEnv('CREDENTIALS_KEY', secretStore, secretNames.credentialsKey);
}

/**
 * Credential lookups remembered in the process for a few seconds (found or not, one lookup in flight per
 * caller): every request asks, and a crowd must not queue on DynamoDB and KMS. A PUT or DELETE takes effect at
 * once in its own process and within `credentialMemoMs` in the others.
 */
const credentialMemoMs = 5_000;
function rememberedCredentials(store: CredentialStore): Pick<CredentialStore, 'get' | 'put' | 'delete'> {
  const memo = new Map<string, { until: number; credential: Promise<PersonalCredential | undefined> }>();
  const keyOf = (vcenterId: string, subject: string) => `${vcenterId}\n${subject}`;
  return {
    get(vcenterId, subject) {
      const key = keyOf(vcenterId, subject);
      const held = memo.get(key);
      if (held && held.until > Date.now()) return held.credential;
      const credential = store.get(vcenterId, subject);
      memo.set(key, { until: Date.now() + credentialMemoMs, credential });
      credential.catch(() => memo.delete(key));
      if (memo.size > 10_000) memo.delete(memo.keys().next().value as string);
      return credential;
    },
    async put(vcenterId, subject, credential) {
      await store.put(vcenterId, subject, credential);
      memo.delete(keyOf(vcenterId, subject));
    },
    async delete(vcenterId, subject) {
      const removed = await store.delete(vcenterId, subject);
      memo.delete(keyOf(vcenterId, subject));
      return removed;
    },
  };
}

let memo: { client: unknown; deps: ProvisioningService } | undefined;

/** The process's provisioning dependencies. @throws ConfigError naming an invalid setting */
export function provisioningService(): ProvisioningService {
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
      l1MaxBytes: settings.l1Megabytes * 1024 * 1024,
      // A caller waits for another process's load no longer than its own deadline.
      waitMs: settings.deadlineMs[kind],
      lockMs: Math.max(15_000, settings.completionDeadlineMs),
    });
  const credentials = rememberedCredentials(
    new CredentialStore(dynamo(), requireEnv(envNames.tableName('credentials')), credentialKeys()),
  );
  const personal = new PersonalSessions(settings.sessionsTotal, settings.completionDeadlineMs * 2);
  const deps: ProvisioningService = {
    // Resolved at each use: the service is kept per process, and the local runtime runs the provisioning API and
    // the LOW ops worker (which completes loads) in one, each with its own database role.
    get db() {
      return postgres('reader');
    },
    credentials,
    limiter: ops.limiter,
    jobs: ops.jobs,
    caches: Object.fromEntries(
      kinds.map((kind) => [kind, cacheOf<KindValue>(`prov-${kind}`, kind)]),
    ) as Record<Kind, TieredCache<KindValue>>,
    computeIndex: cacheOf<Record<string, LiveComputeResource>>('prov-compute-index', 'compute'),
    tags: new CacheTags(client),
    settings,
    async identity(vcenterId, subject) {
      const credential = subject ? await credentials.get(vcenterId, subject) : undefined;
      if (credential && subject) {
        const endpoint = await vcenterEndpoint(postgres('reader'), vcenterId);
        return {
          // The vCenter user a personal identity logs in as: the same user shares answers, another never does.
          scope: credentialScope({ url: endpoint.url, username: credential.username }),
          personal: true,
          subject,
          client: () => personal.open(endpoint, credential),
        };
      }
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
