// Benchmark — `npm run bench:placement`: 200 concurrent clients send 10,000 compute requests for 300 projects
// against 100 slots (10 agents × 10 slots on loopback) through the local runtime and DynamoDB Local, with one
// agent killed half-way (and a replacement started, as the Auto Scaling group would). Counted at the agents:
// double assignments (one project served by two nodes under one token), requests served under a token older
// than one another node had already served; and the placed projects against the slots, 503 latency, and how
// long the killed agent's projects took to be served elsewhere. Then the same race against the seed's
// read-then-write assignment without its lock (./naive.ts). Prints a table, writes JSON under bench/results/
// and the section in docs/benchmarks.md; asserts nothing. BENCH_REQUESTS (default 10000) bounds the run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { envNames } from '#shared/contracts';
import { getNode, type NodeItem, type PlacementStore, scanAll } from '#shared/placement';
import { createFileSecretStore } from '#shared/secrets';
import type { Agent } from '../../agent/agent.ts';
import { type LocalFleet, startLocalFleet } from '../../agent/fleet.ts';
import { loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import { backingServices, type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { startDynamoDb, startPostgres, startRedis } from '../../infra/local/services/index.ts';
import type { RunningService } from '../../infra/local/services/types.ts';
import { loadSigningKey } from '../../shared/placement/signing.ts';
import { percentile, record, root, sleep } from '../ops/harness.ts';
import { naiveCompute } from './naive.ts';

const requests = Number(process.env.BENCH_REQUESTS ?? 10_000);
const clients = 200;
const projects = 300;
const agents = 10;
const slots = 10;
const heartbeatTimeoutSeconds = 10;

interface Sample {
  readonly status: number;
  readonly ms: number;
  readonly projectId: string;
  readonly nodeId?: string;
  readonly at: number;
}

/** Runs `total` requests from `clients` concurrent loops; `kill` runs once, half-way. */
async function load(
  send: (projectId: string) => Promise<Omit<Sample, 'ms' | 'projectId' | 'at'>>,
  kill?: () => Promise<void>,
) {
  const samples: Sample[] = [];
  let issued = 0;
  let killed: Promise<void> | undefined;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (issued < requests) {
        issued++;
        if (kill && !killed && issued >= requests / 2) killed = kill();
        const projectId = `p-${Math.floor(Math.random() * projects)}`;
        const started = performance.now();
        const at = Date.now();
        const answer = await send(projectId).catch(() => ({ status: 0 }));
        samples.push({ ...answer, projectId, at, ms: performance.now() - started });
      }
    }),
  );
  await killed;
  return samples;
}

/** What the agents saw: (project, token) served by two nodes, and serves under a token already superseded. */
function atTheAgents(fleet: readonly Agent[]) {
  const serves = fleet.flatMap((agent) => agent.served.map((s) => ({ ...s, nodeId: agent.nodeId })));
  const nodesOf = new Map<string, Set<string>>();
  for (const s of serves) {
    const key = `${s.projectId}@${s.token}`;
    nodesOf.set(key, (nodesOf.get(key) ?? new Set()).add(s.nodeId));
  }
  const doubles = [...nodesOf.values()].filter((set) => set.size > 1).length;
  // A serve under token t after another node already served the project under a higher token.
  const byProject = new Map<string, typeof serves>();
  for (const s of serves) byProject.set(s.projectId, [...(byProject.get(s.projectId) ?? []), s]);
  let stale = 0;
  for (const list of byProject.values()) {
    list.sort((a, b) => a.at - b.at);
    let highest = { token: 0, nodeId: '' };
    for (const s of list) {
      if (s.token < highest.token && s.nodeId !== highest.nodeId) stale++;
      if (s.token > highest.token) highest = { token: s.token, nodeId: s.nodeId };
    }
  }
  return { serves: serves.length, doubles, stale };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'vfleet-bench-placement-'));
  const services: RunningService[] = [];
  let runtime: LocalRuntime | undefined;
  const fleets: LocalFleet[] = [];
  try {
    const [redis, postgres, dynamodb] = await Promise.all([
      startRedis({ dir: join(dir, 'redis') }),
      startPostgres({ dir: join(dir, 'postgres') }),
      startDynamoDb({ dir: join(dir, 'dynamodb') }),
    ]);
    services.push(redis, postgres, dynamodb);
    const issuer = await loadDevIssuer(join(dir, 'issuer'));
    runtime = await startLocalRuntime({
      root,
      issuer,
      tablePrefix: 'bench-placement',
      env: {
        NODE_HEARTBEAT_TIMEOUT: String(heartbeatTimeoutSeconds),
        PLACEMENT_FORWARD_TIMEOUT_MS: '8000',
        NODE_STALL_SECONDS: '30',
        TICKET_HOLD_SECONDS: '10',
        SECRET_STORE: `file:${join(dir, 'secrets.json')}`,
      },
      services: backingServices({ redis, postgres, dynamodb }),
    });
    const control = runtime.httpUrl;
    const viewer = await issuer.mint(['viewer'], { subject: 'bench' });
    const startFleet = async (prefix: string) => {
      const fleet = await startLocalFleet({
        count: agents,
        capacity: slots,
        prefix,
        controlUrl: control,
        tokenFor: (nodeId) => issuer.mint(['node'], { subject: nodeId }),
        dir: join(dir, prefix),
        heartbeatIntervalMs: 1_000,
      });
      fleets.push(fleet);
      // Every agent has heard from the control plane (it knows the signing key).
      await Promise.all(fleet.nodes.map(({ agent }) => agent.beat()));
      return fleet;
    };
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamodb.url }));
    const store: PlacementStore = {
      db,
      tables: {
        nodes: runtime.env[envNames.tableName('placement-nodes')] as string,
        projects: runtime.env[envNames.tableName('placement-projects')] as string,
        tickets: runtime.env[envNames.tableName('placement-tickets')] as string,
      },
    };

    // What DynamoDB Local itself serves on this machine: single-item reads from as many clients as the load.
    const probes = 4_000;
    let probed = 0;
    const probeStarted = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (probed++ < probes)
          await db.send(
            new GetCommand({ TableName: store.tables.nodes, Key: { nodeId: 'none' }, ConsistentRead: true }),
          );
      }),
    );
    const dynamoReadsPerSecond = probes / ((performance.now() - probeStarted) / 1000);

    // Guarded: the product's placement through the HTTP API.
    const guardedFleet = await startFleet('g-n');
    const tickets = new Map<string, string>();
    let killedAt = 0;
    let killedProjects: string[] = [];
    const victim = guardedFleet.nodes[2];
    const guarded = await load(
      async (projectId) => {
        const ticket = tickets.get(projectId);
        const response = await fetch(`${control}/api/v1/projects/${projectId}/compute`, {
          method: 'POST',
          headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' },
          body: JSON.stringify({ dsl: `append ${projectId}`, ...(ticket ? { ticket } : {}) }),
        });
        const body = (await response.json()) as { ticket?: string };
        if (response.status === 503 && body.ticket) tickets.set(projectId, body.ticket);
        if (response.status === 200) tickets.delete(projectId);
        return { status: response.status, nodeId: response.headers.get('x-vfleet-node') ?? undefined };
      },
      async () => {
        killedProjects = Object.keys(victim?.agent.holding() ?? {});
        killedAt = Date.now();
        await victim?.agent.stop();
        // The replacement joins when the dead node has expired (the group's own health check takes longer).
        const expired = async () =>
          ((await getNode(store, victim?.agent.nodeId ?? ''))?.lastHeartbeatAt ?? 0) <
          Date.now() - heartbeatTimeoutSeconds * 1000;
        while (!(await expired())) await sleep(250);
        await guardedFleet.add({ capacity: slots });
      },
    );
    // The same 503 path one request at a time (the pool is full): its cost without the queueing above.
    const serial: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      const response = await fetch(`${control}/api/v1/projects/serial-${i}/compute`, {
        method: 'POST',
        headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ dsl: 'append x' }),
      });
      await response.arrayBuffer();
      if (response.status === 503) serial.push(performance.now() - started);
    }
    const guardedNodes = await scanAll<NodeItem>(db, { TableName: store.tables.nodes });
    const placedAtEnd = guardedNodes
      .filter((n) => n.lastHeartbeatAt > Date.now() - heartbeatTimeoutSeconds * 1000)
      .reduce((sum, n) => sum + Object.keys(n.assignments ?? {}).length, 0);
    const maxServing = Math.max(...guardedNodes.map((n) => Object.keys(n.assignments ?? {}).length));
    const moves = killedProjects.map((projectId) => {
      const elsewhere = guardedFleet.nodes
        .filter((n) => n !== victim)
        .flatMap((n) => n.agent.served.filter((s) => s.projectId === projectId && s.at >= killedAt))
        .sort((a, b) => a.at - b.at)[0];
      return elsewhere ? (elsewhere.at - killedAt) / 1000 : undefined;
    });
    const guardedAgents = atTheAgents(guardedFleet.nodes.map((n) => n.agent));
    await guardedFleet.stop();

    // Naive: the seed's pattern without its lock, on fresh projects and agents.
    for (const n of guardedNodes) {
      // The guarded nodes are gone: age them out so the naive peer does not pick them.
      await db.send(
        new UpdateCommand({
          TableName: store.tables.nodes,
          Key: { nodeId: n.nodeId },
          UpdateExpression: 'SET lastHeartbeatAt = :zero',
          ExpressionAttributeValues: { ':zero': 0 },
        }),
      );
    }
    const naiveFleet = await startFleet('n-n');
    const key = await loadSigningKey(createFileSecretStore(join(dir, 'secrets.json')));
    const naive = await load(async (projectId) =>
      naiveCompute(store, key, `naive-${projectId}`, heartbeatTimeoutSeconds * 1000),
    );
    const naiveNodes = (await scanAll<NodeItem>(db, { TableName: store.tables.nodes })).filter((n) =>
      n.nodeId.startsWith('n-n'),
    );
    const overBooked = naiveNodes.filter((n) => Object.keys(n.assignments ?? {}).length > n.capacity).length;
    const naiveAgents = atTheAgents(naiveFleet.nodes.map((n) => n.agent));
    db.destroy();

    const summary = (samples: Sample[]) => {
      const of = (status: number) => samples.filter((s) => s.status === status);
      return {
        requests: samples.length,
        ok: of(200).length,
        unavailable: of(503).length,
        other: samples.filter((s) => s.status !== 200 && s.status !== 503).length,
        p50Ms: percentile(
          samples.map((s) => s.ms),
          50,
        ),
        p99Ms: percentile(
          samples.map((s) => s.ms),
          99,
        ),
        p99UnavailableMs: percentile(
          of(503).map((s) => s.ms),
          99,
        ),
        projectsServed: new Set(of(200).map((s) => s.projectId)).size,
        perSecond:
          samples.length /
          ((Math.max(...samples.map((s) => s.at + s.ms)) - Math.min(...samples.map((s) => s.at))) / 1000),
        statuses: Object.fromEntries(
          [...new Set(samples.map((s) => s.status))].map((status) => [status, of(status).length]),
        ),
      };
    };
    const raw = {
      requests,
      clients,
      projects,
      slots: agents * slots,
      heartbeatTimeoutSeconds,
      dynamoReadsPerSecond,
      guarded: {
        ...summary(guarded),
        ...guardedAgents,
        placedAtEnd,
        maxProjectsOnOneNode: maxServing,
        killedProjects: killedProjects.length,
        movedWithinSeconds: moves,
        serialUnavailable: {
          count: serial.length,
          p50Ms: percentile(serial, 50),
          p99Ms: percentile(serial, 99),
        },
      },
      naive: { ...summary(naive), ...naiveAgents, overBookedNodes: overBooked },
    };
    const fmt = (n: number) => n.toFixed(0);
    const worstMove = Math.max(...moves.map((m) => m ?? Number.POSITIVE_INFINITY));
    const rows = [
      ['double assignments seen at the agents (goal 0)', guardedAgents.doubles, naiveAgents.doubles],
      ['requests served under a superseded token (goal 0)', guardedAgents.stale, naiveAgents.stale],
      ['nodes holding more projects than slots', 0, overBooked],
      ['projects placed at the end / slots', `${placedAtEnd} / ${agents * slots}`, '–'],
      ['503 answers', raw.guarded.unavailable, raw.naive.unavailable],
      [
        '503 latency p99, ms (goal ≤ 250)',
        fmt(raw.guarded.p99UnavailableMs),
        fmt(raw.naive.p99UnavailableMs),
      ],
      [
        '503 latency one request at a time, p50 / p99, ms',
        `${fmt(raw.guarded.serialUnavailable.p50Ms)} / ${fmt(raw.guarded.serialUnavailable.p99Ms)}`,
        '–',
      ],
      [
        'all requests p50 / p99, ms',
        `${fmt(raw.guarded.p50Ms)} / ${fmt(raw.guarded.p99Ms)}`,
        `${fmt(raw.naive.p50Ms)} / ${fmt(raw.naive.p99Ms)}`,
      ],
      ['other answers (502/504/409 …)', raw.guarded.other, raw.naive.other],
      ['throughput, requests/s', fmt(raw.guarded.perSecond), fmt(raw.naive.perSecond)],
      ['DynamoDB Local alone: GetItem/s from the same number of clients', fmt(dynamoReadsPerSecond), '–'],
      [
        `killed agent's ${killedProjects.length} projects served elsewhere after (goal ≤ ${heartbeatTimeoutSeconds + 10} s)`,
        Number.isFinite(worstMove)
          ? `${worstMove.toFixed(1)} s (worst)`
          : `${moves.filter((m) => m !== undefined).length} of ${moves.length} moved`,
        '–',
      ],
    ];
    const table = [
      '| measure | guarded (transaction + token) | naive read-then-write |',
      '| --- | --- | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    console.log(table);
    await record(
      'placement',
      'Placement race (`npm run bench:placement`)',
      `${requests} requests from ${clients} concurrent clients for ${projects} projects on ${agents} agents × ${slots} slots; ` +
        `NODE_HEARTBEAT_TIMEOUT=${heartbeatTimeoutSeconds} s; one agent killed half-way, a replacement started once it expired.\n\n${table}`,
      raw,
      'Redis, PostgreSQL, DynamoDB Local, the local runtime, 21 agents with their reference compute services and the load generator',
    );
  } finally {
    await Promise.allSettled(fleets.map((f) => f.stop()));
    await runtime?.stop();
    await Promise.allSettled(services.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
