// Integration tests — what the inventory sync stores for provisioning (migration 004): the networks and
// datastores each compute resource can use, each host's compute resource, a datastore's maintenance mode and a
// distributed port group's switch, compared with what the simulator itself reports (a PropertyCollector read,
// not the sync's watch), after a full sync and after an incremental pass that changes them.
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { syncVcenter } from '../../shared/inventory/sync/index.ts';
import { createFileSecretStore } from '../../shared/secrets/index.ts';
import { el, type MoRef, VsphereClient } from '../../shared/vsphere/index.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

// A set: govmomi's simulator lists a port group once per host of the compute resource that it was added to.
const moids = (value: unknown): string[] =>
  [...new Set((Array.isArray(value) ? (value as MoRef[]) : []).map((ref) => ref.value))].sort();
const stored = (list: string | null): string[] => (list ? list.split(' ') : []);

describe('inventory sync of what a compute resource can use', () => {
  let ns: TestNamespace;
  let vcsim: VcsimService;
  let pool: pg.Pool;
  let client: VsphereClient;
  let redis: Redis;
  const vcenterId = `prov-sync-${Date.now().toString(36)}`;
  const secrets = createFileSecretStore(
    `${process.env.TMPDIR ?? '/tmp'}/vfleet-prov-sync-${process.pid}.json`,
  );

  beforeAll(async () => {
    [ns, vcsim] = await Promise.all([
      freshNamespace('prov_sync'),
      startTestVcsim({
        clusters: 2,
        hostsPerCluster: 2,
        standaloneHosts: 1,
        datastores: 3,
        portgroups: 3,
        poolsPerCluster: 2,
        vms: 24,
        templates: 6,
      }),
    ]);
    pool = new pg.Pool({ ...ns.pg, max: 4 });
    await migrate(pool, { vmPartitions: 2 });
    redis = new Redis(ns.services.redisUrl, { keyPrefix: ns.redisKeyPrefix });
    const ref = await secrets.put(vcenterId, vcsim.password);
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref, tls_insecure) VALUES ($1, $1, $2, $3, $4, true)`,
      [vcenterId, vcsim.url, vcsim.username, ref],
    );
    client = await VsphereClient.connect({
      url: vcsim.url,
      username: vcsim.username,
      password: vcsim.password,
      insecure: true,
      pooled: false,
    });
  });

  afterAll(async () => {
    await client?.close();
    await secrets.delete(`file:${vcenterId}`);
    await pool?.end();
    redis?.disconnect();
    await vcsim?.stop();
    await ns?.dispose();
  });

  const pass = () =>
    syncVcenter(vcenterId, { writer: pool, reader: pool, secrets, redis }, { remainingMs: () => 120_000 });
  const root = () => client.serviceContent.rootFolder;

  /** What the simulator reports, per kind, through one retrieval each. */
  async function simulator() {
    const [computeResources, hosts, datastores, portgroups, switches] = await Promise.all([
      client.collect({
        from: root(),
        view: ['ComputeResource'],
        properties: { ComputeResource: ['network', 'datastore'] },
      }),
      client.collect({ from: root(), view: ['HostSystem'], properties: { HostSystem: ['parent'] } }),
      client.collect({
        from: root(),
        view: ['Datastore'],
        properties: { Datastore: ['summary.maintenanceMode'] },
      }),
      client.collect({
        from: root(),
        view: ['DistributedVirtualPortgroup'],
        properties: { DistributedVirtualPortgroup: ['config.distributedVirtualSwitch'] },
      }),
      client.collect({
        from: root(),
        view: ['DistributedVirtualSwitch'],
        properties: { DistributedVirtualSwitch: ['name'] },
      }),
    ]);
    return { computeResources, hosts, datastores, portgroups, switches };
  }

  async function expectTablesMatchSimulator(portgroups: number) {
    const sim = await simulator();
    const crs = await pool.query<{
      moid: string;
      type: string;
      network_moids: string | null;
      datastore_moids: string | null;
    }>(
      `SELECT moid, type, network_moids, datastore_moids FROM inventory_containers
        WHERE vcenter_id = $1 AND type IN ('ClusterComputeResource', 'ComputeResource')`,
      [vcenterId],
    );
    // Two clusters and one standalone host's compute resource.
    expect(crs.rows).toHaveLength(3);
    expect(sim.computeResources).toHaveLength(3);
    for (const cr of sim.computeResources) {
      const row = crs.rows.find((r) => r.moid === cr.moid);
      expect(row, cr.moid).toBeDefined();
      expect(moids(cr.props.network).length).toBeGreaterThan(0);
      expect(stored(row?.network_moids ?? null), `${cr.moid} networks`).toEqual(moids(cr.props.network));
      expect(stored(row?.datastore_moids ?? null), `${cr.moid} datastores`).toEqual(
        moids(cr.props.datastore),
      );
    }
    const hosts = await pool.query<{ moid: string; compute_resource_moid: string | null }>(
      'SELECT moid, compute_resource_moid FROM hosts WHERE vcenter_id = $1',
      [vcenterId],
    );
    expect(hosts.rows).toHaveLength(sim.hosts.length);
    for (const host of sim.hosts) {
      expect(hosts.rows.find((r) => r.moid === host.moid)?.compute_resource_moid).toBe(
        (host.props.parent as MoRef).value,
      );
    }
    const datastores = await pool.query<{ moid: string; maintenance_mode: string | null }>(
      'SELECT moid, maintenance_mode FROM datastores WHERE vcenter_id = $1',
      [vcenterId],
    );
    expect(datastores.rows).toHaveLength(sim.datastores.length);
    for (const ds of sim.datastores) {
      expect(ds.props['summary.maintenanceMode']).toBe('normal');
      expect(datastores.rows.find((r) => r.moid === ds.moid)?.maintenance_mode).toBe('normal');
    }
    const networks = await pool.query<{ moid: string; switch_moid: string | null }>(
      `SELECT moid, switch_moid FROM networks WHERE vcenter_id = $1 AND type = 'DistributedVirtualPortgroup'`,
      [vcenterId],
    );
    expect(sim.portgroups).toHaveLength(portgroups);
    expect(networks.rows).toHaveLength(portgroups);
    for (const portgroup of sim.portgroups) {
      const expected = (portgroup.props['config.distributedVirtualSwitch'] as MoRef).value;
      expect(networks.rows.find((r) => r.moid === portgroup.moid)?.switch_moid).toBe(expected);
    }
    const switches = await pool.query<{ moid: string; name: string }>(
      `SELECT moid, name FROM inventory_containers WHERE vcenter_id = $1 AND type IN ('DistributedVirtualSwitch', 'VmwareDistributedVirtualSwitch')`,
      [vcenterId],
    );
    expect(switches.rows.map((r) => [r.moid, r.name])).toEqual(
      sim.switches.map((s) => [s.moid, s.props.name]),
    );
  }

  it('stores, after a full sync, exactly what the simulator reports', async () => {
    const result = await pass();
    expect(result.mode).toBe('full');
    // Three port groups and the switch's uplink port group.
    await expectTablesMatchSimulator(4);
    const templates = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM vms WHERE vcenter_id = $1 AND template',
      [vcenterId],
    );
    expect(templates.rows[0]?.n).toBe(6);
  });

  it('follows a port group added to a cluster through an incremental pass', async () => {
    // Prepare: the cluster's networks as stored.
    const [dvs] = (await simulator()).switches;
    const before = await pool.query<{ network_moids: string }>(
      `SELECT network_moids FROM inventory_containers WHERE vcenter_id = $1 AND type = 'ClusterComputeResource' ORDER BY moid`,
      [vcenterId],
    );
    // Act: a new port group on the switch joins every compute resource of the switch's hosts.
    const [task] = await client.call(
      'AddDVPortgroup_Task',
      { type: dvs?.type ?? '', value: dvs?.moid ?? '' },
      el('spec', [el('name', 'added-portgroup'), el('type', 'earlyBinding')]),
    );
    await client.waitForTask({ type: 'Task', value: task?.text ?? '' }, { pollMs: 10 });
    const result = await pass();
    // Assess: an incremental pass brought the tables back to the simulator's state, one network more.
    expect(result, JSON.stringify(result)).toMatchObject({ mode: 'incremental' });
    await expectTablesMatchSimulator(5);
    const after = await pool.query<{ network_moids: string }>(
      `SELECT network_moids FROM inventory_containers WHERE vcenter_id = $1 AND type = 'ClusterComputeResource' ORDER BY moid`,
      [vcenterId],
    );
    for (const [i, row] of after.rows.entries()) {
      expect(stored(row.network_moids).length).toBe(stored(before.rows[i]?.network_moids ?? null).length + 1);
    }
  });
});
