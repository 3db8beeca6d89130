// Secrets — secondary adapter (port + factory): where vCenter passwords live. Secrets Manager in AWS, a
// 0600 JSON file locally; chosen by SECRET_STORE and never a silent in-memory fallback. Callers keep only
// the opaque reference (`secret_ref` in the vcenters table), never the value.
import { ConfigError, optionalEnv } from '#shared/config';
import { createSecretsManagerStore } from './aws.ts';
import { createFileSecretStore } from './file.ts';
import type { SecretStore } from './types.ts';

export {
  createSecretsManagerStore,
  type RedisCredential,
  readDatabasePassword,
  readRedisCredential,
} from './aws.ts';
export {
  type KeyWrapper,
  keyWrapperFromEnv,
  kmsKeyWrapper,
  localKeyWrapper,
  openWith,
  sealWith,
} from './envelope.ts';
export { createFileSecretStore } from './file.ts';
export { SecretNotFoundError, type SecretStore } from './types.ts';

let store: SecretStore | undefined;

/**
 * The process's secret store, from `SECRET_STORE`: `aws` (Secrets Manager, one secret per vCenter named
 * `VCENTER_SECRET_PREFIX<key>`) or `file:<path>` (a 0600 JSON file). In a Lambda with `VCENTER_SECRET_PREFIX`
 * bound by the CDK, `aws` is implied. Anything else fails with the variable's name.
 */
export function secretStore(): SecretStore {
  if (store) return store;
  const prefix = optionalEnv('VCENTER_SECRET_PREFIX', '');
  const setting = optionalEnv('SECRET_STORE', prefix ? 'aws' : '');
  if (setting === 'aws') {
    if (!prefix)
      throw new ConfigError('SECRET_STORE=aws needs VCENTER_SECRET_PREFIX (e.g. vfleet/dev/vcenters/)');
    store = createSecretsManagerStore({ prefix });
  } else if (setting.startsWith('file:') && setting.length > 'file:'.length) {
    store = createFileSecretStore(setting.slice('file:'.length));
  } else {
    throw new ConfigError(
      `SECRET_STORE must be "aws" or "file:<path>" (got "${setting}"); vCenter passwords need a real store`,
    );
  }
  return store;
}

/** Forgets the process's store (tests that switch SECRET_STORE). */
export function resetSecretStore(): void {
  store = undefined;
}
