// Integration tests — POST /api/v1/vms/{id}/refresh over the local runtime: a vcsim registered in the vCenter
// registry (polling once a day, so only the refresh can bring news), its HIGH-lane job through the real SQS
// FIFO lanes, the shared limiter, PostgreSQL and the query cache. Shows a power-off seen only after a refresh,
// a burst collapsed to one upstream RetrievePropertiesEx, 404/400 answers, and the HIGH wait in the stats.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { refreshWindowMs } from '../../shared/inventory/vm-refresh.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const tag = randomBytes(4).toString('hex');
let db: TestDatabase;
const vcenterId = `vc-refresh-${tag}`;
const password = `S3cret-${randomBytes(6).toString('hex')}`;
let runtime: LocalRuntime;
let vcsim: VcsimService;
let stateDir: string;
let viewer: string;
let vms: string[];

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
type Json = Record<string, any>;

async function call(method: 'GET' | 'POST', path: string, token = viewer) {
  const res = await fetch(`${runtime.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Json };
}

const refresh = (moid: string) => call('POST', `/api/v1/vms/${vcenterId}:${moid}/refresh`);
const stored = async (moid: string) => (await call('GET', `/api/v1/vms/${vcenterId}:${moid}`)).json;
const highRequests = async () =>
  (await call('GET', '/api/v1/queue/stats')).json.by_priority.HIGH.total_requests as number;

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  db = await freshDatabase('ops_refresh');
  await migrate(db.postgres, { vmPartitions: 2 });
  vcsim = await startTestVcsim({ vms: 24, password });
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-ops-refresh-'));
  const issuer = await loadTestIssuer(stateDir);
  const adminToken = await issuer.mint(['admin']);
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
  // Registered like any vCenter (the refresh reads its credentials from the registry), then one full sync.
  const created = await fetch(`${runtime.httpUrl}/api/v1/vcenters`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      id: vcenterId,
      url: vcsim.url,
      username: vcsim.username,
      password,
      insecure: true,
      syncMode: 'polling',
      syncIntervalSeconds: 86_400,
    }),
  });
  expect(created.status).toBe(201);
  expect((await call('POST', `/api/v1/vcenters/${vcenterId}/sync`, adminToken)).status).toBe(202);
  await until('the first sync', async () => {
    const { json } = await call('GET', `/api/v1/vcenters/${vcenterId}`);
    return json.vcenter?.sync?.syncedThroughAt ? true : undefined;
  });
  const list = await call('GET', `/api/v1/vms?vcenter=${vcenterId}&power_state=poweredOn&limit=10`);
  vms = (list.json.items as { moid: string }[]).map((vm) => vm.moid);
  expect(vms.length).toBeGreaterThanOrEqual(4);
  // A first refresh logs the ops session in, so the tests below time only the refresh itself.
  await until('a first refresh', async () => ((await refresh(vms[3]!)).status === 200 ? true : undefined));
}, 180_000);

afterAll(async () => {
  await runtime?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
  await db?.dispose();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('POST /api/v1/vms/{id}/refresh', () => {
  it('shows a power-off made in vcsim at once, where the stored (and cached) row still had the old state', async () => {
    const moid = vms[0]!;
    const client = await VsphereClient.connect({
      url: vcsim.url,
      username: vcsim.username,
      password,
      insecure: true,
      pooled: false,
    });
    try {
      await client.waitForTask(await client.powerOffVm({ type: 'VirtualMachine', value: moid }));
    } finally {
      await client.close();
    }
    // No sync runs (polling, once a day): the inventory, and the query cache, still say poweredOn.
    const before = await stored(moid);
    expect(before.vm.powerState).toBe('poweredOn');
    expect((await stored(moid)).cached).toBe(true);

    const asked = Date.now();
    const refreshed = await refresh(moid);
    const answered = Date.now();

    expect(refreshed.status).toBe(200);
    expect(refreshed.json.status).toBe('refreshed');
    // Read by this request's job: after it was asked (no earlier refresh answered it), before its answer.
    expect(Date.parse(refreshed.json.refreshedAt)).toBeGreaterThanOrEqual(asked);
    expect(Date.parse(refreshed.json.refreshedAt)).toBeLessThanOrEqual(answered);
    expect(refreshed.json.vm).toMatchObject({
      id: `${vcenterId}:${moid}`,
      vcenterId,
      moid,
      name: before.vm.name,
      powerState: 'poweredOff',
      hostId: before.vm.hostId,
      clusterId: before.vm.clusterId,
      datacenterId: before.vm.datacenterId,
    });
    // The next read does not serve the old row from the query cache.
    const after = await stored(moid);
    expect(after.vm.powerState).toBe('poweredOff');
    expect(after.vm).toEqual(refreshed.json.vm);
  });

  it('makes a burst of 20 refreshes of one VM one upstream RetrievePropertiesEx and one HIGH grant', async () => {
    const moid = vms[1]!;
    // Requests of one VM share a job per 5 s window: start the burst early in a window.
    const into = Date.now() % refreshWindowMs;
    if (into > refreshWindowMs / 2) await new Promise((r) => setTimeout(r, refreshWindowMs - into + 20));
    const highBefore = await highRequests();
    await vcsim.resetStats();

    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(moid)));

    expect(answers.map((a) => a.status)).toEqual(new Array(20).fill(200));
    expect(new Set(answers.map((a) => a.json.refreshedAt)).size).toBe(1);
    expect(answers[0]!.json.vm.powerState).toBe('poweredOn');
    expect((await vcsim.stats()).soap.byMethod.RetrievePropertiesEx).toBe(1);
    // The HIGH lane's wait is counted in the queue stats: one grant for the one job.
    expect((await highRequests()) - highBefore).toBe(1);
  });

  it('answers 404 for a VM the vCenter does not have and for an unknown vCenter', async () => {
    const gone = await refresh('vm-999999');
    const unknown = await call('POST', `/api/v1/vms/no-such-vc-${tag}:vm-1/refresh`);

    expect(gone.status).toBe(404);
    expect(gone.json).toEqual({ error: 'not_found', message: expect.stringContaining('vm-999999') });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({
      error: 'not_found',
      message: expect.stringContaining('no-such-vc'),
    });
  });

  it('answers 400 with the field error for a malformed id', async () => {
    const bad = await call('POST', '/api/v1/vms/not-a-vm-id/refresh');

    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({
      error: 'bad_request',
      fields: { id: expect.stringContaining('<vcenterId>:<moid>') },
    });
  });
});
