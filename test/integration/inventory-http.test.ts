// Integration tests — the inventory API over HTTP through the local runtime (API Gateway emulation, JWT
// authorizer, in-process handlers) against its own database on the test PostgreSQL.
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import { upsertVms } from '../../shared/inventory/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';

describe('inventory API over HTTP', () => {
  // Its own database: the handlers read PG_* from the environment, which has no search_path option.
  let db: TestDatabase;
  let runtime: LocalRuntime;
  let viewer: string;
  let stateDir: string;

  beforeAll(async () => {
    db = await freshDatabase('inv_http');
    const pool = new pg.Pool({ ...db.postgres, max: 2 });
    await migrate(pool, { vmPartitions: 2 });
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref) VALUES ('vc-h', 'h', 'https://h', 'u', 'r')`,
    );
    await upsertVms(pool, 'vc-h', [
      { moid: 'vm-1', name: 'web-01', powerState: 'poweredOn' },
      { moid: 'vm-2', name: 'web-02', powerState: 'poweredOff' },
    ]);
    await pool.end();

    stateDir = await mkdtemp(join(tmpdir(), 'vfleet-inv-http-'));
    const issuer = await loadTestIssuer(stateDir);
    viewer = await issuer.mint(['viewer']);
    runtime = await startLocalRuntime({
      root: resolve(import.meta.dirname, '../..'),
      issuer,
      services: db.services,
      tablePrefix: db.name,
    });
  });

  afterAll(async () => {
    await runtime?.stop();
    await db?.dispose();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const get = (path: string, token?: string) =>
    fetch(`${runtime.httpUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers a viewer with VMs, first from the database, then from the cache', async () => {
    const first = await get('/api/v1/vms?vcenter=vc-h', viewer);
    const second = await get('/api/v1/vms?vcenter=vc-h', viewer);
    const body = (await first.json()) as {
      items: { id: string }[];
      cached: boolean;
      nextCursor: string | null;
    };

    expect(first.status).toBe(200);
    expect(body.items.map((vm) => vm.id)).toEqual(['vc-h:vm-1', 'vc-h:vm-2']);
    expect(body).toMatchObject({ cached: false, nextCursor: null });
    expect(((await second.json()) as { cached: boolean }).cached).toBe(true);
  });

  it('refuses a request without a token', async () => {
    const response = await get('/api/v1/vms');

    expect(response.status).toBe(401);
  });

  it('answers 400 naming the field, and 404 for an unknown VM', async () => {
    const bad = await get('/api/v1/vms?q=ab', viewer);
    const missing = await get('/api/v1/vms/vc-h:vm-404', viewer);

    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { fields: Record<string, string> }).fields.q).toMatch(/3 characters/);
    expect(missing.status).toBe(404);
  });

  it('serves one VM and the summary', async () => {
    const vm = await get('/api/v1/vms/vc-h:vm-2', viewer);
    const summary = await get('/api/v1/stats/summary', viewer);

    expect(await vm.json()).toMatchObject({ vm: { name: 'web-02', powerState: 'poweredOff' } });
    expect(await summary.json()).toMatchObject({
      totals: { vms: 2, powerState: { poweredOn: 1, poweredOff: 1 } },
    });
  });

  it('pages with a signed cursor and answers 400 for one whose sort key was edited', async () => {
    const first = (await (await get('/api/v1/vms?vcenter=vc-h&limit=1', viewer)).json()) as {
      items: { name: string }[];
      nextCursor: string;
    };
    const next = await get(`/api/v1/vms?vcenter=vc-h&limit=1&cursor=${first.nextCursor}`, viewer);
    expect(((await next.json()) as { items: { name: string }[] }).items.map((vm) => vm.name)).toEqual([
      'web-02',
    ]);

    // The same cursor with its position moved back to the start, signature kept: refused, not served.
    const [payload, mac] = first.nextCursor.split('.') as [string, string];
    const json = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { k: string[] };
    json.k = ['', 'vc-h', 'vm-0'];
    const edited = `${Buffer.from(JSON.stringify(json)).toString('base64url')}.${mac}`;
    const refused = await get(`/api/v1/vms?vcenter=vc-h&limit=1&cursor=${edited}`, viewer);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: 'bad_request',
      fields: { cursor: expect.any(String) },
    });
  });

  it('sends a large answer gzipped to a client that accepts gzip, and plain to one that does not', async () => {
    // node:http, so the test decides the accept-encoding header and sees the bytes as sent.
    const raw = (acceptEncoding?: string) =>
      new Promise<{ headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const request = httpGet(
          `${runtime.httpUrl}/api/v1/openapi.json`,
          { headers: acceptEncoding ? { 'accept-encoding': acceptEncoding } : {} },
          (response) => {
            const chunks: Buffer[] = [];
            response.on('data', (chunk: Buffer) => chunks.push(chunk));
            response.on('end', () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
          },
        );
        request.on('error', reject);
      });
    const [gzipped, plain] = await Promise.all([raw('gzip, deflate'), raw()]);

    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toBe('accept-encoding');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(gunzipSync(gzipped.body).toString('utf8')).toBe(plain.body.toString('utf8'));
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 3);
  });
});
