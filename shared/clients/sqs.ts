// Secondary adapter — the process-wide SQS client; locally `AWS_ENDPOINT_URL_SQS` points it at the
// runtime's FIFO endpoint.
import { SQSClient } from '@aws-sdk/client-sqs';

let sqsClient: SQSClient | undefined;

/** The SQS client; locally `AWS_ENDPOINT_URL_SQS` points it at the runtime's FIFO endpoint. */
export function sqs(): SQSClient {
  sqsClient ??= new SQSClient({});
  return sqsClient;
}

export function closeSqs(): void {
  sqsClient?.destroy();
  sqsClient = undefined;
}
