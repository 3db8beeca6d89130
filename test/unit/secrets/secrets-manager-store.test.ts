// Unit tests — the Secrets Manager secret store against a mocked AWS API (aws-sdk-client-mock): what it sends
// for put / get / delete, and how it maps the service's errors (an existing secret is replaced, a missing one
// is SecretNotFoundError, anything else propagates).
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSecretsManagerStore, SecretNotFoundError } from '../../../shared/secrets/index.ts';

const prefix = 'vfleet/test/vcenters/';
const arn = (key: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:${prefix}${key}-AbCdEf`;
const meta = { $metadata: {} };

describe('Secrets Manager secret store', () => {
  const sm = mockClient(SecretsManagerClient);
  const store = createSecretsManagerStore({
    prefix,
    client: new SecretsManagerClient({ region: 'us-east-1' }),
  });

  beforeEach(() => sm.reset());

  it('creates one secret per vCenter under the prefix, tagged with its id, and answers its ARN', async () => {
    sm.on(CreateSecretCommand).resolves({ ARN: arn('vc-1'), Name: `${prefix}vc-1` });

    const ref = await store.put('vc-1', 'S3cret!');

    expect(store.kind).toBe('aws');
    expect(ref).toBe(arn('vc-1'));
    const calls = sm.commandCalls(CreateSecretCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      Name: `${prefix}vc-1`,
      SecretString: 'S3cret!',
      Tags: [{ Key: 'vfleet:vcenter', Value: 'vc-1' }],
    });
    expect(calls[0]?.args[0].input.Description).not.toContain('S3cret!');
  });

  it('replaces the value of a secret that already exists (re-registration) instead of failing', async () => {
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', ...meta }));
    sm.on(PutSecretValueCommand).resolves({ ARN: arn('vc-1') });

    const ref = await store.put('vc-1', 'rotated');

    expect(ref).toBe(arn('vc-1'));
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: `${prefix}vc-1`,
      SecretString: 'rotated',
    });
  });

  it('lets other create failures through (access denied is not a conflict)', async () => {
    sm.on(CreateSecretCommand).rejects(
      new SecretsManagerServiceException({ name: 'AccessDeniedException', $fault: 'client', ...meta }),
    );

    await expect(store.put('vc-1', 'pw')).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('reads the secret string by its reference', async () => {
    sm.on(GetSecretValueCommand, { SecretId: arn('vc-1') }).resolves({ SecretString: 'S3cret!' });

    expect(await store.get(arn('vc-1'))).toBe('S3cret!');
  });

  it('answers SecretNotFoundError for a missing secret and for one without a string value', async () => {
    sm.on(GetSecretValueCommand, { SecretId: arn('gone') }).rejects(
      new ResourceNotFoundException({ message: 'not found', ...meta }),
    );
    sm.on(GetSecretValueCommand, { SecretId: arn('binary') }).resolves({
      SecretBinary: new Uint8Array([1, 2, 3]),
    });

    await expect(store.get(arn('gone'))).rejects.toThrow(SecretNotFoundError);
    await expect(store.get(arn('binary'))).rejects.toThrow(SecretNotFoundError);
  });

  it('lets a throttling or network failure through rather than calling it missing', async () => {
    sm.on(GetSecretValueCommand).rejects(
      new SecretsManagerServiceException({ name: 'ThrottlingException', $fault: 'client', ...meta }),
    );

    const error = await store.get(arn('vc-1')).catch((e: unknown) => e);

    expect(error).not.toBeInstanceOf(SecretNotFoundError);
    expect((error as Error).name).toBe('ThrottlingException');
  });

  it('deletes at once without a recovery window, and treats an already missing secret as deleted', async () => {
    sm.on(DeleteSecretCommand, { SecretId: arn('vc-1') }).resolves({});
    sm.on(DeleteSecretCommand, { SecretId: arn('gone') }).rejects(
      new ResourceNotFoundException({ message: 'not found', ...meta }),
    );

    await store.delete(arn('vc-1'));
    await store.delete(arn('gone'));

    expect(sm.commandCalls(DeleteSecretCommand)[0]?.args[0].input).toEqual({
      SecretId: arn('vc-1'),
      ForceDeleteWithoutRecovery: true,
    });
  });

  it('lets other delete failures through', async () => {
    sm.on(DeleteSecretCommand).rejects(
      new SecretsManagerServiceException({ name: 'InvalidRequestException', $fault: 'client', ...meta }),
    );

    await expect(store.delete(arn('vc-1'))).rejects.toMatchObject({ name: 'InvalidRequestException' });
  });

  it('getOrCreate reads the secret, creates it when missing, and takes the first one when another container won', async () => {
    const name = `${prefix}_signing`;
    sm.on(GetSecretValueCommand, { SecretId: name }).resolves({ SecretString: 'stored', ...meta });
    await expect(store.getOrCreate('_signing', () => 'new')).resolves.toBe('stored');
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);

    sm.reset();
    sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'no', ...meta }));
    sm.on(CreateSecretCommand).resolves({ ARN: arn('_signing'), ...meta });
    await expect(store.getOrCreate('_signing', () => 'new')).resolves.toBe('new');
    expect(sm.commandCalls(CreateSecretCommand)[0]?.args[0].input).toMatchObject({
      Name: name,
      SecretString: 'new',
    });

    sm.reset();
    sm.on(GetSecretValueCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: 'no', ...meta }))
      .resolves({ SecretString: 'theirs', ...meta });
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', ...meta }));
    await expect(store.getOrCreate('_signing', () => 'mine')).resolves.toBe('theirs');
  });
});
