// Realtime — one-time connect tickets. A WebSocket $connect carries no SigV4 signature, so a caller that
// authenticates another way (a node agent signing with its instance role in AWS) first exchanges that for a
// ticket on an HTTP route, then connects with the ticket in place of a token. Only the ticket's hash is stored;
// redeeming deletes it, so one ticket opens one connection, within a minute of its issue.
import { createHash, randomBytes } from 'node:crypto';
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';

/** Tells a ticket from a token (a JWT has dots; a ticket never does). */
const ticketPrefix = 'ct_';
const ticketTtlSeconds = 60;

export interface ConnectTicket {
  readonly ticket: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Who a redeemed ticket was issued to. */
export interface TicketHolder {
  readonly subject: string;
  readonly roles: readonly string[];
}

const table = () => requireEnv(envNames.tableName('connect-tickets'));
const hashOf = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');

export const isConnectTicket = (credential: string): boolean => credential.startsWith(ticketPrefix);

/** Issues a ticket for a principal the caller has already authenticated. */
export async function issueConnectTicket(holder: TicketHolder): Promise<ConnectTicket> {
  const ticket = `${ticketPrefix}${randomBytes(32).toString('base64url')}`;
  const expiresAt = Math.floor(Date.now() / 1000) + ticketTtlSeconds;
  await dynamo().send(
    new PutCommand({
      TableName: table(),
      Item: { ticketHash: hashOf(ticket), subject: holder.subject, roles: [...holder.roles], expiresAt },
    }),
  );
  return { ticket, expiresAt };
}

/** The ticket's holder, once: undefined for a ticket never issued, already used or expired. */
export async function redeemConnectTicket(ticket: string): Promise<TicketHolder | undefined> {
  try {
    const result = await dynamo().send(
      new DeleteCommand({
        TableName: table(),
        Key: { ticketHash: hashOf(ticket) },
        // An unknown ticket fails the condition too (no item, no expiresAt); an expired one stays for the TTL.
        ConditionExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':now': Math.floor(Date.now() / 1000) },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const item = result.Attributes as { subject: string; roles: string[] } | undefined;
    return item ? { subject: item.subject, roles: item.roles } : undefined;
  } catch (error) {
    if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
    throw error;
  }
}
