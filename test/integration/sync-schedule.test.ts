// Integration tests — when passes happen, against real PostgreSQL, the local SQS FIFO endpoint and vcsim: the
// dispatcher claims a vCenter due within half its period and names the slot in the message; a polling pass
// anchors next_sync_at to that slot (a 60 s interval behind a 60 s dispatcher stays one pass a minute, not
// one every 120 s); a request enqueues at once and leases the row, so the next tick does not enqueue again;
// a too-short interval is refused at registration.
import {
  DeleteMessageCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { type LocalSqs, startLocalSqs } from '../../infra/local/sqs/index.ts';
import { queues } from '../../infra/topology.ts';
import { BadRequestError } from '../../shared/http/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import {
  dispatchDueVcenters,
  parseSyncMessage,
  registerVcenter,
  requestSync,
  type SyncMessage,
  syncVcenter,
} from '../../shared/inventory/sync/index.ts';
import { createFileSecretStore } from '../../shared/secrets/index.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

describe('sync schedule', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let sqs: LocalSqs;
  let client: SQSClient;
  let vcsim: VcsimService;
  let redis: Redis;
  const secrets = createFileSecretStore(
    `${process.env.TMPDIR ?? '/tmp'}/vfleet-sync-schedule-${process.pid}.json`,
  );
  const id = 'sched-1';

  beforeAll(async () => {
    [db, sqs, vcsim] = await Promise.all([
      freshDatabase('sync_schedule'),
      startLocalSqs({ queues }),
      startTestVcsim({ vms: 8 }),
    ]);
    pool = new pg.Pool({ ...db.postgres, max: 4 });
    redis = new Redis(db.services.redisUrl);
    await migrate(pool, { vmPartitions: 2 });
    client = new SQSClient({
      endpoint: sqs.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await registerVcenter(
      pool,
      secrets,
      {
        id,
        url: vcsim.url,
        username: vcsim.username,
        password: vcsim.password,
        syncMode: 'polling',
        syncIntervalSeconds: 60,
        insecure: true,
      },
      { minIntervalSeconds: 60 },
    );
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    redis?.disconnect();
    await secrets.delete(`file:${id}`).catch(() => {});
    await Promise.all([sqs?.stop(), vcsim?.stop(), pool?.end()]);
    await db?.dispose();
  });

  beforeEach(async () => {
    await client.send(new PurgeQueueCommand({ QueueUrl: sqs.queueUrl('sync') }));
  });

  const queue = () => ({ sqs: client, queueUrl: sqs.queueUrl('sync') });

  /** Every message on the sync queue now (deleted as read). */
  async function drain(): Promise<SyncMessage[]> {
    const out: SyncMessage[] = [];
    for (;;) {
      const { Messages = [] } = await client.send(
        new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl('sync'), MaxNumberOfMessages: 10 }),
      );
      if (Messages.length === 0) return out;
      for (const m of Messages) {
        out.push(parseSyncMessage(m.Body ?? '') as SyncMessage);
        await client.send(
          new DeleteMessageCommand({ QueueUrl: sqs.queueUrl('sync'), ReceiptHandle: m.ReceiptHandle }),
        );
      }
    }
  }

  /** Sets next_sync_at `offsetMs` from the database's now; answers that instant (epoch ms). */
  async function dueIn(offsetMs: number): Promise<number> {
    const { rows } = await pool.query<{ at: Date }>(
      `UPDATE vcenters SET next_sync_at = date_trunc('milliseconds', now() + make_interval(secs => $2::float8 / 1000))
        WHERE id = $1 RETURNING next_sync_at AS at`,
      [id, offsetMs],
    );
    return (rows[0] as { at: Date }).at.getTime();
  }

  const nextSyncAt = async () =>
    (
      await pool.query<{ at: Date }>('SELECT next_sync_at AS at FROM vcenters WHERE id = $1', [id])
    ).rows[0]?.at.getTime();

  const pass = (dueAt: number) =>
    syncVcenter(id, { writer: pool, reader: pool, secrets, redis }, { remainingMs: () => 120_000, dueAt });

  it('claims a vCenter due within half the dispatcher period and names its slot; not one due later', async () => {
    const due = await dueIn(20_000);
    const first = await dispatchDueVcenters(pool, { ...queue(), periodSeconds: 60 });
    const [message] = await drain();

    expect(first.enqueued).toBe(1);
    expect(message).toMatchObject({ vcenterId: id, reason: 'scheduled', dueAt: due });
    // Leased: the next tick does not claim it again while its pass runs.
    expect(await nextSyncAt()).toBeGreaterThan(due);
    expect((await dispatchDueVcenters(pool, { ...queue(), periodSeconds: 60 })).enqueued).toBe(0);

    await dueIn(40_000);
    expect((await dispatchDueVcenters(pool, { ...queue(), periodSeconds: 60 })).enqueued).toBe(0);
    expect(await drain()).toEqual([]);

    // Due again within the same minute (a fast dispatcher, a short backoff): a pass of its own, not a
    // duplicate that SQS would drop while the row stays leased.
    const again = await dueIn(0);
    expect((await dispatchDueVcenters(pool, { ...queue(), periodSeconds: 60 })).enqueued).toBe(1);
    expect(await drain()).toEqual([{ vcenterId: id, reason: 'scheduled', dueAt: again }]);
  });

  it('anchors the next polling pass to the slot it was due for, not to when the pass ended', async () => {
    const due = Date.now() - 3_000;
    const first = await pass(due);
    expect(first.error).toBeUndefined();
    expect(first).toMatchObject({ status: 'synced', mode: 'full' });
    expect(await nextSyncAt()).toBe(due + 60_000);

    // Claimed early (within the dispatcher's lead): still one interval after its own slot.
    const early = Date.now() + 20_000;
    expect(await pass(early)).toMatchObject({ status: 'synced', mode: 'incremental' });
    expect(await nextSyncAt()).toBe(early + 60_000);

    // Late by more than two intervals: the next slot ahead on the same grid, no burst of catch-up passes.
    const late = Date.now() - 130_000;
    await pass(late);
    expect(await nextSyncAt()).toBe(late + 180_000);
  });

  it('keeps a 60 s interval behind a 60 s dispatcher at one pass per tick', async () => {
    const tick = await dueIn(0);
    expect((await dispatchDueVcenters(pool, { ...queue(), periodSeconds: 60 })).enqueued).toBe(1);
    const [message] = await drain();
    await pass(message?.dueAt as number);
    expect(await nextSyncAt()).toBe(tick + 60_000);
    // 55 s later the next tick fires (5 s early, as schedules do): the slot is within its lead, so it is
    // claimed now, not at the tick after (which made a 60 s interval one pass every 120 s).
    await pool.query(
      `UPDATE vcenters SET next_sync_at = next_sync_at - interval '55 seconds' WHERE id = $1`,
      [id],
    );
    expect((await dispatchDueVcenters(pool, { ...queue(), periodSeconds: 60 })).enqueued).toBe(1);
    // Claimed: the row carries the dispatcher's lease now.
    expect(await nextSyncAt()).toBeGreaterThan(Date.now() + 600_000);
  });

  it('enqueues a requested pass at once and leases the row, so the next tick sends no second one', async () => {
    await dueIn(0);
    const requested = await requestSync(pool, id, { ...queue(), reason: 'requested', full: true });
    const tick = await dispatchDueVcenters(pool, { ...queue(), periodSeconds: 60 });
    const messages = await drain();

    expect(requested).toMatchObject({ vcenterId: id, reason: 'requested', full: true, queued: true });
    expect(tick.enqueued).toBe(0);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ vcenterId: id, reason: 'requested', full: true });
    expect(messages[0]?.dueAt).toEqual(expect.any(Number));
    await expect(requestSync(pool, 'nope', { ...queue(), reason: 'requested' })).rejects.toThrow(
      /No vCenter nope/,
    );
  });

  it('refuses a polling interval shorter than the dispatcher period, naming the minimum', async () => {
    const attempt = registerVcenter(
      pool,
      secrets,
      {
        id: 'too-fast',
        url: 'https://127.0.0.1:9/sdk',
        username: 'u',
        password: 'p',
        syncMode: 'polling',
        syncIntervalSeconds: 30,
        insecure: false,
      },
      { minIntervalSeconds: 60 },
    );
    await expect(attempt).rejects.toBeInstanceOf(BadRequestError);
    await expect(attempt).rejects.toMatchObject({
      fields: { syncIntervalSeconds: expect.stringMatching(/at least 60/) },
    });
    const { rows } = await pool.query('SELECT 1 FROM vcenters WHERE id = $1', ['too-fast']);
    expect(rows).toHaveLength(0);
  });
});
