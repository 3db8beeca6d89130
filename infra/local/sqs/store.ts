// Local runtime — SQS-compatible FIFO endpoint: the in-memory FIFO queue model (ordering per message group,
// group blocking, deduplication window, visibility timeout, receipt handles, redrive). Pure: time comes
// from an injectable clock, so unit tests drive it without waiting; the HTTP layer and pollers sit on top.

import { createHash, randomUUID } from 'node:crypto';
import { invalidParameter, SqsError } from './errors.ts';

/** Account id and region the local endpoint reports in URLs and ARNs. */
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_REGION = 'us-east-1';

const DEDUP_WINDOW_MS = 5 * 60 * 1000;
const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_BATCH = 10;

/** A message attribute as SQS models it; binary values are raw bytes here (base64 only on the wire). */
export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: Uint8Array;
}

export type MessageAttributes = Readonly<Record<string, MessageAttributeValue>>;

export interface SendMessageInput {
  readonly body: string;
  readonly groupId?: string;
  readonly deduplicationId?: string;
  /** Per-message delay; SQS rejects it on FIFO queues, and so does this store. */
  readonly delaySeconds?: number;
  readonly messageAttributes?: MessageAttributes;
  /** Only `AWSTraceHeader` exists in SQS. */
  readonly messageSystemAttributes?: MessageAttributes;
}

export interface SendMessageResult {
  readonly messageId: string;
  readonly md5OfMessageBody: string;
  readonly md5OfMessageAttributes?: string;
  readonly md5OfMessageSystemAttributes?: string;
  readonly sequenceNumber: string;
  /** True when the deduplication window swallowed this send; the original message's id is returned. */
  readonly duplicate: boolean;
}

export interface ReceiveOptions {
  /** 1–10. @default 1 */
  readonly maxNumberOfMessages?: number;
  /** Overrides the queue's visibility timeout for this receive. */
  readonly visibilityTimeoutSeconds?: number;
}

/** A delivered message with every system attribute; callers filter what was asked for. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly md5OfMessageAttributes?: string;
  readonly messageAttributes: MessageAttributes;
  readonly attributes: Readonly<Record<string, string>>;
}

/** Parsed, validated queue configuration. */
export interface QueueSettings {
  readonly visibilityTimeoutSeconds: number;
  readonly delaySeconds: number;
  readonly contentBasedDeduplication: boolean;
  readonly messageRetentionSeconds: number;
  readonly maximumMessageSize: number;
  readonly receiveMessageWaitTimeSeconds: number;
  readonly redrivePolicy?: { readonly deadLetterTargetArn: string; readonly maxReceiveCount: number };
  /** Attributes accepted and echoed back but without local effect (Policy, KMS settings…). */
  readonly passthrough: Readonly<Record<string, string>>;
}

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly messageAttributes: MessageAttributes;
  readonly md5OfMessageAttributes: string | undefined;
  readonly systemAttributes: MessageAttributes;
  readonly groupId: string;
  readonly deduplicationId: string;
  sequenceNumber: string;
  readonly sentAt: number;
  availableAt: number;
  receiveCount: number;
  firstReceiveAt: number | undefined;
  /** Epoch ms until which the message is in flight; in flight only while > now. */
  invisibleUntil: number;
  /** The handle of the latest receive; earlier ones are stale. */
  receiptHandle: string | undefined;
  deadLetterSourceArn: string | undefined;
}

interface DedupRecord {
  readonly expiresAt: number;
  readonly result: Pick<SendMessageResult, 'messageId' | 'sequenceNumber'>;
}

interface Queue {
  readonly name: string;
  settings: QueueSettings;
  readonly createdAt: number;
  lastModifiedAt: number;
  /** Insertion order is send order, which is the FIFO order. */
  readonly messages: Map<string, StoredMessage>;
  readonly dedup: Map<string, DedupRecord>;
  nextSequence: bigint;
  readonly waiters: Set<() => void>;
}

const settable = new Set([
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'Policy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
]);

const passthroughNames = ['Policy', 'RedriveAllowPolicy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds'];

/** Every attribute GetQueueAttributes can name. */
export const QUEUE_ATTRIBUTE_NAMES: readonly string[] = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
  'VisibilityTimeout',
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'SqsManagedSseEnabled',
  ...passthroughNames,
];

/** System attributes a received message carries (ReceiveMessage `MessageSystemAttributeNames`). */
export const MESSAGE_SYSTEM_ATTRIBUTE_NAMES: readonly string[] = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SentTimestamp',
  'SenderId',
  'MessageGroupId',
  'MessageDeduplicationId',
  'SequenceNumber',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
];

/** MD5 hex digest, as SQS reports for bodies. */
export function md5Hex(data: string | Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/**
 * MD5 of message attributes as SQS computes it: attributes sorted by name, each as length-prefixed
 * (4-byte big-endian) name and data type, a transport byte (1 string, 2 binary) and the length-prefixed value.
 */
export function md5OfMessageAttributes(attributes: MessageAttributes): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const hash = createHash('md5');
  const field = (bytes: Uint8Array) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  for (const name of names) {
    const value = attributes[name]!;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(value.DataType, 'utf8'));
    if (value.BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      field(value.BinaryValue);
    } else {
      hash.update(Buffer.from([1]));
      field(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}

/** The ARN SQS gives a queue. */
export function queueArn(name: string, region = LOCAL_REGION, accountId = LOCAL_ACCOUNT_ID): string {
  return `arn:aws:sqs:${region}:${accountId}:${name}`;
}

// Characters SQS accepts in a body: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
const invalidBodyCharacter = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const groupOrDedupId = /^[!-~]{1,128}$/;
const attributeName = /^(?!aws\.|amazon\.)(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}$/i;

export interface SqsStoreOptions {
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  readonly region?: string;
  readonly accountId?: string;
}

/**
 * The FIFO queues of the local runtime. Every queue is FIFO (the project declares no other kind), so
 * standard-queue semantics are deliberately absent: a name without `.fifo` is refused.
 */
export class SqsStore {
  readonly region: string;
  readonly accountId: string;
  private readonly now: () => number;
  private readonly queues = new Map<string, Queue>();
  private duplicates: { everyNth: number; deletes: number; delivered: Set<string> } | undefined;

  constructor(options: SqsStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.region = options.region ?? LOCAL_REGION;
    this.accountId = options.accountId ?? LOCAL_ACCOUNT_ID;
  }

  /**
   * Creates a queue, or returns the existing one when every given attribute matches it (as SQS:
   * CreateQueue is idempotent for identical attributes and fails with QueueNameExists otherwise).
   */
  createQueue(name: string, attributes: Readonly<Record<string, string>> = {}): { created: boolean } {
    if (!/^[A-Za-z0-9_-]{1,75}\.fifo$/.test(name)) {
      if (!name.endsWith('.fifo')) {
        throw invalidParameter(
          'QueueName',
          name,
          'The local runtime serves FIFO queues only (name ending in .fifo).',
        );
      }
      throw invalidParameter(
        'QueueName',
        name,
        'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    const settings = this.parseSettings(attributes);
    const existing = this.queues.get(name);
    if (existing) {
      const current = this.settingsAttributes(existing.settings);
      const requested = this.settingsAttributes(settings);
      for (const key of Object.keys(attributes)) {
        if (current[key] !== requested[key]) {
          throw new SqsError(
            'QueueNameExists',
            `A queue already exists with the same name and a different value for attribute ${key}`,
          );
        }
      }
      return { created: false };
    }
    const now = this.now();
    this.queues.set(name, {
      name,
      settings,
      createdAt: now,
      lastModifiedAt: now,
      messages: new Map(),
      dedup: new Map(),
      nextSequence: 1n,
      waiters: new Set(),
    });
    return { created: true };
  }

  /** Whether the queue exists. */
  hasQueue(name: string): boolean {
    return this.queues.has(name);
  }

  /** Queue names, sorted, optionally filtered by prefix. */
  listQueues(prefix = ''): string[] {
    return [...this.queues.keys()].filter((name) => name.startsWith(prefix)).sort();
  }

  /** Every queue attribute, as GetQueueAttributes reports them. */
  queueAttributes(name: string): Record<string, string> {
    const queue = this.queue(name);
    const now = this.now();
    this.expire(queue, now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const message of queue.messages.values()) {
      if (message.invisibleUntil > now) inFlight++;
      else if (message.availableAt > now) delayed++;
      else visible++;
    }
    return {
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(inFlight),
      ApproximateNumberOfMessagesDelayed: String(delayed),
      CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(queue.lastModifiedAt / 1000)),
      QueueArn: queueArn(name, this.region, this.accountId),
      ...this.settingsAttributes(queue.settings),
    };
  }

  /** Enqueues a message, or returns the original message's result when deduplicated. */
  send(name: string, input: SendMessageInput): SendMessageResult {
    const queue = this.queue(name);
    const now = this.now();
    if (input.body === '')
      throw new SqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    if (invalidBodyCharacter.test(input.body)) {
      throw new SqsError(
        'InvalidMessageContents',
        'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
      );
    }
    if (input.delaySeconds !== undefined && input.delaySeconds !== 0) {
      throw invalidParameter(
        'DelaySeconds',
        input.delaySeconds,
        'The request include parameter that is not valid for this queue type',
      );
    }
    if (input.groupId === undefined) {
      throw new SqsError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
    }
    if (!groupOrDedupId.test(input.groupId)) {
      throw invalidParameter(
        'MessageGroupId',
        input.groupId,
        'MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.',
      );
    }
    if (input.deduplicationId !== undefined && !groupOrDedupId.test(input.deduplicationId)) {
      throw invalidParameter(
        'MessageDeduplicationId',
        input.deduplicationId,
        'MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.',
      );
    }
    const messageAttributes = input.messageAttributes ?? {};
    const systemAttributes = input.messageSystemAttributes ?? {};
    const size = Buffer.byteLength(input.body) + attributesSize(messageAttributes);
    validateAttributes(messageAttributes, 'MessageAttribute');
    for (const key of Object.keys(systemAttributes)) {
      if (key !== 'AWSTraceHeader')
        throw new SqsError('InvalidParameterValue', `Message system attribute name '${key}' is invalid.`);
    }
    validateAttributes(systemAttributes, 'MessageSystemAttribute');
    if (size > queue.settings.maximumMessageSize) {
      throw new SqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${queue.settings.maximumMessageSize} bytes.`,
      );
    }
    const deduplicationId =
      input.deduplicationId ??
      (queue.settings.contentBasedDeduplication
        ? createHash('sha256').update(input.body).digest('hex')
        : undefined);
    if (deduplicationId === undefined) {
      throw new SqsError(
        'InvalidParameterValue',
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    }

    for (const [key, record] of queue.dedup) if (record.expiresAt <= now) queue.dedup.delete(key);
    const md5Attributes = md5OfMessageAttributes(messageAttributes);
    const md5System = md5OfMessageAttributes(systemAttributes);
    const digests = {
      md5OfMessageBody: md5Hex(input.body),
      ...(md5Attributes === undefined ? {} : { md5OfMessageAttributes: md5Attributes }),
      ...(md5System === undefined ? {} : { md5OfMessageSystemAttributes: md5System }),
    };
    const seen = queue.dedup.get(deduplicationId);
    // A duplicate gets the original's id but the digests of what was sent now: the SDK checks them.
    if (seen) return { ...seen.result, ...digests, duplicate: true };

    const message: StoredMessage = {
      id: randomUUID(),
      body: input.body,
      md5OfBody: digests.md5OfMessageBody,
      messageAttributes,
      md5OfMessageAttributes: md5Attributes,
      systemAttributes,
      groupId: input.groupId,
      deduplicationId,
      sequenceNumber: this.nextSequence(queue),
      sentAt: now,
      availableAt: now + queue.settings.delaySeconds * 1000,
      receiveCount: 0,
      firstReceiveAt: undefined,
      invisibleUntil: 0,
      receiptHandle: undefined,
      deadLetterSourceArn: undefined,
    };
    queue.messages.set(message.id, message);
    queue.dedup.set(deduplicationId, {
      expiresAt: now + DEDUP_WINDOW_MS,
      result: { messageId: message.id, sequenceNumber: message.sequenceNumber },
    });
    this.wake(queue);
    return { messageId: message.id, sequenceNumber: message.sequenceNumber, ...digests, duplicate: false };
  }

  /**
   * Delivers up to `maxNumberOfMessages` messages in FIFO order. A group with a message in flight (or a
   * delayed head) is skipped entirely; several messages of one free group may come back together, in order.
   * A message whose next receive would exceed the redrive policy's maxReceiveCount moves to the DLQ instead.
   */
  receive(name: string, options: ReceiveOptions = {}): ReceivedMessage[] {
    const queue = this.queue(name);
    const max = options.maxNumberOfMessages ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH) {
      throw invalidParameter('MaxNumberOfMessages', max, 'Must be between 1 and 10, if provided.');
    }
    const visibility = options.visibilityTimeoutSeconds ?? queue.settings.visibilityTimeoutSeconds;
    checkVisibility(visibility);
    const now = this.now();
    this.expire(queue, now);

    const blocked = new Set<string>();
    for (const message of queue.messages.values())
      if (message.invisibleUntil > now) blocked.add(message.groupId);

    const redrive = queue.settings.redrivePolicy;
    const deadLetterQueue = redrive ? this.queues.get(arnName(redrive.deadLetterTargetArn)) : undefined;
    const delivered: ReceivedMessage[] = [];
    for (const message of [...queue.messages.values()]) {
      if (delivered.length >= max) break;
      if (blocked.has(message.groupId)) continue;
      if (message.availableAt > now) {
        blocked.add(message.groupId);
        continue;
      }
      if (redrive && deadLetterQueue && message.receiveCount >= redrive.maxReceiveCount) {
        this.moveToDeadLetterQueue(queue, deadLetterQueue, message, now);
        continue;
      }
      message.receiveCount++;
      message.firstReceiveAt ??= now;
      message.invisibleUntil = now + visibility * 1000;
      message.receiptHandle = encodeHandle(queue.name, message.id);
      delivered.push(this.snapshot(message));
    }
    return delivered;
  }

  /**
   * Long-polling receive: returns as soon as messages are deliverable, or empty after `waitSeconds`
   * (or when `signal` aborts). Wakes on sends and visibility changes, and when a message's visibility
   * timeout or delay runs out.
   */
  async receiveWait(
    name: string,
    options: ReceiveOptions & { readonly waitSeconds: number },
    signal?: AbortSignal,
  ): Promise<ReceivedMessage[]> {
    const queue = this.queue(name);
    const deadline = this.now() + options.waitSeconds * 1000;
    for (;;) {
      const messages = this.receive(name, options);
      if (messages.length > 0 || signal?.aborted) return messages;
      const now = this.now();
      if (now >= deadline) return messages;
      const next = this.nextChangeAt(queue, now);
      await this.sleepUntilWoken(queue, Math.min(deadline, next ?? deadline) - now, signal);
    }
  }

  /** Deletes a received message; a handle from an earlier receive, or past its visibility timeout, is refused. */
  deleteMessage(name: string, receiptHandle: string): void {
    const queue = this.queue(name);
    const message = this.messageFor(queue, receiptHandle);
    if (!message) return; // already deleted: SQS accepts a repeated delete
    if (message.receiptHandle !== receiptHandle || message.invisibleUntil <= this.now()) {
      throw invalidParameter('ReceiptHandle', receiptHandle, 'The receipt handle has expired.');
    }
    if (this.duplicates && !this.duplicates.delivered.has(message.id)) {
      this.duplicates.deletes++;
      if (this.duplicates.deletes % this.duplicates.everyNth === 0) {
        // The delete is "lost": the message comes back at once, same id and body, one more receive.
        this.duplicates.delivered.add(message.id);
        message.invisibleUntil = 0;
        message.receiptHandle = undefined;
        this.wake(queue);
        return;
      }
    }
    queue.messages.delete(message.id);
  }

  /**
   * Fault injection (the fault suite): every `everyNth` successful delete is lost, so that message is delivered
   * a second time, as SQS's at-least-once delivery allows (a consumer that finished but whose delete failed).
   * A message is delivered twice at most. `undefined` turns it off.
   */
  injectDuplicates(everyNth: number | undefined): void {
    if (everyNth !== undefined && (!Number.isInteger(everyNth) || everyNth < 1)) {
      throw new Error('injectDuplicates: everyNth must be a positive integer');
    }
    this.duplicates = everyNth ? { everyNth, deletes: 0, delivered: new Set() } : undefined;
  }

  /** Ids of the messages the injection delivered twice, and the deletes it counted. */
  injectedDuplicates(): { readonly messageIds: readonly string[]; readonly deletes: number } {
    return { messageIds: [...(this.duplicates?.delivered ?? [])], deletes: this.duplicates?.deletes ?? 0 };
  }

  /** Sets a received message's remaining visibility timeout; 0 makes it deliverable at once. */
  changeVisibility(name: string, receiptHandle: string, visibilityTimeoutSeconds: number): void {
    checkVisibility(visibilityTimeoutSeconds);
    const queue = this.queue(name);
    const message = this.messageFor(queue, receiptHandle);
    if (!message || message.receiptHandle !== receiptHandle) {
      throw invalidParameter('ReceiptHandle', receiptHandle, 'The receipt handle has expired.');
    }
    const now = this.now();
    if (message.invisibleUntil <= now) {
      throw new SqsError(
        'MessageNotInflight',
        'Message does not exist or is not available for visibility timeout change.',
      );
    }
    message.invisibleUntil = now + visibilityTimeoutSeconds * 1000;
    if (visibilityTimeoutSeconds === 0) {
      // The handle expires with the visibility, as it does on SQS FIFO queues.
      message.invisibleUntil = now;
      this.wake(queue);
    }
  }

  /** Removes every message, in flight or not; deduplication records stay, as on SQS. */
  purge(name: string): void {
    const queue = this.queue(name);
    queue.messages.clear();
    queue.lastModifiedAt = this.now();
  }

  private queue(name: string): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return queue;
  }

  private messageFor(queue: Queue, receiptHandle: string): StoredMessage | undefined {
    const decoded = decodeHandle(receiptHandle);
    if (!decoded || decoded.queue !== queue.name) {
      throw new SqsError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`,
      );
    }
    return queue.messages.get(decoded.messageId);
  }

  private snapshot(message: StoredMessage): ReceivedMessage {
    const attributes: Record<string, string> = {
      ApproximateReceiveCount: String(message.receiveCount),
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveAt ?? message.sentAt),
      SentTimestamp: String(message.sentAt),
      SenderId: this.accountId,
      MessageGroupId: message.groupId,
      MessageDeduplicationId: message.deduplicationId,
      SequenceNumber: message.sequenceNumber,
    };
    const trace = message.systemAttributes.AWSTraceHeader?.StringValue;
    if (trace !== undefined) attributes.AWSTraceHeader = trace;
    if (message.deadLetterSourceArn) attributes.DeadLetterQueueSourceArn = message.deadLetterSourceArn;
    return {
      messageId: message.id,
      receiptHandle: message.receiptHandle!,
      body: message.body,
      md5OfBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes === undefined
        ? {}
        : { md5OfMessageAttributes: message.md5OfMessageAttributes }),
      messageAttributes: message.messageAttributes,
      attributes,
    };
  }

  private moveToDeadLetterQueue(source: Queue, target: Queue, message: StoredMessage, now: number): void {
    source.messages.delete(message.id);
    // The message keeps its id, group, deduplication id, sent time and receive count, as on SQS.
    message.sequenceNumber = this.nextSequence(target);
    message.invisibleUntil = 0;
    message.availableAt = now;
    message.receiptHandle = undefined;
    message.deadLetterSourceArn = queueArn(source.name, this.region, this.accountId);
    target.messages.set(message.id, message);
    this.wake(target);
  }

  private expire(queue: Queue, now: number): void {
    const cutoff = now - queue.settings.messageRetentionSeconds * 1000;
    for (const message of queue.messages.values())
      if (message.sentAt <= cutoff) queue.messages.delete(message.id);
  }

  private nextSequence(queue: Queue): string {
    const sequence = queue.nextSequence;
    queue.nextSequence += 1n;
    return sequence.toString().padStart(20, '0');
  }

  /** The earliest future time at which a message's visibility or delay ends. */
  private nextChangeAt(queue: Queue, now: number): number | undefined {
    let next: number | undefined;
    for (const message of queue.messages.values()) {
      for (const at of [message.invisibleUntil, message.availableAt]) {
        if (at > now && (next === undefined || at < next)) next = at;
      }
    }
    return next;
  }

  private sleepUntilWoken(queue: Queue, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        queue.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      queue.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(queue: Queue): void {
    for (const waiter of [...queue.waiters]) waiter();
  }

  private parseSettings(attributes: Readonly<Record<string, string>>): QueueSettings {
    for (const key of Object.keys(attributes)) {
      if (!settable.has(key)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${key}.`);
    }
    if (attributes.FifoQueue !== undefined && attributes.FifoQueue !== 'true') {
      throw new SqsError('InvalidAttributeValue', 'Invalid value for the parameter FifoQueue.');
    }
    const int = (key: string, fallback: number, min: number, max: number): number => {
      const raw = attributes[key];
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!/^\d+$/.test(raw) || value < min || value > max) {
        throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${key}.`);
      }
      return value;
    };
    const bool = (key: string): boolean => {
      const raw = attributes[key];
      if (raw === undefined) return false;
      if (raw !== 'true' && raw !== 'false') {
        throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${key}.`);
      }
      return raw === 'true';
    };
    let redrivePolicy: QueueSettings['redrivePolicy'];
    if (attributes.RedrivePolicy !== undefined && attributes.RedrivePolicy !== '') {
      redrivePolicy = this.parseRedrivePolicy(attributes.RedrivePolicy);
    }
    const passthrough: Record<string, string> = {};
    for (const key of passthroughNames) {
      const value = attributes[key];
      if (value !== undefined) passthrough[key] = value;
    }
    return {
      visibilityTimeoutSeconds: int('VisibilityTimeout', 30, 0, MAX_VISIBILITY_SECONDS),
      delaySeconds: int('DelaySeconds', 0, 0, 900),
      contentBasedDeduplication: bool('ContentBasedDeduplication'),
      messageRetentionSeconds: int('MessageRetentionPeriod', 345_600, 60, 1_209_600),
      maximumMessageSize: int('MaximumMessageSize', 1_048_576, 1024, 1_048_576),
      receiveMessageWaitTimeSeconds: int('ReceiveMessageWaitTimeSeconds', 0, 0, 20),
      ...(redrivePolicy ? { redrivePolicy } : {}),
      passthrough,
    };
  }

  private parseRedrivePolicy(raw: string): NonNullable<QueueSettings['redrivePolicy']> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new SqsError(
        'InvalidAttributeValue',
        'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.',
      );
    }
    const policy = parsed as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    const maxReceiveCount = Number(policy.maxReceiveCount);
    if (
      typeof policy.deadLetterTargetArn !== 'string' ||
      !Number.isInteger(maxReceiveCount) ||
      maxReceiveCount < 1 ||
      maxReceiveCount > 1000
    ) {
      throw new SqsError(
        'InvalidAttributeValue',
        'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy needs deadLetterTargetArn and a maxReceiveCount from 1 to 1000.',
      );
    }
    const target = arnName(policy.deadLetterTargetArn);
    if (!this.queues.has(target)) {
      throw new SqsError(
        'InvalidParameterValue',
        'Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.',
      );
    }
    return { deadLetterTargetArn: policy.deadLetterTargetArn, maxReceiveCount };
  }

  private settingsAttributes(settings: QueueSettings): Record<string, string> {
    return {
      VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
      DelaySeconds: String(settings.delaySeconds),
      MaximumMessageSize: String(settings.maximumMessageSize),
      MessageRetentionPeriod: String(settings.messageRetentionSeconds),
      ReceiveMessageWaitTimeSeconds: String(settings.receiveMessageWaitTimeSeconds),
      ...(settings.redrivePolicy
        ? {
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: settings.redrivePolicy.deadLetterTargetArn,
              maxReceiveCount: settings.redrivePolicy.maxReceiveCount,
            }),
          }
        : {}),
      FifoQueue: 'true',
      ContentBasedDeduplication: String(settings.contentBasedDeduplication),
      DeduplicationScope: 'queue',
      FifoThroughputLimit: 'perQueue',
      SqsManagedSseEnabled: 'false',
      ...settings.passthrough,
    };
  }
}

function checkVisibility(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_VISIBILITY_SECONDS) {
    throw invalidParameter('VisibilityTimeout', seconds, 'Must be between 0 and 43200, if provided.');
  }
}

function arnName(arn: string): string {
  return arn.split(':').at(-1) ?? arn;
}

function attributesSize(attributes: MessageAttributes): number {
  let size = 0;
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType);
    size += value.BinaryValue ? value.BinaryValue.length : Buffer.byteLength(value.StringValue ?? '');
  }
  return size;
}

function validateAttributes(attributes: MessageAttributes, parameter: string): void {
  const entries = Object.entries(attributes);
  if (entries.length > 10) {
    throw new SqsError(
      'InvalidParameterValue',
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`,
    );
  }
  for (const [name, value] of entries) {
    if (!attributeName.test(name)) {
      throw new SqsError('InvalidParameterValue', `${parameter} name '${name}' is invalid.`);
    }
    const type = value.DataType ?? '';
    const base = type.split('.')[0];
    if (base !== 'String' && base !== 'Number' && base !== 'Binary') {
      throw new SqsError(
        'InvalidParameterValue',
        `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
      );
    }
    const hasValue = base === 'Binary' ? value.BinaryValue !== undefined : value.StringValue !== undefined;
    if (!hasValue || (base !== 'Binary' && value.StringValue === '')) {
      throw new SqsError(
        'InvalidParameterValue',
        `${parameter} '${name}' must contain a non-empty value of type '${base}'.`,
      );
    }
    if (base === 'Number' && !Number.isFinite(Number(value.StringValue))) {
      throw new SqsError(
        'InvalidParameterValue',
        `Can't cast the value of message (user) attribute '${name}' to a number.`,
      );
    }
  }
}

function encodeHandle(queue: string, messageId: string): string {
  return Buffer.from(`${queue}\n${messageId}\n${randomUUID()}`, 'utf8').toString('base64url');
}

function decodeHandle(handle: string): { queue: string; messageId: string } | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(handle)) return undefined;
  const parts = Buffer.from(handle, 'base64url').toString('utf8').split('\n');
  if (parts.length !== 3 || !parts[0] || !parts[1]) return undefined;
  return { queue: parts[0], messageId: parts[1] };
}
