// vSphere adapter tests — openVcenter, the one way to open a session from a vCenter's registry row: the
// pooled session is shared, a session of the caller's own (the sync's) is never taken from the pool nor put
// in it, and the password comes from the secret store at the row's reference (no network: only resumes).
import { describe, expect, it } from 'vitest';
import {
  openVcenter,
  type SerializedSession,
  type VcenterEndpointRow,
} from '../../../shared/vsphere/client.ts';

const row = (url: string): VcenterEndpointRow => ({
  url,
  username: 'svc@vsphere.local',
  secret_ref: 'vcenter/one',
  tls_insecure: true,
  ca_pem: null,
});

const saved = (url: string, cookie: string): SerializedSession => ({
  v: 1,
  url,
  username: 'svc@vsphere.local',
  cookie,
  serviceContent: {
    rootFolder: { type: 'Folder', value: 'group-d1' },
    propertyCollector: { type: 'PropertyCollector', value: 'propertyCollector' },
    viewManager: { type: 'ViewManager', value: 'ViewManager' },
    sessionManager: { type: 'SessionManager', value: 'SessionManager' },
    about: { fullName: 'vcsim', apiType: 'VirtualCenter', apiVersion: '8.0', instanceUuid: 'u' },
  },
});

describe('openVcenter', () => {
  it('hands every pooled caller the same session, and an unpooled caller one of its own', async () => {
    const url = 'https://vc-pool.example:443/sdk';
    const session = saved(url, 'cookie-a');

    const pooled = await openVcenter(row(url), { session, pooled: true });
    const again = await openVcenter(row(url), { session, pooled: true });
    const own = await openVcenter(row(url), { session, pooled: false });
    const ownAgain = await openVcenter(row(url), { session, pooled: false });

    expect(again).toBe(pooled);
    expect(own).not.toBe(pooled);
    expect(ownAgain).not.toBe(own);
    // A later pooled caller still gets the pool's session, not the sync's.
    expect(await openVcenter(row(url), { session: saved(url, 'cookie-a'), pooled: true })).toBe(pooled);
  });

  it("never puts a caller's own session in the pool", async () => {
    const url = 'https://vc-own.example:443/sdk';

    const own = await openVcenter(row(url), { session: saved(url, 'cookie-own'), pooled: false });
    const pooled = await openVcenter(row(url), { session: saved(url, 'cookie-own'), pooled: true });

    expect(pooled).not.toBe(own);
  });

  it("reads the password at the row's secret reference", async () => {
    const url = 'https://vc-secret.example:443/sdk';
    const asked: string[] = [];
    const secrets = {
      get: async (ref: string) => {
        asked.push(ref);
        return 'pw';
      },
    };

    const client = await openVcenter(row(url), { session: saved(url, 'cookie-s'), pooled: false, secrets });

    expect(asked).toEqual(['vcenter/one']);
    expect(client).toMatchObject({ url, username: 'svc@vsphere.local' });
  });

  it('refuses a login with neither a password nor a secret store', async () => {
    await expect(openVcenter(row('https://vc-none.example/sdk'), { pooled: false })).rejects.toThrow(
      'needs a password or a secret store',
    );
  });
});
