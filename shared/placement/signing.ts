// Placement — the control plane's forward-signing key (Ed25519), kept in the secret store and created by the
// first container that needs it; agents learn its public half from their heartbeat answers.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { secretNames } from '#shared/contracts';
import { type SecretStore, secretStore } from '#shared/secrets';

export interface SigningKey {
  readonly privateKey: KeyObject;
  /** SPKI PEM, as heartbeat answers carry it. */
  readonly publicPem: string;
}

/** Loads (or creates) the key from `secrets`. */
export async function loadSigningKey(secrets: SecretStore): Promise<SigningKey> {
  const pem = await secrets.getOrCreate(secretNames.placementKey, () =>
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  const privateKey = createPrivateKey(pem);
  return {
    privateKey,
    publicPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

let cached: Promise<SigningKey> | undefined;

/** The process's key, loaded once (a failed load is retried by the next caller). */
export function signingKey(): Promise<SigningKey> {
  cached ??= loadSigningKey(secretStore()).catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}
