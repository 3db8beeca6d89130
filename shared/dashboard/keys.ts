// Dashboard — secondary adapter (Redis key scheme). Every key of one node carries the node id as its hash
// tag (`dash:{<node>}:…`), so each node's keys sit in one hash slot of a cluster-mode Redis and every
// multi-key script or transaction stays inside it; the node registry and the subscriber index are single
// keys, only ever touched one key per command.

export function dashboardKeys(prefix: string) {
  const node = (id: string) => `${prefix}dash:{${id}}`;
  return {
    /** ZSET node id → last contact (ms: a report, logs, a ping …): the registry, what lists and the janitor read. */
    nodes: `${prefix}dash:nodes`,
    /** ZSET of nodes already announced as expired (so `node_status` is pushed once). */
    expired: `${prefix}dash:expired`,
    /** When the dashboard saw its first report (ms), for `uptime_seconds`. */
    startedAt: `${prefix}dash:started`,
    /** The node's latest report (JSON). */
    latest: (id: string) => `${node(id)}:latest`,
    /** LIST of history points, newest first, trimmed to 100 on write. */
    history: (id: string) => `${node(id)}:history`,
    /** STREAM of log lines, entry id `<seq>-1`, bounded by MAXLEN on write. */
    logs: (id: string) => `${node(id)}:logs`,
    /** The highest sequence number stored (duplicates and retries at or below it are dropped). */
    lastSeq: (id: string) => `${node(id)}:lastseq`,
    /** SET of logger names the node has used (log sources). */
    loggers: (id: string) => `${node(id)}:loggers`,
    /** The agent's WebSocket connection id. */
    agent: (id: string) => `${node(id)}:agent`,
    /** The interval an operator set for the node's reporter (seconds). */
    interval: (id: string) => `${node(id)}:interval`,
    /** LIST of commands waiting for the agent's next connection (JSON `{queuedAt, message}`). */
    queued: (id: string) => `${node(id)}:queued`,
    /** ZSET command id → when it was sent (ms): sent to the agent and not acknowledged yet. */
    inflight: (id: string) => `${node(id)}:inflight`,
    /** LIST the acknowledgement of one command is pushed to, for the HTTP call waiting on it. */
    ack: (id: string, commandId: string) => `${node(id)}:ack:${commandId}`,
    /** HASH connection id → filters (JSON) of subscribers to one node's logs, or to all (`*`). */
    subscribers: (id: string | '*') => `${prefix}dash:subs:{${id}}`,
    /** Every key of one node, for removal. */
    ofNode: (id: string) =>
      ['latest', 'history', 'logs', 'lastseq', 'loggers', 'interval', 'queued', 'inflight'].map(
        (part) => `${node(id)}:${part}`,
      ),
  };
}

export type DashboardKeys = ReturnType<typeof dashboardKeys>;
