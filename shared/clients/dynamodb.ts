// Secondary adapter — the process-wide DynamoDB document client; locally `AWS_ENDPOINT_URL_DYNAMODB`
// points it at DynamoDB Local.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

let dynamoClient: DynamoDBDocumentClient | undefined;

/** The DynamoDB document client; locally `AWS_ENDPOINT_URL_DYNAMODB` points it at DynamoDB Local. */
export function dynamo(): DynamoDBDocumentClient {
  dynamoClient ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return dynamoClient;
}

export function closeDynamo(): void {
  dynamoClient?.destroy();
  dynamoClient = undefined;
}
