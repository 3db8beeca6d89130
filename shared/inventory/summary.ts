// Inventory — secondary adapter (PostgreSQL reads): the summary (`GET /api/v1/stats/summary`), exact counts per
// vCenter and their totals.
import type { Filters } from './filters.ts';
import { params, type Queryable, type Row, scopeCondition } from './list-specs.ts';

/** Per-vCenter counts of the summary. */
export interface VcenterCounts {
  readonly id: string;
  readonly name: string;
  readonly vms: number;
  readonly templates: number;
  readonly powerState: {
    readonly poweredOn: number;
    readonly poweredOff: number;
    readonly suspended: number;
  };
  readonly hosts: number;
  readonly datastores: number;
  readonly clusters: number;
}

/** `GET /api/v1/stats/summary`: counts per vCenter and power state, and totals. */
export interface Summary {
  readonly totals: Omit<VcenterCounts, 'id' | 'name'> & { readonly vcenters: number };
  readonly vcenters: VcenterCounts[];
}

/**
 * Exact counts per vCenter (templates apart from VMs) and their totals. The VM part is an index-only scan of
 * (vcenter_id, power_state, template); the cache in front of it absorbs repeats.
 */
export async function summary(db: Queryable, filters: Filters = {}): Promise<Summary> {
  const { values, param } = params();
  const only = (column: string) => {
    const scoped = scopeCondition(filters, column, param);
    const where = [
      ...(filters.vcenterId === undefined ? [] : [`${column} = ${param(filters.vcenterId)}`]),
      ...(scoped === undefined ? [] : [scoped]),
    ];
    return where.length ? `WHERE ${where.join(' AND ')}` : '';
  };
  const { rows } = await db.query<Row>(
    `WITH v AS (
       SELECT vcenter_id,
              count(*) FILTER (WHERE NOT template) AS vms,
              count(*) FILTER (WHERE template) AS templates,
              count(*) FILTER (WHERE NOT template AND power_state = 'poweredOn') AS powered_on,
              count(*) FILTER (WHERE NOT template AND power_state = 'poweredOff') AS powered_off,
              count(*) FILTER (WHERE NOT template AND power_state = 'suspended') AS suspended
         FROM vms ${only('vcenter_id')} GROUP BY vcenter_id),
     h AS (SELECT vcenter_id, count(*) AS n FROM hosts ${only('vcenter_id')} GROUP BY vcenter_id),
     d AS (SELECT vcenter_id, count(*) AS n FROM datastores ${only('vcenter_id')} GROUP BY vcenter_id),
     c AS (SELECT vcenter_id, count(*) AS n FROM clusters ${only('vcenter_id')} GROUP BY vcenter_id)
     SELECT vc.id, vc.name,
            coalesce(v.vms, 0)::int AS vms, coalesce(v.templates, 0)::int AS templates,
            coalesce(v.powered_on, 0)::int AS powered_on, coalesce(v.powered_off, 0)::int AS powered_off,
            coalesce(v.suspended, 0)::int AS suspended,
            coalesce(h.n, 0)::int AS hosts, coalesce(d.n, 0)::int AS datastores, coalesce(c.n, 0)::int AS clusters
       FROM vcenters vc
       LEFT JOIN v ON v.vcenter_id = vc.id LEFT JOIN h ON h.vcenter_id = vc.id
       LEFT JOIN d ON d.vcenter_id = vc.id LEFT JOIN c ON c.vcenter_id = vc.id
      ${only('vc.id')}
      ORDER BY vc.id`,
    values,
  );
  const vcenters = rows.map(
    (row): VcenterCounts => ({
      id: String(row.id),
      name: String(row.name),
      vms: Number(row.vms),
      templates: Number(row.templates),
      powerState: {
        poweredOn: Number(row.powered_on),
        poweredOff: Number(row.powered_off),
        suspended: Number(row.suspended),
      },
      hosts: Number(row.hosts),
      datastores: Number(row.datastores),
      clusters: Number(row.clusters),
    }),
  );
  const totals = {
    vcenters: vcenters.length,
    vms: 0,
    templates: 0,
    powerState: { poweredOn: 0, poweredOff: 0, suspended: 0 },
    hosts: 0,
    datastores: 0,
    clusters: 0,
  };
  for (const vc of vcenters) {
    totals.vms += vc.vms;
    totals.templates += vc.templates;
    totals.powerState.poweredOn += vc.powerState.poweredOn;
    totals.powerState.poweredOff += vc.powerState.poweredOff;
    totals.powerState.suspended += vc.powerState.suspended;
    totals.hosts += vc.hosts;
    totals.datastores += vc.datastores;
    totals.clusters += vc.clusters;
  }
  return { totals, vcenters };
}
