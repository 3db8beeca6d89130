// Ops — use cases and their PostgreSQL adapter: the console audit trail. Every console ticket request for a
// well-formed VM id leaves a row (who, which VM, when, from where, how it ended; never the ticket) and a metric:
// issued, failed at vCenter or the limiter, or denied before reaching them (no valid token, no operator role,
// outside the caller's vCenter scope, over the rate limit). An issued ticket is handed out only once its row is
// written (an audit that cannot be written refuses the ticket). Operators read the trail newest first, within
// their vCenter scope.
import * as z from 'zod';
import { VcenterScope } from '#shared/auth';
import { formatId, parseId, vcenterIdPattern } from '#shared/contracts';
import { BadRequestError, type DenialReason, HttpError, parseIdParam } from '#shared/http';
import { logger } from '#shared/observability';
import { type ConsoleTicket, openConsole } from './console.ts';
import { recordConsoleOpen } from './metrics.ts';

/** Anything that runs a query (the writer pool). */
export interface AuditDb {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** Who asks, and from where, as API Gateway's request context shows it. */
export interface AuditCaller {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
}

/** One row of the trail as the API shows it. */
export interface ConsoleAuditEntry {
  readonly id: string;
  readonly openedAt: string;
  readonly subject: string;
  readonly roles: readonly string[];
  readonly vmId: string;
  readonly vcenterId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
  readonly outcome: ConsoleOutcome;
  /** Why it failed (the error code) or was denied (a {@link DenialReason}); null when issued. */
  readonly error: string | null;
}

/** How a console request ended: ticket issued, refused by vCenter or the limiter, or denied before either. */
export type ConsoleOutcome = 'issued' | 'failed' | 'denied';

// User agents are the caller's text: kept, but bounded.
const maxUserAgent = 512;

async function insert(
  db: AuditDb,
  caller: AuditCaller,
  vcenterId: string,
  moid: string,
  outcome: ConsoleOutcome,
  error: string | null,
): Promise<void> {
  await db.query(
    `INSERT INTO console_audit (subject, roles, vcenter_id, vm_moid, source_ip, user_agent, request_id, outcome, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      caller.subject,
      [...caller.roles],
      vcenterId,
      moid,
      caller.sourceIp,
      caller.userAgent?.slice(0, maxUserAgent) ?? null,
      caller.requestId,
      outcome,
      error,
    ],
  );
}

/**
 * Opens a VM's console ({@link openConsole}) and records it: an issued ticket only after its audit row is
 * written (a failed write is a 500 and the ticket is never shown), a refused one best effort (a failed write
 * is logged; the caller gets the refusal). A malformed id reaches nothing and is not recorded.
 */
export async function openAuditedConsole(
  deps: Parameters<typeof openConsole>[0] & { readonly audit: AuditDb },
  vmId: string,
  caller: AuditCaller,
): Promise<ConsoleTicket> {
  const ref = parseIdParam(vmId);
  let ticket: ConsoleTicket;
  try {
    ticket = await openConsole(deps, vmId);
  } catch (error) {
    if (error instanceof BadRequestError) throw error;
    const code = error instanceof HttpError ? error.code : 'internal_error';
    recordConsoleOpen('failed');
    await insert(deps.audit, caller, ref.vcenterId, ref.moid, 'failed', code).catch((failure: unknown) => {
      logger.error('console audit not written', { vmId, outcome: 'failed', error: failure as Error });
    });
    throw error;
  }
  await insert(deps.audit, caller, ref.vcenterId, ref.moid, 'issued', null);
  recordConsoleOpen('issued');
  logger.info('console opened', { vmId, subject: caller.subject, sourceIp: caller.sourceIp });
  return ticket;
}

/**
 * Records a console request that was denied before reaching vCenter (best effort, as a refusal: a failed write
 * is logged and the caller still gets the denial). An id that is not `<vcenterId>:<moid>` names no VM and is
 * not recorded, as a malformed id is not on the ticket path.
 */
export async function recordConsoleDenial(
  db: AuditDb,
  vmId: string,
  caller: AuditCaller,
  reason: DenialReason,
): Promise<void> {
  const ref = parseId(vmId);
  if (!ref) return;
  recordConsoleOpen('denied');
  await insert(db, caller, ref.vcenterId, ref.moid, 'denied', reason).catch((failure: unknown) => {
    logger.error('console audit not written', { vmId, outcome: 'denied', error: failure as Error });
  });
  logger.warn('console denied', { vmId, reason, subject: caller.subject, sourceIp: caller.sourceIp });
}

export const defaultAuditLimit = 50;
export const maxAuditLimit = 500;

/** Query string of `GET /api/v1/audit/console`. */
export const consoleAuditQuerySchema = z
  .object({
    vcenter: z.string().regex(vcenterIdPattern, 'must be a vCenter id').optional(),
    vm: z
      .string()
      .max(200)
      .refine((text) => parseId(text) !== undefined, 'must be <vcenterId>:<moid>, e.g. vc-1:vm-42')
      .optional(),
    subject: z.string().min(1).max(256).optional(),
    limit: z
      .string()
      .regex(/^\d+$/, `must be a whole number from 1 to ${maxAuditLimit}`)
      .transform(Number)
      .pipe(z.number().int().min(1).max(maxAuditLimit, `must be from 1 to ${maxAuditLimit}`))
      .optional(),
    cursor: z
      .string()
      .regex(/^[1-9]\d{0,17}$/, 'is not a cursor this API issued')
      .optional()
      .describe('`nextCursor` of the previous page'),
  })
  .strict();

export type ConsoleAuditQuery = z.infer<typeof consoleAuditQuerySchema>;

/** A page of the trail, newest first. */
export interface ConsoleAuditPage {
  readonly items: ConsoleAuditEntry[];
  readonly nextCursor: string | null;
}

interface AuditRow {
  id: string;
  opened_at: Date;
  subject: string;
  roles: string[];
  vcenter_id: string;
  vm_moid: string;
  source_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  outcome: ConsoleOutcome;
  error: string | null;
}

/** The trail newest first, filtered, keyset-paged on the row id; rows of vCenters outside `scope` never show. */
export async function listConsoleAudit(
  db: AuditDb,
  query: ConsoleAuditQuery,
  scope: VcenterScope = VcenterScope.everything,
): Promise<ConsoleAuditPage> {
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where: string[] = [];
  const vm = query.vm === undefined ? undefined : parseIdParam(query.vm);
  if (vm && query.vcenter !== undefined && vm.vcenterId !== query.vcenter) {
    throw new BadRequestError('Invalid query: vm', {
      vm: `is in vCenter ${vm.vcenterId}, not ${query.vcenter}`,
    });
  }
  const vcenterId = vm?.vcenterId ?? query.vcenter;
  if (vcenterId !== undefined) where.push(`vcenter_id = ${param(vcenterId)}`);
  if (vm) where.push(`vm_moid = ${param(vm.moid)}`);
  if (query.subject !== undefined) where.push(`subject = ${param(query.subject)}`);
  if (!scope.all) where.push(`vcenter_id LIKE ANY(${param(scope.likePatterns())}::text[])`);
  if (query.cursor !== undefined) where.push(`id < ${param(query.cursor)}::bigint`);
  const limit = query.limit ?? defaultAuditLimit;
  // Ordered by the column, not the text alias `id` (which would sort "10" before "9").
  const { rows } = await db.query<AuditRow>(
    `SELECT id::text AS id, opened_at, subject, roles, vcenter_id, vm_moid, source_ip, user_agent, request_id,
            outcome, error
       FROM console_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY console_audit.id DESC LIMIT ${param(limit + 1)}`,
    values,
  );
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return {
    items: page.map((row) => ({
      id: row.id,
      openedAt: row.opened_at.toISOString(),
      subject: row.subject,
      roles: row.roles,
      vmId: formatId(row.vcenter_id, row.vm_moid),
      vcenterId: row.vcenter_id,
      sourceIp: row.source_ip,
      userAgent: row.user_agent,
      requestId: row.request_id,
      outcome: row.outcome,
      error: row.error,
    })),
    nextCursor: more ? (page.at(-1)?.id ?? null) : null,
  };
}
