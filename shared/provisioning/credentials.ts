// Provisioning — secondary adapter (DynamoDB + KMS, or the local secret store's key): personal vCenter
// identities, one item per (vCenter, caller), affordable for thousands of users (not one Secrets Manager secret
// each). Envelope encryption: each item's user name and password are sealed with AES-256-GCM under a fresh data
// key, bound to the item's id; the data key is kept only wrapped, by KMS in AWS, by a key in the local secret
// store in dev. Nothing here is ever logged, returned or put in a cache key.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';

/** A vCenter identity a caller registered. */
export interface PersonalCredential {
  readonly username: string;
  readonly password: string;
}

/** Makes and unwraps data keys (the envelope's outer layer). */
export interface KeyWrapper {
  newDataKey(): Promise<{ plaintext: Buffer; wrapped: Buffer }>;
  unwrap(wrapped: Buffer): Promise<Buffer>;
}

/** Data keys from KMS (GenerateDataKey / Decrypt under one key). */
export function kmsKeyWrapper(kms: KMSClient, keyId: string): KeyWrapper {
  return {
    async newDataKey() {
      const key = await kms.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' }));
      if (!key.Plaintext || !key.CiphertextBlob) throw new Error('KMS returned no data key');
      return { plaintext: Buffer.from(key.Plaintext), wrapped: Buffer.from(key.CiphertextBlob) };
    },
    async unwrap(wrapped) {
      const key = await kms.send(new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped }));
      if (!key.Plaintext) throw new Error('KMS returned no plaintext');
      return Buffer.from(key.Plaintext);
    },
  };
}

/** Seals `plain` with AES-256-GCM: iv (12) ‖ tag (16) ‖ ciphertext, authenticated with `aad`. */
function seal(key: Buffer, plain: Buffer, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(aad));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12)).setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}

/** Data keys wrapped under a 256-bit key from elsewhere (dev: the local secret store's). */
export function localKeyWrapper(masterKey: () => Promise<Buffer>): KeyWrapper {
  return {
    async newDataKey() {
      const plaintext = randomBytes(32);
      return { plaintext, wrapped: seal(await masterKey(), plaintext, 'vfleet-data-key') };
    },
    async unwrap(wrapped) {
      return open(await masterKey(), wrapped, 'vfleet-data-key');
    },
  };
}

interface CredentialItem {
  readonly id: string;
  readonly vcenterId: string;
  readonly dataKey: Uint8Array;
  readonly sealed: Uint8Array;
  readonly updatedAt: string;
}

/** Personal credentials in one DynamoDB table (partition key `id`). */
export class CredentialStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly keys: KeyWrapper,
  ) {}

  /** The item's key: a hash of vCenter and caller, so the table lists no user ids in the clear. */
  private id(vcenterId: string, subject: string): string {
    return createHash('sha256').update(`${vcenterId}\n${subject}`).digest('base64url');
  }

  async put(vcenterId: string, subject: string, credential: PersonalCredential): Promise<void> {
    const id = this.id(vcenterId, subject);
    const { plaintext, wrapped } = await this.keys.newDataKey();
    const sealed = seal(plaintext, Buffer.from(JSON.stringify(credential)), id);
    plaintext.fill(0);
    const item: CredentialItem = {
      id,
      vcenterId,
      dataKey: wrapped,
      sealed,
      updatedAt: new Date().toISOString(),
    };
    await this.doc.send(new PutCommand({ TableName: this.table, Item: item }));
  }

  /** The caller's credential for the vCenter, if they registered one. */
  async get(vcenterId: string, subject: string): Promise<PersonalCredential | undefined> {
    const id = this.id(vcenterId, subject);
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: { id } }));
    if (!Item) return undefined;
    const item = Item as CredentialItem;
    const key = await this.keys.unwrap(Buffer.from(item.dataKey));
    try {
      return JSON.parse(open(key, Buffer.from(item.sealed), id).toString('utf8')) as PersonalCredential;
    } finally {
      key.fill(0);
    }
  }

  /** Removes the caller's credential; false when there was none. */
  async delete(vcenterId: string, subject: string): Promise<boolean> {
    const { Attributes } = await this.doc.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { id: this.id(vcenterId, subject) },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  }
}
