// Integration tests — the shared Redis client's RBAC login on the real test Redis, where an ACL user stands in
// for the ElastiCache user (same ACL, redisAccessString): the first command waits for the login and runs as
// that user, a failed read of the login fails the waiting commands at once (no hang) and the next command
// reads it again, a dedicated connection logs in alike, and the ACL admits the app's commands while refusing
// the dangerous ones.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisClient,
  dedicatedConnection,
  type RedisClient,
  RedisLoginError,
} from '../../shared/clients/index.ts';
import { redisAccessString } from '../../shared/contracts/index.ts';
import type { RedisCredential } from '../../shared/secrets/index.ts';
import { plantSecret } from '../setup/leaks.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';

let ns: TestNamespace;
let admin: Redis;
let login: RedisCredential;
const clients: RedisClient[] = [];
const track = <T extends RedisClient>(client: T): T => {
  clients.push(client);
  return client;
};

/** A login answered when the test says so: the test decides the order. */
function deferredLogin() {
  let answer!: (credential: RedisCredential) => void;
  let calls = 0;
  const pending = new Promise<RedisCredential>((resolve) => {
    answer = resolve;
  });
  return {
    credential: () => {
      calls += 1;
      return pending;
    },
    answer: () => answer(login),
    calls: () => calls,
  };
}

beforeAll(async () => {
  ns = await freshNamespace('redisauth');
  admin = new Redis(ns.services.redisUrl);
  login = { username: `vfleet-${ns.id}`.toLowerCase(), password: randomBytes(24).toString('hex') };
  plantSecret('redis-password', login.password);
  await admin.call(
    'ACL',
    'SETUSER',
    login.username,
    'reset',
    `>${login.password}`,
    ...redisAccessString.split(' '),
  );
});

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await admin?.call('ACL', 'DELUSER', login.username).catch(() => {});
  admin?.disconnect();
  await ns?.dispose();
});

describe('Redis client with an RBAC login', () => {
  it('holds the first command until the login arrives, then runs it as the RBAC user', async () => {
    const gate = deferredLogin();
    const client = track(createRedisClient({ url: ns.services.redisUrl, credential: gate.credential }));
    let settled = false;
    const whoami = client.call('ACL', 'WHOAMI').finally(() => {
      settled = true;
    });
    // Let the client run as far as it can without the login: it has asked for it, and sent nothing.
    await new Promise((resolve) => setImmediate(resolve));
    expect(gate.calls()).toBeGreaterThanOrEqual(1);
    expect(client.status).toBe('wait');
    expect(settled).toBe(false);

    gate.answer();

    await expect(whoami).resolves.toBe(login.username);
    // A reconnect logs in again, with the login the provider answers (redis() caches it per container).
    const reconnected = once(client, 'ready');
    client.disconnect(true);
    await reconnected;
    await expect(client.call('ACL', 'WHOAMI')).resolves.toBe(login.username);
  });

  it('fails the waiting commands at once when the login cannot be read, and reads it again for the next', async () => {
    let reads = 0;
    const client = track(
      createRedisClient({
        url: ns.services.redisUrl,
        credential: async () => {
          reads += 1;
          if (reads === 1) throw new Error('Secrets Manager unavailable');
          return login;
        },
      }),
    );
    // The read at creation failed: the command sent meanwhile fails with it, naming no secret.
    await expect(client.get(`${ns.redisKeyPrefix}k`)).rejects.toThrow(RedisLoginError);
    expect(client.status).toBe('wait');

    await expect(client.call('ACL', 'WHOAMI')).resolves.toBe(login.username);
    expect(reads).toBe(2);
  });

  it('logs a dedicated connection in as the shared client does, even one made before the login arrived', async () => {
    const gate = deferredLogin();
    const shared = track(createRedisClient({ url: ns.services.redisUrl, credential: gate.credential }));
    const dedicated = track(dedicatedConnection(shared));
    const whoami = dedicated.call('ACL', 'WHOAMI');

    gate.answer();

    await expect(whoami).resolves.toBe(login.username);
    await expect(shared.call('ACL', 'WHOAMI')).resolves.toBe(login.username);
  });

  it("admits the app's commands under the RBAC user's ACL and refuses the dangerous ones", async () => {
    const client = track(createRedisClient({ url: ns.services.redisUrl, credential: async () => login }));
    const key = `${ns.redisKeyPrefix}{acl}:k`;

    await expect(client.set(key, 'v', 'PX', 60_000)).resolves.toBe('OK');
    await expect(client.eval("return redis.call('GET', KEYS[1])", 1, key)).resolves.toBe('v');
    await expect(client.info('server')).resolves.toContain('redis_version');
    await expect(client.blpop(`${ns.redisKeyPrefix}{acl}:empty`, 0.01)).resolves.toBeNull();
    for (const refused of [
      () => client.flushall(),
      () => client.keys('*'),
      () => client.config('GET', 'maxmemory'),
    ])
      await expect(refused()).rejects.toThrow(/NOPERM/);
  });
});
