// Node agent — the compute node's side of placement: it heartbeats (capacity, projects with sizes and
// progress), and serves forwarded compute requests on its address, handing them to the compute service it
// fronts. It serves a project only under the token it was last told it holds (a heartbeat answer, or a signed
// forward with a newer token), and stops serving a project not confirmed within the heartbeat timeout, so a
// node that lost a project (paused, partitioned) cannot act on it again. It stops a project that grows past
// the data limit and reports why. With `dashboard` options it also reports metrics, ships logs, supervises
// its configured services and takes operators' commands over its control connection (./dashboard.ts).

import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Heartbeat,
  type HeartbeatAnswer,
  publicKeyFrom,
  verifyForward,
} from '#shared/placement/protocol';
import { type NodeDashboard, type NodeDashboardOptions, startNodeDashboard } from './dashboard.ts';

export const agentVersion = '1.0.0';

export interface AgentOptions {
  readonly nodeId: string;
  /** The control plane's HTTP API, e.g. `http://127.0.0.1:3000`. */
  readonly controlUrl: string;
  /** Headers that authenticate a heartbeat (a bearer token locally, a SigV4 signature in AWS). */
  readonly authenticate: (request: { url: string; body: string }) => Promise<Record<string, string>>;
  /** The compute service this agent fronts (AGENT_COMPUTE_URL). */
  readonly computeUrl: string;
  /** @default 1 */
  readonly capacity?: number;
  readonly instanceId?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
  /** The address the control plane reaches this agent at. @default `http://<host>:<port>` */
  readonly advertisedUrl?: string;
  /** @default 10 000 */
  readonly heartbeatIntervalMs?: number;
  /** Work longer than this answers 202 with a job id to poll. @default 20 000 */
  readonly jobDeadlineMs?: number;
  /** Reports `ready: false` (joining) until this many ms after start. @default 0 */
  readonly startupMs?: number;
  /** The dashboard side: metrics, logs, services, control connection. None without it. */
  readonly dashboard?: NodeDashboardOptions;
}

interface Held {
  readonly token: number;
  /** Epoch ms after which the project is not served until confirmed again. */
  readonly confirmedUntil: number;
  /** When the agent learned it (a forward's new token survives an answer to a heartbeat sent before it). */
  readonly learnedAt: number;
}

/** One request the agent served, as benchmarks and tests read them. */
export interface Served {
  readonly projectId: string;
  readonly token: number;
  readonly at: number;
}

export interface Agent {
  readonly nodeId: string;
  readonly url: string;
  /** Every request served (project, token, time). */
  readonly served: readonly Served[];
  /** Forwards refused, by reason. */
  readonly refused: Readonly<Record<string, number>>;
  /** The dashboard side, when configured. */
  readonly dashboard: NodeDashboard | undefined;
  /** Projects the agent holds now, with tokens. */
  holding(): Record<string, number>;
  /** Sends one heartbeat now (tests use it to step the protocol). */
  beat(): Promise<void>;
  /** Stops heartbeats but keeps serving (a paused or partitioned node). */
  pause(): void;
  resume(): void;
  /** Ends the agent abruptly: its server closes and it never heartbeats again. */
  stop(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startAgent(options: AgentOptions): Promise<Agent> {
  const started = Date.now();
  const held = new Map<string, Held>();
  const highest = new Map<string, number>();
  const stopped = new Map<string, number>();
  const progressOf = new Map<string, number>();
  const jobs = new Map<string, Promise<{ status: number; body: unknown }>>();
  const finished = new Map<string, { status: number; body: unknown }>();
  const served: Served[] = [];
  const refused: Record<string, number> = {};
  let publicKey: KeyObject | undefined;
  let timeoutMs = 60_000;
  let dataLimitBytes = Number.MAX_SAFE_INTEGER;
  let progress = 0;
  let pending = 0;
  let paused = false;
  let closed = false;

  const refuse = (response: ServerResponse, status: number, reason: string, message: string) => {
    refused[reason] = (refused[reason] ?? 0) + 1;
    answer(response, status, { error: reason, message });
  };

  /** Asks the engine; counts progress when it answers, however late. */
  async function run(projectId: string, body: string): Promise<{ status: number; body: unknown }> {
    pending++;
    try {
      const response = await fetch(`${options.computeUrl}/projects/${projectId}/compute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const text = await response.text();
      progress++;
      progressOf.set(projectId, (progressOf.get(projectId) ?? 0) + 1);
      return { status: response.status, body: JSON.parse(text) as unknown };
    } finally {
      pending--;
    }
  }

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    if (!publicKey)
      return refuse(response, 503, 'not_ready', 'This node has not heard from the control plane yet');
    const claim = verifyForward(request.headers, text, publicKey);
    if (!claim)
      return refuse(response, 401, 'bad_signature', 'The forward is not signed by the control plane');
    if (claim.nodeId !== options.nodeId)
      return refuse(response, 403, 'wrong_node', 'The forward is for another node');
    const now = Date.now();
    const known = highest.get(claim.projectId) ?? 0;
    if (claim.token < known) {
      return refuse(response, 409, 'stale_token', `Project ${claim.projectId} moved on to token ${known}`);
    }
    if (claim.token > known) {
      // A newer assignment than any heartbeat told: the signed forward is the control plane telling it.
      if (now > claim.validUntil) return refuse(response, 409, 'unconfirmed', 'The forward came too late');
      highest.set(claim.projectId, claim.token);
      held.set(claim.projectId, { token: claim.token, confirmedUntil: claim.validUntil, learnedAt: now });
    }
    const holding = held.get(claim.projectId);
    if (!holding || holding.token !== claim.token) {
      return refuse(response, 409, 'not_assigned', `This node does not hold project ${claim.projectId}`);
    }
    if (now > holding.confirmedUntil) {
      return refuse(
        response,
        409,
        'unconfirmed',
        `Project ${claim.projectId} was not confirmed within the timeout`,
      );
    }
    const size = stopped.get(claim.projectId);
    if (size !== undefined) {
      return answer(response, 413, {
        error: 'project_too_large',
        message: 'Stopped: over the data limit',
        sizeBytes: size,
        limitBytes: dataLimitBytes,
      });
    }
    const parsed = JSON.parse(text) as { dsl?: string; job?: string };
    served.push({ projectId: claim.projectId, token: claim.token, at: now });
    if (parsed.job !== undefined) {
      const done = finished.get(parsed.job);
      if (done) {
        finished.delete(parsed.job);
        return answer(response, done.status, done.body);
      }
      if (jobs.has(parsed.job)) return answer(response, 202, { job: parsed.job, status: 'running' });
      return answer(response, 404, { error: 'unknown_job', message: `No job ${parsed.job} on this node` });
    }
    const work = run(claim.projectId, JSON.stringify({ dsl: parsed.dsl }));
    const deadline = new Promise<'late'>((late) =>
      setTimeout(() => late('late'), options.jobDeadlineMs ?? 20_000).unref(),
    );
    const first = await Promise.race([work, deadline]);
    if (first !== 'late') return answer(response, first.status, first.body);
    const job = randomBytes(12).toString('base64url');
    jobs.set(job, work);
    answer(response, 202, { job, status: 'running' });
    const result = await work.catch((error: Error) => ({
      status: 502,
      body: { error: 'engine_failed', message: error.message },
    }));
    jobs.delete(job);
    finished.set(job, result);
  }

  const server = createServer((request, response) => {
    const route = `${request.method} ${new URL(request.url ?? '/', 'http://agent').pathname}`;
    const handled =
      route === 'POST /compute'
        ? serve(request, response)
        : Promise.resolve(answer(response, 404, { error: 'not_found', message: route }));
    handled.catch((error: Error) =>
      answer(response, 502, { error: 'engine_failed', message: error.message }),
    );
  });
  await new Promise<void>((ready) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', ready));
  const { address, port } = server.address() as AddressInfo;
  const url = options.advertisedUrl ?? `http://${address}:${port}`;
  const dashboard = options.dashboard
    ? await startNodeDashboard(
        { controlUrl: options.controlUrl, nodeId: options.nodeId, authenticate: options.authenticate },
        options.dashboard,
      )
    : undefined;

  /** Sizes from the engine; a held project over the limit is stopped here. */
  async function report(): Promise<Heartbeat['projects']> {
    const response = await fetch(`${options.computeUrl}/projects`);
    const { items } = (await response.json()) as { items: { id: string; sizeBytes: number }[] };
    const sizes = new Map(items.map((item) => [item.id, item.sizeBytes]));
    for (const [projectId] of held) {
      const size = sizes.get(projectId) ?? 0;
      if (size > dataLimitBytes) {
        stopped.set(projectId, size);
        held.delete(projectId);
      }
    }
    const ids = new Set([...held.keys(), ...stopped.keys()]);
    return [...ids].map((id) => ({
      id,
      sizeBytes: sizes.get(id) ?? 0,
      progress: progressOf.get(id) ?? 0,
      ...(stopped.has(id) ? { stopped: 'too_large' as const } : {}),
    }));
  }

  async function beat(): Promise<void> {
    const sentAt = Date.now();
    const body = JSON.stringify({
      address: url,
      ...(options.instanceId ? { instanceId: options.instanceId } : {}),
      capacity: options.capacity ?? 1,
      agentVersion,
      ready: sentAt - started >= (options.startupMs ?? 0),
      progress,
      pending,
      projects: await report(),
    } satisfies Heartbeat);
    const target = `${options.controlUrl}/api/v1/nodes/${options.nodeId}/heartbeat`;
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await options.authenticate({ url: target, body })) },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`heartbeat answered ${response.status}: ${await response.text()}`);
    const told = (await response.json()) as HeartbeatAnswer;
    publicKey = publicKeyFrom(told.signingKey);
    timeoutMs = told.heartbeatTimeoutSeconds * 1000;
    dataLimitBytes = told.dataLimitBytes;
    const confirmedUntil = sentAt + timeoutMs;
    const listed = new Set(told.assignments.map((a) => a.projectId));
    for (const [projectId, entry] of held) {
      // Dropped unless learned from a forward after this heartbeat left (the answer could not know it yet).
      if (!listed.has(projectId) && entry.learnedAt <= sentAt) held.delete(projectId);
    }
    for (const { projectId, token } of told.assignments) {
      if (token < (highest.get(projectId) ?? 0)) continue;
      highest.set(projectId, token);
      held.set(projectId, { token, confirmedUntil, learnedAt: sentAt });
    }
    for (const { projectId, token } of told.revoked) {
      highest.set(projectId, Math.max(token, highest.get(projectId) ?? 0));
      // The control plane has recorded why it stopped: nothing more to report.
      if (!listed.has(projectId)) stopped.delete(projectId);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  /** The heartbeat under way: stop() waits for it, so none lands after the agent stopped. */
  let beating: Promise<void> | undefined;
  const loop = () => {
    if (closed) return;
    const next = () => {
      if (!closed) timer = setTimeout(loop, options.heartbeatIntervalMs ?? 10_000);
    };
    if (paused) return next();
    beating = beat().then(next, (error: Error) => {
      console.error(`[agent ${options.nodeId}] heartbeat failed: ${error.message}`);
      dashboard?.log('WARNING', 'placement', `heartbeat failed: ${error.message}`);
      next();
    });
  };
  loop();

  return {
    nodeId: options.nodeId,
    url,
    served,
    refused,
    dashboard,
    holding: () => Object.fromEntries([...held].map(([id, entry]) => [id, entry.token])),
    beat,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
    async stop() {
      closed = true;
      clearTimeout(timer);
      await beating;
      await dashboard?.stop();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
