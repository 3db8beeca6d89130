// Integration tests — the sealing of saved vSphere sessions against a real vcsim and PostgreSQL: a database
// dump plus the vCenter password opens no session (the key is an envelope data key, not derived from the
// password); a key rotation re-seals each session lazily in its vCenter's next incremental pass, with no new
// login and no full sync; with KMS (aws-sdk-client-mock: its only partner is the AWS API) a container makes one
// data key and unwraps each version once, however many sessions it opens.
import { execFile } from 'node:child_process';
import { createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { secretNames } from '../../shared/contracts/index.ts';
import { migrate } from '../../shared/inventory/migrate.ts';
import {
  openSession,
  SessionKeys,
  sealedVersion,
  sealSession,
  syncVcenter,
} from '../../shared/inventory/sync/index.ts';
import { createFileSecretStore, keyWrapperFromEnv, kmsKeyWrapper } from '../../shared/secrets/index.ts';
import type { SerializedSession } from '../../shared/vsphere/index.ts';
import { freshNamespace, type TestNamespace } from '../setup/namespace.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const run = promisify(execFile);

describe('saved session sealing', () => {
  let ns: TestNamespace;
  let vcsim: VcsimService;
  let pool: pg.Pool;
  let redis: Redis;
  const vcenterId = `seal-${Date.now().toString(36)}`;
  const secretsFile = `${process.env.TMPDIR ?? '/tmp'}/vfleet-seal-${process.pid}.json`;
  const secrets = createFileSecretStore(secretsFile);
  // The dev wrapping key: 256 bits in the local secret store, as the runtime uses it (SESSION_KEY unset).
  const wrapper = keyWrapperFromEnv('SESSION_KEY', () => secrets, secretNames.sessionKey);
  const keyring = (version: number) => new SessionKeys(pool, wrapper, version);

  beforeAll(async () => {
    [ns, vcsim] = await Promise.all([freshNamespace('seal'), startTestVcsim({ vms: 20 })]);
    pool = new pg.Pool({ ...ns.pg, max: 4 });
    await migrate(pool, { vmPartitions: 2 });
    redis = new Redis(ns.services.redisUrl);
    const ref = await secrets.put(vcenterId, vcsim.password);
    await pool.query(
      `INSERT INTO vcenters (id, name, url, username, secret_ref, tls_insecure) VALUES ($1, $1, $2, $3, $4, true)`,
      [vcenterId, vcsim.url, vcsim.username, ref],
    );
  });

  afterAll(async () => {
    await pool?.end();
    redis?.disconnect();
    await vcsim?.stop();
    await ns?.dispose();
    await rm(secretsFile, { force: true });
  });

  const pass = (version: number) =>
    syncVcenter(
      vcenterId,
      { writer: pool, reader: pool, secrets, redis, sessionKeys: keyring(version) },
      { remainingMs: () => 120_000 },
    );
  const stored = async () =>
    (
      await pool.query<{ session: Buffer; last_full_sync_at: Date }>(
        'SELECT session, last_full_sync_at FROM vcenters WHERE id = $1',
        [vcenterId],
      )
    ).rows[0] as { session: Buffer; last_full_sync_at: Date };
  const logins = async () => (await vcsim.stats()).soap.byMethod.Login ?? 0;

  it('seals a session that a database dump plus the vCenter password cannot open', async () => {
    // Prepare: a full sync saves the watch's session.
    expect((await pass(1)).mode).toBe('full');
    const { session } = await stored();
    const own = await openSession(session, vcenterId, keyring(1));
    expect(own?.session.cookie).toMatch(/vmware_soap_session/); // the keyring itself opens it

    // Act: what someone holding a dump of the database and the vCenter password has.
    const { stdout: dump } = await run(
      'pg_dump',
      [
        '--data-only',
        `--schema=${ns.schema}`,
        '-h',
        String(ns.pg.host),
        '-p',
        String(ns.pg.port),
        '-U',
        String(ns.pg.user),
        String(ns.pg.database),
      ],
      { env: { ...process.env, PGPASSWORD: String(ns.pg.password ?? '') }, maxBuffer: 64 * 1024 * 1024 },
    );
    const password = vcsim.password;

    // Assess: no cookie in clear, and no byte string of the dump opens under a key derived from the password.
    expect(dump).not.toContain(own?.session.cookie.split('"')[1] ?? 'no cookie');
    const blobs = [...dump.matchAll(/\\\\x([0-9a-f]{60,})/g)].map((m) => Buffer.from(m[1] ?? '', 'hex'));
    expect(blobs.map((blob) => blob.toString('hex'))).toContain(session.toString('hex'));
    const derived = [
      Buffer.from(hkdfSync('sha256', password, vcenterId, 'vfleet/vsphere-session/v1', 32)),
      Buffer.from(hkdfSync('sha256', password, vcenterId, 'vfleet/vsphere-session/v2', 32)),
      Buffer.from(hkdfSync('sha256', password, '', '', 32)),
    ];
    const opened: string[] = [];
    for (const blob of blobs) {
      for (const key of derived) {
        // Every header length up to 8 bytes: the layouts of format 1 (1 byte) and format 2 (5 bytes) included.
        for (let offset = 0; offset <= 8 && blob.length > offset + 28; offset++) {
          const text = tryOpen(key, blob.subarray(offset));
          if (text !== undefined) opened.push(text);
        }
      }
    }
    expect(opened).toEqual([]);
  });

  it('rotates the key lazily: the next pass re-seals in the same session, with no login and no full sync', async () => {
    // Prepare: a session sealed with key 1, and the vCenter's full-sync time.
    const before = await stored();
    expect(sealedVersion(before.session)).toBe(1);
    const cookie = (await openSession(before.session, vcenterId, keyring(1)))?.session.cookie;
    const loginsBefore = await logins();

    // Act: the deployment moves to key 2 (SESSION_KEY_VERSION=2); the next pass runs.
    const result = await pass(2);

    // Assess: an incremental pass, nothing logged in, the same session now sealed with key 2.
    expect(result).toMatchObject({ status: 'synced', mode: 'incremental' });
    expect(result.watchLost).toBeUndefined();
    expect(await logins()).toBe(loginsBefore);
    const after = await stored();
    expect(after.last_full_sync_at).toEqual(before.last_full_sync_at);
    expect(sealedVersion(after.session)).toBe(2);
    expect((await openSession(after.session, vcenterId, keyring(2)))?.session.cookie).toBe(cookie);
    // Key 1 is kept (records not yet re-sealed still open); key 2 was made once and stored.
    const { rows } = await pool.query('SELECT version FROM session_keys ORDER BY version');
    expect(rows.map((row) => row.version)).toEqual([1, 2]);

    // And the pass after it needs nothing more: still incremental, still no login.
    expect((await pass(2)).mode).toBe('incremental');
    expect(await logins()).toBe(loginsBefore);
  });

  it('with KMS, makes one data key per version and unwraps it once per container', async () => {
    // Prepare: KMS as the API behaves: GenerateDataKey answers a plaintext and its blob, Decrypt the plaintext.
    const kms = mockClient(KMSClient);
    const issued = new Map<string, Buffer>();
    kms.on(GenerateDataKeyCommand).callsFake(async () => {
      const plaintext = randomBytes(32);
      const blob = randomBytes(80);
      issued.set(blob.toString('hex'), plaintext);
      return { Plaintext: new Uint8Array(plaintext), CiphertextBlob: new Uint8Array(blob) };
    });
    kms.on(DecryptCommand).callsFake(async (input: { CiphertextBlob: Uint8Array }) => {
      const plaintext = issued.get(Buffer.from(input.CiphertextBlob).toString('hex'));
      if (!plaintext) throw new Error('InvalidCiphertextException');
      return { Plaintext: new Uint8Array(plaintext) };
    });
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/sessions';
    await pool.query('DELETE FROM session_keys WHERE version = 7');
    const container = () =>
      new SessionKeys(pool, kmsKeyWrapper(new KMSClient({ region: 'eu-west-1' }), keyArn), 7);
    const session: SerializedSession = {
      v: 1,
      url: vcsim.url,
      username: vcsim.username,
      cookie: 'vmware_soap_session="kms-test"',
      serviceContent: {} as SerializedSession['serviceContent'],
    };
    try {
      // Act: one container seals 20 sessions; a second container opens all of them.
      const first = container();
      const sealed = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => sealSession(session, await first.current(), `vc-${i}`)),
      );
      const second = container();
      const opened = await Promise.all(sealed.map((blob, i) => openSession(blob, `vc-${i}`, second)));

      // Assess
      expect(opened.every((o) => o?.session.cookie === session.cookie && o.version === 7)).toBe(true);
      expect(kms.commandCalls(GenerateDataKeyCommand)).toHaveLength(1);
      expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({
        KeyId: keyArn,
        KeySpec: 'AES_256',
      });
      expect(kms.commandCalls(DecryptCommand)).toHaveLength(1); // the second container's one unwrap
      const { rows } = await pool.query('SELECT wrapped_by FROM session_keys WHERE version = 7');
      expect(rows).toEqual([{ wrapped_by: `kms:${keyArn}` }]);
    } finally {
      kms.restore();
      await pool.query('DELETE FROM session_keys WHERE version = 7');
    }
  });
});

/** AES-256-GCM with iv (12) ‖ tag (16) ‖ ciphertext under `key`; the plaintext, or undefined. */
function tryOpen(key: Buffer, blob: Buffer): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
    decipher.setAuthTag(blob.subarray(12, 28));
    return Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
