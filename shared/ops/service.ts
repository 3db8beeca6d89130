// Ops — composition root: the process-wide limiter, thumbnail cache, job queue, vCenter sessions and the
// worker's thumbnail runner the ops handlers share (the inventory's jobs, vm-refresh and inventory-verify, are
// wired onto it by the ops worker handler), built once from the environment
// (settings checked at start-up) and rebuilt only if the clients were closed and reopened (the local runtime
// does that between runs).
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { binaryCodec, blobStore, keyPrefixFromEnv, TieredCache, textCodec } from '#shared/cache';
import { postgres, redis, sqs } from '#shared/clients';
import { queueContracts } from '#shared/contracts';
import { secretStore } from '#shared/secrets';
import { sqsJobQueue } from './jobs.ts';
import { type Lane, laneQueues, laneQueueUrl } from './lanes.ts';
import { Limiter } from './limiter.ts';
import { registryVcenterSessions, type VcenterSessions, vcenterSessionsOverride } from './sessions.ts';
import { loadOpsSettings, type OpsSettings } from './settings.ts';
import { runThumbnailJob, type ThumbnailDeps } from './thumbnails.ts';
import type { WorkerDeps } from './worker.ts';

/** Everything the ops use cases need, for one process. */
export interface OpsService extends WorkerDeps, ThumbnailDeps {
  readonly settings: OpsSettings;
  /** The inventory answers' cache namespace (see createTieredQueryCache), for its counts in the hit ratio. */
  readonly inventoryCache: TieredCache<string>;
  /** Messages in a lane's queue (visible, delayed or in flight). */
  queueDepth(lane: Lane): Promise<number>;
}

// Sessions: the process override (tests, benchmarks) when set, else the vCenter registry.
const sessions: VcenterSessions = {
  identity: (id) => (vcenterSessionsOverride() ?? registry()).identity(id),
  forVcenter: (id) => (vcenterSessionsOverride() ?? registry()).forVcenter(id),
};
let registryMemo: { db: unknown; sessions: VcenterSessions } | undefined;
function registry(): VcenterSessions {
  const db = postgres('reader');
  if (registryMemo?.db !== db) {
    registryMemo = { db, sessions: registryVcenterSessions({ db, secrets: secretStore() }) };
  }
  return registryMemo.sessions;
}

let memo: { client: unknown; service: OpsService } | undefined;

/** The process's ops service. @throws ConfigError naming an invalid setting */
export function opsService(): OpsService {
  const settings = loadOpsSettings();
  const client = redis();
  if (memo?.client === client) return memo.service;
  const keyPrefix = keyPrefixFromEnv();
  const thumbnailTtl = settings.thumbnailCacheTtlSeconds;
  const service: OpsService = {
    settings,
    sessions,
    sqs: sqs(),
    limiter: new Limiter({
      redis: client,
      maxConcurrent: settings.maxConcurrent,
      minIntervalMs: settings.minIntervalSeconds * 1000,
      // Longer than any call made under a lease (screens 10 s, tickets 10 s, a login on the way).
      leaseTtlMs: 30_000,
    }),
    cache: new TieredCache<Buffer>({
      namespace: 'thumbnail',
      redis: client,
      codec: binaryCodec,
      ttlSeconds: thumbnailTtl,
      staleSeconds: thumbnailTtl,
      blobs: blobStore(),
    }),
    jobs: sqsJobQueue({ sqs: sqs(), redis: client, keyPrefix }),
    runners: {
      thumbnail: (job) => runThumbnailJob(service, job),
    },
    inventoryCache: new TieredCache<string>({
      namespace: 'inventory',
      redis: client,
      codec: textCodec,
      ttlSeconds: settings.vmListCacheTtlSeconds,
      staleSeconds: settings.vmListCacheTtlSeconds,
      l1MaxBytes: 0,
    }),
    maxReceiveCount: (lane) => queueContracts[laneQueues[lane]].maxReceiveCount,
    // A first load is pointless after a minute (its requester gave up long ago); a refresh after two TTLs
    // (the next request enqueues a new one), but no sooner than a minute, so backlogs can drain.
    maxJobAgeMs: (lane) => (lane === 'LOW' ? Math.max(60_000, 2 * thumbnailTtl * 1000) : 60_000),
    async queueDepth(lane) {
      const answer = await sqs().send(
        new GetQueueAttributesCommand({
          QueueUrl: laneQueueUrl(lane),
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      const a = answer.Attributes ?? {};
      return (
        Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0)
      );
    },
  };
  memo = { client, service };
  return service;
}
