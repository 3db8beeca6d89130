// Node agent — the entry `node agent.mjs` runs on a compute node (bundled by `npm run build:agent` into one
// file). Settings come from the environment: AGENT_NODE_ID, AGENT_CONTROL_URL, AGENT_COMPUTE_URL (the user's
// engine), AGENT_CAPACITY (slots, default 1), AGENT_PORT (default 7070), AGENT_ADVERTISED_URL,
// AGENT_INSTANCE_ID, AGENT_HEARTBEAT_MS; AGENT_TOKEN_FILE holds a `node` token (locally). Without a token
// file, heartbeats are signed with the instance role (SigV4, for the IAM-authorized routes in AWS).
import { readFile } from 'node:fs/promises';
import { startAgent } from './agent.ts';
import { sigv4Authenticator } from './sigv4.ts';

function setting(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`${name} is required but not set`);
  return value;
}

const tokenFile = process.env.AGENT_TOKEN_FILE;
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
    ? async () => ({ authorization: `Bearer ${(await readFile(tokenFile, 'utf8')).trim()}` })
    : sigv4Authenticator(setting('AWS_REGION')),
});
console.log(`agent ${agent.nodeId} serving on ${agent.url}`);
const stop = () => void agent.stop().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
