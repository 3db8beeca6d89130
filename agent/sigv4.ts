// Node agent — SigV4 signing of heartbeats with the instance role, for the node routes that API Gateway
// authorizes with IAM in AWS (the function maps the signing instance to its node).
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export function sigv4Authenticator(region: string) {
  const signer = new SignatureV4({
    service: 'execute-api',
    region,
    credentials: fromNodeProviderChain(),
    sha256: Hash.bind(null, 'sha256'),
  });
  return async ({ url, body }: { url: string; body: string }): Promise<Record<string, string>> => {
    const target = new URL(url);
    const signed = await signer.sign({
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname,
      path: target.pathname,
      headers: { host: target.host, 'content-type': 'application/json' },
      body,
    });
    return signed.headers as Record<string, string>;
  };
}
