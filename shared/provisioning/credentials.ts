// Provisioning — secondary adapter (DynamoDB + KMS, or the local secret store's key): personal vCenter
// identities, one item per (vCenter, caller), affordable for thousands of users (not one Secrets Manager secret
// each). Envelope encryption: each item's user name and password are sealed with AES-256-GCM under a fresh data
// key, bound to the item's id; the data key is kept only wrapped, by KMS in AWS, by a key in the local secret
// store in dev. Nothing here is ever logged, returned or put in a cache key.
import { createHash } from 'node:crypto';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type KeyWrapper, openWith as open, sealWith as seal } from '#shared/secrets';

// The envelope's outer layer lives with the other secrets (shared/secrets/envelope.ts); kept here by name too.
export { type KeyWrapper, kmsKeyWrapper, localKeyWrapper } from '#shared/secrets';

/** A vCenter identity a caller registered. */
export interface PersonalCredential {
  readonly username: string;
  readonly password: string;
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
