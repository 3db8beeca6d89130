// Local runtime — SQS-compatible FIFO endpoint: the HTTP primary adapter speaking the SQS JSON protocol
// (`application/x-amz-json-1.0`, `X-Amz-Target: AmazonSQS.<Operation>`) over the in-memory store, so the
// project's handlers and tests use the real `@aws-sdk/client-sqs` with only the endpoint changed.

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SqsError } from './errors.ts';
import {
  MESSAGE_SYSTEM_ATTRIBUTE_NAMES,
  type MessageAttributes,
  type MessageAttributeValue,
  md5OfMessageAttributes,
  QUEUE_ATTRIBUTE_NAMES,
  type ReceivedMessage,
  type SqsStore,
} from './store.ts';

export interface SqsServerOptions {
  readonly store: SqsStore;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
}

/** A listening SQS endpoint. */
export interface SqsServer {
  /** `http://host:port`, for the SDK's `endpoint`. */
  readonly endpoint: string;
  readonly port: number;
  /** `http://host:port/<account>/<name>`, the URL SQS gives the queue. */
  queueUrl(name: string): string;
  /** Ends pending long polls and closes the socket; safe to call twice. */
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;
type Operation = (input: Json, context: { signal: AbortSignal }) => Json | Promise<Json>;

const MAX_BODY_BYTES = 12 * 1024 * 1024;

/** Starts the SQS JSON-protocol endpoint on a loopback port. */
export async function startSqsServer(options: SqsServerOptions): Promise<SqsServer> {
  const { store } = options;
  const host = options.host ?? '127.0.0.1';
  const shutdown = new AbortController();
  // One listener per request in flight (long polls and bursts of sends run dozens at once): not a leak.
  setMaxListeners(0, shutdown.signal);
  let endpoint = '';
  const queueUrl = (name: string) => `${endpoint}/${store.accountId}/${name}`;
  const operations = buildOperations(store, queueUrl);

  const server = createServer((request, response) => {
    // handle() answers its own errors; this catches a failure while doing so, which would be unhandled.
    handle(request, response, operations, shutdown.signal).catch((error: unknown) => {
      console.error('local SQS endpoint: could not answer', error);
      response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    port,
    queueUrl,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        shutdown.abort();
        server.close(() => resolve());
        server.closeIdleConnections();
        // Long polls were just aborted; give their responses a moment, then cut what remains.
        setTimeout(() => server.closeAllConnections(), 200).unref();
      });
      return stopped;
    },
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  operations: Record<string, Operation>,
  shutdown: AbortSignal,
): Promise<void> {
  const requestId = randomUUID();
  const abort = new AbortController();
  const onShutdown = () => abort.abort();
  shutdown.addEventListener('abort', onShutdown, { once: true });
  response.on('close', () => abort.abort());
  try {
    if (request.method !== 'POST') throw new SqsError('InvalidAction', 'The SQS JSON protocol uses POST.');
    const target = request.headers['x-amz-target'];
    const name = typeof target === 'string' && target.startsWith('AmazonSQS.') ? target.slice(10) : undefined;
    const operation = name === undefined ? undefined : operations[name];
    if (!operation) {
      throw new SqsError(
        'InvalidAction',
        `The action ${name ?? String(target)} is not valid for this endpoint.`,
      );
    }
    const input = parseBody(await readBody(request));
    const output = await operation(input, { signal: abort.signal });
    send(response, 200, requestId, output);
  } catch (error) {
    const sqsError =
      error instanceof SqsError
        ? error
        : new SqsError('InternalFailure', 'The request processing has failed because of an unknown error.');
    if (!(error instanceof SqsError)) console.error('local SQS endpoint: unexpected error', error);
    send(
      response,
      sqsError.statusCode,
      requestId,
      { __type: `com.amazonaws.sqs#${sqsError.code}`, message: sqsError.message },
      {
        'x-amzn-query-error': `${sqsError.queryCode};${sqsError.fault}`,
      },
    );
  } finally {
    shutdown.removeEventListener('abort', onShutdown);
  }
}

function send(
  response: ServerResponse,
  status: number,
  requestId: string,
  body: Json,
  headers: Record<string, string> = {},
): void {
  if (response.destroyed || response.headersSent) return;
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': requestId,
    ...headers,
  });
  response.end(payload);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new SqsError('BatchRequestTooLong', 'Request body is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(text: string): Json {
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Json;
  } catch {
    // falls through to the error below
  }
  throw new SqsError('SerializationException', 'The request body is not a JSON object.');
}

function buildOperations(store: SqsStore, queueUrl: (name: string) => string): Record<string, Operation> {
  const queueOf = (input: Json): string => {
    const url = optionalString(input, 'QueueUrl');
    if (url === undefined)
      throw new SqsError('MissingParameter', 'The request must contain the parameter QueueUrl.');
    const name = queueNameFromUrl(url, store.accountId);
    if (name === undefined || !store.hasQueue(name)) {
      throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    }
    return name;
  };

  // One message, as SendMessage answers it and as each SendMessageBatch entry reports it.
  const sendOne = (name: string, input: Json): Json => {
    const result = store.send(name, {
      body: optionalString(input, 'MessageBody') ?? '',
      ...sendFields(input),
    });
    return {
      MessageId: result.messageId,
      MD5OfMessageBody: result.md5OfMessageBody,
      ...(result.md5OfMessageAttributes ? { MD5OfMessageAttributes: result.md5OfMessageAttributes } : {}),
      ...(result.md5OfMessageSystemAttributes
        ? { MD5OfMessageSystemAttributes: result.md5OfMessageSystemAttributes }
        : {}),
      SequenceNumber: result.sequenceNumber,
    };
  };

  return {
    CreateQueue(input) {
      const name = requiredString(input, 'QueueName');
      store.createQueue(name, stringMap(input, 'Attributes'));
      return { QueueUrl: queueUrl(name) };
    },

    GetQueueUrl(input) {
      const name = requiredString(input, 'QueueName');
      if (!store.hasQueue(name))
        throw new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
      return { QueueUrl: queueUrl(name) };
    },

    ListQueues(input) {
      const names = store.listQueues(optionalString(input, 'QueueNamePrefix') ?? '');
      const max = optionalInt(input, 'MaxResults');
      if (max === undefined) return { QueueUrls: names.map(queueUrl) };
      if (max < 1 || max > 1000)
        throw new SqsError('InvalidParameterValue', 'MaxResults must be from 1 to 1000.');
      const token = optionalString(input, 'NextToken');
      const start = token === undefined ? 0 : Number(Buffer.from(token, 'base64url').toString('utf8'));
      if (!Number.isInteger(start) || start < 0)
        throw new SqsError('InvalidParameterValue', 'Invalid NextToken.');
      const page = names.slice(start, start + max);
      const next =
        start + max < names.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
      return { QueueUrls: page.map(queueUrl), ...(next ? { NextToken: next } : {}) };
    },

    GetQueueAttributes(input) {
      const name = queueOf(input);
      const wanted = stringList(input, 'AttributeNames');
      const all = store.queueAttributes(name);
      const attributes: Record<string, string> = {};
      for (const key of wanted) {
        if (key === 'All') Object.assign(attributes, all);
        else if (!QUEUE_ATTRIBUTE_NAMES.includes(key)) {
          throw new SqsError('InvalidAttributeName', `Unknown Attribute ${key}.`);
        } else if (all[key] !== undefined) attributes[key] = all[key];
      }
      return Object.keys(attributes).length > 0 ? { Attributes: attributes } : {};
    },

    SendMessage(input) {
      const name = queueOf(input);
      return sendOne(name, input);
    },

    SendMessageBatch(input) {
      const name = queueOf(input);
      const entries = batchEntries(input);
      const total = entries.reduce(
        (sum, entry) => sum + Buffer.byteLength(String(entry.MessageBody ?? '')),
        0,
      );
      const max = Number(store.queueAttributes(name).MaximumMessageSize);
      if (total > max) {
        throw new SqsError('BatchRequestTooLong', `Batch requests cannot be longer than ${max} bytes.`);
      }
      return runBatch(entries, (entry) => sendOne(name, entry));
    },

    async ReceiveMessage(input, { signal }) {
      const name = queueOf(input);
      const wait =
        optionalInt(input, 'WaitTimeSeconds') ??
        Number(store.queueAttributes(name).ReceiveMessageWaitTimeSeconds);
      if (wait < 0 || wait > 20) {
        throw new SqsError(
          'InvalidParameterValue',
          `Value ${wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`,
        );
      }
      const visibility = optionalInt(input, 'VisibilityTimeout');
      const max = optionalInt(input, 'MaxNumberOfMessages');
      const messages = await store.receiveWait(
        name,
        {
          waitSeconds: wait,
          ...(max === undefined ? {} : { maxNumberOfMessages: max }),
          ...(visibility === undefined ? {} : { visibilityTimeoutSeconds: visibility }),
        },
        signal,
      );
      const systemNames = new Set([
        ...stringList(input, 'AttributeNames'),
        ...stringList(input, 'MessageSystemAttributeNames'),
      ]);
      const attributeFilter = messageAttributeFilter(stringList(input, 'MessageAttributeNames'));
      if (messages.length === 0) return {};
      return { Messages: messages.map((message) => toWireMessage(message, systemNames, attributeFilter)) };
    },

    DeleteMessage(input) {
      store.deleteMessage(queueOf(input), requiredString(input, 'ReceiptHandle'));
      return {};
    },

    DeleteMessageBatch(input) {
      const name = queueOf(input);
      return runBatch(batchEntries(input), (entry) => {
        store.deleteMessage(name, requiredString(entry, 'ReceiptHandle'));
        return {};
      });
    },

    ChangeMessageVisibility(input) {
      const name = queueOf(input);
      const seconds = optionalInt(input, 'VisibilityTimeout');
      if (seconds === undefined)
        throw new SqsError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
      store.changeVisibility(name, requiredString(input, 'ReceiptHandle'), seconds);
      return {};
    },

    ChangeMessageVisibilityBatch(input) {
      const name = queueOf(input);
      return runBatch(batchEntries(input), (entry) => {
        const seconds = optionalInt(entry, 'VisibilityTimeout');
        if (seconds === undefined) {
          throw new SqsError('MissingParameter', 'The request must contain the parameter VisibilityTimeout.');
        }
        store.changeVisibility(name, requiredString(entry, 'ReceiptHandle'), seconds);
        return {};
      });
    },

    PurgeQueue(input) {
      store.purge(queueOf(input));
      return {};
    },
  };
}

/** The queue name in `http(s)://host/<account>/<name>`, or undefined when the URL is not a queue URL. */
function queueNameFromUrl(url: string, accountId: string): string | undefined {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return undefined;
  }
  const [account, name, ...rest] = path.split('/').filter(Boolean);
  if (account !== accountId || !name || rest.length > 0) return undefined;
  return decodeURIComponent(name);
}

function sendFields(input: Json) {
  const groupId = optionalString(input, 'MessageGroupId');
  const deduplicationId = optionalString(input, 'MessageDeduplicationId');
  const delaySeconds = optionalInt(input, 'DelaySeconds');
  return {
    ...(groupId === undefined ? {} : { groupId }),
    ...(deduplicationId === undefined ? {} : { deduplicationId }),
    ...(delaySeconds === undefined ? {} : { delaySeconds }),
    messageAttributes: attributesFromWire(input.MessageAttributes, 'MessageAttributes'),
    messageSystemAttributes: attributesFromWire(input.MessageSystemAttributes, 'MessageSystemAttributes'),
  };
}

function batchEntries(input: Json): Json[] {
  const entries = input.Entries;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new SqsError('EmptyBatchRequest', 'There should be at least one entry in the request.');
  }
  if (entries.length > 10) {
    throw new SqsError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are 10. You have sent ${entries.length}.`,
    );
  }
  const seen = new Set<string>();
  for (const entry of entries) {
    const id = entry && typeof entry === 'object' ? (entry as Json).Id : undefined;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
      throw new SqsError(
        'InvalidBatchEntryId',
        'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
      );
    }
    if (seen.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    seen.add(id);
  }
  return entries as Json[];
}

/** Applies `apply` to every entry; a failing entry lands in `Failed` without stopping the others, as SQS. */
function runBatch(entries: Json[], apply: (entry: Json) => Json): Json {
  const successful: Json[] = [];
  const failed: Json[] = [];
  for (const entry of entries) {
    const id = entry.Id as string;
    try {
      successful.push({ Id: id, ...apply(entry) });
    } catch (error) {
      if (!(error instanceof SqsError)) throw error;
      failed.push({
        Id: id,
        SenderFault: error.fault === 'Sender',
        Code: error.code,
        Message: error.message,
      });
    }
  }
  return { Successful: successful, Failed: failed };
}

function toWireMessage(
  message: ReceivedMessage,
  systemNames: ReadonlySet<string>,
  includeAttribute: (name: string) => boolean,
): Json {
  const attributes: Record<string, string> = {};
  for (const key of MESSAGE_SYSTEM_ATTRIBUTE_NAMES) {
    const value = message.attributes[key];
    if (value !== undefined && (systemNames.has('All') || systemNames.has(key))) attributes[key] = value;
  }
  const selected: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(message.messageAttributes)) {
    if (includeAttribute(name)) selected[name] = value;
  }
  // The digest covers the attributes returned, so a client can check what it got (the Java SDK does).
  const md5 = md5OfMessageAttributes(selected);
  return {
    MessageId: message.messageId,
    ReceiptHandle: message.receiptHandle,
    MD5OfBody: message.md5OfBody,
    Body: message.body,
    ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}),
    ...(md5 === undefined
      ? {}
      : {
          MD5OfMessageAttributes: md5,
          MessageAttributes: Object.fromEntries(
            Object.entries(selected).map(([name, value]) => [name, attributeToWire(value)]),
          ),
        }),
  };
}

function messageAttributeFilter(names: readonly string[]): (name: string) => boolean {
  if (names.includes('All') || names.includes('.*')) return () => true;
  const prefixes = names.filter((name) => name.endsWith('.*')).map((name) => name.slice(0, -1));
  const exact = new Set(names.filter((name) => !name.endsWith('.*')));
  return (name) => exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix));
}

function attributeToWire(value: MessageAttributeValue): Json {
  return {
    DataType: value.DataType,
    ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
    ...(value.BinaryValue === undefined
      ? {}
      : { BinaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
  };
}

function attributesFromWire(raw: unknown, parameter: string): MessageAttributes {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SqsError('SerializationException', `${parameter} must be a map.`);
  }
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(raw as Json)) {
    const entry = (value ?? {}) as Json;
    const dataType = optionalString(entry, 'DataType');
    if (dataType === undefined) {
      throw new SqsError(
        'InvalidParameterValue',
        `The message attribute '${name}' must contain a non-empty message attribute type.`,
      );
    }
    const stringValue = optionalString(entry, 'StringValue');
    const binaryValue = optionalString(entry, 'BinaryValue');
    attributes[name] = {
      DataType: dataType,
      ...(stringValue === undefined ? {} : { StringValue: stringValue }),
      ...(binaryValue === undefined ? {} : { BinaryValue: Buffer.from(binaryValue, 'base64') }),
    };
  }
  return attributes;
}

function optionalString(input: Json, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new SqsError('SerializationException', `${key} must be a string.`);
  return value;
}

function requiredString(input: Json, key: string): string {
  const value = optionalString(input, key);
  if (value === undefined || value === '') {
    throw new SqsError('MissingParameter', `The request must contain the parameter ${key}.`);
  }
  return value;
}

function optionalInt(input: Json, key: string): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new SqsError('SerializationException', `${key} must be an integer.`);
  }
  return value;
}

function stringList(input: Json, key: string): string[] {
  const value = input[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new SqsError('SerializationException', `${key} must be a list of strings.`);
  }
  return value as string[];
}

function stringMap(input: Json, key: string): Record<string, string> {
  const value = input[key];
  if (value === undefined || value === null) return {};
  if (
    typeof value !== 'object' ||
    Array.isArray(value) ||
    Object.values(value).some((v) => typeof v !== 'string')
  ) {
    throw new SqsError('SerializationException', `${key} must be a map of strings.`);
  }
  return value as Record<string, string>;
}
