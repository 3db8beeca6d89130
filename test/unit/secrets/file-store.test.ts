// Unit tests — the file-backed secret store (local stand-in for Secrets Manager) in a temporary directory:
// 0600 file in a 0700 directory, round trip, missing entries, deletes, serialised writers; and the store
// factory, which refuses an unset SECRET_STORE naming the variable.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../shared/config/index.ts';
import {
  createFileSecretStore,
  resetSecretStore,
  SecretNotFoundError,
  secretStore,
} from '../../../shared/secrets/index.ts';

describe('file secret store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vfleet-secrets-unit-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a secret on first getOrCreate and answers the stored one after, also to racing callers', async () => {
    const store = createFileSecretStore(join(dir, 'secrets.json'));
    let made = 0;
    const create = () => `key-${++made}`;

    const racing = await Promise.all([store.getOrCreate('_k', create), store.getOrCreate('_k', create)]);

    expect(racing).toEqual(['key-1', 'key-1']);
    expect(await createFileSecretStore(join(dir, 'secrets.json')).getOrCreate('_k', create)).toBe('key-1');
    expect(made).toBe(1);
  });

  it('round-trips a secret through its file: reference, in a 0600 file inside a new 0700 directory', async () => {
    const path = join(dir, 'state', 'secrets.json');
    const store = createFileSecretStore(path);

    const ref = await store.put('vc-1', 'S3cret!');

    expect(store.kind).toBe('file');
    expect(ref).toBe('file:vc-1');
    expect(await store.get(ref)).toBe('S3cret!');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'state'))).mode & 0o777).toBe(0o700);
  });

  it('narrows a file that was left readable by others back to 0600 on the next write', async () => {
    const path = join(dir, 'secrets.json');
    await writeFile(path, JSON.stringify({ v: 1, secrets: {} }), { mode: 0o644 });
    const store = createFileSecretStore(path);

    await store.put('vc-1', 'pw');

    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('survives a new store instance on the same file (a restarted dev server)', async () => {
    const path = join(dir, 'secrets.json');
    await createFileSecretStore(path).put('vc-1', 'pw-1');

    expect(await createFileSecretStore(path).get('file:vc-1')).toBe('pw-1');
  });

  it('replaces a secret that is put again', async () => {
    const store = createFileSecretStore(join(dir, 'secrets.json'));
    await store.put('vc-1', 'old');

    await store.put('vc-1', 'new');

    expect(await store.get('file:vc-1')).toBe('new');
  });

  it('answers SecretNotFoundError naming the reference, never a value, for a missing entry or a missing file', async () => {
    const store = createFileSecretStore(join(dir, 'secrets.json'));
    await expect(store.get('file:vc-1')).rejects.toThrow(SecretNotFoundError);
    await store.put('vc-1', 'S3cret!');

    const error = await store.get('file:vc-2').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SecretNotFoundError);
    expect((error as Error).message).toBe('No secret at file:vc-2');
    await expect(store.get('arn:aws:secretsmanager:us-east-1:1:secret:vc-1')).rejects.toThrow(
      SecretNotFoundError,
    );
  });

  it('deletes a secret from the file; deleting a missing one is fine', async () => {
    const path = join(dir, 'secrets.json');
    const store = createFileSecretStore(path);
    await store.put('vc-1', 'pw-1');
    await store.put('vc-2', 'pw-2');

    await store.delete('file:vc-1');
    await store.delete('file:vc-404');

    await expect(store.get('file:vc-1')).rejects.toThrow(SecretNotFoundError);
    expect(await store.get('file:vc-2')).toBe('pw-2');
    expect(await readFile(path, 'utf8')).not.toContain('pw-1');
  });

  it('loses no write when many registrations run at once', async () => {
    const store = createFileSecretStore(join(dir, 'secrets.json'));

    await Promise.all(Array.from({ length: 25 }, (_, i) => store.put(`vc-${i}`, `pw-${i}`)));

    const values = await Promise.all(Array.from({ length: 25 }, (_, i) => store.get(`file:vc-${i}`)));
    expect(values).toEqual(Array.from({ length: 25 }, (_, i) => `pw-${i}`));
  });

  it('reports an unreadable file by its path and error kind, not its content', async () => {
    const path = join(dir, 'secrets.json');
    await writeFile(path, '{"v":1,"secrets":{"vc-1":"S3cret', { mode: 0o600 });

    const error: unknown = await createFileSecretStore(path)
      .get('file:vc-1')
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).not.toContain('S3cret');
  });
});

describe('secret store from the environment', () => {
  beforeEach(() => resetSecretStore());
  afterEach(() => {
    vi.unstubAllEnvs();
    resetSecretStore();
  });

  it('fails naming SECRET_STORE when it is unset (no silent in-memory fallback)', () => {
    vi.stubEnv('SECRET_STORE', '');
    vi.stubEnv('VCENTER_SECRET_PREFIX', '');

    expect(() => secretStore()).toThrow(ConfigError);
    expect(() => secretStore()).toThrow(/SECRET_STORE/);
  });

  it('refuses an unknown setting and an empty file path', () => {
    vi.stubEnv('VCENTER_SECRET_PREFIX', '');
    for (const setting of ['memory', 'file:']) {
      vi.stubEnv('SECRET_STORE', setting);
      expect(() => secretStore()).toThrow(/SECRET_STORE must be/);
    }
  });

  it('needs VCENTER_SECRET_PREFIX for aws, and implies aws when only the prefix is bound', () => {
    vi.stubEnv('SECRET_STORE', 'aws');
    vi.stubEnv('VCENTER_SECRET_PREFIX', '');
    expect(() => secretStore()).toThrow(/VCENTER_SECRET_PREFIX/);

    vi.stubEnv('SECRET_STORE', '');
    vi.stubEnv('VCENTER_SECRET_PREFIX', 'vfleet/test/vcenters/');
    expect(secretStore().kind).toBe('aws');
  });

  it('opens a file store at the given path, once per process', () => {
    vi.stubEnv('VCENTER_SECRET_PREFIX', '');
    vi.stubEnv('SECRET_STORE', `file:${join(tmpdir(), 'never-written.json')}`);

    const store = secretStore();

    expect(store.kind).toBe('file');
    expect(secretStore()).toBe(store);
  });
});
