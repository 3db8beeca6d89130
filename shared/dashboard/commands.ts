// Dashboard — secondary adapters (DynamoDB audit trail, Redis, the agent's WebSocket): commands to a node's
// agent. Each command is recorded first (who, what, when; then its result), sent to the agent's own
// connection as `service_command` / `reporter_command`, and acknowledged by the agent (`service_ack` /
// `reporter_ack`), which completes the record and wakes the HTTP call waiting on it (BLPOP on a list in
// the node's hash slot) until its deadline; after that the caller follows the command by its id. A node is
// offline (409) only without an agent connection AND without a heartbeat within the placement timeout: a node
// that heartbeats while its agent reconnects gets the command queued, delivered on the agent's next ping (it
// pings as soon as it connects; API Gateway cannot post during $connect), or marked undeliverable if the
// agent is not back within a minute. A command the agent took but never acknowledged (the agent died in the
// middle of it, or its connection went with the answer) is finished as `timed_out` once `ackTimeoutMs` has passed
// since it was sent: each sent command waits in the node's `inflight` set until its acknowledgement, and the
// audit trail's reads and the janitor finish the overdue ones. It is never sent again (the agent that comes
// back is a new process that does not know the command id, and would run it a second time).
import { randomBytes } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dedicatedConnection, type RedisClient } from '#shared/clients';
import { ConflictError } from '#shared/http';
import type { DashboardKeys } from './keys.ts';
import type { AckFrame } from './schemas.ts';

export type CommandKind = 'service' | 'reporter';
export type CommandStatus = 'pending' | 'succeeded' | 'failed' | 'undeliverable' | 'timed_out';

/** One entry of the audit trail (table `commands`: partition `nodeId`, sort `commandId`, time-ordered). */
export interface CommandRecord {
  readonly nodeId: string;
  readonly commandId: string;
  readonly kind: CommandKind;
  readonly action: string;
  readonly service?: string;
  readonly interval_seconds?: number;
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly status: CommandStatus;
  readonly result?: Omit<AckFrame, 'action' | 'command_id'>;
  readonly finishedAt?: string;
}

export interface CommandsDeps {
  readonly redis: RedisClient;
  readonly keys: DashboardKeys;
  readonly dynamo: DynamoDBDocumentClient;
  readonly table: () => string;
  /** Sends one message to a connection at once; false if it is gone. */
  readonly send: (connectionId: string, message: unknown) => Promise<boolean>;
  readonly clock: () => number;
  /** How long an HTTP call waits for the acknowledgement (below API Gateway's 30 s). */
  readonly waitMs: number;
  /**
   * How long a command sent to the agent may go unacknowledged before it is finished as `timed_out` (above the
   * longest an agent takes to carry one out: a process's stop grace, a systemctl call).
   */
  readonly ackTimeoutMs: number;
  /** Whether the node's last heartbeat (the placement registry's) is within the timeout. */
  readonly heartbeatAlive: (nodeId: string) => Promise<boolean>;
}

/** A command queued for a reconnecting agent is dropped (undeliverable) after this. */
export const queuedCommandMs = 60_000;

interface QueuedCommand {
  readonly queuedAt: number;
  readonly message: { readonly command_id: string } & Record<string, unknown>;
}

/** Time-ordered, so the audit trail of a node reads newest first by its sort key. */
function newCommandId(now: number): string {
  return `cmd-${now.toString(36).padStart(9, '0')}-${randomBytes(5).toString('hex')}`;
}

export class Commands {
  constructor(private readonly deps: CommandsDeps) {}

  /**
   * Records the command, sends it to the node's agent (or queues it for the agent's next connection while
   * the node still heartbeats) and waits for its acknowledgement until the deadline.
   * @throws ConflictError when the node is offline: no agent connection and no heartbeat within the timeout
   */
  async run(
    nodeId: string,
    command: { kind: CommandKind; action: string; service?: string; interval_seconds?: number },
    requestedBy: string,
  ): Promise<{ record: CommandRecord; finished: boolean }> {
    const { redis, keys } = this.deps;
    const connectionId = await redis.get(keys.agent(nodeId));
    if (!connectionId && !(await this.deps.heartbeatAlive(nodeId))) throw offline(nodeId);
    const now = this.deps.clock();
    const record: CommandRecord = {
      nodeId,
      commandId: newCommandId(now),
      ...command,
      requestedBy,
      requestedAt: new Date(now).toISOString(),
      status: 'pending',
    };
    await this.deps.dynamo.send(new PutCommand({ TableName: this.deps.table(), Item: record }));
    const message = {
      type: `${command.kind}_command`,
      command_id: record.commandId,
      action: command.action,
      ...(command.service ? { service: command.service } : {}),
      ...(command.interval_seconds ? { interval_seconds: command.interval_seconds } : {}),
    };
    const delivered = connectionId !== null && (await this.sendTracked(nodeId, connectionId, message));
    if (!delivered) {
      if (connectionId) {
        await this.agentDisconnected(nodeId, connectionId);
        if (!(await this.deps.heartbeatAlive(nodeId))) {
          await this.finish(nodeId, record.commandId, 'undeliverable', undefined);
          throw offline(nodeId);
        }
      }
      await this.enqueue(nodeId, { queuedAt: now, message });
    }
    // A connection of its own: BLPOP blocks it, and concurrent calls must not queue behind one another.
    const waiter = dedicatedConnection(redis);
    try {
      const answer = await waiter.blpop(keys.ack(nodeId, record.commandId), this.deps.waitMs / 1000);
      return answer ? { record: JSON.parse(answer[1]), finished: true } : { record, finished: false };
    } finally {
      waiter.disconnect();
    }
  }

  /**
   * Queues a command for the agent's next connection. If the agent connected meanwhile (its connection was
   * recorded before this looked), this delivers the queue itself; otherwise its next ping will.
   */
  private async enqueue(nodeId: string, command: QueuedCommand): Promise<void> {
    const key = this.deps.keys.queued(nodeId);
    await this.deps.redis
      .multi()
      .rpush(key, JSON.stringify(command))
      .pexpire(key, queuedCommandMs * 2)
      .exec();
    const connectionId = await this.deps.redis.get(this.deps.keys.agent(nodeId));
    if (connectionId) await this.deliverQueued(nodeId, connectionId);
  }

  /**
   * Sends the node's queued commands to its agent's connection (each taken once, atomically); those older
   * than a minute are marked undeliverable instead. What cannot be sent goes back to the queue.
   */
  async deliverQueued(nodeId: string, connectionId: string): Promise<void> {
    const key = this.deps.keys.queued(nodeId);
    const answer = await this.deps.redis.multi().lrange(key, 0, -1).del(key).exec();
    const taken = (answer?.[0]?.[1] as string[] | undefined) ?? [];
    const commands = taken.map((text) => JSON.parse(text) as QueuedCommand);
    for (let i = 0; i < commands.length; i++) {
      const command = commands[i]!;
      if (this.deps.clock() - command.queuedAt > queuedCommandMs) {
        await this.finish(nodeId, command.message.command_id, 'undeliverable', undefined);
        continue;
      }
      if (!(await this.sendTracked(nodeId, connectionId, command.message))) {
        const rest = commands.slice(i).map((left) => JSON.stringify(left));
        await this.deps.redis
          .multi()
          .lpush(key, ...rest.reverse())
          .pexpire(key, queuedCommandMs * 2)
          .exec();
        return;
      }
    }
  }

  /**
   * Sends one command to the agent's connection, in the node's in-flight set from just before the send (an
   * acknowledgement can beat the send's own answer) until its acknowledgement or its timeout.
   */
  private async sendTracked(
    nodeId: string,
    connectionId: string,
    message: { readonly command_id: string },
  ): Promise<boolean> {
    const key = this.deps.keys.inflight(nodeId);
    await this.deps.redis.zadd(key, this.deps.clock(), message.command_id);
    const sent = await this.deps.send(connectionId, message);
    if (!sent) await this.deps.redis.zrem(key, message.command_id);
    return sent;
  }

  /**
   * Finishes as `timed_out` the node's commands sent more than `ackTimeoutMs` ago and still unacknowledged.
   * @returns the records this finished
   */
  async expireUnacknowledged(nodeId: string): Promise<CommandRecord[]> {
    const overdue = await this.deps.redis.zrangebyscore(
      this.deps.keys.inflight(nodeId),
      '-inf',
      this.deps.clock() - this.deps.ackTimeoutMs,
    );
    const finished: CommandRecord[] = [];
    for (const commandId of overdue) {
      const record = await this.finish(nodeId, commandId, 'timed_out', undefined);
      if (record) finished.push(record);
    }
    return finished;
  }

  /** {@link expireUnacknowledged} for every node on the dashboard (the janitor). */
  async expireAllUnacknowledged(): Promise<CommandRecord[]> {
    const nodes = await this.deps.redis.zrange(this.deps.keys.nodes, 0, -1);
    const finished: CommandRecord[] = [];
    for (const node of nodes) finished.push(...(await this.expireUnacknowledged(node)));
    return finished;
  }

  /**
   * The agent's acknowledgement: completes the record (once) and wakes the waiting call. A node can only
   * acknowledge its own commands (the record is looked up under the connection's own subject).
   * @returns the finished record and whether this acknowledgement finished it, or undefined if unknown
   */
  async acknowledge(
    nodeId: string,
    ack: AckFrame,
  ): Promise<{ record: CommandRecord; first: boolean } | undefined> {
    const { action, command_id, ...result } = ack;
    const finished = await this.finish(nodeId, command_id, ack.ok ? 'succeeded' : 'failed', result);
    if (!finished) {
      const existing = await this.get(nodeId, command_id);
      return existing ? { record: existing, first: false } : undefined;
    }
    const { keys } = this.deps;
    await this.deps.redis
      .multi()
      .lpush(keys.ack(nodeId, command_id), JSON.stringify(finished))
      .expire(keys.ack(nodeId, command_id), 120)
      .exec();
    return { record: finished, first: true };
  }

  /**
   * Moves a pending record to its final status (and out of the in-flight set); undefined if it is unknown or
   * was already final.
   */
  private async finish(
    nodeId: string,
    commandId: string,
    status: CommandStatus,
    result: CommandRecord['result'],
  ): Promise<CommandRecord | undefined> {
    // Out of the in-flight set only once the record is final (a failed update leaves it for the next pass).
    const record = await this.finishRecord(nodeId, commandId, status, result);
    await this.deps.redis.zrem(this.deps.keys.inflight(nodeId), commandId);
    return record;
  }

  private async finishRecord(
    nodeId: string,
    commandId: string,
    status: CommandStatus,
    result: CommandRecord['result'],
  ): Promise<CommandRecord | undefined> {
    try {
      const answer = await this.deps.dynamo.send(
        new UpdateCommand({
          TableName: this.deps.table(),
          Key: { nodeId, commandId },
          UpdateExpression: 'SET #status = :status, finishedAt = :at, #result = :result',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status', '#result': 'result' },
          ExpressionAttributeValues: {
            ':status': status,
            ':at': new Date(this.deps.clock()).toISOString(),
            ':result': result ?? null,
            ':pending': 'pending',
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return answer.Attributes as CommandRecord;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }

  async get(nodeId: string, commandId: string): Promise<CommandRecord | undefined> {
    const answer = await this.deps.dynamo.send(
      new GetCommand({ TableName: this.deps.table(), Key: { nodeId, commandId } }),
    );
    return answer.Item as CommandRecord | undefined;
  }

  /** The node's audit trail, newest first. */
  async list(nodeId: string, limit: number): Promise<CommandRecord[]> {
    const answer = await this.deps.dynamo.send(
      new QueryCommand({
        TableName: this.deps.table(),
        KeyConditionExpression: 'nodeId = :node',
        ExpressionAttributeValues: { ':node': nodeId },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (answer.Items ?? []) as CommandRecord[];
  }

  /** Records the agent's connection (a newer one replaces it). */
  async agentConnected(nodeId: string, connectionId: string): Promise<void> {
    await this.deps.redis.set(this.deps.keys.agent(nodeId), connectionId);
  }

  /** Forgets the agent's connection, unless a newer one has replaced it. */
  async agentDisconnected(nodeId: string, connectionId: string): Promise<boolean> {
    const key = this.deps.keys.agent(nodeId);
    const removed = await this.deps.redis.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      key,
      connectionId,
    );
    return removed === 1;
  }
}

function offline(nodeId: string): ConflictError {
  return new ConflictError(
    `Node ${nodeId} is offline: its agent has no WebSocket connection and no heartbeat within the timeout; retry once the agent is back`,
  );
}
