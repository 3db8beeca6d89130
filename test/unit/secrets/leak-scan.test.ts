// Unit tests — the secret-leak scan's matching (test/setup/leaks.ts): a planted secret is found in a sample
// log as is and encoded, reported with its place but masked, and near misses, short values and unplanted
// text are not reported; the registry and the secret-store planting record what they should.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  describeLeaks,
  findLeaks,
  leakEnv,
  parseRegistry,
  plantSecret,
  plantSecretStore,
} from '../../setup/leaks.ts';

const password = 'vcsim-Qm9vZ2xlLWJsdWUtc2t5';
const sampleLog = [
  '{"level":"INFO","message":"sync pass","vcenterId":"vc-1","changes":3}',
  `{"level":"ERROR","message":"login failed","url":"https://127.0.0.1:8989/sdk","detail":"user=admin password=${password}"}`,
  '{"level":"INFO","message":"done"}',
].join('\n');

describe('secret-leak scan', () => {
  it('finds a planted password in a sample log, with its line, masked', () => {
    // Act
    const leaks = findLeaks(
      [{ kind: 'vcenter password', value: password }],
      [{ name: 'worker.log', text: sampleLog }],
    );
    // Assess
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({
      kind: 'vcenter password',
      source: 'worker.log',
      line: 2,
      encoding: 'as is',
    });
    expect(leaks[0]?.excerpt).toContain('password=vcsi********');
    // The report names the leak without repeating it.
    expect(describeLeaks(leaks)).not.toContain(password);
  });

  it('finds a secret base64-, base64url- and URL-encoded', () => {
    // Its base64 has + and /, so base64url differs from it.
    const cookie = 'session>>key??with~~odd&chars';
    const sources = [
      { name: 'b64', text: `Authorization: Basic ${Buffer.from(cookie).toString('base64')}` },
      { name: 'b64url', text: `state=${Buffer.from(cookie).toString('base64url')}` },
      { name: 'url', text: `GET /screen?c=${encodeURIComponent(cookie)}` },
    ];
    const found = findLeaks([{ kind: 'vsphere session cookie', value: cookie }], sources);
    expect(found.map((l) => [l.source, l.encoding]).sort()).toEqual([
      ['b64', 'base64'],
      ['b64url', 'base64url'],
      ['url', 'URL-encoded'],
    ]);
  });

  it('reports nothing for near misses, values too short to scan, or a clean log', () => {
    const nearMiss = `${password.slice(0, -1)}X`;
    expect(findLeaks([{ kind: 'p', value: nearMiss }], [{ name: 'log', text: sampleLog }])).toEqual([]);
    expect(findLeaks([{ kind: 'p', value: 'pass' }], [{ name: 'log', text: 'user=u pass=pass' }])).toEqual(
      [],
    );
    expect(
      findLeaks(
        [{ kind: 'p', value: password }],
        [{ name: 'log', text: sampleLog.replace(password, '[redacted]') }],
      ),
    ).toEqual([]);
  });

  describe('registry', () => {
    let dir: string;
    const previous = process.env[leakEnv.registry];
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'vfleet-leak-unit-'));
    });
    afterEach(async () => {
      if (previous === undefined) delete process.env[leakEnv.registry];
      else process.env[leakEnv.registry] = previous;
      await rm(dir, { recursive: true, force: true });
    });

    it('records planted secrets once each, and nothing without a registry', async () => {
      const registry = join(dir, 'planted.jsonl');
      await writeFile(registry, '');
      delete process.env[leakEnv.registry];
      plantSecret('jwt', 'ignored-without-registry');
      process.env[leakEnv.registry] = registry;
      plantSecret('jwt', 'eyJhbGciOiJFUzI1NiJ9.e30.sig');
      plantSecret('jwt', 'eyJhbGciOiJFUzI1NiJ9.e30.sig');
      expect(parseRegistry(await readFile(registry, 'utf8'))).toEqual([
        { kind: 'jwt', value: 'eyJhbGciOiJFUzI1NiJ9.e30.sig' },
      ]);
    });

    it("plants a file secret store's secrets, not its user names and URLs", async () => {
      const registry = join(dir, 'planted.jsonl');
      await writeFile(registry, '');
      process.env[leakEnv.registry] = registry;
      const pem =
        '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ3kq7X9d1Zb1kq0m2YyVQw\n-----END PRIVATE KEY-----\n';
      const store = join(dir, 'secrets.json');
      await writeFile(
        store,
        JSON.stringify({
          v: 1,
          secrets: {
            'vcenter/vc-1': JSON.stringify({
              url: 'https://vc1.example.com/sdk',
              username: 'administrator@vsphere.local',
              password,
            }),
            '_placement-signing-key': pem,
          },
        }),
      );
      await plantSecretStore(store);
      const values = parseRegistry(await readFile(registry, 'utf8')).map((s) => s.value);
      expect(values).toEqual([password, pem, 'MC4CAQAwBQYDK2VwBCIEIJ3kq7X9d1Zb1kq0m2YyVQw']);
    });
  });
});
