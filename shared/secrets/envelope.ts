// Secrets — secondary adapter (KMS, or the local secret store's key): the outer layer of envelope encryption.
// Data keys come from KMS (GenerateDataKey, unwrapped with Decrypt) in AWS, or are wrapped with AES-256-GCM
// under a 256-bit key kept in the local secret store in dev. Callers seal their data with the plaintext data
// key and keep only the wrapped one; nothing here derives a key from anything a database holds.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
// Types only: the SDK module loads on the first KMS call, so the many functions that import #shared/secrets
// without using KMS do not pay for it at cold start.
import type { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, optionalEnv } from '#shared/config';
import type { SecretStore } from './types.ts';

/** Makes and unwraps data keys (the envelope's outer layer). */
export interface KeyWrapper {
  /** `kms:<key id>` or `secret-store:<secret name>`: which key wraps the data keys (no secret). */
  readonly name?: string;
  newDataKey(): Promise<{ plaintext: Buffer; wrapped: Buffer }>;
  unwrap(wrapped: Buffer): Promise<Buffer>;
}

const kmsModule = () => import('@aws-sdk/client-kms');

/** Data keys from KMS (GenerateDataKey / Decrypt under one key); `kms` defaults to a client from the environment. */
export function kmsKeyWrapper(kms: KMSClient | undefined, keyId: string): KeyWrapper {
  let client: Promise<KMSClient> | undefined;
  const clientOf = () => {
    client ??= kms ? Promise.resolve(kms) : kmsModule().then(({ KMSClient }) => new KMSClient({}));
    return client;
  };
  return {
    name: `kms:${keyId}`,
    async newDataKey() {
      const { GenerateDataKeyCommand } = await kmsModule();
      const key = await (await clientOf()).send(
        new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }),
      );
      if (!key.Plaintext || !key.CiphertextBlob) throw new Error('KMS returned no data key');
      return { plaintext: Buffer.from(key.Plaintext), wrapped: Buffer.from(key.CiphertextBlob) };
    },
    async unwrap(wrapped) {
      const { DecryptCommand } = await kmsModule();
      const key = await (await clientOf()).send(
        new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped }),
      );
      if (!key.Plaintext) throw new Error('KMS returned no plaintext');
      return Buffer.from(key.Plaintext);
    },
  };
}

/** Seals `plain` with AES-256-GCM: iv (12) ‖ tag (16) ‖ ciphertext, authenticated with `aad`. */
export function sealWith(key: Buffer, plain: Buffer, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** Opens what {@link sealWith} sealed; throws when the key, the aad or a byte differs. */
export function openWith(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12)).setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}

/** Data keys wrapped under a 256-bit key from elsewhere (dev: the local secret store's). */
export function localKeyWrapper(masterKey: () => Promise<Buffer>, name = 'local'): KeyWrapper {
  return {
    name,
    async newDataKey() {
      const plaintext = randomBytes(32);
      return { plaintext, wrapped: sealWith(await masterKey(), plaintext, 'vfleet-data-key') };
    },
    async unwrap(wrapped) {
      return openWith(await masterKey(), wrapped, 'vfleet-data-key');
    },
  };
}

/**
 * The key wrapper a setting names (read once, checked at start-up): `kms:<key arn>` (AWS, set by the CDK), or
 * `secret-store` (the default locally): a 256-bit key kept in `store` under `secretName`, created on first use
 * (containers starting together agree on the first one stored).
 */
export function keyWrapperFromEnv(
  variable: string,
  store: () => SecretStore,
  secretName: string,
): KeyWrapper {
  const setting = optionalEnv(variable, 'secret-store');
  if (setting.startsWith('kms:') && setting.length > 4) return kmsKeyWrapper(undefined, setting.slice(4));
  if (setting !== 'secret-store') {
    throw new ConfigError(`${variable} must be "kms:<key arn>" or "secret-store" (got "${setting}")`);
  }
  let key: Promise<Buffer> | undefined;
  return localKeyWrapper(() => {
    key ??= store()
      .getOrCreate(secretName, () => randomBytes(32).toString('base64'))
      .then((text) => Buffer.from(text, 'base64'));
    // A failed read is not remembered: the next call asks the store again.
    key.catch(() => {
      key = undefined;
    });
    return key;
  }, `secret-store:${secretName}`);
}
