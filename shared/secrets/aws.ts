// Secrets — secondary adapter (AWS Secrets Manager): one secret per vCenter, named `<prefix><vCenter id>`.
// One secret each rather than one JSON document keyed by id: a secret holds at most 64 KB (a few hundred
// vCenters), a shared document would need read-modify-write with no compare-and-swap (two registrations at
// once lose one), and every reader would fetch every password. The price is $0.40 per secret and month.
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretNotFoundError, type SecretStore } from './types.ts';

/** Options of {@link createSecretsManagerStore}. */
export interface SecretsManagerStoreOptions {
  /** Name prefix, e.g. `vfleet/prod/vcenters/`; the function's IAM policy is scoped to it. */
  readonly prefix: string;
  /** @default a client from the environment */
  readonly client?: SecretsManagerClient;
}

/** A {@link SecretStore} on Secrets Manager. References are secret ARNs. */
export function createSecretsManagerStore(options: SecretsManagerStoreOptions): SecretStore {
  const client = options.client ?? new SecretsManagerClient({});
  return {
    kind: 'aws',
    async put(key, value) {
      const name = `${options.prefix}${key}`;
      try {
        const created = await client.send(
          new CreateSecretCommand({
            Name: name,
            SecretString: value,
            Description: `vfleet vCenter credential for ${key}`,
            Tags: [{ Key: 'vfleet:vcenter', Value: key }],
          }),
        );
        return created.ARN ?? name;
      } catch (error) {
        // Re-registration after an earlier one: replace the value, keep the secret.
        if (!(error instanceof ResourceExistsException)) throw error;
        const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
        return put.ARN ?? name;
      }
    },
    async get(ref) {
      try {
        const answer = await client.send(new GetSecretValueCommand({ SecretId: ref }));
        if (answer.SecretString === undefined) throw new SecretNotFoundError(ref);
        return answer.SecretString;
      } catch (error) {
        if (error instanceof ResourceNotFoundException) throw new SecretNotFoundError(ref);
        throw error;
      }
    },
    async getOrCreate(key, create) {
      const name = `${options.prefix}${key}`;
      const read = async () =>
        (await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
      try {
        const value = await read();
        if (value !== undefined) return value;
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
      const value = create();
      try {
        await client.send(
          new CreateSecretCommand({ Name: name, SecretString: value, Description: `vfleet ${key}` }),
        );
        return value;
      } catch (error) {
        // Another container created it first: its value is the one every container must use.
        if (!(error instanceof ResourceExistsException)) throw error;
        const stored = await read();
        if (stored === undefined) throw new SecretNotFoundError(name);
        return stored;
      }
    },
    async delete(ref) {
      try {
        // No recovery window: a deleted vCenter's password must be gone, and its id reusable at once.
        await client.send(new DeleteSecretCommand({ SecretId: ref, ForceDeleteWithoutRecovery: true }));
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
    },
  };
}

/**
 * The password of a database secret (the JSON RDS writes: `{"username", "password", …}`) by its ARN; the deploy
 * step reads the capability roles' secrets with it. The message of a failure names the secret, not its value.
 */
export async function readDatabasePassword(
  arn: string,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<string> {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  const password = SecretString ? (JSON.parse(SecretString) as { password?: unknown }).password : undefined;
  if (typeof password !== 'string' || password === '') throw new SecretNotFoundError(arn);
  return password;
}

/** The login of an ElastiCache RBAC user, as its secret holds it (`{"username", "password"}`). */
export interface RedisCredential {
  readonly username: string;
  readonly password: string;
}

/**
 * The Redis login in the secret `arn` (the JSON the stateful stack generates). A secret that does not parse, or
 * lacks either field, fails with an error that names the secret only: `JSON.parse`'s own message would quote
 * the secret's text.
 */
export async function readRedisCredential(
  arn: string,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<RedisCredential> {
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  let parsed: { username?: unknown; password?: unknown } | undefined;
  try {
    parsed = SecretString ? (JSON.parse(SecretString) as typeof parsed) : undefined;
  } catch {
    parsed = undefined;
  }
  const username = parsed?.username;
  const password = parsed?.password;
  if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '')
    throw new SecretNotFoundError(arn);
  return { username, password };
}
