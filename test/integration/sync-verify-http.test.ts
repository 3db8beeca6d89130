// Integration tests — the drift check end to end over the local runtime: the scheduled sync dispatcher claims a
// due verification and enqueues it on ops-low.fifo, the LOW ops worker verifies through the vCenter's limiter,
// `GET /api/v1/vcenters/{id}` (and the list) show the outcome; a corrupted row is confirmed as drift after the
// re-check's incremental pass (through sync.fifo and the sync worker), and the full pass the drift requests
// repairs it, as the query API and the next verification show.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const tag = randomBytes(4).toString('hex');
const vcenterId = `vc-verify-${tag}`;
const password = `S3cret-${randomBytes(6).toString('hex')}`;
let db: TestDatabase;
let pool: pg.Pool;
let runtime: LocalRuntime;
let vcsim: VcsimService;
let stateDir: string;
let viewer: string;
let admin: string;

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
type Json = Record<string, any>;

async function call(method: 'GET' | 'POST', path: string, token = viewer, body?: unknown) {
  const res = await fetch(`${runtime.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Json };
}

const vcenter = async () => (await call('GET', `/api/v1/vcenters/${vcenterId}`)).json.vcenter as Json;

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 90_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Makes the verification due and runs the dispatcher until it claims it (a sync pass holding the vCenter's row
 * makes the claim skip it for that tick), then waits for a verification newer than the one before.
 */
async function verifyNow(): Promise<Json> {
  const before = (await vcenter()).verification.lastVerifiedAt as string | null;
  const newer = async () => {
    const { verification } = await vcenter();
    return verification.lastVerifiedAt && verification.lastVerifiedAt !== before
      ? (verification as Json)
      : undefined;
  };
  await until('the claim', async () => {
    if (await newer()) return true;
    await pool.query('UPDATE vcenters SET next_verify_at = now() WHERE id = $1', [vcenterId]);
    const dispatched = (await runtime.invoke('syncDispatcher', {})) as { verifications: number };
    return dispatched.verifications > 0 ? true : undefined;
  });
  return until('the verification', newer);
}

beforeAll(async () => {
  db = await freshDatabase('sync_verify_http');
  await migrate(db.postgres, { vmPartitions: 2 });
  pool = new pg.Pool({ ...db.postgres, max: 2 });
  vcsim = await startTestVcsim({ vms: 16, password });
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-sync-verify-'));
  const issuer = await loadTestIssuer(stateDir);
  admin = await issuer.mint(['admin']);
  viewer = await issuer.mint(['viewer']);
  runtime = await startLocalRuntime({
    root: resolve(import.meta.dirname, '../..'),
    issuer,
    services: db.services,
    tablePrefix: db.name,
    env: {
      SECRET_STORE: `file:${join(stateDir, 'secrets.json')}`,
      VFLEET_KEY_PREFIX: `${db.name}:`,
      BLOB_DIR: join(stateDir, 'blobs'),
    },
  });
  const created = await call('POST', '/api/v1/vcenters', admin, {
    id: vcenterId,
    url: vcsim.url,
    username: vcsim.username,
    password,
    insecure: true,
    // Polling once a day: only the dispatcher's claims and the drift check's requests bring passes.
    syncMode: 'polling',
    syncIntervalSeconds: 86_400,
  });
  expect(created.status).toBe(201);
  expect(created.json.vcenter.verification).toMatchObject({ lastVerifiedAt: null, result: null });
  // The first check comes an hour after registration (the tests below bring it forward).
  expect(Date.parse(created.json.vcenter.verification.nextVerifyAt)).toBeGreaterThan(Date.now() + 1_800_000);
  expect((await call('POST', `/api/v1/vcenters/${vcenterId}/sync`, admin, { full: true })).status).toBe(202);
  await until('the first sync', async () => ((await vcenter()).sync.lastFullSyncAt ? true : undefined));
}, 180_000);

afterAll(async () => {
  await runtime?.stop();
  await VsphereClient.closeAll();
  await pool?.end();
  await vcsim?.stop();
  await db?.dispose();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('drift check over the local runtime', () => {
  it('verifies a synced vCenter through the dispatcher and the LOW lane and shows the match', async () => {
    const verification = await verifyNow();

    expect(verification).toMatchObject({
      result: 'match',
      error: null,
      counts: { missing: 0, extra: 0, differing: 0, byTable: { vms: { vcenter: 16, stored: 16 } } },
    });
    expect(Date.parse(verification.nextVerifyAt)).toBeGreaterThan(Date.now() + 3_000_000);
    const list = await call('GET', '/api/v1/vcenters');
    const listed = (list.json.items as Json[]).find((item) => item.id === vcenterId);
    expect(listed?.verification).toEqual(verification);
  });

  it('confirms a corrupted row as drift, shows its counts, and the full sync it schedules repairs the row', async () => {
    // Prepare: the database says a running VM is off (the query API serves it so).
    const { rows } = await pool.query<{ moid: string }>(
      `UPDATE vms SET power_state = 'poweredOff'
        WHERE vcenter_id = $1 AND moid = (SELECT min(moid) FROM vms WHERE vcenter_id = $1 AND power_state = 'poweredOn')
        RETURNING moid`,
      [vcenterId],
    );
    const moid = rows[0]?.moid as string;
    const lastFull = (await vcenter()).sync.lastFullSyncAt as string;

    const verification = await verifyNow();

    // Assess: drift, counted per table, shown by the API.
    expect(verification).toMatchObject({
      result: 'drift',
      error: null,
      counts: {
        missing: 0,
        extra: 0,
        differing: 1,
        byTable: { vms: { differing: 1, missing: 0, extra: 0 } },
      },
    });

    // Act: the full pass the drift asked for (sync.fifo → the sync worker).
    await until('the repairing full sync', async () =>
      (await vcenter()).sync.lastFullSyncAt !== lastFull ? true : undefined,
    );

    // Assess: the API shows the VM as the simulator has it, and a verification matches again.
    const vm = await call('GET', `/api/v1/vms/${vcenterId}:${moid}`);
    expect(vm.json.vm.powerState).toBe('poweredOn');
    expect(await verifyNow()).toMatchObject({
      result: 'match',
      counts: { missing: 0, extra: 0, differing: 0 },
    });
  });
});

describe('what each role sees of a vCenter', () => {
  it("shows viewers neither the service account nor a raw error, only the failure's kind; admins all of it", async () => {
    // Prepare: a failure whose text names an internal address, as a refused connection's would.
    const raw = 'NetworkError: connect ECONNREFUSED 10.20.30.40:443 (vcenter-internal.corp)';
    await pool.query(
      `UPDATE vcenters SET last_error = $2, last_error_at = now(), consecutive_failures = 1 WHERE id = $1`,
      [vcenterId, raw],
    );
    try {
      // Act
      const asViewer = (await call('GET', `/api/v1/vcenters/${vcenterId}`, viewer)).json.vcenter as Json;
      const listed = ((await call('GET', '/api/v1/vcenters', viewer)).json.items as Json[]).find(
        (item) => item.id === vcenterId,
      ) as Json;
      const asAdmin = (await call('GET', `/api/v1/vcenters/${vcenterId}`, admin)).json.vcenter as Json;

      // Assess
      for (const view of [asViewer, listed]) {
        expect(view).not.toHaveProperty('username');
        expect(view.sync).toMatchObject({
          status: 'failing',
          errorKind: 'unreachable',
          lastError: 'vCenter is unreachable',
        });
        expect(JSON.stringify(view)).not.toMatch(/10\.20\.30\.40|corp|ECONNREFUSED/);
      }
      expect(asAdmin.username).toBe(vcsim.username);
      expect(asAdmin.sync).toMatchObject({ errorKind: 'unreachable', lastError: raw });
    } finally {
      await pool.query(
        `UPDATE vcenters SET last_error = NULL, last_error_at = NULL, consecutive_failures = 0 WHERE id = $1`,
        [vcenterId],
      );
    }
  });
});
