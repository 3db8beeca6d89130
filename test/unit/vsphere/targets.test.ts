// Unit tests — the vCenter endpoint allow-list (shared/vsphere/targets.ts): parsing, networks and host patterns,
// and the connection-time lookup that hands the socket only addresses it checked (a loopback server stands in for
// vCenter; an injected resolver stands in for DNS).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/config/index.ts';
import { NetworkError } from '../../../shared/vsphere/errors.ts';
import {
  parseTargetPolicy,
  setTargetResolver,
  TargetRefusedError,
  targetRefusal,
} from '../../../shared/vsphere/targets.ts';
import { Transport } from '../../../shared/vsphere/transport.ts';

const resolveTo = (answers: Record<string, string[]>) => async (hostname: string) => {
  const addresses = answers[hostname];
  if (!addresses) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({
    address,
    family: address.includes(':') ? (6 as const) : (4 as const),
  }));
};

afterEach(() => setTargetResolver(undefined));

describe('allow-list', () => {
  it('parses networks, addresses and host patterns, and refuses anything else naming the variable', () => {
    const policy = parseTargetPolicy(
      '10.20.0.0/16, 192.168.1.5 fd00::/8,*.vc.corp.example,VC01.other.example',
    );
    expect(policy.open).toBe(false);
    expect(policy.allowsAddress('10.20.3.4')).toBe(true);
    expect(policy.allowsAddress('::ffff:10.20.3.4')).toBe(true);
    expect(policy.allowsAddress('10.21.0.1')).toBe(false);
    expect(policy.allowsAddress('192.168.1.5')).toBe(true);
    expect(policy.allowsAddress('192.168.1.6')).toBe(false);
    expect(policy.allowsAddress('fd12::1')).toBe(true);
    expect(policy.allowsHostName('a.vc.corp.example')).toBe(true);
    expect(policy.allowsHostName('a.b.vc.corp.example')).toBe(true);
    expect(policy.allowsHostName('vc.corp.example')).toBe(false);
    expect(policy.allowsHostName('evilvc.corp.example')).toBe(false);
    expect(policy.allowsHostName('vc01.other.example')).toBe(true);
    expect(parseTargetPolicy('').open).toBe(true);
    for (const bad of ['10.0.0.0/33', '10.0.0.0/8/1', 'http://vc', 'vc_1.example', '*.*.x']) {
      expect(() => parseTargetPolicy(bad)).toThrow(ConfigError);
      expect(() => parseTargetPolicy(bad)).toThrow(/VCENTER_ALLOWED_TARGETS/);
    }
  });

  it('checks a registration URL by its host as it resolves now', async () => {
    setTargetResolver(
      resolveTo({ 'vc-in.test': ['10.20.0.9'], 'vc-out.test': ['10.99.0.1', '169.254.169.254'] }),
    );
    const policy = parseTargetPolicy('10.20.0.0/16, *.lab.example');
    expect(await targetRefusal('https://vc-in.test/sdk', policy)).toBeUndefined();
    expect(await targetRefusal('https://10.20.1.1/sdk', policy)).toBeUndefined();
    expect(await targetRefusal('https://vc-out.test/sdk', policy)).toMatch(/169\.254\.169\.254/);
    expect(await targetRefusal('https://10.99.0.1/sdk', policy)).toMatch(/not in VCENTER_ALLOWED_TARGETS/);
    expect(await targetRefusal('https://nowhere.test/sdk', policy)).toMatch(/does not resolve/);
    // A host pattern trusts the name's DNS.
    expect(await targetRefusal('https://x.lab.example/sdk', parseTargetPolicy('*.lab.example'))).toMatch(
      /does not resolve/,
    );
    setTargetResolver(resolveTo({ 'x.lab.example': ['10.1.1.1'] }));
    expect(await targetRefusal('https://x.lab.example/sdk', policy)).toBeUndefined();
    // Open: nothing is resolved, everything allowed.
    expect(await targetRefusal('https://nowhere.test/sdk', parseTargetPolicy(''))).toBeUndefined();
    await expect(policy.allowedAddresses('vc-out.test', resolveTo({}))).rejects.toBeInstanceOf(
      TargetRefusedError,
    );
  });
});

describe('transport connections', () => {
  let server: Server;
  let port: number;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('connects to the address its lookup checked, and refuses one the answer changed to', async () => {
    // Allowed: the name resolves into the network; the connection reaches the server.
    setTargetResolver(async () => [{ address: '127.0.0.1', family: 4 }]);
    const url = `http://vc-rebind.test:${port}/sdk`;
    const before = requests;
    const transport = new Transport({ url, targets: parseTargetPolicy('127.0.0.1/32') });
    expect((await transport.get('/x', undefined)).status).toBe(200);
    expect(requests).toBe(before + 1);
    // Registered while the name pointed at 127.0.0.2 (allowed); at connect it points at 127.0.0.1, where a server
    // answers but the list does not reach: refused, nothing sent.
    const policy = parseTargetPolicy('127.0.0.2/32');
    setTargetResolver(async () => [{ address: '127.0.0.2', family: 4 }]);
    expect(await targetRefusal(url, policy)).toBeUndefined();
    setTargetResolver(async () => [{ address: '127.0.0.1', family: 4 }]);
    const rebound = new Transport({ url, targets: policy });
    const refused = await rebound.get('/x', undefined).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(NetworkError);
    expect((refused as NetworkError).code).toBe('ETARGETREFUSED');
    expect(requests).toBe(before + 1);
  });

  it('refuses an address in the URL outside the list without connecting', async () => {
    const before = requests;
    const transport = new Transport({
      url: `http://127.0.0.1:${port}/sdk`,
      targets: parseTargetPolicy('10.0.0.0/8'),
    });
    const refused = await transport.get('/x', undefined).catch((error: unknown) => error);
    expect((refused as NetworkError).code).toBe('ETARGETREFUSED');
    expect(requests).toBe(before);
    const allowed = new Transport({
      url: `http://127.0.0.1:${port}/sdk`,
      targets: parseTargetPolicy('127.0.0.0/8'),
    });
    expect((await allowed.get('/x', undefined)).status).toBe(200);
  });
});
