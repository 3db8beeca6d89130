// Dashboard — secondary adapter (Redis streams): reading log lines node by node. A cursor maps each node to
// the last sequence number a reader has, so a read resumes every node's stream exactly after it (XRANGE
// from `<seq+1>-0`), one stream (one hash slot) per command; lines of several nodes are merged by time. A
// backward cursor (`before`) maps each node to the lowest sequence number a reader holds: the read pages back
// from just below it (XREVRANGE from `<seq-1>-1`), node by node the same way.
import * as z from 'zod';
import type { RedisClient } from '#shared/clients';
import { BadRequestError } from '#shared/http';
import type { LogFilters, StoredLogLine } from './schemas.ts';

/** node id → last sequence number read. */
export type LogCursor = Record<string, number>;

const cursorSchema = z.record(z.string().max(63), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));

export function encodeCursor(cursor: LogCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** @throws BadRequestError naming the field (`cursor`, or `before`) */
export function decodeCursor(text: string, field: 'cursor' | 'before' = 'cursor'): LogCursor {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new BadRequestError(`Invalid ${field}`, {
      [field]: `pass the ${field} of an earlier answer unchanged, or base64url JSON {"<node>": <seq>}`,
    });
  }
}

export interface LogReadQuery extends LogFilters {
  readonly q?: string;
  readonly limit: number;
}

export interface LogPage {
  readonly logs: StoredLogLine[];
  /** Pass back for the lines after these; it names every node read. */
  readonly cursor: LogCursor;
}

export interface OlderLogPage {
  readonly logs: StoredLogLine[];
  /** Pass back as `before` for the lines older than these: per node, the lowest sequence number read. */
  readonly before: LogCursor;
  /** Whether some node has lines left below its position (false: every node read back to its first line). */
  readonly more: boolean;
}

type StreamEntries = [id: string, fields: string[]][];
const seqOf = (id: string) => Number(id.slice(0, id.indexOf('-')));
const scanChunk = 500;

/** The one log filter: node, level and logger exactly, `q` as a case-insensitive substring of the message. */
export function matcher(filters: LogFilters & { readonly q?: string }): (line: StoredLogLine) => boolean {
  const needle = filters.q?.toLowerCase();
  return (line) =>
    (!filters.node || line.node_id === filters.node) &&
    (!filters.level || line.level === filters.level) &&
    (!filters.logger || line.logger_name === filters.logger) &&
    (!needle || line.message.toLowerCase().includes(needle));
}

/** By the line's own time; lines of one node at the same time by sequence. */
function byTime(a: StoredLogLine, b: StoredLogLine): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1;
  if (a.node_id !== b.node_id) return a.node_id < b.node_id ? -1 : 1;
  return a.seq - b.seq;
}

const parse = (entry: StreamEntries[number]) => JSON.parse(entry[1][1]!) as StoredLogLine;

/**
 * A k-way merge by time of the nodes' lists (each already in `order`): up to `limit` lines, and how many were
 * taken from each list.
 */
function mergeByTime(
  lists: readonly StoredLogLine[][],
  limit: number,
  order: 'oldest first' | 'newest first',
): { lines: StoredLogLine[]; taken: number[] } {
  const sign = order === 'oldest first' ? 1 : -1;
  const taken = lists.map(() => 0);
  const lines: StoredLogLine[] = [];
  while (lines.length < limit) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const line = lists[i]![taken[i]!];
      if (line && (best < 0 || sign * byTime(line, lists[best]![taken[best]!]!) < 0)) best = i;
    }
    if (best < 0) break;
    lines.push(lists[best]![taken[best]!]!);
    taken[best]!++;
  }
  return { lines, taken };
}

/** One node's matching lines after `after`, in sequence order, up to `limit`; and how far it scanned. */
async function scanForward(
  redis: RedisClient,
  stream: string,
  after: number,
  limit: number,
  matches: (line: StoredLogLine) => boolean,
): Promise<{ lines: StoredLogLine[]; scannedTo: number }> {
  const lines: StoredLogLine[] = [];
  let scannedTo = after;
  while (lines.length < limit) {
    const entries = (await redis.xrange(
      stream,
      `${scannedTo + 1}-0`,
      '+',
      'COUNT',
      scanChunk,
    )) as StreamEntries;
    for (const entry of entries) {
      const line = parse(entry);
      scannedTo = seqOf(entry[0]);
      if (matches(line)) lines.push(line);
      if (lines.length === limit) break;
    }
    if (entries.length < scanChunk) break;
  }
  return { lines, scannedTo };
}

/**
 * The lines after the cursor, oldest first. Per node the answer is a prefix of its stream in sequence
 * order (a k-way merge by time of the nodes' heads), so the next cursor never skips a line.
 */
export async function readLogs(
  redis: RedisClient,
  nodes: readonly string[],
  streamOf: (node: string) => string,
  query: LogReadQuery,
  cursor: LogCursor,
): Promise<LogPage> {
  const matches = matcher(query);
  const scans = await Promise.all(
    nodes.map((node) => scanForward(redis, streamOf(node), cursor[node] ?? 0, query.limit, matches)),
  );
  const { lines: logs, taken: heads } = mergeByTime(
    scans.map((scan) => scan.lines),
    query.limit,
    'oldest first',
  );
  const next: LogCursor = { ...cursor };
  nodes.forEach((node, i) => {
    const scan = scans[i]!;
    const taken = heads[i]!;
    // All of a node's matches taken: skip what it scanned past; otherwise resume after the last one taken.
    next[node] =
      taken === scan.lines.length
        ? scan.scannedTo
        : taken > 0
          ? scan.lines[taken - 1]!.seq
          : (cursor[node] ?? 0);
  });
  return { logs, cursor: next };
}

/** The most recent matching lines of the nodes (oldest first), and a cursor at each node's newest line. */
export async function recentLogs(
  redis: RedisClient,
  nodes: readonly string[],
  streamOf: (node: string) => string,
  query: LogReadQuery,
): Promise<LogPage> {
  const matches = matcher(query);
  const perNode = await Promise.all(
    nodes.map(async (node) => {
      const { lines, newest } = await scanBackward(redis, streamOf(node), undefined, query.limit, matches);
      return { node, lines, head: newest };
    }),
  );
  const logs = perNode
    .flatMap((entry) => entry.lines)
    .sort(byTime)
    .slice(-query.limit);
  return { logs, cursor: Object.fromEntries(perNode.map((entry) => [entry.node, entry.head])) };
}

/**
 * One node's matching lines below `below` (all of them when undefined), newest first, up to `limit`; the lowest
 * sequence number scanned; whether the scan reached the stream's first entry; and the highest sequence number
 * scanned (0 when none: the stream's newest when `below` is undefined).
 */
async function scanBackward(
  redis: RedisClient,
  stream: string,
  below: number | undefined,
  limit: number,
  matches: (line: StoredLogLine) => boolean,
): Promise<{ lines: StoredLogLine[]; scannedDownTo: number | undefined; atStart: boolean; newest: number }> {
  const lines: StoredLogLine[] = [];
  let scannedDownTo = below;
  let newest = 0;
  for (;;) {
    if (scannedDownTo !== undefined && scannedDownTo <= 1)
      return { lines, scannedDownTo, atStart: true, newest };
    const end = scannedDownTo === undefined ? '+' : `${scannedDownTo - 1}-1`;
    const entries = (await redis.xrevrange(stream, end, '-', 'COUNT', scanChunk)) as StreamEntries;
    for (const entry of entries) {
      const line = parse(entry);
      scannedDownTo = seqOf(entry[0]);
      newest = Math.max(newest, scannedDownTo);
      if (matches(line)) lines.push(line);
      if (lines.length === limit) return { lines, scannedDownTo, atStart: false, newest };
    }
    if (entries.length < scanChunk) return { lines, scannedDownTo, atStart: true, newest };
  }
}

/**
 * The lines just older than the `before` cursor (a node it does not name: from its newest line), oldest first.
 * Per node the answer is the newest part of what lies below its position (a k-way merge by time, newest
 * first), so the next `before` never skips a line.
 */
export async function readOlderLogs(
  redis: RedisClient,
  nodes: readonly string[],
  streamOf: (node: string) => string,
  query: LogReadQuery,
  before: LogCursor,
): Promise<OlderLogPage> {
  const matches = matcher(query);
  const scans = await Promise.all(
    nodes.map((node) => scanBackward(redis, streamOf(node), before[node], query.limit, matches)),
  );
  const { lines: taken, taken: heads } = mergeByTime(
    scans.map((scan) => scan.lines),
    query.limit,
    'newest first',
  );
  const next: LogCursor = { ...before };
  let more = false;
  nodes.forEach((node, i) => {
    const scan = scans[i]!;
    const count = heads[i]!;
    let position: number | undefined;
    // All of a node's matches taken: it is read down to where the scan got (to 1 at its first entry);
    // otherwise it resumes below the last line taken.
    if (count === scan.lines.length) position = scan.atStart ? 1 : scan.scannedDownTo;
    else position = count > 0 ? scan.lines[count - 1]!.seq : before[node];
    if (position === undefined) delete next[node];
    else next[node] = position;
    if (position === undefined || position > 1) more = true;
  });
  return { logs: taken.reverse(), before: next, more };
}
