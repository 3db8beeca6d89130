// Secrets — secondary adapter (local file): the dev and test stand-in for Secrets Manager. One JSON file,
// mode 0600 in a 0700 directory, rewritten atomically (temporary file + rename) under an in-process lock;
// the local runtime runs every handler in one process, so that lock serialises all writers.
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SecretNotFoundError, type SecretStore } from './types.ts';

interface FileContent {
  readonly v: 1;
  readonly secrets: Record<string, string>;
}

const prefix = 'file:';

/** A {@link SecretStore} in one JSON file at `path`. References are `file:<key>`. */
export function createFileSecretStore(path: string): SecretStore {
  const file = resolve(path);
  let queue: Promise<unknown> = Promise.resolve();
  // Serialise every operation: a read-modify-write must not interleave with another.
  const locked = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };

  const load = async (): Promise<Record<string, string>> => {
    try {
      const content = JSON.parse(await readFile(file, 'utf8')) as FileContent;
      return { ...content.secrets };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new Error(`Secret store ${file} is unreadable: ${(error as Error).name}`);
    }
  };
  const save = async (secrets: Record<string, string>): Promise<void> => {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ v: 1, secrets } satisfies FileContent), { mode: 0o600 });
    await chmod(tmp, 0o600); // the umask may have widened the mode of an existing temporary file
    await rename(tmp, file);
  };
  const keyOf = (ref: string): string => {
    if (!ref.startsWith(prefix)) throw new SecretNotFoundError(ref);
    return ref.slice(prefix.length);
  };

  return {
    kind: 'file',
    put: (key, value) =>
      locked(async () => {
        const secrets = await load();
        secrets[key] = value;
        await save(secrets);
        return `${prefix}${key}`;
      }),
    get: (ref) =>
      locked(async () => {
        const value = (await load())[keyOf(ref)];
        if (value === undefined) throw new SecretNotFoundError(ref);
        return value;
      }),
    getOrCreate: (key, create) =>
      locked(async () => {
        const secrets = await load();
        const existing = secrets[key];
        if (existing !== undefined) return existing;
        secrets[key] = create();
        await save(secrets);
        return secrets[key];
      }),
    delete: (ref) =>
      locked(async () => {
        const secrets = await load();
        const key = keyOf(ref);
        if (!(key in secrets)) return;
        delete secrets[key];
        await save(secrets);
      }),
  };
}
