// Dashboard — the capability's public entry (`#shared/dashboard`): node metrics, history and logs from the
// agents, the dashboard's reads, service and reporter control through the agents' WebSocket connections,
// the janitor, and the WebSocket protocol; `dashboard()` wires them on the process-wide clients.
import { keyPrefixFromEnv } from '#shared/cache';
import { dynamo, redis } from '#shared/clients';
import { numberEnv, requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import { getNode, loadPlacementSettings, nodeState, placementStore } from '#shared/placement';
import { push, saveSubscription, sendToConnection } from '#shared/realtime';
import { Commands } from './commands.ts';
import { Dashboard } from './dashboard.ts';
import { Fanout } from './fanout.ts';
import { dashboardKeys } from './keys.ts';
import type { LogFilters } from './schemas.ts';
import { DashboardStore } from './store.ts';

export { type CommandRecord, Commands } from './commands.ts';
export { type CommandAnswer, Dashboard, type DashboardDeps, type WsCaller } from './dashboard.ts';
export { Fanout } from './fanout.ts';
export { suggestInterval } from './interval.ts';
export { dashboardKeys } from './keys.ts';
export { decodeCursor, encodeCursor, type LogCursor } from './log-reader.ts';
export * from './schemas.ts';
export { DashboardStore, expireAfterMs, historyPoints, type NodeView, removeAfterMs } from './store.ts';

/** Settings read once: how long a command's HTTP call waits for the agent's acknowledgement. */
export function commandWaitMs(): number {
  return numberEnv('DASHBOARD_COMMAND_WAIT_SECONDS', 10, { min: 0.1, max: 24 }) * 1000;
}

/**
 * How long a command sent to an agent may go unacknowledged before the audit trail shows it `timed_out`: above
 * the agent's longest action (a process's 5 s stop grace and its start; a 20 s systemctl call).
 */
export function commandAckTimeoutMs(): number {
  return numberEnv('DASHBOARD_COMMAND_TIMEOUT_SECONDS', 60, { min: 1, max: 900 }) * 1000;
}

/** The placement registry's answer to "did this node heartbeat within the timeout?". */
function heartbeatAlive(clock: () => number): (nodeId: string) => Promise<boolean> {
  const settings = loadPlacementSettings();
  return async (nodeId) => {
    const node = await getNode(placementStore(), nodeId);
    return node !== undefined && nodeState(node, clock(), settings) !== 'expired';
  };
}

let shared: Dashboard | undefined;
let now: () => number = Date.now;

/**
 * Replaces the clock of the process-wide dashboard's store and fan-out (liveness, the janitor, message times;
 * commands keep the machine's). Tests that run the local runtime in their own process move it to cross 60 s
 * and 10 minutes at once; it returns the function that puts the previous clock back.
 */
export function setDashboardClock(clock: () => number): () => void {
  const previous = now;
  now = clock;
  return () => {
    now = previous;
  };
}

/** The process-wide dashboard on the shared clients (Redis, DynamoDB, the management API). */
export function dashboard(): Dashboard {
  if (shared) return shared;
  const client = redis();
  const keyPrefix = keyPrefixFromEnv();
  const keys = dashboardKeys(keyPrefix);
  const clock = () => now();
  const store = new DashboardStore({
    redis: client,
    keyPrefix,
    clock,
    logLinesPerNode: numberEnv('DASHBOARD_LOG_LINES_PER_NODE', 10_000, { min: 100, max: 1_000_000 }),
  });
  shared = new Dashboard({
    store,
    fanout: new Fanout({ redis: client, keys, push, clock }),
    commands: new Commands({
      redis: client,
      keys,
      dynamo: dynamo(),
      table: () => requireEnv(envNames.tableName('commands')),
      send: sendToConnection,
      // The audit trail and the placement registry's heartbeats are on the machine's clock.
      clock: Date.now,
      waitMs: commandWaitMs(),
      ackTimeoutMs: commandAckTimeoutMs(),
      heartbeatAlive: heartbeatAlive(Date.now),
    }),
    push,
    saveSubscription: async (connectionId, filters) => {
      const saved = await saveSubscription(connectionId, filters);
      return saved && { previous: saved.previous as LogFilters | undefined };
    },
  });
  return shared;
}
