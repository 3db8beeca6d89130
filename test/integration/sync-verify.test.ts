// Integration tests — the drift check (shared/inventory/sync/verify.ts) against a real vcsim, PostgreSQL and the
// Redis limiter: a fully synced vCenter verifies as `match`; corrupted rows (a VM's power state, a deleted
// network, a VM the vCenter never had) verify as `drift` with exact per-table counts, the `inventory drift` log
// and the InventoryDrift metric, and make the next pass a full sync that repairs them; the fingerprint (each
// table's row_hash) covers every column the sync writes; a change the sync has not applied yet is lag, not drift
// (the re-check asks a polling vCenter for a pass, or waits for a streaming vCenter's running stream, then
// matches); a sync that does not look again is an error, not drift; a busy LOW lane hands the job back; the
// temporary watch is destroyed; no inventory row is written by a verification.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import {
  getVcenter,
  inventoryDriftMetric,
  type SyncDeps,
  setSyncMode,
  syncVcenter,
  tableSpecs,
  type VerifyDeps,
  verifyVcenter,
} from '../../shared/inventory/sync/index.ts';
import { logger, metrics } from '../../shared/observability/index.ts';
import { Limiter } from '../../shared/ops/limiter.ts';
import { createFileSecretStore } from '../../shared/secrets/index.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';
import { startTestVcsim } from '../setup/vcsim.ts';
import { snapshot } from './sync-helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: the view's verification member is read loosely
type Json = Record<string, any>;

describe('inventory drift check', () => {
  let ns: TestNamespace;
  let vcsim: VcsimService;
  let pool: pg.Pool;
  let redis: Redis;
  let limiter: Limiter;
  let admin: VsphereClient;
  const vcenterId = `verify-${randomBytes(3).toString('hex')}`;
  const secrets = createFileSecretStore(
    `${process.env.TMPDIR ?? '/tmp'}/vfleet-sync-verify-${process.pid}.json`,
  );
  /** Passes the verifications asked for: incremental ones run at once (the sync worker's part). */
  const passes: { id: string; full: boolean }[] = [];

  const syncDeps = (): SyncDeps => ({ writer: pool, reader: pool, secrets, redis });
  const pass = () => syncVcenter(vcenterId, syncDeps(), { remainingMs: () => 120_000 });
  const deps = (overrides: Partial<VerifyDeps> = {}): VerifyDeps => ({
    writer: pool,
    client: () =>
      VsphereClient.connect({
        url: vcsim.url,
        username: vcsim.username,
        password: vcsim.password,
        insecure: true,
      }),
    limiter,
    // The sync worker's part, in-process: the re-check's incremental pass runs at once; the repairing full
    // pass a drift asks for is run by the test itself.
    requestPass: async (id, _through, full) => {
      passes.push({ id, full });
      if (!full) await syncVcenter(id, syncDeps(), { remainingMs: () => 120_000 });
    },
    ...overrides,
  });
  const registry = async () => (await getVcenter(pool, vcenterId)) as unknown as Json;
  const row = async () =>
    (
      await pool.query<{ pc_version: string | null; due: boolean; verify_due_soon: boolean }>(
        `SELECT pc_version, next_sync_at <= now() AS due,
                next_verify_at <= now() + interval '15 minutes' AS verify_due_soon
           FROM vcenters WHERE id = $1`,
        [vcenterId],
      )
    ).rows[0];
  const poweredOnVm = async () =>
    (
      await pool.query<{ moid: string }>(
        `SELECT moid FROM vms WHERE vcenter_id = $1 AND power_state = 'poweredOn' AND NOT template ORDER BY moid LIMIT 1`,
        [vcenterId],
      )
    ).rows[0]?.moid as string;
  const soapCalls = async () => (await vcsim.stats()).soap.byMethod;

  beforeAll(async () => {
    [ns, vcsim] = await Promise.all([freshNamespace('sync_verify'), startTestVcsim({ vms: 24 })]);
    pool = new pg.Pool({ ...ns.pg, max: 6 });
    await migrate(pool, { vmPartitions: 2 });
    redis = new Redis(ns.services.redisUrl);
    limiter = new Limiter({ redis, maxConcurrent: 8, minIntervalMs: 5, keyPrefix: ns.redisKeyPrefix });
    const ref = await secrets.put(vcenterId, vcsim.password);
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref, tls_insecure, sync_interval_seconds)
       VALUES ($1, $1, $2, $3, $4, true, 86400)`,
      [vcenterId, vcsim.url, vcsim.username, ref],
    );
    admin = await VsphereClient.connect({
      url: vcsim.url,
      username: vcsim.username,
      password: vcsim.password,
      insecure: true,
      pooled: false,
    });
  });

  afterAll(async () => {
    await admin?.close();
    await VsphereClient.closeAll();
    await secrets.delete(`file:${vcenterId}`);
    await pool?.end();
    redis?.disconnect();
    await vcsim?.stop();
    await ns?.dispose();
  });

  it("compares a fingerprint that covers every column the sync writes (each table's row_hash)", async () => {
    for (const spec of tableSpecs) {
      const { rows } = await pool.query<{ expr: string }>(
        `SELECT pg_get_expr(d.adbin, d.adrelid) AS expr
           FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
          WHERE d.adrelid = to_regclass($1) AND a.attname = 'row_hash'`,
        [spec.name],
      );
      const expr = rows[0]?.expr ?? '';
      for (const column of spec.columns.filter((c) => c !== 'moid')) {
        expect(expr, `${spec.name}.${column}`).toMatch(new RegExp(`\\b${column}\\b`));
      }
    }
  });

  it('skips a vCenter that has not had its full sync yet', async () => {
    expect(await verifyVcenter(deps(), vcenterId)).toEqual({ status: 'skipped', why: 'no full sync yet' });
    expect((await registry()).verification).toMatchObject({
      lastVerifiedAt: null,
      result: null,
      counts: null,
    });
  });

  it('verifies a freshly synced vCenter as a match, writing no inventory row and leaving no watch behind', async () => {
    // Prepare: a full sync.
    expect(await pass()).toMatchObject({ status: 'synced', mode: 'full' });
    const before = await snapshot(pool, vcenterId, true);
    const calls = await soapCalls();

    const result = await verifyVcenter(deps(), vcenterId);

    expect(result).toMatchObject({
      status: 'match',
      rechecked: false,
      counts: { missing: 0, extra: 0, differing: 0 },
    });
    if (result.status !== 'match') throw new Error('not a match');
    const vms = result.counts.byTable.vms;
    expect(vms?.vcenter).toBe(vcsim.counts.vms);
    expect(vms?.stored).toBe(vcsim.counts.vms);
    for (const table of Object.values(result.counts.byTable)) expect(table.vcenter).toBe(table.stored);
    // Nothing written, not even updated_at; the temporary collector (and its view and filter) destroyed.
    expect(await snapshot(pool, vcenterId, true)).toEqual(before);
    const after = await soapCalls();
    const delta = (method: string) => (after[method] ?? 0) - (calls[method] ?? 0);
    expect(delta('CreatePropertyCollector')).toBe(1);
    expect(delta('DestroyPropertyCollector')).toBe(1);
    expect(delta('DestroyPropertyFilter')).toBe(1);
    expect(delta('DestroyView')).toBe(1);
    expect(passes).toEqual([]);
    const { verification } = await registry();
    expect(verification).toMatchObject({
      result: 'match',
      error: null,
      counts: { missing: 0, extra: 0, differing: 0 },
    });
    expect(Date.parse(verification.lastVerifiedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('finds corrupted rows as drift with per-table counts, logs and counts it, and the full sync it schedules repairs them', async () => {
    // Prepare: one VM's power state flipped, one network deleted, one VM the vCenter does not have.
    const moid = await poweredOnVm();
    await pool.query(`UPDATE vms SET power_state = 'poweredOff' WHERE vcenter_id = $1 AND moid = $2`, [
      vcenterId,
      moid,
    ]);
    const network = (
      await pool.query<{ moid: string }>(
        'DELETE FROM networks WHERE moid = (SELECT min(moid) FROM networks WHERE vcenter_id = $1) AND vcenter_id = $1 RETURNING moid',
        [vcenterId],
      )
    ).rows[0]?.moid;
    await pool.query(
      `INSERT INTO vms (vcenter_id, moid, name, power_state, updated_at) VALUES ($1, 'vm-ghost', 'ghost', 'poweredOn', now() - interval '1 hour')`,
      [vcenterId],
    );
    const warn = vi.spyOn(logger, 'warn');
    const addMetric = vi.fn();
    const single = vi
      .spyOn(metrics, 'singleMetric')
      .mockReturnValue({ addMetric, addMetadata: vi.fn(), addDimension: vi.fn() } as never);
    passes.length = 0;

    const result = await verifyVcenter(deps(), vcenterId);

    // Assess: confirmed after the re-check (the pass it asked for found no change to explain it).
    expect(result).toMatchObject({
      status: 'drift',
      rechecked: true,
      counts: { missing: 1, extra: 1, differing: 1 },
    });
    if (result.status !== 'drift') throw new Error('not drift');
    expect(passes).toEqual([
      { id: vcenterId, full: false },
      { id: vcenterId, full: true },
    ]);
    expect(result.counts.byTable.vms).toMatchObject({ missing: 0, extra: 1, differing: 1 });
    expect(result.counts.byTable.networks).toMatchObject({ missing: 1, extra: 0, differing: 0 });
    expect(result.samples.vms).toEqual([moid, 'vm-ghost'].sort());
    expect(result.samples.networks).toEqual([network]);
    expect(warn).toHaveBeenCalledWith(
      'inventory drift',
      expect.objectContaining({ vcenterId, missing: 1, extra: 1, differing: 1 }),
    );
    expect(addMetric).toHaveBeenCalledWith(inventoryDriftMetric, 'Count', 1);
    warn.mockRestore();
    single.mockRestore();
    // The next pass is a full sync, due now; the next verification comes early, to confirm the repair.
    expect(await row()).toMatchObject({ pc_version: null, due: true, verify_due_soon: true });
    const drifted = (await registry()).verification;
    expect(drifted).toMatchObject({
      result: 'drift',
      error: null,
      counts: {
        missing: 1,
        extra: 1,
        differing: 1,
        byTable: { vms: { extra: 1, differing: 1 }, networks: { missing: 1 } },
      },
    });

    // Act: the pass the drift scheduled.
    expect(await pass()).toMatchObject({ status: 'synced', mode: 'full' });

    // Assess: the rows equal the simulator again, and a verification says so.
    const repaired = await pool.query<{ power_state: string }>(
      'SELECT power_state FROM vms WHERE vcenter_id = $1 AND moid = $2',
      [vcenterId, moid],
    );
    expect(repaired.rows[0]?.power_state).toBe('poweredOn');
    const ghost = await pool.query(`SELECT 1 FROM vms WHERE vcenter_id = $1 AND moid = 'vm-ghost'`, [
      vcenterId,
    ]);
    expect(ghost.rowCount).toBe(0);
    const restored = await pool.query('SELECT 1 FROM networks WHERE vcenter_id = $1 AND moid = $2', [
      vcenterId,
      network,
    ]);
    expect(restored.rowCount).toBe(1);
    passes.length = 0;
    expect(await verifyVcenter(deps(), vcenterId)).toMatchObject({ status: 'match', rechecked: false });
    expect((await registry()).verification).toMatchObject({
      result: 'match',
      counts: { missing: 0, extra: 0, differing: 0 },
    });
  });

  it('takes a change the sync has not applied yet for lag, not drift', async () => {
    // Prepare: a power-off in the simulator; no pass has run since (polling once a day).
    const moid = await poweredOnVm();
    await admin.waitForTask(await admin.powerOffVm({ type: 'VirtualMachine', value: moid }));
    passes.length = 0;

    const result = await verifyVcenter(deps(), vcenterId);

    // Assess: the mismatch was re-checked after the pass it asked for, which applied the change.
    expect(result).toMatchObject({ status: 'match', rechecked: true });
    expect(passes).toEqual([{ id: vcenterId, full: false }]);
    const stored = await pool.query<{ power_state: string }>(
      'SELECT power_state FROM vms WHERE vcenter_id = $1 AND moid = $2',
      [vcenterId, moid],
    );
    expect(stored.rows[0]?.power_state).toBe('poweredOff');
    expect((await row())?.pc_version).not.toBeNull();
  });

  it('records an error, not drift, when the sync does not look again in time', async () => {
    // Prepare: a corrupted row, and a sync that never answers the re-check's request.
    const moid = await poweredOnVm();
    await pool.query(`UPDATE vms SET name = 'tampered' WHERE vcenter_id = $1 AND moid = $2`, [
      vcenterId,
      moid,
    ]);

    const result = await verifyVcenter(deps({ requestPass: async () => {} }), vcenterId, {
      settleTimeoutMs: 1_500,
    });

    expect(result).toMatchObject({ status: 'error' });
    const { verification } = await registry();
    expect(verification).toMatchObject({ result: 'error', counts: null });
    expect(verification.error).toMatch(/did not look at the vCenter again/);
    expect((await row())?.pc_version).not.toBeNull();
    // Clean up for later tests: the full sync a confirmed drift would have scheduled.
    expect(
      await syncVcenter(vcenterId, syncDeps(), { remainingMs: () => 120_000, full: true }),
    ).toMatchObject({
      status: 'synced',
      mode: 'full',
    });
  });

  it('hands the job back when the LOW lane has no slot', async () => {
    // Prepare: every slot the LOW lane may fill (6 of 8) held.
    const busy = new Limiter({ redis, maxConcurrent: 8, minIntervalMs: 5, keyPrefix: ns.redisKeyPrefix });
    const holders = await Promise.all(
      Array.from({ length: 6 }, () => busy.acquire(vcenterId, 'LOW', { timeoutMs: 5_000 })),
    );
    try {
      expect(await verifyVcenter(deps(), vcenterId, { firstSlotWaitMs: 100 })).toEqual({ status: 'requeue' });
    } finally {
      await Promise.all(holders.map((lease) => busy.release(lease)));
    }
  });

  it('on a streaming vCenter, waits for the running stream: its changes are not drift, a corrupted row is', async () => {
    // Prepare: the vCenter streams (1 s waits), a pass holding the watch for the whole test.
    await setSyncMode(pool, vcenterId, 'streaming');
    const stream = syncVcenter(vcenterId, syncDeps(), {
      remainingMs: () => 120_000,
      streamForMs: 30_000,
      maxWaitSeconds: 1,
      marginMs: 0,
    });
    try {
      const requested = vi.fn(async () => {});
      // A power-off the stream applies while the check runs.
      const moid = await poweredOnVm();
      await admin.waitForTask(await admin.powerOffVm({ type: 'VirtualMachine', value: moid }));

      const lag = await verifyVcenter(deps({ requestPass: requested }), vcenterId);

      expect(lag).toMatchObject({ status: 'match' });
      // Then a row corrupted in the database, which the stream has no reason to touch.
      const other = await poweredOnVm();
      await pool.query(`UPDATE vms SET power_state = 'suspended' WHERE vcenter_id = $1 AND moid = $2`, [
        vcenterId,
        other,
      ]);

      const drift = await verifyVcenter(deps({ requestPass: requested }), vcenterId);

      // Assess: confirmed once the stream had looked again; nothing was requested (the stream was running).
      expect(drift).toMatchObject({
        status: 'drift',
        rechecked: true,
        counts: { missing: 0, extra: 0, differing: 1 },
      });
      expect(requested).not.toHaveBeenCalled();
    } finally {
      // The drift made the next pass full (pc_version NULL): the stream stops at its next answer.
      expect((await stream).status).not.toBe('failed');
      await setSyncMode(pool, vcenterId, 'polling');
    }
    expect(await pass()).toMatchObject({ status: 'synced', mode: 'full' });
    expect(await verifyVcenter(deps(), vcenterId)).toMatchObject({ status: 'match' });
  });
});
