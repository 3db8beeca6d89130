// Primary adapter — what the dashboard's handlers share: the node id of the path, and the caller.

import * as z from 'zod';
import { nodeId } from '#shared/dashboard';
import { type HttpEvent, parseInput } from '#shared/http';

const nodeParam = z.strictObject({ node: nodeId });

/** The node id path parameter (`{id}` or `{node}`), or a 400 naming it. */
export function nodeFromPath(event: HttpEvent, name: 'id' | 'node'): string {
  const value = event.pathParameters?.[name];
  return parseInput(nodeParam, { node: value }, name).node;
}

/** The caller's subject, for the audit trail. */
export function callerSubject(event: HttpEvent): string {
  return String(event.requestContext.authorizer.jwt.claims.sub);
}
