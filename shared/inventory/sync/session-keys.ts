// Inventory sync — secondary adapter (PostgreSQL + a key wrapper): the keyring that seals saved vSphere
// sessions. Each version's data key is stored wrapped in `session_keys`, made by the first container that
// seals with it (GenerateDataKey in AWS) and unwrapped once per container (KMS Decrypt), then kept in memory.
// The current version comes from SESSION_KEY_VERSION: raising it rotates the key; records sealed with an
// older version still open and are re-sealed by their vCenter's next pass.
import { numberEnv } from '#shared/config';
import { secretNames } from '#shared/contracts';
import { type KeyWrapper, keyWrapperFromEnv, type SecretStore } from '#shared/secrets';
import type { Queryable } from '../queries.ts';
import type { SealKey, SessionKeyring } from './session-crypto.ts';

/** The setting that names the current key version (a positive integer). */
export const sessionKeyVersionEnv = 'SESSION_KEY_VERSION';
/** The setting that names the wrapping key: `kms:<key arn>` (AWS) or `secret-store` (dev, the default). */
export const sessionKeyEnv = 'SESSION_KEY';

/** A keyring on the `session_keys` table. */
export class SessionKeys implements SessionKeyring {
  private readonly keys = new Map<number, Promise<Buffer | undefined>>();

  constructor(
    private readonly db: Queryable,
    private readonly wrapper: KeyWrapper,
    /** The version new seals use. */
    readonly currentVersion: number,
  ) {
    if (!Number.isInteger(currentVersion) || currentVersion < 1)
      throw new RangeError(`session key version must be a positive integer (got ${currentVersion})`);
  }

  async current(): Promise<SealKey> {
    // A lookup without `create` may be in flight for the same version and answer "none": ask once more.
    const key =
      (await this.remembered(this.currentVersion, true)) ??
      (await this.remembered(this.currentVersion, true));
    if (!key) throw new Error(`session key ${this.currentVersion} could not be created`);
    return { version: this.currentVersion, key };
  }

  byVersion(version: number): Promise<Buffer | undefined> {
    return this.remembered(version, false);
  }

  /** One lookup per version per container; a failed or empty one is forgotten so the next call asks again. */
  private remembered(version: number, create: boolean): Promise<Buffer | undefined> {
    const held = this.keys.get(version);
    if (held) return held;
    const forget = () => {
      if (this.keys.get(version) === key) this.keys.delete(version);
    };
    const key: Promise<Buffer | undefined> = this.load(version, create).then(
      (found) => {
        if (!found) forget();
        return found;
      },
      (error: unknown) => {
        forget();
        throw error;
      },
    );
    this.keys.set(version, key);
    return key;
  }

  private async load(version: number, create: boolean): Promise<Buffer | undefined> {
    const stored = await this.stored(version);
    if (stored) return this.wrapper.unwrap(stored);
    if (!create) return undefined;
    const { plaintext, wrapped } = await this.wrapper.newDataKey();
    const { rowCount } = await this.db.query(
      `INSERT INTO session_keys (version, wrapped, wrapped_by) VALUES ($1, $2, $3)
       ON CONFLICT (version) DO NOTHING`,
      [version, wrapped, this.wrapper.name ?? 'unnamed'],
    );
    if (rowCount === 1) return plaintext;
    // Another container stored this version first: everyone seals with the one stored.
    plaintext.fill(0);
    const winner = await this.stored(version);
    return winner ? this.wrapper.unwrap(winner) : undefined;
  }

  private async stored(version: number): Promise<Buffer | undefined> {
    const { rows } = await this.db.query<{ wrapped: Buffer }>(
      'SELECT wrapped FROM session_keys WHERE version = $1',
      [version],
    );
    return rows[0]?.wrapped;
  }
}

const processKeyrings = new WeakMap<object, SessionKeys>();

/**
 * The process's keyring for a database (one per pool, so a container unwraps each version once), wrapped as
 * SESSION_KEY says; in dev the wrapping key lives in `secrets` under `secretNames.sessionKey`.
 */
export function sessionKeysFor(db: Queryable, secrets: SecretStore): SessionKeys {
  let keys = processKeyrings.get(db);
  if (!keys) {
    keys = new SessionKeys(
      db,
      keyWrapperFromEnv(sessionKeyEnv, () => secrets, secretNames.sessionKey),
      numberEnv(sessionKeyVersionEnv, 1, { min: 1, max: 1_000_000 }),
    );
    processKeyrings.set(db, keys);
  }
  return keys;
}
