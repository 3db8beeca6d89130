// Cache — secondary adapter (Redis): tags for selective invalidation. A writer that changed objects records
// when each changed (`touch`, e.g. the inventory sync after COMMIT, with the moids it wrote); a cached value
// lists the tags it was built from, and `changedAt` tells the tiered cache (GetOptions.invalidatedAt) when the
// newest of them changed, so exactly the entries that use a changed object move on, not the whole group.
import type { RedisClient } from '#shared/clients';
import { keyPrefixFromEnv } from './tiered-cache.ts';

/** How long a tag's change time is kept: longer than any TTL, so an entry never outlives its tag's record. */
const tagLifetimeSeconds = 24 * 3600;

/** Change times of tags, per group (a vCenter): one Redis hash each, hash-tagged for cluster mode. */
export class CacheTags {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisClient,
    options: { keyPrefix?: string } = {},
  ) {
    this.prefix = options.keyPrefix ?? keyPrefixFromEnv();
  }

  private key(group: string): string {
    return `${this.prefix}c:tags:{${group}}`;
  }

  /** Records that `tags` of `group` changed at `at` (epoch ms). */
  async touch(group: string, tags: Iterable<string>, at = Date.now()): Promise<void> {
    const fields = [...new Set(tags)];
    if (fields.length === 0) return;
    const key = this.key(group);
    const pipeline = this.redis.multi();
    for (let i = 0; i < fields.length; i += 1_000) {
      pipeline.hset(key, ...fields.slice(i, i + 1_000).flatMap((tag) => [tag, String(at)]));
    }
    pipeline.expire(key, tagLifetimeSeconds);
    await pipeline.exec();
  }

  /** When the newest of `tags` changed (epoch ms), 0 when none is recorded. */
  async changedAt(group: string, tags: readonly string[]): Promise<number> {
    if (tags.length === 0) return 0;
    const times = await this.redis.hmget(this.key(group), ...tags);
    return times.reduce((latest, time) => Math.max(latest, Number(time ?? 0)), 0);
  }
}
