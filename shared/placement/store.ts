// Placement — secondary adapter: the three DynamoDB tables (nodes, projects, tickets) and their item shapes.
// Every decision that must hold under races is a condition in the write that makes it (./placement.ts).
import { type DynamoDBDocumentClient, ScanCommand, type ScanCommandInput } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '#shared/clients';
import { requireEnv } from '#shared/config';
import { envNames } from '#shared/contracts';
import type { stopReasons } from './protocol/index.ts';

/** A node of the registry (`placement-nodes`, key `nodeId`). Times are epoch milliseconds. */
export interface NodeItem {
  readonly nodeId: string;
  readonly address: string;
  readonly instanceId?: string;
  readonly capacity: number;
  readonly agentVersion: string;
  readonly ready: boolean;
  readonly joinedAt: number;
  readonly lastHeartbeatAt: number;
  readonly progress: number;
  readonly progressChangedAt: number;
  readonly pending: number;
  readonly reported: readonly ReportedProject[];
  /** The projects this node holds and their fencing tokens: the slot count the transactions check. */
  readonly assignments: Readonly<Record<string, number>>;
  /** Forwards that timed out in a row. */
  readonly forwardTimeouts: number;
  readonly suspectSince?: number;
  readonly suspectReason?: 'stalled' | 'timeouts';
  /** Marked by the janitor when the node expired (expired nodes are kept, not deleted). */
  readonly expiredAt?: number;
}

export interface ReportedProject {
  readonly id: string;
  readonly sizeBytes: number;
  readonly progress: number;
  readonly stopped?: (typeof stopReasons)[number];
}

/** A project's placement (`placement-projects`, key `projectId`). `token` only grows. */
export interface ProjectItem {
  readonly projectId: string;
  readonly token: number;
  readonly nodeId?: string;
  readonly since?: number;
  readonly lastUsedAt?: number;
  readonly releasedAt?: number;
  /** When its node was lost (expired or drained); such a project goes before the line when it returns. */
  readonly displacedAt?: number;
  /** The size a node reported when it stopped the project for being too large. */
  readonly sizeBytes?: number;
}

/** A place in line for a slot (`placement-tickets`, key `ticketId`); `seq` orders the line. */
export interface TicketItem {
  readonly ticketId: string;
  readonly seq: number;
  readonly projectId: string;
  readonly lastSeenAt: number;
  /** Epoch seconds (the table's TTL attribute). */
  readonly expiresAt: number;
}

export interface PlacementTables {
  readonly nodes: string;
  readonly projects: string;
  readonly tickets: string;
}

/**
 * The physical table names, from the environment both builders set, each read when first used: a function is
 * given only the tables it declares (the node routes outside placement read the registry alone).
 */
export function placementTables(): PlacementTables {
  return {
    get nodes() {
      return requireEnv(envNames.tableName('placement-nodes'));
    },
    get projects() {
      return requireEnv(envNames.tableName('placement-projects'));
    },
    get tickets() {
      return requireEnv(envNames.tableName('placement-tickets'));
    },
  };
}

/** What the placement code talks to: the document client and the tables. */
export interface PlacementStore {
  readonly db: DynamoDBDocumentClient;
  readonly tables: PlacementTables;
}

export function placementStore(): PlacementStore {
  return { db: dynamo(), tables: placementTables() };
}

/** Every item of a table (the registry and the line are small: at most a few hundred items). */
export async function scanAll<T>(db: DynamoDBDocumentClient, input: ScanCommandInput): Promise<T[]> {
  const items: T[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ ...input, ExclusiveStartKey, ConsistentRead: true }));
    items.push(...((page.Items ?? []) as T[]));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}
