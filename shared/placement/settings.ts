// Placement — configuration: the timeouts and limits of placement, read once and checked (a bad value fails
// naming the variable). Tests and `npm run dev` shorten the timeouts through the same variables.
import { numberEnv } from '#shared/config';

export interface PlacementSettings {
  /** A node whose last heartbeat is older expires (NODE_HEARTBEAT_TIMEOUT, seconds). */
  readonly heartbeatTimeoutSeconds: number;
  /** A project unused this long is released (PROJECT_IDLE_TIMEOUT, seconds). */
  readonly idleTimeoutSeconds: number;
  /** A freed slot is held this long for the head of the line; a ticket not renewed within it expires. */
  readonly ticketHoldSeconds: number;
  /** A project holding more data is refused with 413 (PROJECT_DATA_LIMIT, bytes). */
  readonly dataLimitBytes: number;
  /** A forward not answered within this is a timeout (PLACEMENT_FORWARD_TIMEOUT_MS; below API Gateway's 30 s). */
  readonly forwardTimeoutMs: number;
  /** Forward timeouts in a row that make a node suspect (NODE_SUSPECT_TIMEOUTS). */
  readonly suspectAfterTimeouts: number;
  /** Pending work with no progress for this long makes a node suspect (NODE_STALL_SECONDS). */
  readonly stallSeconds: number;
  /** A suspect node's projects move after this grace (NODE_SUSPECT_GRACE, seconds). */
  readonly suspectGraceSeconds: number;
}

/** Reads the settings from the environment (every value has a default). */
export function loadPlacementSettings(): PlacementSettings {
  const read = (name: string, fallback: number, min: number, max: number) =>
    numberEnv(name, fallback, { min, max });
  const heartbeatTimeoutSeconds = read('NODE_HEARTBEAT_TIMEOUT', 60, 1, 3_600);
  return {
    heartbeatTimeoutSeconds,
    idleTimeoutSeconds: read('PROJECT_IDLE_TIMEOUT', 15 * 60, 1, 7 * 24 * 3_600),
    ticketHoldSeconds: read('TICKET_HOLD_SECONDS', 30, 1, 3_600),
    dataLimitBytes: read('PROJECT_DATA_LIMIT', 4 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    forwardTimeoutMs: read('PLACEMENT_FORWARD_TIMEOUT_MS', 24_000, 100, 28_000),
    suspectAfterTimeouts: read('NODE_SUSPECT_TIMEOUTS', 3, 1, 100),
    stallSeconds: read('NODE_STALL_SECONDS', heartbeatTimeoutSeconds, 1, 3_600),
    suspectGraceSeconds: read('NODE_SUSPECT_GRACE', 30, 0, 3_600),
  };
}
