// Local runtime — SQS-compatible FIFO endpoint: entry point that builds the topology's queues (each with its
// DLQ and redrive policy) behind an SQS JSON-protocol endpoint, and re-exports the event-source pollers.

import { envNames, type QueueSpec } from '../../topology.ts';
import { startSqsServer } from './server.ts';
import { queueArn, SqsStore } from './store.ts';

export { SqsError, type SqsErrorCode } from './errors.ts';
export {
  type BatchOutcome,
  type EventSourcePollerOptions,
  type EventSourcePollers,
  type PollerQueues,
  type PollerSource,
  type SqsInvoke,
  startEventSourcePollers,
} from './poller.ts';
export { type SqsServer, startSqsServer } from './server.ts';
export * from './store.ts';

/** Physical name of a topology queue: `<key>.fifo`. */
export function physicalQueueName(queue: string): string {
  return queue.endsWith('.fifo') ? queue : `${queue}.fifo`;
}

/** Physical name of a topology queue's dead-letter queue: `<key>-dlq.fifo`. */
export function deadLetterQueueName(queue: string): string {
  return `${queue.replace(/\.fifo$/, '')}-dlq.fifo`;
}

export interface StartLocalSqsOptions {
  /** The topology's queues (`queues` from infra/topology.ts). */
  readonly queues: Readonly<Record<string, QueueSpec>>;
  /** Per-queue changes, e.g. a 1 s visibility timeout so tests see retries quickly. */
  readonly overrides?: Readonly<Record<string, Partial<QueueSpec>>>;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
}

/** A running local SQS. */
export interface LocalSqs {
  /** `http://host:port`: the `endpoint` for `SQSClient`. */
  readonly endpoint: string;
  /** The queues themselves, for the event-source pollers and for inspection. */
  readonly store: SqsStore;
  /** URL of a topology queue (by key, e.g. `ops-normal`, or by physical name). */
  queueUrl(queue: string): string;
  /** URL of a topology queue's dead-letter queue. */
  deadLetterQueueUrl(queue: string): string;
  /** `QUEUE_URL_*` variables for the handlers, named as the CDK stacks name them. */
  readonly environment: Readonly<Record<string, string>>;
  /** Closes the endpoint; safe to call twice. */
  stop(): Promise<void>;
}

/** Creates every topology queue and its DLQ, and serves them on a loopback port. */
export async function startLocalSqs(options: StartLocalSqsOptions): Promise<LocalSqs> {
  const store = new SqsStore();
  for (const [key, base] of Object.entries(options.queues)) {
    const spec = { ...base, ...options.overrides?.[key] };
    const dlq = deadLetterQueueName(key);
    store.createQueue(dlq, {
      FifoQueue: 'true',
      ContentBasedDeduplication: String(spec.contentBasedDeduplication),
      MessageRetentionPeriod: String(14 * 24 * 3600),
    });
    store.createQueue(physicalQueueName(key), {
      FifoQueue: 'true',
      ContentBasedDeduplication: String(spec.contentBasedDeduplication),
      VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: queueArn(dlq, store.region, store.accountId),
        maxReceiveCount: spec.maxReceiveCount,
      }),
    });
  }
  const server = await startSqsServer({
    store,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
  });
  const environment: Record<string, string> = {};
  for (const key of Object.keys(options.queues)) {
    environment[envNames.queueUrl(key)] = server.queueUrl(physicalQueueName(key));
  }
  return {
    endpoint: server.endpoint,
    store,
    queueUrl: (queue) => server.queueUrl(physicalQueueName(queue)),
    deadLetterQueueUrl: (queue) => server.queueUrl(deadLetterQueueName(queue)),
    environment,
    stop: () => server.stop(),
  };
}
