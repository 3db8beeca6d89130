// Placement — domain: the line for a slot when the pool is full. A ticket keeps its holder's place while it
// is renewed (every retry renews it) within TICKET_HOLD_SECONDS; the line is ordered by a counter, so the
// first to ask is the first served, and a freed slot waits for the head of the line until its ticket lapses.
import { randomBytes } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PlacementSettings } from './settings.ts';
import { type PlacementStore, scanAll, type TicketItem } from './store.ts';

/** The counter item that hands out sequence numbers (never a ticket: tickets start with `t-`). */
const counterKey = '#counter';

const isLive = (ticket: TicketItem, now: number, settings: PlacementSettings) =>
  ticket.lastSeenAt > now - settings.ticketHoldSeconds * 1000;

/** The live tickets, head of the line first. */
export async function liveTickets(
  store: PlacementStore,
  now: number,
  settings: PlacementSettings,
): Promise<TicketItem[]> {
  const items = await scanAll<TicketItem>(store.db, {
    TableName: store.tables.tickets,
    FilterExpression: 'ticketId <> :counter AND lastSeenAt > :cutoff',
    ExpressionAttributeValues: { ':counter': counterKey, ':cutoff': now - settings.ticketHoldSeconds * 1000 },
  });
  return items.sort((a, b) => a.seq - b.seq);
}

/**
 * The caller's ticket in `line`: the one it sent if still live and for this project, else a live one of the
 * same project (a client that lost its ticket keeps its place), else none.
 */
export function ticketOf(
  line: readonly TicketItem[],
  projectId: string,
  sent?: string,
): TicketItem | undefined {
  return (
    line.find((t) => t.ticketId === sent && t.projectId === projectId) ??
    line.find((t) => t.projectId === projectId)
  );
}

/** How many live tickets are ahead of `ticket` (all of them for a caller without one). */
export function ticketsAhead(line: readonly TicketItem[], ticket: TicketItem | undefined): number {
  return ticket ? line.filter((t) => t.seq < ticket.seq).length : line.length;
}

/** Renews `ticket` (or issues a new one at the end of the line) and returns it. */
export async function holdPlace(
  store: PlacementStore,
  projectId: string,
  ticket: TicketItem | undefined,
  now: number,
  settings: PlacementSettings,
): Promise<TicketItem> {
  const expiresAt = Math.ceil(now / 1000) + settings.ticketHoldSeconds * 2;
  if (ticket) {
    // A renewal of a ticket that lapsed meanwhile (its condition fails) is a new ticket, at the end.
    try {
      await store.db.send(
        new UpdateCommand({
          TableName: store.tables.tickets,
          Key: { ticketId: ticket.ticketId },
          UpdateExpression: 'SET lastSeenAt = :now, expiresAt = :expires',
          ConditionExpression: 'lastSeenAt > :cutoff',
          ExpressionAttributeValues: {
            ':now': now,
            ':expires': expiresAt,
            ':cutoff': now - settings.ticketHoldSeconds * 1000,
          },
        }),
      );
      return { ...ticket, lastSeenAt: now, expiresAt };
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }
  const { Attributes } = await store.db.send(
    new UpdateCommand({
      TableName: store.tables.tickets,
      Key: { ticketId: counterKey },
      UpdateExpression: 'ADD seq :one',
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const seq = Number(Attributes?.seq);
  const issued: TicketItem = {
    ticketId: `t-${seq}-${randomBytes(9).toString('base64url')}`,
    seq,
    projectId,
    lastSeenAt: now,
    expiresAt,
  };
  await store.db.send(new PutCommand({ TableName: store.tables.tickets, Item: issued }));
  return issued;
}

/** Removes a ticket once its holder is placed. */
export async function dropTicket(store: PlacementStore, ticketId: string): Promise<void> {
  await store.db.send(new DeleteCommand({ TableName: store.tables.tickets, Key: { ticketId } }));
}

/** Deletes lapsed tickets (the TTL does it in AWS, eventually; the janitor makes it prompt everywhere). */
export async function dropLapsedTickets(
  store: PlacementStore,
  now: number,
  settings: PlacementSettings,
): Promise<number> {
  const all = await scanAll<TicketItem>(store.db, {
    TableName: store.tables.tickets,
    FilterExpression: 'ticketId <> :counter',
    ExpressionAttributeValues: { ':counter': counterKey },
  });
  const lapsed = all.filter((t) => !isLive(t, now, settings));
  for (const ticket of lapsed) await dropTicket(store, ticket.ticketId);
  return lapsed.length;
}

/** A ticket by id (tests and the 503 path read it back). */
export async function getTicket(store: PlacementStore, ticketId: string): Promise<TicketItem | undefined> {
  const { Item } = await store.db.send(
    new GetCommand({ TableName: store.tables.tickets, Key: { ticketId }, ConsistentRead: true }),
  );
  return Item as TicketItem | undefined;
}
