// Node agent — the entry `node agent.mjs` runs on a compute node (bundled by `npm run build:agent` into one
// file). Settings come from the environment: AGENT_NODE_ID, AGENT_CONTROL_URL, AGENT_COMPUTE_URL (the user's
// engine), AGENT_CAPACITY (slots, default 1), AGENT_PORT (default 7070), AGENT_ADVERTISED_URL,
// AGENT_INSTANCE_ID, AGENT_HEARTBEAT_MS; AGENT_TOKEN_FILE holds a `node` token (locally). Without a token
// file, heartbeats and reports are signed with the instance role (SigV4, for the IAM-authorized routes in AWS).
// The dashboard side: AGENT_SERVICES_FILE (JSON: name → {command, args?, env?, cwd?, autostart?} or
// {systemd: unit, control?}), AGENT_MOUNTS (comma-separated, default /), AGENT_STATE_DIR (the log sequence
// file, default the working directory), AGENT_REPORT_MIN_SECONDS / AGENT_REPORT_MAX_SECONDS (30-300), and
// AGENT_WS_URL for the control connection (with the token file's token, or else a one-time connect ticket the
// agent asks for on its node routes, signed like its reports).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startAgent } from './agent.ts';
import { sigv4Authenticator } from './sigv4.ts';
import { type ServicesConfig, servicesConfigSchema } from './supervisor.ts';

function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is required but not set`);
  return value;
}

const tokenFile = process.env.AGENT_TOKEN_FILE;
const readToken = async () => (await readFile(tokenFile!, 'utf8')).trim();

/** The services file, checked at start: a bad file fails naming the variable and the field. */
async function services(): Promise<ServicesConfig> {
  const file = process.env.AGENT_SERVICES_FILE;
  if (!file) return {};
  const parsed = servicesConfigSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`AGENT_SERVICES_FILE ${file} is not a services configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

const optionalNumber = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
const wsUrl = process.env.AGENT_WS_URL;
const agent = await startAgent({
  nodeId: setting('AGENT_NODE_ID'),
  controlUrl: setting('AGENT_CONTROL_URL'),
  computeUrl: setting('AGENT_COMPUTE_URL'),
  capacity: Number(setting('AGENT_CAPACITY', '1')),
  host: setting('AGENT_HOST', '0.0.0.0'),
  port: Number(setting('AGENT_PORT', '7070')),
  advertisedUrl: process.env.AGENT_ADVERTISED_URL,
  instanceId: process.env.AGENT_INSTANCE_ID,
  heartbeatIntervalMs: Number(setting('AGENT_HEARTBEAT_MS', '10000')),
  authenticate: tokenFile
    ? async () => ({ authorization: `Bearer ${await readToken()}` })
    : sigv4Authenticator(setting('AWS_REGION')),
  dashboard: {
    services: await services(),
    mounts: (process.env.AGENT_MOUNTS ?? '/').split(',').filter(Boolean),
    seqFile: join(resolve(process.env.AGENT_STATE_DIR ?? '.'), 'logs.seq'),
    reporter: {
      minIntervalSeconds: optionalNumber('AGENT_REPORT_MIN_SECONDS'),
      maxIntervalSeconds: optionalNumber('AGENT_REPORT_MAX_SECONDS'),
    },
    ...(wsUrl ? { wsUrl, ...(tokenFile ? { token: readToken } : {}) } : {}),
  },
});
console.log(`agent ${agent.nodeId} serving on ${agent.url}`);
const stop = () => void agent.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
