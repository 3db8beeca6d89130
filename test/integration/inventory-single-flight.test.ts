// Integration tests — single-flight misses of the inventory query cache (createTieredQueryCache, what
// production runs) on real Redis and PostgreSQL: many readers (each with its own Redis connection, like
// separate Lambda containers) missing one key at once run the query once; a waiter runs it itself when the
// loader stores nothing or takes too long.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInventoryReader,
  createTieredQueryCache,
  parseListQuery,
  parseSummaryQuery,
  type Queryable,
} from '../../shared/inventory/index.ts';
import { type InventoryFixture, inventoryFixture } from './inventory-fixture.ts';

describe('inventory query cache single-flight', () => {
  let fx: InventoryFixture;
  const connections: Redis[] = [];

  beforeAll(async () => {
    fx = await inventoryFixture('inv_flight');
  });
  afterAll(async () => {
    for (const connection of connections) connection.disconnect();
    await fx?.dispose();
  });

  /** A Redis connection of its own, in the test's key namespace. */
  const connect = () => {
    const connection = new Redis(fx.ns.services.redisUrl, {
      keyPrefix: fx.ns.redisKeyPrefix,
      maxRetriesPerRequest: 1,
    });
    connections.push(connection);
    return connection;
  };

  /** The fixture's pool, counting the statements that reach PostgreSQL. */
  const counting = () => {
    const db = {
      statements: 0,
      query: ((text: string, values?: unknown[]) => {
        db.statements++;
        return fx.pool.query(text, values);
      }) as Queryable['query'],
    };
    return db;
  };

  /** Holds an exclusive lock on the VM table until released, so the one query that runs is slow. */
  async function blockVms() {
    const client = await fx.pool.connect();
    await client.query('BEGIN');
    await client.query('LOCK TABLE vms IN ACCESS EXCLUSIVE MODE');
    return async () => {
      await client.query('COMMIT');
      client.release();
    };
  }

  it('runs one query for many readers missing the same key at once', async () => {
    const db = counting();
    const readers = Array.from({ length: 12 }, () =>
      createInventoryReader({
        cursorKey: Buffer.alloc(32, 7),
        db,
        cache: createTieredQueryCache({ redis: connect(), ttlSeconds: 60 }),
      }),
    );
    const query = parseListQuery('vms', { vcenter: 'vc-a', limit: '9' });
    const release = await blockVms();

    // Three concurrent requests per reader: across "containers" and within one.
    const answers = Promise.all(readers.flatMap((reader) => [1, 2, 3].map(() => reader.list(query))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const statementsWhileBlocked = db.statements;
    await release();
    const settled = await answers;

    expect(statementsWhileBlocked).toBe(1);
    expect(db.statements).toBe(1);
    expect(settled.filter((answer) => !answer.cached)).toHaveLength(1);
    const items = settled.map((answer) => JSON.stringify(answer.parse().items));
    expect(new Set(items).size).toBe(1);
    expect(settled[0]?.parse().items).toHaveLength(9);
  });

  it('lets a waiter run the query itself when the loader stores nothing', async () => {
    const db = counting();
    // Entries larger than 10 bytes are not stored: the waiter finds the lock gone and no entry. Neither the
    // waiter's own bound nor the lock's expiry can end its wait before this test times out (60 s), so only
    // the loader's unlock lets it go on.
    const loader = createInventoryReader({
      cursorKey: Buffer.alloc(32, 7),
      db,
      cache: createTieredQueryCache({ redis: connect(), ttlSeconds: 60, maxEntryBytes: 10, lockMs: 600_000 }),
    });
    const waiter = createInventoryReader({
      cursorKey: Buffer.alloc(32, 7),
      db,
      cache: createTieredQueryCache({ redis: connect(), ttlSeconds: 60, waitMs: 600_000 }),
    });
    const filters = parseSummaryQuery({ vcenter: 'vc-b' });
    const release = await blockVms();

    const first = loader.summary(filters);
    await expect.poll(() => db.statements, { timeout: 20_000, interval: 10 }).toBe(1);
    const second = waiter.summary(filters);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The waiter waits for the loader: no query of its own while the loader's runs.
    expect(db.statements).toBe(1);
    await release();
    const [a, b] = await Promise.all([first, second]);

    expect([a.cached, b.cached]).toEqual([false, false]);
    expect(db.statements).toBe(2);
    expect(b.parse().totals).toEqual(a.parse().totals);
  });

  it('lets a waiter run the query itself after a bounded wait for a slow loader', async () => {
    const db = counting();
    const loader = createInventoryReader({
      cursorKey: Buffer.alloc(32, 7),
      db,
      cache: createTieredQueryCache({ redis: connect(), ttlSeconds: 60 }),
    });
    const waiter = createInventoryReader({
      cursorKey: Buffer.alloc(32, 7),
      db,
      cache: createTieredQueryCache({ redis: connect(), ttlSeconds: 60, waitMs: 150 }),
    });
    const query = parseListQuery('vms', { vcenter: 'vc-b', power_state: 'suspended' });
    const release = await blockVms();

    const first = loader.list(query);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const begun = performance.now();
    const second = waiter.list(query);
    // The waiter gives up after 150 ms and queues its own query behind the lock.
    await expect.poll(() => db.statements, { timeout: 2_000, interval: 20 }).toBe(2);
    const waited = performance.now() - begun;
    await release();
    const [a, b] = await Promise.all([first, second]);

    expect(waited).toBeGreaterThanOrEqual(140);
    expect([a.cached, b.cached]).toEqual([false, false]);
    expect(b.parse().items).toEqual(a.parse().items);
  });
});
