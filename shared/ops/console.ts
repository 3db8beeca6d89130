// Ops — use case: open a VM console. CRITICAL and synchronous in the API Lambda: it waits (briefly) for a slot
// on the vCenter's limiter, where CRITICAL keeps headroom no lower lane may take and holds lower lanes back
// while it waits, then asks vCenter for a WebMKS ticket.
import { HttpError, NotFoundError, parseIdParam, ServiceUnavailableError } from '#shared/http';
import { NetworkError, SoapFault, TimeoutError } from '#shared/vsphere';
import { type Limiter, LimiterTimeoutError } from './limiter.ts';
import { recordLaneWait } from './metrics.ts';
import type { VcenterSessions } from './sessions.ts';

/** A console ticket as the API answers it. */
export interface ConsoleTicket {
  readonly vmId: string;
  /** One-time WebMKS ticket; hand it to the console client only. */
  readonly ticket: string;
  /** `wss://…/ticket/<ticket>`: where the WebMKS client connects. */
  readonly url: string;
  readonly host: string | null;
  readonly port: number | null;
  readonly sslThumbprint: string | null;
  /** ISO time after which vCenter refuses the unused ticket. */
  readonly expiresAt: string;
  /** Milliseconds this request waited for its CRITICAL slot. */
  readonly waitedMs: number;
}

/** vSphere accepts an unused WebMKS ticket for about 30 seconds. */
export const consoleTicketLifetimeMs = 30_000;

/**
 * @throws BadRequestError (malformed id), NotFoundError (unknown vCenter or VM), ServiceUnavailableError with
 *   Retry-After (no slot within `slotTimeoutMs`, or the vCenter unreachable), HttpError 502 (vCenter refused)
 */
export async function openConsole(
  deps: { sessions: VcenterSessions; limiter: Limiter; slotTimeoutMs?: number },
  vmId: string,
): Promise<ConsoleTicket> {
  const ref = parseIdParam(vmId);
  await deps.sessions.identity(ref.vcenterId);
  const requestedAt = Date.now();
  try {
    // The session first (pooled; a login happens once); the slot is taken once the connection is ready.
    const client = await deps.sessions.forVcenter(ref.vcenterId);
    let waitedMs = 0;
    const ticket = await deps.limiter.withAdmission(
      ref.vcenterId,
      'CRITICAL',
      {
        timeoutMs: deps.slotTimeoutMs ?? 5_000,
        requestedAt,
        onGrant: (lease) => {
          waitedMs = lease.waitMs ?? 0;
          recordLaneWait('CRITICAL', lease.waitMs);
        },
      },
      (admit) =>
        client.acquireWebMksTicket({ type: 'VirtualMachine', value: ref.moid }, { timeoutMs: 10_000, admit }),
    );
    const hostPort = ticket.port === undefined ? ticket.host : `${ticket.host}:${ticket.port}`;
    return {
      vmId,
      ticket: ticket.ticket,
      url: ticket.url ?? `wss://${hostPort}/ticket/${ticket.ticket}`,
      host: ticket.host ?? null,
      port: ticket.port ?? null,
      sslThumbprint: ticket.sslThumbprint ?? null,
      expiresAt: new Date(Date.now() + consoleTicketLifetimeMs).toISOString(),
      waitedMs,
    };
  } catch (error) {
    if (error instanceof LimiterTimeoutError) {
      throw new ServiceUnavailableError(`vCenter ${ref.vcenterId} is at its call limit; try again`, 1);
    }
    if (error instanceof SoapFault && error.faultType === 'ManagedObjectNotFound') {
      throw new NotFoundError(`No VM ${vmId} on vCenter ${ref.vcenterId}`);
    }
    if (error instanceof NetworkError || error instanceof TimeoutError) {
      throw new ServiceUnavailableError(`vCenter ${ref.vcenterId} did not answer; try again later`, 5);
    }
    if (error instanceof SoapFault) {
      throw new HttpError(
        502,
        'upstream_error',
        `vCenter ${ref.vcenterId} refused the ticket (${error.faultType})`,
      );
    }
    throw error;
  }
}
