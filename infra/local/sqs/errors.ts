// Local runtime — SQS-compatible FIFO endpoint: the service errors, named and coded as SQS names them so
// that `@aws-sdk/client-sqs` raises the same exception classes locally as against AWS.

/**
 * SQS error codes. `shape` is the Smithy shape (`__type` in the JSON body); `query` is the legacy
 * query-protocol code the SDK reads from `x-amzn-query-error` (the SQS client is `awsQueryCompatible`,
 * and it resolves the exception class from that code, not from `__type`).
 */
const codes = {
  QueueDoesNotExist: { query: 'AWS.SimpleQueueService.NonExistentQueue', status: 400 },
  QueueNameExists: { query: 'QueueAlreadyExists', status: 400 },
  ReceiptHandleIsInvalid: { query: 'ReceiptHandleIsInvalid', status: 404 },
  MessageNotInflight: { query: 'AWS.SimpleQueueService.MessageNotInflight', status: 400 },
  InvalidParameterValue: { query: 'InvalidParameterValue', status: 400 },
  MissingParameter: { query: 'MissingParameter', status: 400 },
  InvalidAttributeName: { query: 'InvalidAttributeName', status: 400 },
  InvalidAttributeValue: { query: 'InvalidAttributeValue', status: 400 },
  InvalidMessageContents: { query: 'InvalidMessageContents', status: 400 },
  EmptyBatchRequest: { query: 'AWS.SimpleQueueService.EmptyBatchRequest', status: 400 },
  TooManyEntriesInBatchRequest: { query: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', status: 400 },
  BatchEntryIdsNotDistinct: { query: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', status: 400 },
  InvalidBatchEntryId: { query: 'AWS.SimpleQueueService.InvalidBatchEntryId', status: 400 },
  BatchRequestTooLong: { query: 'AWS.SimpleQueueService.BatchRequestTooLong', status: 400 },
  UnsupportedOperation: { query: 'AWS.SimpleQueueService.UnsupportedOperation', status: 400 },
  InvalidAction: { query: 'InvalidAction', status: 400 },
  SerializationException: { query: 'SerializationException', status: 400 },
  InternalFailure: { query: 'InternalFailure', status: 500 },
} as const;

/** Name of an SQS error this endpoint can raise. */
export type SqsErrorCode = keyof typeof codes;

/** An SQS service error; the HTTP layer turns it into the JSON error response. */
export class SqsError extends Error {
  readonly code: SqsErrorCode;
  /** Query-protocol code, sent in `x-amzn-query-error`. */
  readonly queryCode: string;
  readonly statusCode: number;
  /** `Sender` for caller mistakes, `Receiver` for faults of the service. */
  readonly fault: 'Sender' | 'Receiver';

  constructor(code: SqsErrorCode, message: string) {
    super(message);
    this.name = code;
    this.code = code;
    this.queryCode = codes[code].query;
    this.statusCode = codes[code].status;
    this.fault = this.statusCode >= 500 ? 'Receiver' : 'Sender';
  }
}

/** The error AWS gives for a parameter value it rejects, with its wording. */
export function invalidParameter(name: string, value: unknown, reason: string): SqsError {
  return new SqsError(
    'InvalidParameterValue',
    `Value ${String(value)} for parameter ${name} is invalid. Reason: ${reason}`,
  );
}
