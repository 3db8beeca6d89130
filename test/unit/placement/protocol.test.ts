// Unit tests — the forward signature between the control plane and the agents: a forward verifies only with
// the control plane's key, for exactly the node, project, token, validity and body it was signed with.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { forwardHeaders, signForward, verifyForward } from '#shared/placement/protocol';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const claim = { nodeId: 'node-1', projectId: 'p1', token: 7, validUntil: 1_800_000_000_000 };
const body = JSON.stringify({ dsl: 'append x' });

describe('forward signatures', () => {
  it('verifies a forward signed by the control plane and returns its claim', () => {
    expect(verifyForward(signForward(claim, body, privateKey), body, publicKey)).toEqual(claim);
  });

  it('refuses an edited token, node, validity or body, another key, and missing headers', () => {
    const headers = signForward(claim, body, privateKey);
    const edited = (name: string, value: string) =>
      verifyForward({ ...headers, [name]: value }, body, publicKey);
    expect(edited(forwardHeaders.token, '8')).toBeNull();
    expect(edited(forwardHeaders.node, 'node-2')).toBeNull();
    expect(edited(forwardHeaders.validUntil, String(claim.validUntil + 60_000))).toBeNull();
    expect(edited(forwardHeaders.project, 'p2')).toBeNull();
    expect(verifyForward(headers, JSON.stringify({ dsl: 'append y' }), publicKey)).toBeNull();
    expect(verifyForward(headers, body, generateKeyPairSync('ed25519').publicKey)).toBeNull();
    const { [forwardHeaders.signature]: _, ...unsigned } = headers;
    expect(verifyForward(unsigned, body, publicKey)).toBeNull();
  });
});
