// Test harness — the dev issuer for tests: `loadDevIssuer` with its signing key and every token it mints
// planted for the secret-leak scan (test/setup/leaks.ts).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DevIssuer, loadDevIssuer } from '../../infra/local/dev-issuer.ts';
import { plantKeyMaterial, plantSecret } from './leaks.ts';

export async function loadTestIssuer(stateDir: string): Promise<DevIssuer> {
  const issuer = await loadDevIssuer(stateDir);
  const stored = JSON.parse(await readFile(join(stateDir, 'dev-issuer.json'), 'utf8')) as {
    privateJwk?: { d?: string };
  };
  if (stored.privateJwk?.d) plantKeyMaterial('issuer private key', stored.privateJwk.d);
  return {
    ...issuer,
    mint: async (roles, options) => {
      const token = await issuer.mint(roles, options);
      plantSecret('jwt', token);
      return token;
    },
  };
}
