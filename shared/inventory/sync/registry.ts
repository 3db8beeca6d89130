// Inventory sync — use cases: the vCenter registry. Registering writes the password to the secret store and
// only its reference to the database, in the transaction that inserts the row (a failed secret write leaves
// no row; a duplicate fails before any secret is touched). Every view carries the sync state; none carries
// the password, its reference or the session.
import type pg from 'pg';
import * as z from 'zod';
import { VcenterScope } from '#shared/auth';
import type { RedisClient } from '#shared/clients';
import { BadRequestError, ConflictError, NotFoundError } from '#shared/http';
import type { SecretStore } from '#shared/secrets';
import { targetRefusal } from '#shared/vsphere';
import { bumpGeneration } from '../writes.ts';
import { forgetPassword, loadSyncRow, openClient } from './engine.ts';
import type { SessionKeyring } from './session-crypto.ts';
import { sessionKeysFor } from './session-keys.ts';

/** Polling changes are visible within a minute by default. */
export const defaultSyncIntervalSeconds = 60;

/** Body of `POST /api/v1/vcenters`. */
export const registerSchema = z
  .object({
    id: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
        'letters, digits, ".", "_" or "-", at most 64, not starting with a symbol',
      ),
    name: z.string().trim().min(1).max(200).optional(),
    url: z
      .string()
      .url()
      .refine((value) => value.startsWith('https://'), 'must be an https:// URL (the vCenter SDK endpoint)'),
    username: z.string().min(1).max(256),
    password: z.string().min(1).max(1024),
    syncMode: z.enum(['streaming', 'polling']).default('polling'),
    /** Polling period; at least the dispatcher's period (checked by {@link registerVcenter}). */
    syncIntervalSeconds: z.number().int().min(1).max(86_400).default(defaultSyncIntervalSeconds),
    /** Accept a self-signed certificate (labs and simulators only). */
    insecure: z.boolean().default(false),
    /** PEM of a private CA to trust for this vCenter. */
    ca: z.string().max(20_000).optional(),
  })
  .strict();

export type RegisterInput = z.infer<typeof registerSchema>;

/** Body of `POST /api/v1/vcenters/{id}/sync` (empty means an incremental pass where the watch allows). */
export const syncRequestSchema = z
  .object({ full: z.boolean().default(false).describe('Start with a full retrieval') })
  .strict();

/** A vCenter as the API shows it. */
export interface VcenterView {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  /** The service account vfleet logs in with: shown to admins only. */
  readonly username?: string;
  readonly syncMode: 'streaming' | 'polling';
  readonly syncIntervalSeconds: number;
  readonly insecure: boolean;
  readonly createdAt: string;
  readonly sync: {
    /** `pending` before the first full sync; `failing` while the last attempt failed. */
    readonly status: 'pending' | 'ok' | 'failing';
    readonly lastFullSyncAt: string | null;
    readonly lastIncrementalAt: string | null;
    /** The tables hold the vCenter's state as of this moment. */
    readonly syncedThroughAt: string | null;
    /** Seconds between now and syncedThroughAt (null before the first sync). */
    readonly lagSeconds: number | null;
    readonly nextSyncAt: string;
    readonly lastDurationMs: number | null;
    readonly consecutiveFailures: number;
    /** What kind of failure the last one was, for everyone; {@link failureKind}. */
    readonly errorKind: FailureKind | null;
    /** The last failure: in full (internal addresses, vSphere faults) for admins, else its kind in words. */
    readonly lastError: string | null;
    readonly lastErrorAt: string | null;
    readonly generation: number;
  };
  readonly counts: {
    readonly vms: number;
    readonly templates: number;
    readonly hosts: number;
    readonly datastores: number;
    readonly clusters: number;
    readonly networks: number;
    readonly datacenters: number;
    readonly resourcePools: number;
  };
  /** The last drift check (verify.ts): when, its result and what it counted. */
  readonly verification: {
    readonly lastVerifiedAt: string | null;
    readonly result: 'match' | 'drift' | 'error' | null;
    /** Rows missing, extra and differing in the database, in total and per table (null after an error). */
    readonly counts: ViewRow['last_verify_counts'];
    readonly error: string | null;
    readonly durationMs: number | null;
    readonly nextVerifyAt: string;
  };
}

const viewColumns = `id, name, url, username, sync_mode, sync_interval_seconds, tls_insecure, created_at,
  last_full_sync_at, last_incremental_at, synced_through_at, next_sync_at, last_sync_ms, consecutive_failures,
  last_error, last_error_at, generation, vm_count, template_count, host_count, datastore_count, cluster_count,
  network_count, datacenter_count, resource_pool_count,
  extract(epoch FROM now() - synced_through_at) AS lag_seconds,
  next_verify_at, last_verify_at, last_verify_result, last_verify_counts, last_verify_error, last_verify_ms`;

interface ViewRow {
  id: string;
  name: string;
  url: string;
  username: string;
  sync_mode: 'streaming' | 'polling';
  sync_interval_seconds: number;
  tls_insecure: boolean;
  created_at: Date;
  last_full_sync_at: Date | null;
  last_incremental_at: Date | null;
  synced_through_at: Date | null;
  next_sync_at: Date;
  last_sync_ms: number | null;
  consecutive_failures: number;
  last_error: string | null;
  last_error_at: Date | null;
  generation: string;
  vm_count: number;
  template_count: number;
  host_count: number;
  datastore_count: number;
  cluster_count: number;
  network_count: number;
  datacenter_count: number;
  resource_pool_count: number;
  lag_seconds: string | null;
  next_verify_at: Date;
  last_verify_at: Date | null;
  last_verify_result: 'match' | 'drift' | 'error' | null;
  /** VerifyCounts of ./verify.ts */
  last_verify_counts: {
    missing: number;
    extra: number;
    differing: number;
    byTable: Record<string, Record<string, number>>;
  } | null;
  last_verify_error: string | null;
  last_verify_ms: number | null;
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);

export type FailureKind =
  | 'authentication'
  | 'certificate'
  | 'timeout'
  | 'unreachable'
  | 'vcenter_fault'
  | 'other';

/** Failure kinds in plain words, all a viewer is shown of a failure. */
const failureWords: Record<FailureKind, string> = {
  authentication: 'vCenter refused the service account',
  certificate: "vCenter's certificate is not trusted",
  timeout: 'vCenter did not answer in time',
  unreachable: 'vCenter is unreachable',
  vcenter_fault: 'vCenter answered with a fault',
  other: 'The sync failed',
};

/** Classifies a stored failure text (describeFailure's `<ErrorName>: <message>`). */
export function failureKind(text: string): FailureKind {
  if (/InvalidLogin|NotAuthenticated|authenticat/i.test(text)) return 'authentication';
  if (/certificate|CERT_|self[- ]signed|TLS|SSL/i.test(text)) return 'certificate';
  if (/Timeout|ETIMEDOUT|timed out/i.test(text)) return 'timeout';
  if (/NetworkError|ECONN|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up/i.test(text))
    return 'unreachable';
  if (/SoapFault|VsphereError|Fault/.test(text)) return 'vcenter_fault';
  return 'other';
}

/**
 * The view a caller may see: admins see everything; everyone else sees no service-account name and only
 * the kind of a failure, since raw errors carry internal addresses and vSphere fault details.
 */
export function viewFor(view: VcenterView, caller: { readonly admin: boolean }): VcenterView {
  if (caller.admin) return view;
  const { username: _, ...rest } = view;
  const words = (text: string | null) => (text === null ? null : failureWords[failureKind(text)]);
  return {
    ...rest,
    sync: { ...view.sync, lastError: words(view.sync.lastError) },
    verification: { ...view.verification, error: words(view.verification.error) },
  };
}

function toView(row: ViewRow): VcenterView {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    username: row.username,
    syncMode: row.sync_mode,
    syncIntervalSeconds: row.sync_interval_seconds,
    insecure: row.tls_insecure,
    createdAt: row.created_at.toISOString(),
    sync: {
      status: row.consecutive_failures > 0 ? 'failing' : row.last_full_sync_at ? 'ok' : 'pending',
      lastFullSyncAt: iso(row.last_full_sync_at),
      lastIncrementalAt: iso(row.last_incremental_at),
      syncedThroughAt: iso(row.synced_through_at),
      lagSeconds:
        row.lag_seconds === null ? null : Math.max(0, Math.round(Number(row.lag_seconds) * 10) / 10),
      nextSyncAt: row.next_sync_at.toISOString(),
      lastDurationMs: row.last_sync_ms,
      consecutiveFailures: row.consecutive_failures,
      errorKind: row.last_error === null ? null : failureKind(row.last_error),
      lastError: row.last_error,
      lastErrorAt: iso(row.last_error_at),
      generation: Number(row.generation),
    },
    counts: {
      vms: row.vm_count,
      templates: row.template_count,
      hosts: row.host_count,
      datastores: row.datastore_count,
      clusters: row.cluster_count,
      networks: row.network_count,
      datacenters: row.datacenter_count,
      resourcePools: row.resource_pool_count,
    },
    verification: {
      lastVerifiedAt: iso(row.last_verify_at),
      result: row.last_verify_result,
      counts: row.last_verify_counts,
      error: row.last_verify_error,
      durationMs: row.last_verify_ms,
      nextVerifyAt: row.next_verify_at.toISOString(),
    },
  };
}

/**
 * Registers a vCenter (due for its first, full, sync at once). 409 on a taken id or URL; 400 for a polling
 * interval shorter than the dispatcher's period, which could not be honoured.
 */
export async function registerVcenter(
  pool: pg.Pool,
  secrets: SecretStore,
  input: RegisterInput,
  options: { readonly minIntervalSeconds: number },
): Promise<VcenterView> {
  if (input.syncIntervalSeconds < options.minIntervalSeconds) {
    throw new BadRequestError('Invalid vCenter registration', {
      syncIntervalSeconds: `must be at least ${options.minIntervalSeconds} (the sync dispatcher runs every ${options.minIntervalSeconds} s)`,
    });
  }
  // The allow-list (VCENTER_ALLOWED_TARGETS) here, on the host as it resolves now; every connection checks it
  // again against the address it connects to, so a DNS answer that changes later is refused there.
  const refusal = await targetRefusal(input.url);
  if (refusal) {
    throw new BadRequestError('Invalid vCenter registration', {
      url: `is not an allowed vCenter endpoint: ${refusal}`,
    });
  }
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    try {
      await db.query(
        `INSERT INTO vcenters (id, name, url, username, secret_ref, sync_mode, sync_interval_seconds, tls_insecure, ca_pem)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8)`,
        [
          input.id,
          input.name ?? input.id,
          input.url,
          input.username,
          input.syncMode,
          input.syncIntervalSeconds,
          input.insecure,
          input.ca ?? null,
        ],
      );
    } catch (error) {
      const { code, constraint } = error as { code?: string; constraint?: string };
      if (code === '23505') {
        throw new ConflictError(
          constraint === 'vcenters_url_key'
            ? `A vCenter with URL ${input.url} is already registered`
            : `A vCenter with id ${input.id} is already registered`,
        );
      }
      throw error;
    }
    // The row is locked by this transaction: a concurrent registration of the same id waits, then conflicts.
    const ref = await secrets.put(input.id, input.password);
    await db.query('UPDATE vcenters SET secret_ref = $2 WHERE id = $1', [input.id, ref]);
    const { rows } = await db.query<ViewRow>(`SELECT ${viewColumns} FROM vcenters WHERE id = $1`, [input.id]);
    await db.query('COMMIT');
    return toView(rows[0] as ViewRow);
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    db.release();
  }
}

/** Every registered vCenter with its sync state, by id. */
/** Every vCenter the caller's scope shows (shared/auth), by id. */
export async function listVcenters(
  db: pg.Pool | pg.ClientBase,
  scope: VcenterScope = VcenterScope.everything,
): Promise<VcenterView[]> {
  const { rows } = await db.query<ViewRow>(`SELECT ${viewColumns} FROM vcenters ORDER BY id`);
  return rows.filter((row) => scope.allows(row.id)).map(toView);
}

/** One vCenter; 404 when unknown. */
export async function getVcenter(db: pg.Pool | pg.ClientBase, id: string): Promise<VcenterView> {
  const { rows } = await db.query<ViewRow>(`SELECT ${viewColumns} FROM vcenters WHERE id = $1`, [id]);
  if (!rows[0]) throw new NotFoundError(`No vCenter ${id}`);
  return toView(rows[0]);
}

/**
 * Deletes a vCenter: its inventory rows (cascade), its secret, and its saved vSphere session (logged out, best
 * effort: an unreachable vCenter must not block its removal). 404 when unknown.
 */
export async function deleteVcenter(
  pool: pg.Pool,
  secrets: SecretStore,
  id: string,
  options: { redis?: RedisClient; sessionKeys?: SessionKeyring } = {},
): Promise<void> {
  const row = await loadSyncRow(pool, id);
  if (!row) throw new NotFoundError(`No vCenter ${id}`);
  const password = await secrets.get(row.secret_ref).catch(() => undefined);
  const result = await pool.query('DELETE FROM vcenters WHERE id = $1', [id]);
  if (result.rowCount === 0) throw new NotFoundError(`No vCenter ${id}`);
  await secrets.delete(row.secret_ref);
  forgetPassword(row.secret_ref);
  await bumpGeneration(id, options.redis).catch(() => {});
  if (password && row.session) {
    const keys = options.sessionKeys ?? sessionKeysFor(pool, secrets);
    const client = await openClient(row, password, keys).catch(() => undefined);
    await client?.close().catch(() => {});
  }
}

/** Changes how a vCenter is synced (a small PATCH-like helper for tests and benches). */
export async function setSyncMode(
  db: pg.Pool | pg.ClientBase,
  id: string,
  mode: 'streaming' | 'polling',
  intervalSeconds?: number,
): Promise<void> {
  await db.query(
    `UPDATE vcenters SET sync_mode = $2, sync_interval_seconds = coalesce($3, sync_interval_seconds), updated_at = now()
      WHERE id = $1`,
    [id, mode, intervalSeconds ?? null],
  );
}

/** Makes a vCenter due now (the dispatcher's next tick enqueues it). 404 when unknown. */
export async function markDue(db: pg.Pool | pg.ClientBase, id: string, full = false): Promise<void> {
  const result = await db.query(
    `UPDATE vcenters SET next_sync_at = now(), pc_version = CASE WHEN $2 THEN NULL ELSE pc_version END
      WHERE id = $1`,
    [id, full],
  );
  if (result.rowCount === 0) throw new NotFoundError(`No vCenter ${id}`);
}
