// Secrets — the port: what a secret store offers and the one error callers handle.

/** A store of one secret string per key (a vCenter id). */
export interface SecretStore {
  /** Which backend: `aws` or `file`. */
  readonly kind: 'aws' | 'file';
  /** Creates or replaces the secret of `key`; answers the reference to keep (an ARN, or `file:<key>`). */
  put(key: string, value: string): Promise<string>;
  /** The secret behind a reference from {@link SecretStore.put}; throws {@link SecretNotFoundError}. */
  get(ref: string): Promise<string>;
  /** Removes the secret at once (no recovery window); a missing secret is fine. */
  delete(ref: string): Promise<void>;
  /**
   * The secret of `key`, created with `create()` when there is none. Two callers racing to create it both
   * answer the value stored first (so containers starting together agree on one key).
   */
  getOrCreate(key: string, create: () => string): Promise<string>;
}

/** No secret behind the reference (deleted, or never written). The message names the reference only. */
export class SecretNotFoundError extends Error {
  override readonly name = 'SecretNotFoundError';
  constructor(ref: string) {
    super(`No secret at ${ref}`);
  }
}
