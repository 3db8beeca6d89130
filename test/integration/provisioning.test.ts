// Integration tests — the provisioning routes over the local runtime, against vcsim: two registrations of one
// simulator (vc-inv answers from a fresh inventory, vc-live has its sync made stale so it loads live), and a
// far one (vc-slow, CreateContainerView delayed) whose templates miss their deadline. Shows the hierarchy equal
// to the simulator's, both sources equal, cached answers, a partial answer completed by the LOW lane, selective
// invalidation after a sync pass, 400/404 answers, one upstream load for a crowd, and stale answers from the
// last-known-good tier while the simulator is stopped.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import {
  type CollectedObject,
  el,
  type MoRef,
  NetworkError,
  VsphereClient,
} from '../../shared/vsphere/index.ts';
import type { TestDatabase } from '../setup/database.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const tag = randomBytes(4).toString('hex');
const inv = `vc-inv-${tag}`;
const liveVc = `vc-live-${tag}`;
const slow = `vc-slow-${tag}`;
let db: TestDatabase;
let pool: pg.Pool;
let harness: TestRuntime;
let runtime: LocalRuntime;
let vcsim: VcsimService;
let slowVcsim: VcsimService;
let client: VsphereClient;
let stateDir: string;
let viewer: string;
let admin: string;

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
type Json = Record<string, any>;

async function call(method: string, path: string, token = viewer, body?: unknown) {
  const res = await fetch(`${runtime.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Json, text };
}

const get = async (path: string) => {
  const answer = await call('GET', path);
  expect(answer.status, answer.text).toBe(200);
  return answer.json;
};
const datacenters = (vc: string) => get(`/api/v1/vcenters/${vc}/datacenters`);
const compute = (vc: string, dc: string) => get(`/api/v1/vcenters/${vc}/datacenters/${dc}/compute`);
const resources = (vc: string, cr: string, query = '') =>
  get(`/api/v1/vcenters/${vc}/compute/${cr}/resources${query}`);

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function register(id: string, target: VcsimService, url = target.url) {
  const created = await call('POST', '/api/v1/vcenters', admin, {
    id,
    url,
    username: target.username,
    password: target.password,
    insecure: true,
    syncMode: 'polling',
    syncIntervalSeconds: 86_400,
  });
  expect(created.status, created.text).toBe(201);
  await until(`the first sync of ${id}`, async () => {
    const { json } = await call('GET', `/api/v1/vcenters/${id}`);
    return json.vcenter?.sync?.syncedThroughAt ? true : undefined;
  });
}

/** Runs a sync pass of `id` now and waits until it has been through. */
async function syncNow(id: string, full = false) {
  const before = (await call('GET', `/api/v1/vcenters/${id}`)).json.vcenter.sync.syncedThroughAt;
  expect((await call('POST', `/api/v1/vcenters/${id}/sync`, admin, { full })).status).toBe(202);
  await until(`a sync pass of ${id}`, async () => {
    const { json } = await call('GET', `/api/v1/vcenters/${id}`);
    return json.vcenter?.sync?.syncedThroughAt !== before ? true : undefined;
  });
}

/** The inventory of `id` looks a day old, so the service account loads it live. */
const makeStale = (id: string) =>
  pool.query(`UPDATE vcenters SET synced_through_at = now() - interval '1 day' WHERE id = $1`, [id]);

/** Changes a datastore's free space: a file in the simulator's directory, then RefreshDatastore (statfs). */
async function changeFreeSpace(datastore: string, name: string) {
  await writeFile(join(vcsim.tmpDir, `fill-${name}-${tag}`), Buffer.alloc(32 * 1024 * 1024, 1));
  // govmomi 0.24.2 answers RefreshDatastore with an empty SOAP body (its response is nil): the refresh is
  // done, the client only finds nothing to parse. The callers check that the free space moved.
  await client.call('RefreshDatastore', { type: 'Datastore', value: datastore }).catch((error: unknown) => {
    if (!(error instanceof NetworkError && error.message.includes('empty document'))) throw error;
  });
}

const names = (items: { name: string }[]) => items.map((item) => item.name).sort();
const ids = (objects: CollectedObject[]) => objects.map((o) => o.moid).sort();

beforeAll(async () => {
  [vcsim, slowVcsim] = await Promise.all([
    startTestVcsim({
      clusters: 2,
      hostsPerCluster: 2,
      standaloneHosts: 1,
      datastores: 3,
      portgroups: 3,
      poolsPerCluster: 2,
      vms: 60,
      templates: 12,
    }),
    // A far vCenter for views: every CreateContainerView takes 1.5 s.
    startTestVcsim({ vms: 12, templates: 4, delays: { CreateContainerView: 1_500 } }),
  ]);
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-provisioning-'));
  harness = await startTestRuntime('provisioning', {
    env: {
      // Blobs of this file's own, so the stale test reads only what it wrote.
      BLOB_DIR: join(stateDir, 'blobs'),
      // Templates must come within 1 s (vc-slow's need two views: 3 s); the other kinds have 20 s.
      PROVISIONING_TIMEOUT_TEMPLATES: '1',
      ...Object.fromEntries(
        ['DATACENTERS', 'COMPUTE', 'POOLS', 'NETWORKS', 'DATASTORES'].map((k) => [
          `PROVISIONING_TIMEOUT_${k}`,
          '20',
        ]),
      ),
      // Networks go stale after 2 s (the stale test), the others keep their defaults.
      PROVISIONING_TTL_NETWORKS: '2',
    },
  });
  ({ runtime, db } = harness);
  admin = await harness.issuer.mint(['admin']);
  viewer = await harness.issuer.mint(['viewer']);
  pool = new pg.Pool({ ...db.postgres, max: 2 });
  await Promise.all([
    register(inv, vcsim), // The registry takes one registration per URL: the same simulator by another name of the loopback host.
    register(liveVc, vcsim, vcsim.url.replace('127.0.0.1', 'localhost')),
    register(slow, slowVcsim),
  ]);
  await makeStale(liveVc);
  await makeStale(slow);
  client = await VsphereClient.connect({
    url: vcsim.url,
    username: vcsim.username,
    password: vcsim.password,
    insecure: true,
    pooled: false,
  });
}, 180_000);

afterAll(async () => {
  await client?.close();
  await pool?.end();
  await harness?.stop();
  await VsphereClient.closeAll();
  await Promise.all([vcsim?.stop(), slowVcsim?.stop()]);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** The simulator's own view of one compute resource's resources (PropertyCollector reads, not vfleet's). */
async function simulatorResources(cr: CollectedObject) {
  const from: MoRef = { type: cr.type, value: cr.moid };
  const [pools, vms, networks, datastores] = await Promise.all([
    client.collect({ from, view: ['ResourcePool'], properties: { ResourcePool: ['name'] } }),
    client.collect({
      from,
      view: ['VirtualMachine'],
      properties: { VirtualMachine: ['name', 'config.template'] },
    }),
    client.collect({ from: cr.props.network as MoRef[], properties: { Network: ['name'] } }),
    client.collect({ from: cr.props.datastore as MoRef[], properties: { Datastore: ['name'] } }),
  ]);
  return {
    pools: pools.map((o) => String(o.props.name)).sort(),
    networks: [...new Set(networks.map((o) => String(o.props.name)))].sort(),
    datastores: datastores.map((o) => String(o.props.name)).sort(),
    templates: vms
      .filter((o) => o.props['config.template'] === true)
      .map((o) => String(o.props.name))
      .sort(),
  };
}

describe('provisioning hierarchy', () => {
  it('matches the simulator at every level: datacenters, compute resources, and each kind per compute resource', async () => {
    const simDatacenters = await client.collect({
      from: client.serviceContent.rootFolder,
      view: ['Datacenter'],
      properties: { Datacenter: ['name'] },
    });
    const dcs = await datacenters(inv);
    expect(dcs.kinds.datacenters).toMatchObject({ status: 'ok', source: 'inventory' });
    expect(dcs.kinds.datacenters.items.map((d: Json) => d.id).sort()).toEqual(ids(simDatacenters));
    const dc = dcs.kinds.datacenters.items[0].id as string;

    const simCompute = await client.collect({
      from: { type: 'Datacenter', value: dc },
      view: ['ComputeResource'],
      properties: { ComputeResource: ['name', 'network', 'datastore', 'host'] },
    });
    const computeAnswer = await compute(inv, dc);
    const crs = computeAnswer.kinds.compute.items as Json[];
    expect(crs.map((c) => c.id).sort()).toEqual(ids(simCompute));
    expect(crs.filter((c) => c.type === 'cluster')).toHaveLength(2);
    expect(crs.filter((c) => c.type === 'standalone')).toHaveLength(1);

    let templates = 0;
    for (const cr of simCompute) {
      const expected = await simulatorResources(cr);
      const answer = await resources(inv, cr.moid, '?limit=500');
      for (const kind of ['pools', 'networks', 'datastores', 'templates'] as const) {
        expect(answer.kinds[kind], `${cr.moid} ${kind}`).toMatchObject({ status: 'ok', source: 'inventory' });
        expect(names(answer.kinds[kind].items), `${cr.moid} ${kind}`).toEqual(expected[kind]);
      }
      expect(crs.find((c) => c.id === cr.moid)?.hosts).toBe(
        new Set((cr.props.host as MoRef[]).map((h) => h.value)).size,
      );
      // Pools form a tree under the compute resource's root pool.
      const root = answer.kinds.pools.items.find((p: Json) => p.parentId === null);
      expect(root?.path).toBe(root?.name);
      for (const p of answer.kinds.pools.items as Json[]) expect(p.path.startsWith(root.path)).toBe(true);
      // Port groups name their switch.
      const portgroups = (answer.kinds.networks.items as Json[]).filter((n) => n.type === 'distributed');
      expect(portgroups.length).toBeGreaterThan(0);
      for (const n of portgroups)
        expect(n.switch).toMatchObject({ id: expect.any(String), name: expect.any(String) });
      for (const d of answer.kinds.datastores.items as Json[]) {
        expect(d).toMatchObject({
          maintenanceMode: 'normal',
          accessible: true,
          capacityBytes: expect.any(Number),
        });
      }
      templates += expected.templates.length;
    }
    expect(templates).toBe(12);
  });

  it('gives the same answer live (stale inventory) as from the inventory, and then serves it from the cache', async () => {
    const [dc] = (await datacenters(inv)).kinds.datacenters.items as Json[];
    const fromLive = await datacenters(liveVc);
    expect(fromLive.kinds.datacenters.source).toBe('live');
    expect(fromLive.kinds.datacenters.items).toEqual((await datacenters(inv)).kinds.datacenters.items);
    const liveCompute = await compute(liveVc, dc?.id);
    expect(liveCompute.kinds.compute.source).toBe('live');
    expect(liveCompute.kinds.compute.items).toEqual((await compute(inv, dc?.id)).kinds.compute.items);
    for (const cr of liveCompute.kinds.compute.items as Json[]) {
      const live = await resources(liveVc, cr.id, '?limit=500');
      const stored = await resources(inv, cr.id, '?limit=500');
      for (const kind of ['pools', 'networks', 'datastores', 'templates']) {
        expect(live.kinds[kind].source, `${cr.id} ${kind}`).toBe('live');
        expect(live.kinds[kind].items, `${cr.id} ${kind}`).toEqual(stored.kinds[kind].items);
      }
      expect(live.cached).toBe(false);
      const again = await resources(liveVc, cr.id, '?limit=500');
      expect(again.cached).toBe(true);
      expect(again.kinds.templates).toMatchObject({ status: 'ok', source: 'cache' });
      expect(again.kinds.templates.items).toEqual(live.kinds.templates.items);
    }
  });

  it('serves one load to a crowd: 40 concurrent requests cost the upstream calls of one user', async () => {
    const [dc] = (await datacenters(liveVc)).kinds.datacenters.items as Json[];
    const [first, second] = (await compute(liveVc, dc?.id)).kinds.compute.items as Json[];
    // Prepare: both compute resources' networks were loaded by the test above; past their 2 s TTL they reload.
    await new Promise((r) => setTimeout(r, 2_100));
    await vcsim.resetStats();
    await resources(liveVc, first?.id, '?kinds=networks');
    const oneUser = (await vcsim.stats()).soap.byMethod.RetrievePropertiesEx ?? 0;
    await vcsim.resetStats();
    // Act
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => resources(liveVc, second?.id, '?kinds=networks')),
    );
    // Assess: the retrievals of one user's load (the networks' traversal and their switches' names), for all 40.
    expect(oneUser).toBe(2);
    expect((await vcsim.stats()).soap.byMethod.RetrievePropertiesEx).toBe(oneUser);
    for (const answer of answers)
      expect(answer.kinds.networks.items).toEqual(answers[0]?.kinds.networks.items);
  });

  it('cuts templates to `limit`, saying `truncated` and `total`, and answers only the kinds asked', async () => {
    const [dc] = (await datacenters(inv)).kinds.datacenters.items as Json[];
    const [cr] = (await compute(inv, dc?.id)).kinds.compute.items as Json[];
    const all = await resources(inv, cr?.id, '?kinds=templates&limit=500');
    expect(Object.keys(all.kinds)).toEqual(['templates']);
    const total = all.kinds.templates.total as number;
    expect(total).toBeGreaterThan(1);
    const cut = await resources(inv, cr?.id, '?kinds=templates,pools&limit=1');
    expect(Object.keys(cut.kinds).sort()).toEqual(['pools', 'templates']);
    expect(cut.kinds.templates).toMatchObject({ limit: 1, truncated: true, total });
    expect(cut.kinds.templates.items).toEqual(all.kinds.templates.items.slice(0, 1));
    const whole = await resources(inv, cr?.id, `?kinds=templates&limit=${total}`);
    expect(whole.kinds.templates).toMatchObject({ truncated: false, total });
    const byDefault = await resources(inv, cr?.id);
    expect(byDefault.kinds.templates.limit).toBe(50);
  });

  it('answers 400 naming the field for bad ids, kinds and limits, and 404 for unknown ones', async () => {
    const [dc] = (await datacenters(inv)).kinds.datacenters.items as Json[];
    const [cr] = (await compute(inv, dc?.id)).kinds.compute.items as Json[];
    const cases: [string, number, string | undefined][] = [
      [`/api/v1/vcenters/${inv}/datacenters/bad%20id/compute`, 400, 'dc'],
      [`/api/v1/vcenters/${inv}/compute/${cr?.id}/resources?kinds=pools,vms`, 400, 'kinds'],
      [`/api/v1/vcenters/${inv}/compute/${cr?.id}/resources?kinds=`, 400, 'kinds'],
      [`/api/v1/vcenters/${inv}/compute/${cr?.id}/resources?limit=0`, 400, 'limit'],
      [`/api/v1/vcenters/${inv}/compute/${cr?.id}/resources?limit=501`, 400, 'limit'],
      [`/api/v1/vcenters/${inv}/compute/${cr?.id}/resources?limit=ten`, 400, 'limit'],
      [`/api/v1/vcenters/no-such-vc/datacenters`, 404, undefined],
      [`/api/v1/vcenters/${inv}/datacenters/datacenter-999/compute`, 404, undefined],
      [`/api/v1/vcenters/${inv}/compute/domain-c999/resources`, 404, undefined],
      [`/api/v1/vcenters/${liveVc}/datacenters/datacenter-999/compute`, 404, undefined],
      [`/api/v1/vcenters/${liveVc}/compute/domain-c999/resources`, 404, undefined],
    ];
    for (const [path, status, field] of cases) {
      const answer = await call('GET', path);
      expect(answer.status, `${path}: ${answer.text}`).toBe(status);
      expect(answer.json).toMatchObject({ error: expect.any(String), message: expect.any(String) });
      if (field) expect(answer.json.fields, path).toHaveProperty(field);
    }
  });

  it('answers a kind that misses its deadline as `timeout` with the others complete, then complete after the LOW load', async () => {
    const [dc] = (await datacenters(slow)).kinds.datacenters.items as Json[];
    const [cr] = (await compute(slow, dc?.id)).kinds.compute.items as Json[];
    const first = await resources(slow, cr?.id);
    expect(first.kinds.templates).toMatchObject({ status: 'timeout', ageSeconds: null, items: [] });
    for (const kind of ['pools', 'networks', 'datastores']) {
      expect(first.kinds[kind], kind).toMatchObject({ status: 'ok', source: 'live' });
      expect(first.kinds[kind].items.length, kind).toBeGreaterThan(0);
    }
    // The LOW completion stores templates; a request's own load would miss the deadline again (two views).
    const completed = await until('the LOW completion', async () => {
      const answer = await resources(slow, cr?.id);
      return answer.kinds.templates.status === 'ok' ? answer : undefined;
    });
    expect(completed.kinds.templates.source).toBe('cache');
    expect(completed.kinds.templates.items.length).toBeGreaterThan(0);
    expect(completed.cached).toBe(true);
  });

  it('moves on exactly the compute resources whose datastores changed after a sync pass', async () => {
    const [dc] = (await datacenters(inv)).kinds.datacenters.items as Json[];
    const crs = (await compute(inv, dc?.id)).kinds.compute.items as Json[];
    const standalone = crs.find((c) => c.type === 'standalone') as Json;
    const clusters = crs.filter((c) => c.type === 'cluster');
    const datastoresOf = async (cr: Json) =>
      (await resources(inv, cr.id, '?kinds=datastores')).kinds.datastores;
    for (const cr of crs) await datastoresOf(cr); // cached
    for (const cr of crs) expect((await datastoresOf(cr)).source).toBe('cache');

    // Act 1: a local datastore on the standalone host only.
    const [host] = await client.collect({
      from: { type: 'ComputeResource', value: standalone.id },
      view: ['HostSystem'],
      properties: { HostSystem: ['configManager.datastoreSystem'] },
    });
    const path = join(vcsim.tmpDir, `local-${tag}`);
    await mkdir(path, { recursive: true });
    await client.call(
      'CreateLocalDatastore',
      host?.props['configManager.datastoreSystem'] as MoRef,
      el('name', `local-${tag}`) + el('path', path),
    );
    // govmomi's simulator reports the new datastore but not the host's new ComputeResource.datastore, so a
    // full pass reads it (a vCenter reports both; either pass tags what it changed).
    await syncNow(inv, true);
    // Assess: the standalone compute resource moved on (reloaded, with the new datastore), the clusters did not.
    const moved = await datastoresOf(standalone);
    expect(moved.source).toBe('inventory');
    expect(names(moved.items)).toContain(`local-${tag}`);
    for (const cr of clusters) expect((await datastoresOf(cr)).source, cr.id).toBe('cache');

    // Act 2: the free space of the standalone host's own datastore changes (govmomi's simulator reports no
    // free-space updates, so a full pass reads it, like the drift check would).
    const local = moved.items.find((d: Json) => d.name === `local-${tag}`) as Json;
    await changeFreeSpace(local.id, 'local');
    await syncNow(inv, true);
    // Assess: only the compute resource using that datastore moved on.
    const after = await datastoresOf(standalone);
    expect(after.source).toBe('inventory');
    expect(after.items.find((d: Json) => d.id === local.id)?.freeBytes).not.toBe(local.freeBytes);
    for (const cr of clusters) expect((await datastoresOf(cr)).source, cr.id).toBe('cache');

    // Act 3: a datastore all three compute resources share changes.
    const shared = (await datastoresOf(clusters[0] as Json)).items.find(
      (d: Json) => !d.name.startsWith('local-'),
    );
    await changeFreeSpace(shared.id, 'shared');
    await syncNow(inv, true);
    // Assess: all three moved on, each with the new free space.
    for (const cr of crs) {
      const answer = await datastoresOf(cr);
      expect(answer.source, cr.id).toBe('inventory');
      expect(answer.items.find((d: Json) => d.id === shared.id)?.freeBytes, cr.id).not.toBe(shared.freeBytes);
    }
  });

  it('serves the last good value, flagged stale with its age, while the simulator is stopped', async () => {
    const [dc] = (await datacenters(liveVc)).kinds.datacenters.items as Json[];
    const [cr] = (await compute(liveVc, dc?.id)).kinds.compute.items as Json[];
    const good = await until('a fresh live load of the networks', async () => {
      const answer = await resources(liveVc, cr?.id, '?kinds=networks');
      return answer.kinds.networks.source === 'live' ? answer : undefined;
    });
    await vcsim.stop();
    // Past the networks' 2 s TTL, only the blob store (last-known-good) holds them.
    await new Promise((r) => setTimeout(r, 2_500));
    const answer = await resources(liveVc, cr?.id, '?kinds=networks');
    expect(answer.stale).toBe(true);
    expect(answer.kinds.networks).toMatchObject({ status: 'stale', source: 'cache' });
    expect(answer.kinds.networks.ageSeconds).toBeGreaterThanOrEqual(2);
    expect(answer.kinds.networks.items).toEqual(good.kinds.networks.items);
  });
});
