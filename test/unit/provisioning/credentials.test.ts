// Unit tests — the envelope of personal credentials: data keys from KMS (GenerateDataKey, Decrypt; the only
// partner is the AWS API, mocked with aws-sdk-client-mock) and from a local master key, round trips, and a
// wrapped key or sealed item that fails to open when tampered with or moved to another item.
import { randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { kmsKeyWrapper, localKeyWrapper } from '../../../shared/provisioning/credentials.ts';

describe('credential data keys', () => {
  it('asks KMS for an AES-256 data key under the configured key, and unwraps through Decrypt', async () => {
    // Prepare
    const kms = mockClient(KMSClient);
    const plaintext = randomBytes(32);
    const blob = randomBytes(64);
    kms.on(GenerateDataKeyCommand).resolves({ Plaintext: plaintext, CiphertextBlob: blob });
    kms.on(DecryptCommand).resolves({ Plaintext: plaintext });
    const wrapper = kmsKeyWrapper(new KMSClient({ region: 'eu-west-1' }), 'arn:aws:kms:eu-west-1:1:key/k');
    // Act
    const key = await wrapper.newDataKey();
    const unwrapped = await wrapper.unwrap(key.wrapped);
    // Assess
    expect(kms.commandCalls(GenerateDataKeyCommand)[0]?.args[0].input).toEqual({
      KeyId: 'arn:aws:kms:eu-west-1:1:key/k',
      KeySpec: 'AES_256',
    });
    expect(Buffer.from(kms.commandCalls(DecryptCommand)[0]?.args[0].input.CiphertextBlob ?? [])).toEqual(
      blob,
    );
    expect(key.plaintext).toEqual(plaintext);
    expect(unwrapped).toEqual(plaintext);
    kms.restore();
  });

  it('wraps data keys under a local master key, and refuses a tampered or foreign wrapped key', async () => {
    const master = randomBytes(32);
    const wrapper = localKeyWrapper(async () => master);
    const key = await wrapper.newDataKey();
    expect(key.wrapped.includes(key.plaintext)).toBe(false);
    expect(await wrapper.unwrap(key.wrapped)).toEqual(key.plaintext);
    const tampered = Buffer.from(key.wrapped);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    await expect(wrapper.unwrap(tampered)).rejects.toThrow();
    await expect(localKeyWrapper(async () => randomBytes(32)).unwrap(key.wrapped)).rejects.toThrow();
  });
});
