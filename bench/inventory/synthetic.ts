// Benchmarks — synthetic inventory: writes N vCenters × M VMs (with their datacenters, clusters, hosts,
// datastores, networks and resource pools) straight into PostgreSQL through COPY. Deterministic (seeded), with
// realistic names so trigram search meets real selectivities. Used by `npm run inventory:generate` and the
// query benchmark.
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { vmWriteColumns } from '#shared/inventory';

/** Shape of the generated estate. */
export interface SyntheticOptions {
  /** @default 1000 */
  readonly vcenters?: number;
  /** @default 1000 */
  readonly vmsPerVcenter?: number;
  /** @default 100 */
  readonly hostsPerVcenter?: number;
  /** @default 20 */
  readonly datastoresPerVcenter?: number;
  /** @default 10 */
  readonly clustersPerVcenter?: number;
  /** @default 2 */
  readonly datacentersPerVcenter?: number;
  /** Ids are `<prefix>-0001`…; @default 'vc' */
  readonly idPrefix?: string;
  /** @default 42 */
  readonly seed?: number;
  /** Called as VMs are written (done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What was written. */
export interface SyntheticResult {
  readonly vcenters: number;
  readonly vms: number;
  readonly templates: number;
  readonly hosts: number;
  readonly datastores: number;
  readonly clusters: number;
  readonly seconds: number;
}

/** mulberry32: small, fast, seeded; the same seed gives the same estate. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sites = [
  'fra',
  'ams',
  'lon',
  'par',
  'mad',
  'nyc',
  'dal',
  'sjc',
  'sea',
  'tor',
  'sin',
  'syd',
  'tyo',
  'bom',
];
const environments = ['prod', 'prod', 'prod', 'stg', 'dev', 'dev', 'qa', 'uat', 'dr', 'perf'];
const applications = [
  'payments',
  'ledger',
  'crm',
  'billing',
  'search',
  'auth',
  'inventory',
  'portal',
  'analytics',
  'etl',
  'mail',
  'wiki',
  'jira',
  'gitlab',
  'jenkins',
  'k8s',
  'kafka',
  'redis',
  'mongo',
  'elastic',
  'splunk',
  'vault',
  'consul',
  'nginx',
  'haproxy',
  'sap',
  'oracle',
  'mssql',
  'citrix',
  'vdi',
  'backup',
  'monitor',
  'grafana',
  'prometheus',
  'ldap',
  'dns',
  'ntp',
  'ftp',
  'sftp',
  'orders',
  'catalog',
  'pricing',
  'shipping',
  'checkout',
  'fraud',
  'risk',
  'reporting',
  'hr',
  'finance',
  'erp',
];
const roles = ['web', 'app', 'api', 'db', 'cache', 'worker', 'batch', 'mq', 'lb', 'proxy', 'node', 'master'];
const guests: readonly (readonly [string, string])[] = [
  ['ubuntu64Guest', 'Ubuntu Linux (64-bit)'],
  ['rhel8_64Guest', 'Red Hat Enterprise Linux 8 (64-bit)'],
  ['rhel9_64Guest', 'Red Hat Enterprise Linux 9 (64-bit)'],
  ['centos7_64Guest', 'CentOS 7 (64-bit)'],
  ['debian11_64Guest', 'Debian GNU/Linux 11 (64-bit)'],
  ['sles15_64Guest', 'SUSE Linux Enterprise 15 (64-bit)'],
  ['windows2019srv_64Guest', 'Microsoft Windows Server 2019 (64-bit)'],
  ['windows2019srvNext_64Guest', 'Microsoft Windows Server 2022 (64-bit)'],
  ['windows9_64Guest', 'Microsoft Windows 10 (64-bit)'],
  ['other3xLinux64Guest', 'Other 3.x or later Linux (64-bit)'],
];
const cpuModels = ['Intel(R) Xeon(R) Gold 6248R', 'Intel(R) Xeon(R) Platinum 8380', 'AMD EPYC 7763'];

/** COPY text format: backslash escapes, `\N` for NULL. */
function copyLine(values: readonly unknown[]): string {
  return `${values
    .map((value) => {
      if (value === null || value === undefined) return '\\N';
      const text = typeof value === 'boolean' ? (value ? 't' : 'f') : String(value);
      return text.replace(/[\\\t\n\r]/g, (char) =>
        char === '\\' ? '\\\\' : char === '\t' ? '\\t' : char === '\n' ? '\\n' : '\\r',
      );
    })
    .join('\t')}\n`;
}

/** A COPY FROM STDIN of `table (columns)` that honours back-pressure. */
async function copy(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  rows: (write: (values: readonly unknown[]) => Promise<void>) => Promise<void>,
): Promise<void> {
  const stream: Writable = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  let buffer = '';
  const flush = async () => {
    if (!stream.write(buffer)) await new Promise((resolve) => stream.once('drain', resolve));
    buffer = '';
  };
  await rows(async (values) => {
    buffer += copyLine(values);
    if (buffer.length > 256 * 1024) await flush();
  });
  if (buffer) await flush();
  stream.end();
  await finished(stream);
}

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/**
 * Writes the synthetic estate. Existing vCenters with the same ids (and everything they own) are replaced,
 * so a rerun gives the same database. Ends with VACUUM ANALYZE so index-only scans and the planner's
 * statistics are what a settled production database would have.
 */
export async function generateInventory(
  pool: pg.Pool,
  options: SyntheticOptions = {},
): Promise<SyntheticResult> {
  const started = performance.now();
  const vcenters = options.vcenters ?? 1000;
  const vmsPerVcenter = options.vmsPerVcenter ?? 1000;
  const hostsPer = options.hostsPerVcenter ?? 100;
  const datastoresPer = options.datastoresPerVcenter ?? 20;
  const clustersPer = Math.max(1, options.clustersPerVcenter ?? 10);
  const datacentersPer = Math.max(1, options.datacentersPerVcenter ?? 2);
  const prefix = options.idPrefix ?? 'vc';
  const random = prng(options.seed ?? 42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const width = Math.max(4, String(vcenters).length);
  const ids = Array.from({ length: vcenters }, (_, i) => `${prefix}-${pad(i + 1, width)}`);
  const siteOf = (i: number) => `${sites[i % sites.length]}${pad(Math.floor(i / sites.length) + 1, 2)}`;
  const total = vcenters * vmsPerVcenter;
  let templates = 0;

  const client = await pool.connect();
  try {
    await client.query('DELETE FROM vcenters WHERE id = ANY($1::text[])', [ids]);
    await copy(
      client,
      'vcenters',
      ['id', 'name', 'url', 'username', 'secret_ref', 'sync_mode'],
      async (write) => {
        for (const [i, id] of ids.entries()) {
          const site = siteOf(i);
          await write([
            id,
            `vcenter-${site}`,
            `https://vcenter-${site}.corp.example/sdk`,
            'svc-vfleet@vsphere.local',
            `synthetic/${id}`,
            i % 10 === 0 ? 'streaming' : 'polling',
          ]);
        }
      },
    );
    await copy(client, 'datacenters', ['vcenter_id', 'moid', 'name'], async (write) => {
      for (const [i, id] of ids.entries()) {
        for (let d = 0; d < datacentersPer; d++)
          await write([id, `datacenter-${d + 1}`, `DC-${siteOf(i).toUpperCase()}-${d + 1}`]);
      }
    });
    await copy(
      client,
      'clusters',
      [
        'vcenter_id',
        'moid',
        'name',
        'datacenter_moid',
        'num_hosts',
        'num_cpu_cores',
        'total_cpu_mhz',
        'total_memory_bytes',
        'drs_enabled',
        'ha_enabled',
      ],
      async (write) => {
        for (const [i, id] of ids.entries()) {
          for (let c = 0; c < clustersPer; c++) {
            const hosts = Math.ceil(hostsPer / clustersPer);
            await write([
              id,
              `domain-c${c + 7}`,
              `${siteOf(i)}-${pick(['prod', 'nonprod', 'mgmt', 'vdi', 'edge'])}-cl${pad(c + 1, 2)}`,
              `datacenter-${(c % datacentersPer) + 1}`,
              hosts,
              hosts * 48,
              hosts * 48 * 2_600,
              hosts * 768 * 2 ** 30,
              true,
              true,
            ]);
          }
        }
      },
    );
    await copy(
      client,
      'hosts',
      [
        'vcenter_id',
        'moid',
        'name',
        'datacenter_moid',
        'cluster_moid',
        'connection_state',
        'power_state',
        'maintenance_mode',
        'version',
        'cpu_model',
        'num_cpu_cores',
        'cpu_mhz',
        'memory_bytes',
      ],
      async (write) => {
        for (const [i, id] of ids.entries()) {
          for (let h = 0; h < hostsPer; h++) {
            const c = h % clustersPer;
            const r = random();
            await write([
              id,
              `host-${h + 1}`,
              `esx-${siteOf(i)}-r${pad(Math.floor(h / 16) + 1, 2)}-${pad((h % 16) + 1, 2)}.corp.example`,
              `datacenter-${(c % datacentersPer) + 1}`,
              `domain-c${c + 7}`,
              r < 0.98 ? 'connected' : r < 0.99 ? 'disconnected' : 'notResponding',
              r < 0.99 ? 'poweredOn' : 'unknown',
              random() < 0.02,
              pick(['7.0.3', '8.0.1', '8.0.2', '8.0.3']),
              pick(cpuModels),
              48,
              2_600,
              768 * 2 ** 30,
            ]);
          }
        }
      },
    );
    await copy(
      client,
      'datastores',
      [
        'vcenter_id',
        'moid',
        'name',
        'datacenter_moid',
        'type',
        'capacity_bytes',
        'free_bytes',
        'accessible',
        'url',
      ],
      async (write) => {
        for (const [i, id] of ids.entries()) {
          for (let s = 0; s < datastoresPer; s++) {
            const type = pick(['VMFS', 'VMFS', 'vsan', 'NFS']);
            const capacity = (8 + Math.floor(random() * 56)) * 2 ** 40;
            await write([
              id,
              `datastore-${s + 1}`,
              `${type.toLowerCase()}-${siteOf(i)}-${pad(s + 1, 3)}`,
              `datacenter-${(s % datacentersPer) + 1}`,
              type,
              capacity,
              Math.floor(capacity * random()),
              true,
              `ds:///vmfs/volumes/${id}-${s + 1}/`,
            ]);
          }
        }
      },
    );
    await copy(
      client,
      'networks',
      ['vcenter_id', 'moid', 'name', 'datacenter_moid', 'type'],
      async (write) => {
        for (const id of ids) {
          for (let n = 0; n < 10; n++) {
            await write([
              id,
              `dvportgroup-${n + 1}`,
              `vlan-${100 + n * 10}-${pick(roles)}`,
              `datacenter-${(n % datacentersPer) + 1}`,
              'DistributedVirtualPortgroup',
            ]);
          }
        }
      },
    );
    await copy(
      client,
      'resource_pools',
      ['vcenter_id', 'moid', 'name', 'owner_moid', 'parent_moid'],
      async (write) => {
        for (const id of ids) {
          for (let c = 0; c < clustersPer; c++) {
            await write([id, `resgroup-${c * 3 + 1}`, 'Resources', `domain-c${c + 7}`, null]);
            await write([id, `resgroup-${c * 3 + 2}`, 'gold', `domain-c${c + 7}`, `resgroup-${c * 3 + 1}`]);
            await write([id, `resgroup-${c * 3 + 3}`, 'silver', `domain-c${c + 7}`, `resgroup-${c * 3 + 1}`]);
          }
        }
      },
    );

    let done = 0;
    await copy(client, 'vms', vmWriteColumns, async (write) => {
      for (const [i, id] of ids.entries()) {
        const site = siteOf(i);
        for (let v = 0; v < vmsPerVcenter; v++) {
          const host = Math.floor(random() * hostsPer);
          const cluster = host % clustersPer;
          const template = random() < 0.02;
          if (template) templates++;
          const power = template
            ? 'poweredOff'
            : ((r) => (r < 0.7 ? 'poweredOn' : r < 0.95 ? 'poweredOff' : 'suspended'))(random());
          const [guestId, guestName] = pick(guests);
          const app = pick(applications);
          const name = template
            ? `tpl-${guestId.replace(/_?64Guest$|Guest$/, '')}-${pad(v, 4)}`
            : `${pick(environments)}-${app}-${pick(roles)}-${site}-${pad(Math.floor(random() * 1000), 3)}`;
          const cpus = pick([1, 2, 2, 4, 4, 8, 16]);
          const hex = () =>
            Math.floor(random() * 0xffffffff)
              .toString(16)
              .padStart(8, '0');
          await write([
            id,
            `vm-${v + 1}`,
            name,
            power,
            template,
            `42${hex().slice(2)}-${hex().slice(0, 4)}-${hex().slice(0, 4)}-${hex().slice(0, 4)}-${hex()}${hex().slice(0, 4)}`,
            `50${hex().slice(2)}-${hex().slice(0, 4)}-${hex().slice(0, 4)}-${hex().slice(0, 4)}-${hex()}${hex().slice(0, 4)}`,
            cpus,
            cpus * pick([2048, 4096, 8192]),
            guestId,
            guestName,
            power === 'poweredOn' ? `10.${i % 256}.${Math.floor(v / 250)}.${(v % 250) + 2}` : null,
            `host-${host + 1}`,
            `domain-c${cluster + 7}`,
            `resgroup-${cluster * 3 + 1 + Math.floor(random() * 3)}`,
            `datacenter-${(cluster % datacentersPer) + 1}`,
            `group-v${(v % 20) + 3}`,
            (20 + Math.floor(random() * 480)) * 2 ** 30,
          ]);
          done++;
          if (done % 10_000 === 0) options.onProgress?.(done, total);
        }
      }
    });
    options.onProgress?.(total, total);

    await client.query(
      `UPDATE vcenters vc SET vm_count = s.vms, template_count = s.templates, host_count = $2,
              datastore_count = $3, cluster_count = $4, datacenter_count = $5, network_count = 10,
              resource_pool_count = $4 * 3, last_full_sync_at = now(), generation = generation + 1
         FROM (SELECT vcenter_id, count(*) FILTER (WHERE NOT template) AS vms, count(*) FILTER (WHERE template) AS templates
                 FROM vms WHERE vcenter_id = ANY($1::text[]) GROUP BY vcenter_id) s
        WHERE vc.id = s.vcenter_id`,
      [ids, hostsPer, datastoresPer, clustersPer, datacentersPer],
    );
    for (const table of [
      'vcenters',
      'datacenters',
      'clusters',
      'hosts',
      'datastores',
      'networks',
      'resource_pools',
      'vms',
    ]) {
      await client.query(`VACUUM (ANALYZE) ${table}`);
    }
  } finally {
    client.release();
  }
  return {
    vcenters,
    vms: total - templates,
    templates,
    hosts: vcenters * hostsPer,
    datastores: vcenters * datastoresPer,
    clusters: vcenters * clustersPer,
    seconds: (performance.now() - started) / 1000,
  };
}
