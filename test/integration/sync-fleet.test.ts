// Integration tests — the registry and the sync pipeline through the local runtime (HTTP API, SQS FIFO sync
// queue, the worker): three vcsim vCenters of different sizes synced so the API's counts match vcsim; a
// power-off, a new VM and a destroyed VM show up without a full sync; an unreachable vCenter is reported
// while the others keep syncing; registry routes answer 201/400/403/404/409 and never show the password.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { startTestVcsim } from '../setup/vcsim.ts';
import { changeTarget, createVm } from './sync-helpers.ts';

describe('sync pipeline through the local runtime', () => {
  let db: TestDatabase;
  const password = `S3cret-${randomBytes(6).toString('hex')}`;
  const tag = randomBytes(3).toString('hex');
  const ids = { small: `s-${tag}`, medium: `m-${tag}`, large: `l-${tag}`, down: `d-${tag}` };
  let runtime: LocalRuntime;
  let stateDir: string;
  let admin: string;
  let operator: string;
  let viewer: string;
  let vcsims: Record<'small' | 'medium' | 'large', VcsimService>;
  const bodies: string[] = [];

  beforeAll(async () => {
    db = await freshDatabase('sync_fleet');
    await migrate(db.postgres, { vmPartitions: 2 });
    const [small, medium, large] = await Promise.all([
      startTestVcsim({ vms: 24, password }),
      startTestVcsim({ vms: 160, datacenters: 2, clusters: 2, hostsPerCluster: 2, datastores: 2, password }),
      startTestVcsim({
        vms: 600,
        clusters: 3,
        hostsPerCluster: 4,
        datastores: 3,
        poolsPerCluster: 2,
        password,
      }),
    ]);
    vcsims = { small, medium, large };
    stateDir = await mkdtemp(join(tmpdir(), 'vfleet-sync-fleet-'));
    const issuer = await loadTestIssuer(stateDir);
    [admin, operator, viewer] = await Promise.all([
      issuer.mint(['admin']),
      issuer.mint(['operator']),
      issuer.mint(['viewer']),
    ]);
    runtime = await startLocalRuntime({
      root: resolve(import.meta.dirname, '../..'),
      issuer,
      services: db.services,
      tablePrefix: db.name,
      env: { SECRET_STORE: `file:${join(stateDir, 'secrets.json')}`, SYNC_MARGIN_MS: '1000' },
      // The dispatcher never ticks during these tests: every pass comes from a registration or a request.
      scheduleOverrides: { 'sync-dispatcher': { everySeconds: 3_600 } },
    });
  }, 180_000);

  afterAll(async () => {
    await runtime?.stop();
    await Promise.all(Object.values(vcsims ?? {}).map((v) => v.stop()));
    await db?.dispose();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, token: string, body?: unknown) {
    const response = await fetch(`${runtime.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    bodies.push(text);
    // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
    return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, any> };
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const register = (id: string, url: string, extra: Record<string, unknown> = {}) =>
    call('POST', '/api/v1/vcenters', admin, {
      id,
      url,
      username: 'user',
      password,
      insecure: true,
      // At least the dispatcher's period, which this runtime stretched to an hour.
      syncIntervalSeconds: 3_600,
      ...extra,
    });

  const synced = (id: string, after = '') =>
    until(`${id} synced`, async () => {
      const { json } = await call('GET', `/api/v1/vcenters/${id}`, viewer);
      const at = json.vcenter?.sync?.syncedThroughAt as string | null;
      return at && at > after ? json.vcenter : undefined;
    });

  it('registers three vCenters, syncs each at once (no dispatcher tick), and the API counts match vcsim', async () => {
    for (const [name, vc] of Object.entries(vcsims)) {
      const created = await register(ids[name as 'small'], vc.url);
      expect(created.status).toBe(201);
      expect(created.json.vcenter.sync.status).toBe('pending');
      expect(created.json.sync).toMatchObject({ reason: 'registered', full: false, queued: true });
    }
    for (const name of Object.keys(vcsims)) await synced(ids[name as 'small']);

    const summary = await call('GET', '/api/v1/stats/summary', viewer);
    for (const [name, vc] of Object.entries(vcsims)) {
      const row = summary.json.vcenters.find((v: { id: string }) => v.id === ids[name as 'small']);
      expect(row).toMatchObject({
        vms: vc.counts.vms - vc.counts.templates,
        templates: vc.counts.templates,
        hosts: vc.counts.hosts,
        datastores: vc.counts.datastores,
        clusters: vc.counts.clusters,
      });
      const view = (await call('GET', `/api/v1/vcenters/${ids[name as 'small']}`, viewer)).json.vcenter;
      expect(view.counts).toMatchObject({
        datacenters: vc.counts.datacenters,
        networks: vc.counts.networks + vc.counts.portgroups,
      });
      expect(view.sync).toMatchObject({ status: 'ok', consecutiveFailures: 0, lastError: null });
    }
  }, 120_000);

  it('shows a power-off, a new VM and a destroyed VM through GET /api/v1/vms without a full sync', async () => {
    const vc = vcsims.small;
    const id = ids.small;
    const before = (await call('GET', `/api/v1/vcenters/${id}`, viewer)).json.vcenter;
    const target = await changeTarget(vc.url, vc.username, password);
    const [off, gone] = [...target.vms.keys()];
    // The VM to destroy is powered off and synced first: the simulator loses its pending updates when an
    // object with a queued change is destroyed (see ChangeTarget.touched in sync-helpers.ts).
    await target.client.waitForTask(
      await target.client.powerOffVm({ type: 'VirtualMachine', value: gone as string }),
    );
    await call('POST', `/api/v1/vcenters/${id}/sync`, operator);
    await until('first power-off visible', async () => {
      const { json } = await call('GET', `/api/v1/vms/${id}:${gone}`, viewer);
      return json.vm?.powerState === 'poweredOff' ? true : undefined;
    });
    await target.client.waitForTask(
      await target.client.powerOffVm({ type: 'VirtualMachine', value: off as string }),
    );
    const created = await createVm(target, `fresh-${tag}`);
    await target.client.waitForTask(
      await target.client.destroy({ type: 'VirtualMachine', value: gone as string }),
    );
    await target.client.close();

    expect((await call('POST', `/api/v1/vcenters/${id}/sync`, operator)).status).toBe(202);
    await until('changes visible', async () => {
      const a = await call('GET', `/api/v1/vms/${id}:${off}`, viewer);
      const b = await call('GET', `/api/v1/vms/${id}:${created}`, viewer);
      const c = await call('GET', `/api/v1/vms/${id}:${gone}`, viewer);
      if (a.json.vm?.powerState !== 'poweredOff' || b.status !== 200 || c.status !== 404) {
        await call('POST', `/api/v1/vcenters/${id}/sync`, operator);
        return undefined;
      }
      return true;
    });
    const after = (await call('GET', `/api/v1/vcenters/${id}`, viewer)).json.vcenter;
    expect(after.sync.lastFullSyncAt).toBe(before.sync.lastFullSyncAt);
    expect(after.sync.lastIncrementalAt).not.toBeNull();
  }, 90_000);

  it('reports an unreachable vCenter and keeps syncing the others', async () => {
    expect((await register(ids.down, 'https://127.0.0.1:9/sdk')).status).toBe(201);
    expect((await call('POST', `/api/v1/vcenters/${ids.down}/sync`, operator)).status).toBe(202);
    const down = await until('failure recorded', async () => {
      const { json } = await call('GET', `/api/v1/vcenters/${ids.down}`, viewer);
      return json.vcenter.sync.consecutiveFailures > 0 ? json.vcenter : undefined;
    });
    expect(down.sync.status).toBe('failing');
    // A viewer sees the kind of failure; an admin the error itself.
    expect(down.sync).toMatchObject({ errorKind: 'unreachable', lastError: 'vCenter is unreachable' });
    const forAdmin = (await call('GET', `/api/v1/vcenters/${ids.down}`, admin)).json.vcenter;
    expect(forAdmin.sync.lastError).toMatch(/ECONNREFUSED|network/i);
    // Backed off from the failure, not due at once.
    expect(new Date(down.sync.nextSyncAt).getTime()).toBeGreaterThan(
      new Date(down.sync.lastErrorAt).getTime(),
    );

    const target = await changeTarget(vcsims.medium.url, 'user', password);
    const vm = [...target.vms.keys()][0] as string;
    await target.client.waitForTask(await target.client.powerOffVm({ type: 'VirtualMachine', value: vm }));
    await target.client.close();
    await call('POST', `/api/v1/vcenters/${ids.medium}/sync`, operator);
    await until('medium still syncing', async () => {
      const { json } = await call('GET', `/api/v1/vms/${ids.medium}:${vm}`, viewer);
      return json.vm?.powerState === 'poweredOff' ? true : undefined;
    });
  }, 90_000);

  it('answers the registry routes with the right status and never shows the password', async () => {
    const bad = await call('POST', '/api/v1/vcenters', admin, {
      id: 'x',
      url: 'http://plain',
      username: 'u',
    });
    const dupId = await register(ids.small, 'https://127.0.0.1:1/other');
    const dupUrl = await register(`other-${tag}`, vcsims.small.url);
    const byViewer = await register(`v-${tag}`, 'https://127.0.0.1:2/sdk').then(() =>
      call('POST', '/api/v1/vcenters', viewer, {
        id: `v2-${tag}`,
        url: 'https://h/sdk',
        username: 'u',
        password,
      }),
    );
    const syncByViewer = await call('POST', `/api/v1/vcenters/${ids.small}/sync`, viewer);
    const tooFast = await register(`fast-${tag}`, 'https://127.0.0.1:3/sdk', { syncIntervalSeconds: 30 });
    const syncMissing = await call('POST', '/api/v1/vcenters/nope/sync', operator);
    const missing = await call('GET', '/api/v1/vcenters/nope', viewer);
    const deleteByOperator = await call('DELETE', `/api/v1/vcenters/${ids.down}`, operator);
    const deleted = await call('DELETE', `/api/v1/vcenters/${ids.down}`, admin);
    const deletedAgain = await call('DELETE', `/api/v1/vcenters/${ids.down}`, admin);
    const list = await call('GET', '/api/v1/vcenters', viewer);

    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.fields).sort()).toEqual(['password', 'url']);
    // Shorter than the dispatcher's period (60 s by default) could not be honoured: refused, naming the minimum.
    expect(tooFast.status).toBe(400);
    expect(tooFast.json.fields.syncIntervalSeconds).toMatch(/at least 3600/);
    expect(syncMissing.status).toBe(404);
    expect([dupId.status, dupUrl.status]).toEqual([409, 409]);
    expect([byViewer.status, syncByViewer.status, deleteByOperator.status]).toEqual([403, 403, 403]);
    expect([missing.status, deleted.status, deletedAgain.status]).toEqual([404, 204, 404]);
    expect(list.json.items.map((v: { id: string }) => v.id)).not.toContain(ids.down);
    // The password is in no answer, no row of any table, and the secret file is 0600 without the deleted one.
    expect(bodies.join('\n')).not.toContain(password);
    const client = new pg.Client(db.postgres);
    await client.connect();
    const { rows: tables } = await client.query<{ t: string }>(
      `SELECT quote_ident(table_name) AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
    );
    for (const { t } of tables) {
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${t} x WHERE x::text LIKE $1`, [
        `%${password}%`,
      ]);
      expect(rows[0].n, t).toBe(0);
    }
    const leftovers = await client.query('SELECT count(*)::int AS n FROM vms WHERE vcenter_id = $1', [
      ids.down,
    ]);
    await client.end();
    expect(leftovers.rows[0].n).toBe(0);
    const file = join(stateDir, 'secrets.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Object.keys(JSON.parse(await readFile(file, 'utf8')).secrets)).not.toContain(ids.down);
  }, 60_000);
});
