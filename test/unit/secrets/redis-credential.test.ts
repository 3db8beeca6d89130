// Unit tests — the Redis login read from Secrets Manager against a mocked AWS API (aws-sdk-client-mock): the
// RBAC user's JSON is parsed; a secret that does not parse or lacks a field fails naming the secret and never
// quoting its text; and the shared client refuses to send a login over a plain redis:// URL.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeRedis, redis } from '../../../shared/clients/redis.ts';
import { ConfigError } from '../../../shared/config/index.ts';
import { readRedisCredential, SecretNotFoundError } from '../../../shared/secrets/index.ts';

const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:vfleet-redis-login-AbCdEf';
const password = 'Zq7vX2mN9pL4rT8wK3sB6yH1cF5gJ0dA';

describe('Redis login from Secrets Manager', () => {
  const sm = mockClient(SecretsManagerClient);
  const client = new SecretsManagerClient({ region: 'us-east-1' });
  beforeEach(() => sm.reset());

  it('reads the user name and password of the RBAC user from the secret it names', async () => {
    sm.on(GetSecretValueCommand, { SecretId: arn }).resolves({
      SecretString: JSON.stringify({ username: 'vfleetprodstateful-app', password }),
    });

    const credential = await readRedisCredential(arn, client);

    expect(credential).toEqual({ username: 'vfleetprodstateful-app', password });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it.each([
    ['text that is not JSON', `${password} is not json`],
    ['JSON without a user name', JSON.stringify({ password })],
    ['JSON with an empty password', JSON.stringify({ username: 'app', password: '' })],
  ])('fails on %s, naming the secret and not quoting it', async (_case, text) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: text });

    const failure = await readRedisCredential(arn, client).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(SecretNotFoundError);
    expect((failure as Error).message).toContain(arn);
    expect(String((failure as Error).message)).not.toContain(password.slice(0, 8));
    expect(String((failure as Error).stack)).not.toContain(password.slice(0, 8));
  });
});

describe('shared Redis client configuration', () => {
  afterEach(async () => {
    vi.unstubAllEnvs();
    await closeRedis();
  });

  it('refuses a login over a plain redis:// URL, naming the variables, before connecting', () => {
    vi.stubEnv('REDIS_URL', 'redis://cache.internal:6379');
    vi.stubEnv('REDIS_AUTH_SECRET_ARN', arn);

    expect(() => redis()).toThrow(ConfigError);
    expect(() => redis()).toThrow(/REDIS_AUTH_SECRET_ARN needs a rediss:\/\/ \(TLS\) REDIS_URL/);
  });
});
