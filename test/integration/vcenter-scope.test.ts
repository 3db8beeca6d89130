// Integration tests — vCenter scoping per role or group claim (VCENTER_SCOPES) and the console audit trail (issued,
// failed and denied attempts), over the local runtime with real PostgreSQL, Redis, DynamoDB Local and vcsim. One
// simulator is registered twice, as `vc-a-1` and `vc-b-1` (two URLs of one endpoint), so both vCenters hold the
// same moids: a caller scoped to `vc-a-*` must neither see nor act on `vc-b-1`'s objects on any route, lists
// included, cache or not.
import { randomBytes } from 'node:crypto';
import { Metrics, type MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
type Json = Record<string, any>;

const a = 'vc-a-1';
const b = 'vc-b-1';
const password = `S3cret-${randomBytes(6).toString('hex')}`;
const scopes = {
  'team-a': ['vc-a-*'],
  'fleet-ops': ['*'],
};

let test: TestRuntime;
let vcsim: VcsimService;
const tokens: Record<
  'adminAll' | 'adminA' | 'viewerA' | 'operatorA' | 'operatorFlood' | 'viewerNone' | 'viewerAll',
  string
> = {
  operatorFlood: '',
  adminAll: '',
  adminA: '',
  viewerA: '',
  operatorA: '',
  viewerNone: '',
  viewerAll: '',
};
let vmMoid: string;

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${test.runtime.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = text ? (JSON.parse(text) as Json) : {};
  } catch {
    // a PNG
  }
  return { status: res.status, json };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 90_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every metric the functions emit in this process (the runtime runs them here). */
const emitted: { name: string; value: number }[] = [];

beforeAll(async () => {
  const addMetric = Metrics.prototype.addMetric;
  vi.spyOn(Metrics.prototype, 'addMetric').mockImplementation(function (
    this: Metrics,
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
  ) {
    emitted.push({ name, value });
    return addMetric.call(this, name, unit, value);
  });
  vcsim = await startTestVcsim({ vms: 6, password });
  test = await startTestRuntime('vc_scope', {
    // A small console allowance (1 a minute, burst 3), so one caller can be pushed over it.
    env: { VCENTER_SCOPES: JSON.stringify(scopes), RATE_LIMIT_CONSOLE: '1/3' },
  });
  const mint = (roles: ('viewer' | 'operator' | 'admin')[], subject: string, groups?: string[]) =>
    test.issuer.mint(roles, { subject, ...(groups ? { claims: { groups } } : {}) });
  tokens.adminAll = await mint(['admin'], 'admin-all', ['fleet-ops']);
  tokens.adminA = await mint(['admin'], 'admin-a', ['team-a']);
  tokens.viewerA = await mint(['viewer'], 'viewer-a', ['team-a']);
  tokens.operatorA = await mint(['operator'], 'operator-a', ['team-a', 'unmapped']);
  tokens.operatorFlood = await mint(['operator'], 'operator-flood', ['team-a']);
  tokens.viewerNone = await mint(['viewer'], 'viewer-none');
  tokens.viewerAll = await mint(['viewer'], 'viewer-all', ['fleet-ops']);
  const port = new URL(vcsim.url).port;
  // Two registrations of one simulator: the same moids under two vCenter ids.
  for (const [id, host] of [
    [a, '127.0.0.1'],
    [b, 'localhost'],
  ] as const) {
    const created = await call('POST', '/api/v1/vcenters', tokens.adminAll, {
      id,
      url: `https://${host}:${port}/sdk`,
      username: vcsim.username,
      password,
      insecure: true,
      syncIntervalSeconds: 86_400,
    });
    expect(created.status).toBe(201);
  }
  for (const id of [a, b]) {
    await until(`the first sync of ${id}`, async () => {
      const { json } = await call('GET', `/api/v1/vcenters/${id}`, tokens.adminAll);
      return json.vcenter?.sync?.lastFullSyncAt ? true : undefined;
    });
  }
  const { json } = await call('GET', `/api/v1/vms?vcenter=${a}&limit=1`, tokens.adminAll);
  vmMoid = json.items[0].moid;
}, 180_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await test?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
});

const vcentersOf = (items: Json[]) => [...new Set(items.map((item) => item.vcenterId as string))].sort();

describe('vCenter scope on every route that reads or acts on a vCenter', () => {
  it('filters every list, and a caller with every vCenter sees both', async () => {
    for (const path of ['/api/v1/vms', '/api/v1/hosts', '/api/v1/datastores', '/api/v1/clusters']) {
      const all = await call('GET', path, tokens.adminAll);
      expect(all.status, path).toBe(200);
      expect(vcentersOf(all.json.items), path).toEqual([a, b]);
      // Asked second, the same query string: the first caller's cached answer must not be served.
      const scoped = await call('GET', path, tokens.viewerA);
      expect(scoped.status, path).toBe(200);
      expect(vcentersOf(scoped.json.items), path).toEqual([a]);
      // And the other way round: a restricted answer cached first is not served to the unrestricted caller.
      const again = await call('GET', `${path}?limit=999`, tokens.viewerA);
      expect(vcentersOf(again.json.items)).toEqual([a]);
      expect(vcentersOf((await call('GET', `${path}?limit=999`, tokens.viewerAll)).json.items)).toEqual([
        a,
        b,
      ]);
      // Naming the other vCenter finds nothing; a caller no entry names sees no vCenter at all.
      expect((await call('GET', `${path}?vcenter=${b}`, tokens.viewerA)).json.items).toEqual([]);
      expect((await call('GET', path, tokens.viewerNone)).json.items).toEqual([]);
    }
  });

  it('does not continue another scope’s cursor', async () => {
    const first = await call('GET', '/api/v1/vms?limit=2', tokens.adminAll);
    expect(first.json.nextCursor).toEqual(expect.any(String));
    const crossed = await call('GET', `/api/v1/vms?limit=2&cursor=${first.json.nextCursor}`, tokens.viewerA);
    expect(crossed.status).toBe(400);
    expect(crossed.json.fields).toHaveProperty('cursor');
  });

  it('counts only the vCenters in scope in the summary', async () => {
    const all = await call('GET', '/api/v1/stats/summary', tokens.adminAll);
    const scoped = await call('GET', '/api/v1/stats/summary', tokens.viewerA);
    expect(all.json.vcenters.map((v: Json) => v.id)).toEqual([a, b]);
    expect(scoped.json.vcenters.map((v: Json) => v.id)).toEqual([a]);
    expect(scoped.json.totals.vms).toBe(all.json.vcenters[0].vms);
    expect((await call('GET', `/api/v1/stats/summary?vcenter=${b}`, tokens.viewerA)).json.vcenters).toEqual(
      [],
    );
  });

  it('answers 404 for one VM or vCenter outside the scope, as for one that does not exist', async () => {
    expect((await call('GET', `/api/v1/vms/${a}:${vmMoid}`, tokens.viewerA)).status).toBe(200);
    const hidden = await call('GET', `/api/v1/vms/${b}:${vmMoid}`, tokens.viewerA);
    expect(hidden.status).toBe(404);
    expect(hidden.json.error).toBe('not_found');
    expect((await call('GET', `/api/v1/vms/${b}:${vmMoid}`, tokens.adminAll)).status).toBe(200);

    const vcenters = await call('GET', '/api/v1/vcenters', tokens.viewerA);
    expect(vcenters.json.items.map((v: Json) => v.id)).toEqual([a]);
    expect((await call('GET', `/api/v1/vcenters/${a}`, tokens.viewerA)).status).toBe(200);
    expect((await call('GET', `/api/v1/vcenters/${b}`, tokens.viewerA)).status).toBe(404);
    expect((await call('GET', `/api/v1/vcenters/${a}`, tokens.viewerNone)).status).toBe(404);
  });

  it("scopes the queue statistics: a scoped caller's figures count only its own vCenters' calls", async () => {
    const stats = async (token: string) => {
      const answer = await call('GET', '/api/v1/queue/stats', token);
      expect(answer.status).toBe(200);
      return answer.json;
    };
    const critical = (json: Json) => json.by_priority.CRITICAL.total_requests as number;
    const [beforeA, beforeAll] = [await stats(tokens.viewerA), await stats(tokens.viewerAll)];

    // One CRITICAL call on each vCenter (a console opens on the caller's behalf, synchronously).
    expect((await call('POST', `/api/v1/vms/${b}:${vmMoid}/console`, tokens.adminAll)).status).toBe(200);
    expect((await call('POST', `/api/v1/vms/${a}:${vmMoid}/console`, tokens.operatorFlood)).status).toBe(200);

    const [afterA, afterAll] = [await stats(tokens.viewerA), await stats(tokens.viewerAll)];
    expect(critical(afterAll)).toBe(critical(beforeAll) + 2);
    // Team A sees its own vCenter's call, not vc-b-1's.
    expect(critical(afterA)).toBe(critical(beforeA) + 1);
    expect(afterA.total_requests).toBeLessThan(afterAll.total_requests);
    // Fleet-wide figures that cannot be told apart by vCenter are withheld from a scoped caller.
    expect(afterA).toMatchObject({ scoped: true, cache: { thumbnail_count: null, hit_ratio: null } });
    expect(afterAll.scoped).toBe(false);
    expect(typeof afterAll.cache.thumbnail_count).toBe('number');
    // A caller whose scope names no vCenter sees none of the activity.
    const none = await stats(tokens.viewerNone);
    expect([none.total_requests, none.active_requests, none.waiting_requests]).toEqual([0, 0, 0]);
  });

  it('refuses thumbnails, refreshes, consoles and syncs of the other vCenter’s VMs with 404', async () => {
    const vm = `${b}:${vmMoid}`;
    expect((await call('GET', `/api/v1/vms/${vm}/thumbnail`, tokens.viewerA)).status).toBe(404);
    expect((await call('POST', `/api/v1/vms/${vm}/refresh`, tokens.viewerA)).status).toBe(404);
    expect((await call('POST', `/api/v1/vms/${vm}/console`, tokens.operatorA)).status).toBe(404);
    expect((await call('POST', `/api/v1/vcenters/${b}/sync`, tokens.operatorA, {})).status).toBe(404);
    expect((await call('POST', `/api/v1/vcenters/${a}/sync`, tokens.operatorA, {})).status).toBe(202);
  });

  it('scopes the provisioning routes and the personal identities', async () => {
    expect((await call('GET', `/api/v1/vcenters/${a}/datacenters`, tokens.viewerA)).status).toBe(200);
    expect((await call('GET', `/api/v1/vcenters/${b}/datacenters`, tokens.viewerA)).status).toBe(404);
    expect(
      (await call('GET', `/api/v1/vcenters/${b}/datacenters/datacenter-2/compute`, tokens.viewerA)).status,
    ).toBe(404);
    expect(
      (await call('GET', `/api/v1/vcenters/${b}/compute/domain-c7/resources`, tokens.viewerA)).status,
    ).toBe(404);
    const put = await call('PUT', `/api/v1/vcenters/${b}/credentials/me`, tokens.viewerA, {
      username: vcsim.username,
      password,
    });
    expect(put.status).toBe(404);
    expect((await call('DELETE', `/api/v1/vcenters/${b}/credentials/me`, tokens.viewerA)).status).toBe(404);
  });

  it('lets a scoped admin neither delete nor register outside the scope', async () => {
    expect((await call('DELETE', `/api/v1/vcenters/${b}`, tokens.adminA)).status).toBe(404);
    const outside = await call('POST', '/api/v1/vcenters', tokens.adminA, {
      id: b,
      url: 'https://vc-b.example.test/sdk',
      username: 'u',
      password: 'p',
    });
    // 403 whether or not the id exists (a 409 would say it does).
    expect(outside.status).toBe(403);
    expect((await call('GET', `/api/v1/vcenters/${b}`, tokens.adminAll)).status).toBe(200);
  });
});

describe('console audit trail', () => {
  it('records who opened which console, when and from where; operators read it newest first, in scope', async () => {
    const before = emitted.filter((m) => m.name === 'ConsoleTickets').length;
    const started = Date.now();
    const opened = await call('POST', `/api/v1/vms/${a}:${vmMoid}/console`, tokens.operatorA, undefined, {
      'user-agent': 'scope-test/1.0',
    });
    expect(opened.status).toBe(200);
    const other = await call('POST', `/api/v1/vms/${b}:${vmMoid}/console`, tokens.adminAll, undefined, {
      'user-agent': 'scope-test/admin',
    });
    expect(other.status).toBe(200);
    expect(emitted.filter((m) => m.name === 'ConsoleTickets').length).toBe(before + 2);

    const trail = await call('GET', '/api/v1/audit/console', tokens.adminAll);
    expect(trail.status).toBe(200);
    const [newest, older = {}] = trail.json.items as Json[];
    expect(newest).toMatchObject({
      subject: 'admin-all',
      vmId: `${b}:${vmMoid}`,
      userAgent: 'scope-test/admin',
      outcome: 'issued',
    });
    expect(older).toMatchObject({
      subject: 'operator-a',
      roles: ['operator'],
      vmId: `${a}:${vmMoid}`,
      vcenterId: a,
      sourceIp: expect.stringMatching(/127\.0\.0\.1$/),
      userAgent: 'scope-test/1.0',
      outcome: 'issued',
      error: null,
    });
    expect(Date.parse(older.openedAt)).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000 - 1000);
    // The ticket is a credential: it is in the answer, never in the trail.
    expect(JSON.stringify(trail.json)).not.toContain(opened.json.ticket);

    // Scoped: the operator of team A does not see the console opened on vc-b-1.
    const scoped = await call('GET', '/api/v1/audit/console', tokens.operatorA);
    expect(new Set(scoped.json.items.map((i: Json) => i.vcenterId))).toEqual(new Set([a]));

    // Paged newest first.
    const page1 = await call('GET', '/api/v1/audit/console?limit=1', tokens.adminAll);
    expect(page1.json.items[0].vmId).toBe(`${b}:${vmMoid}`);
    const page2 = await call(
      'GET',
      `/api/v1/audit/console?limit=1&cursor=${page1.json.nextCursor}`,
      tokens.adminAll,
    );
    expect(page2.json.items[0].vmId).toBe(`${a}:${vmMoid}`);
    expect(
      (await call('GET', `/api/v1/audit/console?vm=${a}:${vmMoid}&subject=operator-a`, tokens.adminAll)).json
        .items,
    ).toHaveLength(1);
    expect(
      (await call('GET', `/api/v1/audit/console?subject=operator-a&vcenter=${a}`, tokens.adminAll)).json
        .items,
    ).toHaveLength(1);
    const bad = await call('GET', '/api/v1/audit/console?limit=0', tokens.adminAll);
    expect(bad.status).toBe(400);
    expect(bad.json.fields).toHaveProperty('limit');
  });

  it('records a refused ticket as failed', async () => {
    const missing = await call('POST', `/api/v1/vms/${a}:vm-does-not-exist/console`, tokens.operatorA);
    expect(missing.status).toBe(404);
    const trail = await call('GET', `/api/v1/audit/console?vm=${a}:vm-does-not-exist`, tokens.operatorA);
    expect(trail.json.items).toMatchObject([
      { outcome: 'failed', error: 'not_found', subject: 'operator-a' },
    ]);
  });

  it('records denied attempts with who, which VM, when, from where and why; the answers reveal no more', async () => {
    const started = Date.now();
    const trailOf = async (vm: string, subject: string, token = tokens.adminAll) =>
      (await call('GET', `/api/v1/audit/console?vm=${vm}&subject=${subject}`, token)).json.items as Json[];

    // No operator role.
    const forbidden = await call('POST', `/api/v1/vms/${a}:${vmMoid}/console`, tokens.viewerA, undefined, {
      'user-agent': 'denied-test/viewer',
    });
    expect(forbidden.status).toBe(403);
    // Outside the caller's scope: the same 404 as a VM that does not exist.
    const hidden = await call('POST', `/api/v1/vms/${b}:${vmMoid}/console`, tokens.operatorA, undefined, {
      'user-agent': 'denied-test/scope',
    });
    expect(hidden.status).toBe(404);
    expect(hidden.json.error).toBe('not_found');

    const [viewerRow, ...moreViewer] = await trailOf(`${a}:${vmMoid}`, 'viewer-a');
    expect(moreViewer).toEqual([]);
    expect(viewerRow).toMatchObject({
      subject: 'viewer-a',
      roles: ['viewer'],
      vmId: `${a}:${vmMoid}`,
      vcenterId: a,
      sourceIp: expect.stringMatching(/127\.0\.0\.1$/),
      userAgent: 'denied-test/viewer',
      outcome: 'denied',
      error: 'forbidden',
    });
    expect(Date.parse(viewerRow?.openedAt)).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000 - 1000);
    const scopeRows = (await trailOf(`${b}:${vmMoid}`, 'operator-a')).filter(
      (row) => row.userAgent === 'denied-test/scope',
    );
    expect(scopeRows).toMatchObject([{ outcome: 'denied', error: 'out_of_scope', vcenterId: b }]);
    // The scoped operator's own view of the trail still ends at its scope.
    expect(await trailOf(`${b}:${vmMoid}`, 'operator-a', tokens.operatorA)).toEqual([]);

    // Over the console rate limit (burst 3 in this file): the first refusal is recorded as such.
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let attempt = 0; attempt < 6 && !refused; attempt += 1) {
      const answer = await call('POST', `/api/v1/vms/${a}:${vmMoid}/console`, tokens.operatorFlood);
      if (answer.status === 429) refused = answer;
      else expect(answer.status).toBe(200);
    }
    expect(refused?.status, JSON.stringify(refused?.json)).toBe(429);
    const floodRows = await trailOf(`${a}:${vmMoid}`, 'operator-flood');
    expect(floodRows[0]).toMatchObject({ outcome: 'denied', error: 'rate_limited', roles: ['operator'] });
    expect(floodRows.slice(1).every((row) => row.outcome === 'issued')).toBe(true);
    // Newest first by id, also past the ninth row (ids are compared as numbers, not as text).
    const ids = floodRows.map((row) => Number(row.id));
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
  });

  it('is not readable by a viewer', async () => {
    const denied = await call('GET', '/api/v1/audit/console', tokens.viewerAll);
    expect(denied.status).toBe(403);
  });
});
