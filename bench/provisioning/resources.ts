// Benchmark — `npm run bench:resources`: a far vCenter (vcsim, 50 ms injected on every SOAP call) with one
// cluster of 2 hosts, ~200 port groups, 100 datastores, 50 pools and 2,000 VMs of which 300 are templates. In
// one run: a peer that walks the cluster one object at a time (as fog-vsphere and Ansible's info modules did
// before their fixes), vfleet's first load (live, inventory stale, every tier cleared before each of 20
// samples), its cached answer over HTTP, 500 concurrent users of one identity and of 50 identities (upstream
// calls counted at the simulator), and the stale answer with the simulator stopped. Prints a table, writes
// JSON under bench/results/ and docs/benchmarks.md; never asserts a time. Loopback only.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type MoRef, VsphereClient } from '../../shared/vsphere/index.ts';
import { percentile, record, startBenchEnv } from '../ops/harness.ts';

const samples = Number(process.env.BENCH_SAMPLES ?? 20);
const users = Number(process.env.BENCH_USERS ?? 500);
const identities = 50;
const delayMs = 50;
const ttlSeconds = 60;
const personal = Object.fromEntries(
  Array.from({ length: identities }, (_, i) => [`user${i}`, { password: `pw-${i}`, datacenters: ['DC0'] }]),
);

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const round = (n: number) => Math.round(n * 10) / 10;

/** The peer: one RetrievePropertiesEx per object, walking cluster → networks, datastores, pools, hosts → VMs. */
async function walkOneByOne(
  client: VsphereClient,
  cluster: MoRef,
): Promise<{ calls: number; templates: number }> {
  let calls = 0;
  const read = async (obj: MoRef, paths: string[]) => {
    calls++;
    return client.readProperties(obj, paths);
  };
  const cr = await read(cluster, ['network', 'datastore', 'resourcePool', 'host']);
  const list = (value: unknown) => (Array.isArray(value) ? (value as MoRef[]) : []);
  for (const network of list(cr.network)) await read(network, ['name']);
  for (const datastore of list(cr.datastore))
    await read(datastore, ['name', 'summary.capacity', 'summary.freeSpace', 'summary.type']);
  const pools = [cr.resourcePool as MoRef];
  while (pools.length > 0) {
    const pool = pools.pop() as MoRef;
    const props = await read(pool, ['name', 'resourcePool']);
    pools.push(...list(props.resourcePool));
  }
  let templates = 0;
  for (const host of list(cr.host)) {
    const { vm } = await read(host, ['vm']);
    for (const machine of list(vm)) {
      const props = await read(machine, ['name', 'config.template']);
      if (props['config.template'] === true) templates++;
    }
  }
  return { calls, templates };
}

async function main() {
  const env = await startBenchEnv({
    vcsim: {
      clusters: 1,
      hostsPerCluster: 2,
      standaloneHosts: 0,
      vms: 2_000,
      templates: 300,
      datastores: 100,
      portgroups: 199, // + the switch's uplink port group: 200 networks, and "VM Network"
      poolsPerCluster: 50,
      delays: { '*': delayMs },
      users: personal,
      readyTimeoutMs: 180_000,
    },
    env: {
      SECRET_STORE: `file:${join(process.env.TMPDIR ?? '/tmp', `vfleet-bench-resources-${process.pid}.json`)}`,
      // No in-process tier: clearing Redis and the blob store then clears every tier between first loads.
      PROVISIONING_L1_MB: '0',
      // Simulated users load far faster than people do: the per-principal buckets would measure themselves.
      RATE_LIMIT_DEFAULT: '60000/10000',
      ...Object.fromEntries(
        ['DATACENTERS', 'COMPUTE', 'POOLS', 'NETWORKS', 'DATASTORES', 'TEMPLATES'].map((k) => [
          `PROVISIONING_TTL_${k}`,
          String(ttlSeconds),
        ]),
      ),
    },
    prepareDb: async (url) => {
      const { migrate } = await import('../../shared/inventory/migrate.ts');
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      await migrate(pool, { vmPartitions: 4 });
      await pool.end();
    },
  });
  const base = env.runtime.httpUrl;
  console.log(`redis ${env.redisUrl}, sqs ${env.runtime.sqsEndpoint}, http ${base}, vcsim ${env.vcsim.url}`);
  const vc = env.vcenterId;
  const blobDir = env.runtime.env.BLOB_DIR as string;
  const redis = new Redis(env.redisUrl);
  const results: Record<string, unknown> = {};
  try {
    // The registry row (url and TLS for personal identities); never synced, so every answer is live.
    const db = new pg.Pool({ connectionString: env.postgresUrl, max: 1 });
    await db.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref, tls_insecure, next_sync_at)
       VALUES ($1, $1, $2, $3, 'bench', true, 'infinity')`,
      [vc, env.vcsim.url, env.vcsim.username],
    );
    await db.end();
    type Answer = {
      kinds: Record<string, { status: string; items: unknown[]; total?: number }>;
      cached: boolean;
    };
    const attempt = async (path: string, token = env.viewerToken) => {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as Answer };
    };
    const get = async (path: string, token = env.viewerToken) => {
      const { status, body } = await attempt(path, token);
      if (status !== 200) throw new Error(`${path}: ${status} ${JSON.stringify(body)}`);
      return body;
    };
    /** A crowd's answers: how many came back 200 with every kind `ok`, and every status seen. */
    const tally = (answers: { status: number; body: Answer }[]) => {
      const statuses: Record<string, number> = {};
      for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
      const complete = answers.filter(
        (a) => a.status === 200 && Object.values(a.body.kinds).every((k) => k.status === 'ok'),
      ).length;
      return { complete, statuses };
    };
    const clearTiers = async () => {
      await redis.flushdb();
      await rm(blobDir, { recursive: true, force: true });
    };
    const soapCalls = async () => (await env.vcsim.stats()).soap.calls;

    // The hierarchy, and the peer's walk (one sample: about 2,400 calls of ≥ 50 ms each).
    const dcs = await get(`/api/v1/vcenters/${vc}/datacenters`);
    const dc = (dcs.kinds.datacenters?.items[0] as { id: string } | undefined)?.id;
    if (!dc) throw new Error('the simulator has no datacenter');
    const compute = await get(`/api/v1/vcenters/${vc}/datacenters/${dc}/compute`);
    const cluster = (compute.kinds.compute?.items[0] as { id: string } | undefined)?.id;
    if (!cluster) throw new Error('the simulator has no cluster');
    const resourcesPath = `/api/v1/vcenters/${vc}/compute/${cluster}/resources?limit=50`;
    const peerClient = await VsphereClient.connect({
      url: env.vcsim.url,
      username: env.vcsim.username,
      password: env.vcsim.password,
      insecure: true,
      pooled: false,
    });
    console.log('peer: walking the cluster one object at a time…');
    let start = process.hrtime.bigint();
    const peer =
      process.env.BENCH_PEER === '0'
        ? { calls: 0, templates: 0 }
        : await walkOneByOne(peerClient, { type: 'ClusterComputeResource', value: cluster });
    const peerMs = ms(start);
    console.log(`peer: ${round(peerMs)} ms, ${peer.calls} calls`);
    await peerClient.close();
    results.peer = { ms: peerMs, ...peer };

    // vfleet's first load: every tier cleared before each sample.
    const first: number[] = [];
    const firstCalls: number[] = [];
    let complete = 0;
    let sizes: Record<string, number> = {};
    for (let i = 0; i < samples; i++) {
      await clearTiers();
      const before = await soapCalls();
      start = process.hrtime.bigint();
      const answer = await get(resourcesPath);
      first.push(ms(start));
      firstCalls.push((await soapCalls()) - before);
      if (Object.values(answer.kinds).every((k) => k.status === 'ok')) complete++;
      console.log(
        `first load ${i + 1}: ${round(first[i] ?? 0)} ms, ${firstCalls[i]} calls,`,
        Object.entries(answer.kinds)
          .map(([k, v]) => `${k} ${v.status}`)
          .join(', '),
      );
      sizes = Object.fromEntries(
        Object.entries(answer.kinds).map(([k, v]) => [k, v.total ?? v.items.length]),
      );
    }
    results.firstLoad = { ms: first, calls: firstCalls, complete, sizes };

    // Cached, over HTTP.
    await get(resourcesPath);
    const cached: number[] = [];
    for (let i = 0; i < 200; i++) {
      start = process.hrtime.bigint();
      const answer = await get(resourcesPath);
      cached.push(ms(start));
      if (!answer.cached) throw new Error('expected a cached answer');
    }
    results.cached = { ms: cached };

    // 500 users of one identity open the same form at once.
    await clearTiers();
    let before = await soapCalls();
    start = process.hrtime.bigint();
    const crowd = tally(await Promise.all(Array.from({ length: users }, () => attempt(resourcesPath))));
    const crowdMs = ms(start);
    const crowdCalls = (await soapCalls()) - before;
    results.crowdOneIdentity = { users, ms: crowdMs, upstreamCalls: crowdCalls, ...crowd };
    console.log('crowd, one identity:', results.crowdOneIdentity);

    // 500 users over 50 personal identities (each registered once, a login checked).
    const { loadDevIssuer } = await import('../../infra/local/dev-issuer.ts');
    const issuer = await loadDevIssuer(join(blobDir, '..', 'issuer'));
    const tokens: string[] = [];
    for (let i = 0; i < identities; i++) {
      const token = await issuer.mint(['viewer'], { subject: `bench-user-${i}` });
      const res = await fetch(`${base}/api/v1/vcenters/${vc}/credentials/me`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ username: `user${i}`, password: `pw-${i}` }),
      });
      if (res.status !== 200) throw new Error(`PUT credentials: ${res.status} ${await res.text()}`);
      tokens.push(token);
    }
    await clearTiers();
    before = await soapCalls();
    const byMethodBefore = (await env.vcsim.stats()).soap.byMethod;
    start = process.hrtime.bigint();
    const spread = tally(
      await Promise.all(
        Array.from({ length: users }, (_, i) => attempt(resourcesPath, tokens[i % identities])),
      ),
    );
    const spreadMs = ms(start);
    const spreadStats = await env.vcsim.stats();
    const spreadCalls = spreadStats.soap.calls - before;
    const logins = (spreadStats.soap.byMethod.Login ?? 0) - (byMethodBefore.Login ?? 0);
    results.crowdManyIdentities = {
      users,
      identities,
      ms: spreadMs,
      upstreamCalls: spreadCalls,
      logins,
      ...spread,
    };
    console.log('crowd, many identities:', results.crowdManyIdentities);

    // Stale: the simulator stopped, the cached value past its TTL (only the blob store holds it).
    await get(resourcesPath);
    await env.vcsim.stop();
    await new Promise((r) => setTimeout(r, (ttlSeconds + 1) * 1000));
    const stale: number[] = [];
    let flagged = 0;
    for (let i = 0; i < 50; i++) {
      start = process.hrtime.bigint();
      const answer = await get(resourcesPath);
      stale.push(ms(start));
      if ((answer as unknown as { stale: boolean }).stale) flagged++;
    }
    results.stale = { ms: stale, flagged };

    const oneUserCalls = Math.max(...firstCalls);
    const rows = [
      ['peer: one object at a time (1 run)', `${round(peerMs)}`, '', `${peer.calls} calls`, 'the seed: 35 s'],
      [
        `first load, live, tiers cleared (${samples} runs)`,
        `${round(percentile(first, 50))}`,
        `${round(percentile(first, 95))}`,
        `${oneUserCalls} calls; ${complete}/${samples} complete`,
        'p95 ≤ 2,000 ms',
      ],
      [
        'cached, over HTTP (200 runs)',
        `${round(percentile(cached, 50))}`,
        `${round(percentile(cached, 95))}`,
        'Redis (no in-process tier)',
        'p95 ≤ 20 ms',
      ],
      [
        'stale, vcsim stopped (50 runs)',
        `${round(percentile(stale, 50))}`,
        `${round(percentile(stale, 95))}`,
        `${flagged}/50 flagged stale`,
        'p95 ≤ 50 ms',
      ],
      [
        `${users} users, 1 identity`,
        `${round(crowdMs)} (all)`,
        '',
        `${crowdCalls} upstream calls; ${crowd.complete}/${users} complete; HTTP ${JSON.stringify(crowd.statuses)}`,
        `= one user's (${oneUserCalls})`,
      ],
      [
        `${users} users, ${identities} identities`,
        `${round(spreadMs)} (all)`,
        '',
        `${spreadCalls} upstream calls (${logins} logins); ${spread.complete}/${users} complete; HTTP ${JSON.stringify(spread.statuses)}`,
        `≈ ${identities} × one user's + logins`,
      ],
    ];
    const table = [
      '| measurement | p50 ms | p95 ms | upstream / notes | goal |',
      '| --- | ---: | ---: | --- | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    console.log(table);
    const body = `${table}

The cluster's answer: ${Object.entries(sizes)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ')} (templates cut to 50 of their total). vcsim injects ${delayMs} ms on every SOAP call; the
first load is 4 kinds in parallel, each one PropertyCollector retrieval (a view: create, retrieve, destroy; or a
traversal), plus the compute index and the port groups' switches. The crowd runs clear every tier first; their
upstream calls are counted at the simulator (\`/_fixture/stats\`).`;
    await record('resources', 'Provisioning resources (`npm run bench:resources`)', body, results);
  } finally {
    redis.disconnect();
    await env.stop();
  }
}

await main();
