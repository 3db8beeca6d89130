// Local runtime — `npm run dev`: starts the project's own Redis, PostgreSQL, DynamoDB Local and a small
// vcsim, then the local cloud built from the topology; prints URLs and a token; Ctrl-C stops everything.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { demoServices, type LocalFleet, startLocalFleet } from '../../agent/fleet.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { loadOpsSettings } from '../../shared/ops/settings.ts';
import { buildDashboard } from './dashboard.ts';
import { loadDevIssuer } from './dev-issuer.ts';
import { backingServices, startLocalRuntime } from './runtime.ts';
import { startDynamoDb, startPostgres, startRedis, startVcsim } from './services/index.ts';
import type { RunningService } from './services/types.ts';
import type { VcsimService } from './services/vcsim.ts';

const root = resolve(import.meta.dirname, '../..');
// VFLEET_STATE_DIR lets the end-to-end test run a second instance without touching the developer's state.
const stateDir = resolve(process.env.VFLEET_STATE_DIR ?? join(root, '.vfleet'));

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new Error(`${name} must be a TCP port number, got "${process.env[name]}"`);
  }
  return value;
}

const localVcenterId = 'vcsim-local';

async function registerVcsim(httpUrl: string, token: string, vcsim: VcsimService): Promise<void> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const registered = await fetch(`${httpUrl}/api/v1/vcenters`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      id: localVcenterId,
      name: 'vcsim (local simulator)',
      url: vcsim.url,
      username: vcsim.username,
      password: vcsim.password,
      // The simulator's certificate is self-signed; a real vCenter gets `ca` instead.
      insecure: true,
      syncMode: 'streaming',
    }),
  });
  // Registration enqueues the first full sync itself.
  if (registered.status !== 201)
    throw new Error(`registering vcsim answered ${registered.status}: ${await registered.text()}`);
}

/** `SYNC_DISPATCH_SECONDS` runs the sync dispatcher at another period than the deployed minute. */
function scheduleOverrides(): Record<string, { everySeconds: number }> {
  const raw = process.env.SYNC_DISPATCH_SECONDS;
  if (raw === undefined) return {};
  const everySeconds = Number(raw);
  if (!Number.isInteger(everySeconds) || everySeconds < 1 || everySeconds > 3_600) {
    throw new Error(`SYNC_DISPATCH_SECONDS must be a whole number of seconds in 1..3600, got "${raw}"`);
  }
  return { 'sync-dispatcher': { everySeconds } };
}

async function main() {
  const started = performance.now();
  const httpPort = port('PORT', 3000);
  const wsPort = port('WS_PORT', 3001);
  // Refused before anything starts, naming the variable (ESXI_MAX_CONCURRENT=abc, THUMBNAIL_CACHE_TTL=0 …).
  loadOpsSettings();
  const servicesDir = join(stateDir, 'services');
  await rm(servicesDir, { recursive: true, force: true });
  await mkdir(servicesDir, { recursive: true });

  const running: RunningService[] = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    try {
      await fleet?.stop();
      await runtime?.stop();
    } catch (error) {
      console.error('stopping the runtime failed:', error);
    }
    await Promise.allSettled(running.map((service) => service.stop()));
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0)); // shutdown never rejects: it catches and exits
  process.on('SIGTERM', () => void shutdown(0));

  let runtime: Awaited<ReturnType<typeof startLocalRuntime>> | undefined;
  let fleet: LocalFleet | undefined;
  try {
    console.log('starting Redis, PostgreSQL, DynamoDB Local and vcsim…');
    const track = <T extends RunningService>(service: T) => {
      running.push(service);
      return service;
    };
    const [redis, postgres, dynamodb, vcsim] = await Promise.all([
      startRedis({ dir: join(servicesDir, 'redis') }).then(track),
      startPostgres({ dir: join(servicesDir, 'postgres') }).then(track),
      startDynamoDb({ dir: join(servicesDir, 'dynamodb') }).then(track),
      startVcsim({ vms: 64 }).then(track),
    ]);
    // The inventory schema, as the deploy-time migrate function applies it in AWS.
    await migrate({ connectionString: postgres.url });
    const issuer = await loadDevIssuer(stateDir);
    // The dashboard's production build (about a second), so /dashboard serves what the code says now.
    await buildDashboard(root);
    runtime = await startLocalRuntime({
      root,
      issuer,
      // vCenter passwords registered through the API: a 0600 file beside the dev state (Secrets Manager in AWS).
      env: { SECRET_STORE: `file:${join(stateDir, 'secrets', 'vcenters.json')}` },
      httpPort,
      wsPort,
      scheduleOverrides: scheduleOverrides(),
      services: backingServices({ redis, postgres, dynamodb }),
    });
    const token = await issuer.mint(['admin']);
    await writeFile(join(stateDir, 'dev-token'), `${token}\n`, { mode: 0o600 });
    // The simulated vCenter is registered through the API, as an operator would, so the inventory fills at once.
    await registerVcsim(runtime.httpUrl, token, vcsim);
    // Three compute nodes (agent + reference compute service each), so placement works out of the box; each
    // agent also reports to the dashboard and supervises two demo services operators can act on.
    const control = runtime.httpUrl;
    fleet = await startLocalFleet({
      count: 3,
      controlUrl: control,
      wsUrl: runtime.wsUrl,
      services: demoServices,
      tokenFor: (nodeId) => issuer.mint(['node'], { subject: nodeId }),
      dir: join(stateDir, 'nodes'),
      heartbeatIntervalMs: 5_000,
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`
vfleet is running locally (ready in ${seconds} s)

  Dashboard   ${runtime.httpUrl}/dashboard  (log in through the dev issuer: pick a user and a role)
  HTTP API    ${runtime.httpUrl}        try: curl ${runtime.httpUrl}/health
  WebSocket   ${runtime.wsUrl}/?token=<token>
  SQS (FIFO)  ${runtime.sqsEndpoint}
  vcsim       ${vcsim.url}  (user ${vcsim.username}), registered as vCenter ${localVcenterId}
              try: curl -H "authorization: Bearer $(cat ${join(stateDir, 'dev-token')})" ${runtime.httpUrl}/api/v1/vms
  Redis       ${redis.url}
  PostgreSQL  postgres://${postgres.user}@${postgres.host}:${postgres.port}/${postgres.database}
  DynamoDB    ${dynamodb.url}
  nodes       ${fleet.nodes.map((n) => `${n.agent.nodeId} ${n.agent.url}`).join(', ')}
              try: curl -H "authorization: Bearer $(cat ${join(stateDir, 'dev-token')})" -H 'content-type: application/json' \
                     -d '{"dsl":"append hello"}' ${runtime.httpUrl}/api/v1/projects/demo/compute

  admin token (also in ${join(stateDir, 'dev-token')}; another role: npm run token -- --role viewer):
  ${token}

Ctrl-C stops everything.`);
  } catch (error) {
    console.error('vfleet failed to start:', error instanceof Error ? error.message : error);
    await shutdown(1);
  }
}

await main();
