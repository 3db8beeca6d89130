// Integration tests — a polling vCenter through the whole local pipeline (dispatcher every second → sync.fifo
// → worker), as a user registers one: the first full sync starts at registration and is not followed by a
// second pass at the next tick; random changes made in vcsim between passes show up through the API within
// interval + 5 s, once with the watch's session intact and once with every vSphere session killed between
// passes, which the worker reports as `watch lost` and repairs with a full sync in the same pass.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type LocalRuntime, startLocalRuntime } from '../../infra/local/runtime.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { secretNames } from '../../shared/contracts/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import { openSession, SessionKeys } from '../../shared/inventory/sync/index.ts';
import { createFileSecretStore, keyWrapperFromEnv } from '../../shared/secrets/index.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import { freshDatabase, type TestDatabase } from '../setup/database.ts';
import { loadTestIssuer } from '../setup/issuer.ts';
import { startTestVcsim } from '../setup/vcsim.ts';
import { type ChangeTarget, changeTarget, randomChange, seeded } from './sync-helpers.ts';

const intervalSeconds = 2;
/** The issue's bound: changes visible through the API within the polling interval + 5 s. */
const visibleWithinMs = (intervalSeconds + 5) * 1000;

describe('polling sync through the dispatcher, the sync queue and the worker', () => {
  let db: TestDatabase;
  let vcsim: VcsimService;
  let runtime: LocalRuntime;
  let stateDir: string;
  let token: string;
  let target: ChangeTarget;
  const id = `watch-${randomBytes(3).toString('hex')}`;
  const logLines: string[] = [];
  const restores: (() => void)[] = [];

  beforeAll(async () => {
    // The functions' log entries (sync pass, watch lost) are read back from what they print: the logger writes
    // one JSON object per call, through the console locally (POWERTOOLS_DEV) and stdout in AWS.
    for (const method of ['log', 'info', 'warn', 'error'] as const) {
      const original = console[method].bind(console);
      restores.push(() => {
        console[method] = original;
      });
      console[method] = (...args: unknown[]) => {
        logLines.push(args.map(String).join(' '));
        original(...args);
      };
    }
    [db, vcsim] = await Promise.all([freshDatabase('sync_watch'), startTestVcsim({ vms: 40 })]);
    await migrate(db.postgres, { vmPartitions: 2 });
    stateDir = await mkdtemp(join(tmpdir(), 'vfleet-sync-watch-'));
    const issuer = await loadTestIssuer(stateDir);
    token = await issuer.mint(['admin']);
    runtime = await startLocalRuntime({
      root: resolve(import.meta.dirname, '../..'),
      issuer,
      services: db.services,
      tablePrefix: db.name,
      scheduleOverrides: { 'sync-dispatcher': { everySeconds: 1 } },
      env: { SECRET_STORE: `file:${join(stateDir, 'secrets.json')}`, LOG_LEVEL: 'INFO' },
    });
    target = await changeTarget(vcsim.url, vcsim.username, vcsim.password);
  }, 180_000);

  afterAll(async () => {
    for (const restore of restores) restore();
    await target?.client.close();
    await runtime?.stop();
    await vcsim?.stop();
    await db?.dispose();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  async function call(method: string, path: string, body?: unknown) {
    const response = await fetch(`${runtime.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
    return { status: response.status, json: (await response.json()) as Record<string, any> };
  }

  async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const vcenter = async () => (await call('GET', `/api/v1/vcenters/${id}`)).json.vcenter;

  /** Every VM (name and power state by moid) as GET /api/v1/vms answers, page by page. */
  async function apiVms(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    let cursor: string | undefined;
    do {
      const page = await call(
        'GET',
        `/api/v1/vms?vcenter=${id}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
      );
      for (const vm of page.json.items) out[vm.moid] = `${vm.name}|${vm.powerState}`;
      cursor = page.json.nextCursor ?? undefined;
    } while (cursor);
    return out;
  }

  /** The same, from a fresh full retrieval (RetrievePropertiesEx: independent of any watch). */
  async function simulatorVms(): Promise<Record<string, string>> {
    const client = await VsphereClient.connect({
      url: vcsim.url,
      username: vcsim.username,
      password: vcsim.password,
      insecure: true,
      pooled: false,
    });
    const out: Record<string, string> = {};
    try {
      for await (const o of client.retrieve({
        types: ['VirtualMachine'],
        properties: { VirtualMachine: ['name', 'runtime.powerState', 'config.template'] },
        maxObjects: 1000,
      })) {
        if (o.props['config.template'] !== true) {
          out[o.moid] = `${o.props.name}|${o.props['runtime.powerState']}`;
        }
      }
    } finally {
      await client.close();
    }
    return out;
  }

  async function randomChanges(count: number, seed: number): Promise<void> {
    const random = seeded(seed);
    const busy = new Set<string>();
    for (let n = 0; n < count; n++) await randomChange(target, busy, random, seed * 1000 + n);
    target.touched.clear();
  }

  /** Waits until the API shows exactly what vcsim holds; answers how long that took. */
  async function converged(): Promise<number> {
    const expected = await simulatorVms();
    const started = Date.now();
    let shown: Record<string, string> = {};
    try {
      await until(
        'the API equals a fresh retrieval',
        async () => {
          shown = await apiVms();
          return isDeepStrictEqual(shown, expected) ? true : undefined;
        },
        visibleWithinMs,
      );
    } catch (error) {
      // The difference is what a failure needs to be understood.
      expect(shown).toEqual(expected);
      throw error;
    }
    return Date.now() - started;
  }

  /** This vCenter's log lines with `message`, parsed. */
  // biome-ignore lint/suspicious/noExplicitAny: log lines are read loosely; each test asserts the fields it needs
  const logged = (message: string): Record<string, any>[] =>
    logLines
      .filter((chunk) => chunk.includes(`"${message}"`))
      .flatMap((chunk) => {
        // One write per log entry: a JSON object, pretty-printed or not.
        try {
          return [JSON.parse(chunk)];
        } catch {
          return [];
        }
      })
      .filter((entry) => entry.message === message && entry.vcenterId === id);
  const watchLostLines = () => logged('watch lost');

  it('starts the first full sync at registration and does not pass again at the next tick', async () => {
    const registered = await call('POST', '/api/v1/vcenters', {
      id,
      url: vcsim.url,
      username: vcsim.username,
      password: vcsim.password,
      insecure: true,
      syncMode: 'polling',
      syncIntervalSeconds: intervalSeconds,
    });
    expect(registered.status).toBe(201);
    expect(registered.json.sync).toMatchObject({ vcenterId: id, reason: 'registered', queued: true });

    const first = await until(
      'first full sync',
      async () => {
        const v = await vcenter();
        return v.sync.lastFullSyncAt ? v : undefined;
      },
      60_000,
    );
    // The next pass is the schedule's, due one interval after the registration's slot; a second pass from
    // the dispatcher's next tick would be due at the registration itself.
    const [registeredPass, nextPass] = await until(
      'the registration pass and the next one',
      async () => {
        const passes = logged('sync pass');
        return passes.length >= 2 ? passes : undefined;
      },
      60_000,
    );
    expect(registeredPass).toMatchObject({ reason: 'registered', mode: 'full', status: 'synced' });
    expect(nextPass).toMatchObject({ reason: 'scheduled', mode: 'incremental', status: 'synced' });
    expect(nextPass?.dueAt - registeredPass?.dueAt).toBe(intervalSeconds * 1000);
    expect(new Date(first.sync.lastFullSyncAt).getTime()).toBeLessThan(nextPass?.dueAt);
    expect(watchLostLines()).toEqual([]);
    expect(await apiVms()).toEqual(await simulatorVms());
  }, 90_000);

  it('shows changes made between passes within interval + 5 s while the session lives', async () => {
    const before = await vcenter();
    await randomChanges(40, 1);
    await converged();

    const after = await vcenter();
    expect(after.sync.lastFullSyncAt).toBe(before.sync.lastFullSyncAt);
    expect(after.sync.lastIncrementalAt).not.toBe(before.sync.lastIncrementalAt);
    expect(watchLostLines()).toEqual([]);
  }, 90_000);

  it('loses the watch when the vSphere sessions are killed, says why, and catches up by a full sync', async () => {
    const before = await vcenter();
    expect(await vcsim.terminateSessions()).toBeGreaterThan(0);
    await randomChanges(40, 2);
    await converged();

    const after = await vcenter();
    expect(after.sync.lastFullSyncAt).not.toBe(before.sync.lastFullSyncAt);
    expect(after.sync.status).toBe('ok');
    const lost = watchLostLines();
    expect(lost.length).toBeGreaterThan(0);
    expect(lost[0]).toMatchObject({
      vcenterId: id,
      reason: 'session expired',
      function_name: expect.stringContaining('syncWorker'),
    });

    // The new watch lives on in its new session: the next changes need no further full sync.
    await randomChanges(20, 3);
    await converged();
    expect((await vcenter()).sync.lastFullSyncAt).toBe(after.sync.lastFullSyncAt);
  }, 120_000);

  it('does not trust "no updates" from a collector that lost its filter: the watch is lost, not frozen', async () => {
    // The filter is destroyed in the watch's own session, which stays alive: every WaitForUpdatesEx on that
    // collector now answers "no updates", which an incremental pass used to take as an unchanged inventory.
    const client = new pg.Client(db.postgres);
    await client.connect();
    const { rows } = await client.query('SELECT session, watcher FROM vcenters WHERE id = $1', [id]);
    // Opened with the runtime's keyring: its data key in session_keys, wrapped by the secret store's key.
    const keys = new SessionKeys(
      client,
      keyWrapperFromEnv(
        'SESSION_KEY',
        () => createFileSecretStore(join(stateDir, 'secrets.json')),
        secretNames.sessionKey,
      ),
      1,
    );
    const saved = (await openSession(rows[0].session, id, keys))?.session;
    await client.end();
    expect(saved).toBeDefined();
    const own = await VsphereClient.resume(saved as NonNullable<typeof saved>, {
      insecure: true,
      pooled: false,
    });
    await own.call('DestroyPropertyFilter', rows[0].watcher.filter);
    own.release();
    const before = await vcenter();

    await randomChanges(20, 4);
    await converged();

    expect((await vcenter()).sync.lastFullSyncAt).not.toBe(before.sync.lastFullSyncAt);
    expect(watchLostLines().map((entry) => entry.reason)).toContain('filter gone');
  }, 120_000);
});
