// Inventory — secondary adapter (PostgreSQL writes) for the sync pipeline: upsert VMs so that only rows whose
// content changed are rewritten (row_hash), delete vanished ones, count a new generation in the same
// transaction, and publish it to the query cache once the reader endpoint can see it.
import { type RedisClient, redis } from '#shared/clients';
import type { PowerState } from './filters.ts';
import type { Queryable } from './queries.ts';
import { createGenerationBumper } from './query-cache.ts';

/** A VM as the sync writes it (absent optional fields are stored as NULL). */
export interface VmRecord {
  readonly moid: string;
  readonly name: string;
  readonly powerState: PowerState;
  readonly template?: boolean;
  readonly uuid?: string | null;
  readonly instanceUuid?: string | null;
  readonly numCpu?: number | null;
  readonly memoryMb?: number | null;
  readonly guestOs?: string | null;
  readonly guestFullName?: string | null;
  readonly ipAddress?: string | null;
  readonly hostMoid?: string | null;
  readonly clusterMoid?: string | null;
  readonly resourcePoolMoid?: string | null;
  readonly datacenterMoid?: string | null;
  readonly folderMoid?: string | null;
  readonly committedBytes?: number | null;
}

/** The VM table's writable columns, in COPY order; `vcenter_id` comes first. */
export const vmWriteColumns = [
  'vcenter_id',
  'moid',
  'name',
  'power_state',
  'template',
  'uuid',
  'instance_uuid',
  'num_cpu',
  'memory_mb',
  'guest_os',
  'guest_full_name',
  'ip_address',
  'host_moid',
  'cluster_moid',
  'resource_pool_moid',
  'datacenter_moid',
  'folder_moid',
  'committed_bytes',
] as const;

/** A record's values in {@link vmWriteColumns} order. */
export function vmValues(vcenterId: string, vm: VmRecord): unknown[] {
  return [
    vcenterId,
    vm.moid,
    vm.name,
    vm.powerState,
    vm.template ?? false,
    vm.uuid ?? null,
    vm.instanceUuid ?? null,
    vm.numCpu ?? null,
    vm.memoryMb ?? null,
    vm.guestOs ?? null,
    vm.guestFullName ?? null,
    vm.ipAddress ?? null,
    vm.hostMoid ?? null,
    vm.clusterMoid ?? null,
    vm.resourcePoolMoid ?? null,
    vm.datacenterMoid ?? null,
    vm.folderMoid ?? null,
    vm.committedBytes ?? null,
  ];
}

const updatable = vmWriteColumns.filter((column) => column !== 'vcenter_id' && column !== 'moid');

/**
 * The upsert clause for rows coming from `source` (a staging table or a SELECT with the write columns): a
 * row is rewritten only when its row_hash (a generated column over the content) differs, so a full sync that
 * finds nothing new writes nothing. Use it after COPYing a full sync into a staging table:
 * `INSERT INTO vms (<vmWriteColumns>) SELECT <vmWriteColumns> FROM staging ${vmUpsertConflictClause}`.
 */
export const vmUpsertConflictClause = `ON CONFLICT (vcenter_id, moid) DO UPDATE SET
  ${updatable.map((column) => `${column} = excluded.${column}`).join(', ')}, updated_at = now()
  WHERE vms.row_hash IS DISTINCT FROM excluded.row_hash`;

const batchSize = 2_000;

/**
 * Inserts or updates VMs of one vCenter (incremental sync: enter and modify); unchanged rows are not
 * rewritten. Run inside the sync's transaction. Returns how many rows were inserted or changed.
 */
export async function upsertVms(db: Queryable, vcenterId: string, vms: readonly VmRecord[]): Promise<number> {
  let changed = 0;
  for (let start = 0; start < vms.length; start += batchSize) {
    const batch = vms.slice(start, start + batchSize);
    // One array parameter per column: one statement per batch, no per-row placeholders.
    const columns = vmWriteColumns.map((_, index) => batch.map((vm) => vmValues(vcenterId, vm)[index]));
    const types = [
      'text',
      'text',
      'text',
      'text',
      'bool',
      'text',
      'text',
      'int4',
      'int4',
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'text',
      'int8',
    ];
    const result = await db.query(
      `INSERT INTO vms (${vmWriteColumns.join(', ')})
       SELECT * FROM unnest(${types.map((type, index) => `$${index + 1}::${type}[]`).join(', ')})
       ${vmUpsertConflictClause}`,
      columns,
    );
    changed += result.rowCount ?? 0;
  }
  return changed;
}

/** Deletes VMs of one vCenter by moid (incremental sync: leave). Returns how many were deleted. */
export async function deleteVms(db: Queryable, vcenterId: string, moids: readonly string[]): Promise<number> {
  if (moids.length === 0) return 0;
  const result = await db.query('DELETE FROM vms WHERE vcenter_id = $1 AND moid = ANY($2::text[])', [
    vcenterId,
    moids,
  ]);
  return result.rowCount ?? 0;
}

/**
 * Counts a new generation for a vCenter; call it in the sync transaction that changed rows, and pass the
 * result to {@link publishGeneration} after COMMIT.
 */
export async function nextGeneration(db: Queryable, vcenterId: string): Promise<number> {
  const { rows } = await db.query<{ generation: string }>(
    'UPDATE vcenters SET generation = generation + 1, updated_at = now() WHERE id = $1 RETURNING generation',
    [vcenterId],
  );
  if (!rows[0]) throw new Error(`No vCenter ${vcenterId}`);
  return Number(rows[0].generation);
}

/**
 * Invalidates the cached answers that depend on a vCenter: bumps `inv:gen:{<vcenterId>}` and the global
 * generation (queries across vCenters). Call after the sync's COMMIT, never before (see
 * {@link publishGeneration} for the replica-aware way).
 */
export async function bumpGeneration(vcenterId: string, client: RedisClient = redis()): Promise<void> {
  await createGenerationBumper(client).bump(vcenterId);
}

/**
 * After COMMIT: waits (bounded) until the reader endpoint shows `generation` for the vCenter, then bumps the
 * cache generations. Aurora replicas lag the writer by milliseconds; bumping before the reader has the new
 * rows would let a reader cache the old rows under the new generation. Returns false when the reader did not
 * catch up within `timeoutMs` (it bumps anyway; the entries then live at most VM_LIST_CACHE_TTL).
 */
export async function publishGeneration(
  vcenterId: string,
  generation: number,
  options: { reader: Queryable; client?: RedisClient; timeoutMs?: number },
): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 2_000);
  let caughtUp = false;
  // Replica lag is typically a few to ~20 ms: look again soon, then every 20 ms (a sync worker is billed
  // for every millisecond it waits here).
  for (let attempt = 0; !caughtUp; attempt++) {
    const { rows } = await options.reader.query<{ generation: string }>(
      'SELECT generation FROM vcenters WHERE id = $1',
      [vcenterId],
    );
    caughtUp = !rows[0] || Number(rows[0].generation) >= generation;
    if (caughtUp || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(20, 5 * 2 ** attempt)));
  }
  await bumpGeneration(vcenterId, options.client ?? redis());
  return caughtUp;
}
