// Placement — the wire protocol between the control plane and the node agents (`#shared/placement/protocol`),
// imported by both sides and by nothing else of the project: what a heartbeat carries and what its answer
// tells the agent, and how a forwarded compute request is signed (Ed25519, the control plane's key) so that an
// agent serves only what the control plane assigned to it, under the assignment's fencing token.
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import * as z from 'zod';
import { nodeIdPattern } from '#shared/contracts';

/** Project ids: lowercase letters, digits, `-` and `_`, 1-64 characters. */
export const projectIdPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A node id (`nodeIdPattern` of the contracts), as the routes check it. */
export const nodeIdSchema = z.string().regex(nodeIdPattern, 'must be 1-63 of a-z, 0-9 and -');
export const projectIdSchema = z.string().regex(projectIdPattern, 'must be 1-64 of a-z, 0-9, - and _');

/** Why an agent stopped a project by itself. */
export const stopReasons = ['too_large'] as const;

/** What a node agent sends on every heartbeat. */
export const heartbeatSchema = z.strictObject({
  address: z
    .url({ protocol: /^https?$/ })
    .max(256)
    .describe('Where the control plane forwards requests'),
  instanceId: z
    .string()
    .regex(/^i-[0-9a-f]{8,17}$/)
    .optional()
    .describe('The EC2 instance id, where the node has one'),
  capacity: z.int().min(1).max(64).default(1).describe('Project slots'),
  agentVersion: z.string().min(1).max(64),
  ready: z.boolean().default(true).describe('false while the node is still starting (joining)'),
  progress: z.int().min(0).describe('Requests the node has completed since it started'),
  pending: z.int().min(0).default(0).describe('Requests it is working on now'),
  projects: z
    .array(
      z.strictObject({
        id: projectIdSchema,
        sizeBytes: z.int().min(0),
        progress: z.int().min(0),
        stopped: z.enum(stopReasons).optional(),
      }),
    )
    .max(64)
    .default([]),
});
export type Heartbeat = z.infer<typeof heartbeatSchema>;

export interface Assignment {
  readonly projectId: string;
  readonly token: number;
}

/** The heartbeat's answer: what the node holds now (and what it must drop), and how long that holds. */
export interface HeartbeatAnswer {
  readonly nodeId: string;
  readonly state: string;
  /** The node holds exactly these projects, under these tokens. */
  readonly assignments: readonly Assignment[];
  /** Projects the node reported but does not hold, with their current token (the agent refuses older ones). */
  readonly revoked: readonly Assignment[];
  /** Stop serving a project not confirmed within this many seconds. */
  readonly heartbeatTimeoutSeconds: number;
  readonly dataLimitBytes: number;
  /** The control plane's public key (SPKI PEM) that signs forwards. */
  readonly signingKey: string;
}

/** Headers of a forwarded request. */
export const forwardHeaders = {
  node: 'x-vfleet-node',
  project: 'x-vfleet-project',
  token: 'x-vfleet-token',
  validUntil: 'x-vfleet-valid-until',
  signature: 'x-vfleet-signature',
} as const;

/** What a forward asserts: this node holds this project under this token until `validUntil` (epoch ms). */
export interface ForwardClaim {
  readonly nodeId: string;
  readonly projectId: string;
  readonly token: number;
  readonly validUntil: number;
}

function signedText(claim: ForwardClaim, body: string): string {
  const digest = createHash('sha256').update(body).digest('hex');
  return `${claim.nodeId}\n${claim.projectId}\n${claim.token}\n${claim.validUntil}\n${digest}`;
}

/** The headers that carry `claim`, signed together with the body. */
export function signForward(
  claim: ForwardClaim,
  body: string,
  privateKey: KeyObject,
): Record<string, string> {
  return {
    [forwardHeaders.node]: claim.nodeId,
    [forwardHeaders.project]: claim.projectId,
    [forwardHeaders.token]: String(claim.token),
    [forwardHeaders.validUntil]: String(claim.validUntil),
    [forwardHeaders.signature]: sign(null, Buffer.from(signedText(claim, body)), privateKey).toString(
      'base64',
    ),
  };
}

/** The claim of a forward whose signature holds, or `null` (missing, malformed or not signed by `publicKey`). */
export function verifyForward(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  publicKey: KeyObject,
): ForwardClaim | null {
  const header = (name: string) => {
    const value = headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const token = Number(header(forwardHeaders.token));
  const validUntil = Number(header(forwardHeaders.validUntil));
  const nodeId = header(forwardHeaders.node);
  const projectId = header(forwardHeaders.project);
  const signature = header(forwardHeaders.signature);
  if (
    !nodeId ||
    !projectId ||
    !signature ||
    !Number.isSafeInteger(token) ||
    !Number.isSafeInteger(validUntil)
  )
    return null;
  const claim = { nodeId, projectId, token, validUntil };
  const ok = verify(null, Buffer.from(signedText(claim, body)), publicKey, Buffer.from(signature, 'base64'));
  return ok ? claim : null;
}

/** The public key a heartbeat answer carries, as a key object. */
export function publicKeyFrom(pem: string): KeyObject {
  return createPublicKey(pem);
}

/** A forwarded compute request's body: the user's request and, to poll long work, the job to ask about. */
export const computeRequestSchema = z
  .strictObject({
    dsl: z.string().min(1).max(100_000).optional().describe('What to compute, in the engine’s language'),
    dataSizeBytes: z
      .int()
      .min(0)
      .optional()
      .describe(
        'The project’s data size as the client knows it; over the limit is a 413 before any node is asked',
      ),
    ticket: z
      .string()
      .regex(/^t-[0-9]{1,15}-[A-Za-z0-9_-]{8,32}$/)
      .optional()
      .describe('The ticket a 503 gave: keeps the caller’s place in line'),
    job: z
      .string()
      .regex(/^[A-Za-z0-9_-]{8,64}$/)
      .optional()
      .describe('The job id a 202 gave: asks for its result'),
  })
  .refine((request) => request.dsl !== undefined || request.job !== undefined, {
    message: 'give dsl (a request) or job (to poll one)',
    path: ['dsl'],
  });
export type ComputeRequest = z.infer<typeof computeRequestSchema>;
