// End-to-end tests — `npm run dev` as a developer runs it: everything up and GET /health all green within
// 90 s, the printed token accepted, `npm run token` minting a working token, Ctrl-C leaving nothing behind.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/local/services/free-port.ts';

const root = resolve(import.meta.dirname, '../..');
const tsx = join(root, 'node_modules/.bin/tsx');
let dev: ChildProcess;
let output = '';
let stateDir: string;
let httpPort: number;
let wsPort: number;
let startedAt: number;

const portOpen = (port: number) =>
  new Promise<boolean>((resolveProbe) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => resolveProbe(!socket.destroy()));
    socket.once('error', () => resolveProbe(false));
  });

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-dev-'));
  [httpPort, wsPort] = [await freePort(), await freePort()];
  startedAt = Date.now();
  dev = spawn(tsx, ['infra/local/dev.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(httpPort), WS_PORT: String(wsPort), VFLEET_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  dev.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  dev.stderr?.on('data', (chunk) => {
    output += chunk;
  });
});

afterAll(() => {
  if (dev.exitCode === null) dev.kill('SIGKILL');
});

describe('npm run dev', () => {
  it('answers GET /health with every dependency up within 90 s', { timeout: 100_000 }, async () => {
    let body: { status?: string; dependencies?: Record<string, { status: string }> } = {};
    while (Date.now() - startedAt < 90_000 && body.status !== 'ok') {
      body = await fetch(`http://127.0.0.1:${httpPort}/health`)
        .then((response) => response.json() as Promise<typeof body>)
        .catch(() => ({}));
      if (body.status !== 'ok') await new Promise((r) => setTimeout(r, 250));
    }
    expect(body.status, output).toBe('ok');
    // Each dependency is named only to an operator (the dev token is an admin's).
    let token = '';
    while (!token && Date.now() - startedAt < 90_000) {
      token = (await readFile(join(stateDir, 'dev-token'), 'utf8').catch(() => '')).trim();
      if (!token) await new Promise((r) => setTimeout(r, 100));
    }
    body = (await fetch(`http://127.0.0.1:${httpPort}/api/v1/health/details`, {
      headers: { authorization: `Bearer ${token}` },
    }).then((response) => response.json())) as typeof body;
    expect(Object.values(body.dependencies ?? {}).map((dependency) => dependency.status)).toEqual([
      'up',
      'up',
      'up',
    ]);
    // The banner follows once the simulated vCenter is registered.
    while (Date.now() - startedAt < 90_000 && !output.includes('Ctrl-C stops everything')) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(output).toContain(`http://127.0.0.1:${httpPort}`);
    expect(output).toContain(`ws://127.0.0.1:${wsPort}`);
  });

  it('writes a working admin token to dev-token and mints others with npm run token', async () => {
    const deadline = Date.now() + 10_000;
    let token = '';
    while (!token && Date.now() < deadline) {
      token = (await readFile(join(stateDir, 'dev-token'), 'utf8').catch(() => '')).trim();
      if (!token) await new Promise((r) => setTimeout(r, 100));
    }
    const me = await fetch(`http://127.0.0.1:${httpPort}/api/v1/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await me.json()).toMatchObject({ roles: ['admin'] });

    const { stdout } = await promisify(execFile)(tsx, ['infra/local/token-cli.ts', '--role', 'node'], {
      cwd: root,
      env: { ...process.env, VFLEET_STATE_DIR: stateDir },
    });
    const forbidden = await fetch(`http://127.0.0.1:${httpPort}/api/v1/me`, {
      headers: { authorization: `Bearer ${stdout.trim()}` },
    });
    expect(forbidden.status).toBe(403);
  });

  it('registers the simulated vCenter and syncs its VMs into the inventory', {
    timeout: 60_000,
  }, async () => {
    const token = (await readFile(join(stateDir, 'dev-token'), 'utf8')).trim();
    const headers = { authorization: `Bearer ${token}` };
    let summary: { totals?: { vms?: number } } = {};
    const deadline = Date.now() + 45_000;
    while (Date.now() < deadline && !summary.totals?.vms) {
      summary = await fetch(`http://127.0.0.1:${httpPort}/api/v1/stats/summary`, { headers })
        .then((response) => response.json() as Promise<typeof summary>)
        .catch(() => ({}));
      if (!summary.totals?.vms) await new Promise((r) => setTimeout(r, 500));
    }
    expect(summary.totals?.vms, JSON.stringify(summary)).toBe(64);
    const vcenter = await fetch(`http://127.0.0.1:${httpPort}/api/v1/vcenters/vcsim-local`, { headers });
    expect(vcenter.status).toBe(200);
    expect(JSON.stringify(await vcenter.json())).not.toContain('"password"');
  });

  it('starts three compute nodes and places a project on one of them', { timeout: 30_000 }, async () => {
    const token = (await readFile(join(stateDir, 'dev-token'), 'utf8')).trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const listed = (await (await fetch(`http://127.0.0.1:${httpPort}/api/v1/nodes`, { headers })).json()) as {
      items: { id: string; state: string }[];
    };
    expect(listed.items.map((node) => node.state)).toEqual(['ready', 'ready', 'ready']);
    const computed = await fetch(`http://127.0.0.1:${httpPort}/api/v1/projects/demo/compute`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ dsl: 'append hello' }),
    });
    expect(computed.status).toBe(200);
    expect(await computed.json()).toMatchObject({ project: 'demo', requests: 1 });
    expect(listed.items.map((node) => node.id)).toContain(computed.headers.get('x-vfleet-node'));
  });

  it('stops everything on Ctrl-C', { timeout: 60_000 }, async () => {
    const servicePorts = [
      ...output.matchAll(
        /(?:redis|postgres):\/\/[^\s]*?127\.0\.0\.1:(\d+)|http:\/\/127\.0\.0\.1:(\d+)|https:\/\/127\.0\.0\.1:(\d+)\/sdk/g,
      ),
    ]
      .map((match) => Number(match[1] ?? match[2] ?? match[3]))
      .filter((port) => port !== httpPort);
    expect(servicePorts.length).toBeGreaterThanOrEqual(5);
    const exited = new Promise<number | null>((settle) => dev.once('exit', (code) => settle(code)));
    dev.kill('SIGINT');
    expect(await exited).toBe(0);
    // Watchdogs and process groups may take a moment after the parent exits.
    const deadline = Date.now() + 20_000;
    let open = [httpPort, wsPort, ...servicePorts];
    while (open.length && Date.now() < deadline) {
      open = (await Promise.all(open.map(async (port) => ((await portOpen(port)) ? port : 0)))).filter(
        Boolean,
      );
      if (open.length) await new Promise((r) => setTimeout(r, 250));
    }
    expect(open).toEqual([]);
  });
});
