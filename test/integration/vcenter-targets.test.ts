// Integration tests — the vCenter endpoint allow-list (VCENTER_ALLOWED_TARGETS) over the local runtime with real
// PostgreSQL, Redis, SQS emulation and vcsim. DNS is an injected resolver (loopback answers only): a URL outside
// the list is refused at registration with a field error; a name that resolved into the list at registration and
// to another address at connect time is refused by the sync worker's connection, while vcsim listens at that
// address (so without the connect-time check the sync would succeed).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimService } from '../../infra/local/services/vcsim.ts';
import { setTargetResolver, VsphereClient } from '../../shared/vsphere/index.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
type Json = Record<string, any>;

const password = `S3cret-${randomBytes(6).toString('hex')}`;
let test: TestRuntime;
let vcsim: VcsimService;
let admin: string;
let port: string;
/** Host names the resolver was asked for, in order. */
const asked: string[] = [];
let rebindAnswers = 0;

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await fetch(`${test.runtime.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Json };
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

const register = (id: string, host: string) =>
  call('POST', '/api/v1/vcenters', {
    id,
    url: `https://${host}:${port}/sdk`,
    username: vcsim.username,
    password,
    insecure: true,
    syncIntervalSeconds: 86_400,
  });

beforeAll(async () => {
  setTargetResolver(async (hostname) => {
    asked.push(hostname);
    if (hostname === 'vcsim-ok.test') return [{ address: '127.0.0.1', family: 4 }];
    if (hostname === 'vc-internal.test') return [{ address: '10.9.9.9', family: 4 }];
    // The rebinding name: inside the list for its first answer (registration), vcsim's address after.
    if (hostname === 'vc-rebind.test') {
      rebindAnswers++;
      return [{ address: rebindAnswers === 1 ? '127.0.0.2' : '127.0.0.1', family: 4 }];
    }
    throw Object.assign(new Error(`${hostname} not found`), { code: 'ENOTFOUND' });
  });
  vcsim = await startVcsim({ vms: 4, password });
  port = new URL(vcsim.url).port;
  test = await startTestRuntime('vc_targets', {
    env: { VCENTER_ALLOWED_TARGETS: '127.0.0.2/32, vcsim-ok.test' },
  });
  admin = await test.issuer.mint(['admin']);
}, 120_000);

afterAll(async () => {
  setTargetResolver(undefined);
  await test?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
});

describe('vCenter endpoint allow-list', () => {
  it('refuses at registration a URL outside the list, with a field error', async () => {
    for (const host of ['10.9.9.9', 'vc-internal.test', 'nowhere.test', '127.0.0.1']) {
      const refused = await register(`vc-refused-${host.replace(/\W/g, '-')}`, host);
      expect(refused.status, host).toBe(400);
      expect(refused.json.error).toBe('bad_request');
      expect(refused.json.fields.url, host).toMatch(/not an allowed vCenter endpoint/);
    }
    expect((await call('GET', '/api/v1/vcenters')).json.items).toEqual([]);
  });

  it('syncs a vCenter the list allows, connecting to the address it resolved', async () => {
    expect((await register('vc-ok', 'vcsim-ok.test')).status).toBe(201);
    const synced = await until('the first sync of vc-ok', async () => {
      const { json } = await call('GET', '/api/v1/vcenters/vc-ok');
      return json.vcenter.sync.lastFullSyncAt ? json.vcenter : undefined;
    });
    expect(synced.counts.vms).toBe(4);
  });

  it('refuses at connect a name whose answer moved outside the list after registration', async () => {
    const created = await register('vc-rebind', 'vc-rebind.test');
    expect(created.status).toBe(201);
    expect(rebindAnswers).toBe(1);
    const failing = await until('the refused sync of vc-rebind', async () => {
      const { json } = await call('GET', '/api/v1/vcenters/vc-rebind');
      return json.vcenter.sync.consecutiveFailures > 0 ? json.vcenter : undefined;
    });
    // Resolved again at connect, and the connection refused before anything was sent.
    expect(rebindAnswers).toBeGreaterThan(1);
    expect(failing.sync.lastError).toMatch(/ETARGETREFUSED/);
    expect(failing.sync.lastError).toMatch(/127\.0\.0\.1/);
    expect(failing.sync.lastFullSyncAt).toBeNull();
    expect(failing.counts.vms).toBe(0);
  });
});
