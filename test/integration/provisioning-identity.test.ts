// Integration tests — personal vCenter identities over the local runtime, against a vcsim whose extra users
// see one datacenter each (alice DC0, bob DC1; infra/local/vcsim/users.go). Reproduces Foreman's leak (PR 7489:
// a datacenter list cached under a key without the user, served to the next user): alice's answer is cached,
// then bob asks the same question and must get his own; this fails if the cache namespace by identity is
// dropped. A personal password never appears in an answer, a log line, Redis, the blob store or DynamoDB.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalRuntime } from '../../infra/local/runtime.ts';
import { localDynamoDbClient } from '../../infra/local/services/dynamodb.ts';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { VsphereClient } from '../../shared/vsphere/index.ts';
import type { TestDatabase } from '../setup/database.ts';
import { startTestRuntime, type TestRuntime } from '../setup/runtime.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const tag = randomBytes(4).toString('hex');
const vcenterId = `vc-ident-${tag}`;
const alicePassword = `alice-Pw-${randomBytes(8).toString('hex')}`;
const bobPassword = `bob-Pw-${randomBytes(8).toString('hex')}`;
let db: TestDatabase;
let harness: TestRuntime;
let runtime: LocalRuntime;
let vcsim: VcsimService;
let stateDir: string;
let admin: string;
let alice: string;
let bob: string;
let carol: string;
const output: string[] = [];

// biome-ignore lint/suspicious/noExplicitAny: answers are read loosely; each test asserts the shape it needs
type Json = Record<string, any>;
const bodies: string[] = [];

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${runtime.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  bodies.push(text);
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Json, text };
}

const datacenterNames = async (token: string) => {
  const answer = await call('GET', `/api/v1/vcenters/${vcenterId}/datacenters`, token);
  expect(answer.status, answer.text).toBe(200);
  return (answer.json.kinds.datacenters.items as Json[]).map((d) => d.name).sort();
};

beforeAll(async () => {
  vcsim = await startTestVcsim({
    datacenters: 2,
    vms: 8,
    users: {
      alice: { password: alicePassword, datacenters: ['DC0'] },
      bob: { password: bobPassword, datacenters: ['DC1'] },
    },
  });
  stateDir = await mkdtemp(join(tmpdir(), 'vfleet-prov-identity-'));
  // Everything the runtime and its handlers write to the console, to look for the passwords in.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: never[]) => {
      output.push(String(chunk));
      return write(chunk as never, ...rest);
    }) as never);
  }
  harness = await startTestRuntime('prov_identity', {
    env: {
      // Blobs of this file's own, for the sweep below.
      BLOB_DIR: join(stateDir, 'blobs'),
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    },
  });
  ({ runtime, db } = harness);
  admin = await harness.issuer.mint(['admin']);
  alice = await harness.issuer.mint(['viewer'], { subject: `alice-${tag}` });
  bob = await harness.issuer.mint(['viewer'], { subject: `bob-${tag}` });
  carol = await harness.issuer.mint(['viewer'], { subject: `carol-${tag}` });
  const created = await call('POST', '/api/v1/vcenters', admin, {
    id: vcenterId,
    url: vcsim.url,
    username: vcsim.username,
    password: vcsim.password,
    insecure: true,
    syncMode: 'polling',
    syncIntervalSeconds: 86_400,
  });
  expect(created.status, created.text).toBe(201);
  // Registration starts the first full sync; its end publishes the cache tags of everything it wrote, which
  // moves cached answers on. Waiting for it keeps that invalidation out of the caching assertions below.
  for (let polls = 0; ; polls++) {
    const { json } = await call('GET', `/api/v1/vcenters/${vcenterId}`, admin);
    if (json.vcenter?.sync?.syncedThroughAt) break;
    if (polls >= 1_200) throw new Error(`the first sync of ${vcenterId} never finished`);
    await new Promise((done) => setTimeout(done, 100));
  }
}, 180_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await harness?.stop();
  await VsphereClient.closeAll();
  await vcsim?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('personal vCenter identities', () => {
  it('registers an identity only after a login with it works, and returns nothing of it', async () => {
    const wrong = await call('PUT', `/api/v1/vcenters/${vcenterId}/credentials/me`, alice, {
      username: 'alice',
      password: `${alicePassword}-wrong`,
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.fields).toHaveProperty('password');
    const malformed = await call('PUT', `/api/v1/vcenters/${vcenterId}/credentials/me`, alice, {
      username: '',
    });
    expect(malformed.status).toBe(400);
    expect(Object.keys(malformed.json.fields).sort()).toEqual(['password', 'username']);
    const unknown = await call('PUT', '/api/v1/vcenters/no-such-vc/credentials/me', alice, {
      username: 'alice',
      password: alicePassword,
    });
    expect(unknown.status).toBe(404);

    for (const [token, username, password] of [
      [alice, 'alice', alicePassword],
      [bob, 'bob', bobPassword],
    ] as const) {
      const put = await call('PUT', `/api/v1/vcenters/${vcenterId}/credentials/me`, token, {
        username,
        password,
      });
      expect(put.status, put.text).toBe(200);
      expect(put.json).toEqual({ vcenterId, identity: 'personal' });
    }
  });

  it("never serves one identity's cached answer to another (Foreman's datacenter-list leak)", async () => {
    // Alice's answer is loaded and cached first …
    expect(await datacenterNames(alice)).toEqual(['DC0']);
    const again = await call('GET', `/api/v1/vcenters/${vcenterId}/datacenters`, alice);
    expect(again.json.cached).toBe(true);
    // … then Bob asks the same question of the same vCenter: his own answer, never Alice's cached one.
    expect(await datacenterNames(bob)).toEqual(['DC1']);
    // A caller without a personal identity gets the service account's view.
    expect(await datacenterNames(carol)).toEqual(['DC0', 'DC1']);
    // And the cached answers stay apart.
    expect(await datacenterNames(alice)).toEqual(['DC0']);
    expect(await datacenterNames(bob)).toEqual(['DC1']);
  });

  it('answers 404 for a datacenter or compute resource the identity may not see', async () => {
    const dcs = (await call('GET', `/api/v1/vcenters/${vcenterId}/datacenters`, carol)).json.kinds.datacenters
      .items as Json[];
    const dc1 = dcs.find((d) => d.name === 'DC1') as Json;
    const bobs = await call('GET', `/api/v1/vcenters/${vcenterId}/datacenters/${dc1.id}/compute`, bob);
    expect(bobs.status).toBe(200);
    const cr = bobs.json.kinds.compute.items[0] as Json;
    expect(cr).toBeDefined();
    expect(
      (await call('GET', `/api/v1/vcenters/${vcenterId}/datacenters/${dc1.id}/compute`, alice)).status,
    ).toBe(404);
    expect(
      (await call('GET', `/api/v1/vcenters/${vcenterId}/compute/${cr.id}/resources`, alice)).status,
    ).toBe(404);
    const own = await call('GET', `/api/v1/vcenters/${vcenterId}/compute/${cr.id}/resources`, bob);
    expect(own.status).toBe(200);
    expect(own.json.kinds.datastores).toMatchObject({ status: 'ok', source: 'live' });
  });

  it('goes back to the service account after DELETE, and a second DELETE is a 404', async () => {
    const removed = await call('DELETE', `/api/v1/vcenters/${vcenterId}/credentials/me`, bob);
    expect(removed.status).toBe(204);
    expect(await datacenterNames(bob)).toEqual(['DC0', 'DC1']);
    expect((await call('DELETE', `/api/v1/vcenters/${vcenterId}/credentials/me`, bob)).status).toBe(404);
  });

  it('keeps the personal passwords out of every answer, log line, Redis key and value, blob and table item', async () => {
    const secrets = [alicePassword, bobPassword];
    const logs = output.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      for (const body of bodies) expect(body).not.toContain(secret);
    }
    const redis = new Redis(db.services.redisUrl);
    try {
      const keys = await redis.keys(`${db.name}:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const type = await redis.type(key);
        const value =
          type === 'string'
            ? await redis.getBuffer(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'zset'
                ? JSON.stringify(await redis.zrange(key, 0, -1))
                : '';
        for (const secret of [...secrets, 'alice', 'bob']) expect(key).not.toContain(secret);
        for (const secret of secrets) expect(String(value)).not.toContain(secret);
      }
    } finally {
      redis.disconnect();
    }
    const blobFiles = await readdir(join(stateDir, 'blobs'), { recursive: true, withFileTypes: true });
    for (const file of blobFiles.filter((f) => f.isFile())) {
      const content = await readFile(join(file.parentPath, file.name));
      for (const secret of secrets) expect(content.includes(secret)).toBe(false);
    }
    const dynamo = localDynamoDbClient(db.services.dynamodbUrl);
    try {
      const scan = await dynamo.send(new ScanCommand({ TableName: runtime.env.TABLE_CREDENTIALS }));
      expect(scan.Items?.length).toBe(1); // alice's; bob removed his
      for (const secret of [alicePassword, 'alice', `alice-${tag}`]) {
        expect(JSON.stringify(scan.Items)).not.toContain(secret);
        expect(Buffer.from(JSON.stringify(scan.Items)).includes(Buffer.from(secret).toString('base64'))).toBe(
          false,
        );
      }
    } finally {
      dynamo.destroy();
    }
  });
});
