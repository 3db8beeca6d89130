// Integration tests — the vSphere client (shared/vsphere) against a real simulated vCenter (the vcsim
// fixture) over loopback HTTPS: sessions, paging, updates, operations, timeouts and faults.

import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  InvalidVersionError,
  type MoRef,
  NetworkError,
  NotAuthenticatedError,
  SoapFault,
  TaskError,
  TimeoutError,
  type UpdateBatch,
  VsphereClient,
} from '#shared/vsphere';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let sim: VcsimService;
let client: VsphereClient;
const opts = () => ({ url: sim.url, username: sim.username, password: sim.password, insecure: true });

async function allVms(c: VsphereClient, maxObjects = 100) {
  const vms = [];
  for await (const o of c.retrieve({ types: ['VirtualMachine'], maxObjects })) vms.push(o);
  return vms;
}

/** A proxy's leg to vcsim for one inbound connection: answers flow back; both sockets tracked in `live`. */
function connectToSim(inbound: net.Socket, live: Set<net.Socket>): net.Socket {
  const outbound = net.connect(sim.port, '127.0.0.1');
  for (const s of [inbound, outbound]) {
    live.add(s);
    s.on('close', () => live.delete(s));
    s.on('error', () => {});
  }
  outbound.pipe(inbound);
  return outbound;
}

beforeAll(async () => {
  sim = await startTestVcsim({ vms: 350 });
  client = await VsphereClient.connect(opts());
});

afterAll(async () => {
  await VsphereClient.closeAll();
  await sim?.stop();
});

describe('session', () => {
  it('logs in once per credential and shares the session within the process', async () => {
    // Prepare
    await sim.resetStats();
    // Act
    const [a, b] = await Promise.all([VsphereClient.connect(opts()), VsphereClient.connect(opts())]);
    // Assess
    expect(a).toBe(client);
    expect(b).toBe(client);
    expect(client.serviceContent.about.apiType).toBe('VirtualCenter');
    expect((await sim.stats()).soap.byMethod.Login ?? 0).toBe(0);
  });

  it('answers a wrong password with an InvalidLogin SOAP fault that does not echo the password', async () => {
    const password = 'wrong-Secret-123';
    const err = await VsphereClient.connect({ ...opts(), username: 'other-user', password }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SoapFault);
    expect((err as SoapFault).faultType).toBe('InvalidLogin');
    expect(String((err as Error).message) + inspect(err)).not.toContain(password);
  });

  it('does not hand the pooled session to a caller with the same user but a wrong password', async () => {
    const err = await VsphereClient.connect({ ...opts(), password: 'not-the-password' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SoapFault);
    expect((err as SoapFault).faultType).toBe('InvalidLogin');
    expect(await VsphereClient.connect(opts())).toBe(client);
  });

  it('does not hand a pooled session that skips certificate checks to a caller that asked for them', async () => {
    // The pooled client was created with insecure: true; the simulator's certificate is self-signed.
    const err = await VsphereClient.connect({ ...opts(), insecure: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBe(client);
    expect(await VsphereClient.connect(opts())).toBe(client);
  });

  it('logs in again by itself when the server has ended the session, once for concurrent callers', async () => {
    // Prepare
    const keyBefore = await client.sessionKey();
    expect(await sim.terminateSessions()).toBeGreaterThanOrEqual(1);
    await sim.resetStats();
    // Act
    const results = await Promise.all([client.sessionKey(), client.sessionKey(), allVms(client)]);
    // Assess
    expect(results[0]).not.toBe(keyBefore);
    expect(results[1]).toBe(results[0]);
    expect(results[2]).toHaveLength(sim.vms);
    expect((await sim.stats()).soap.byMethod.Login).toBe(1);
  });

  it('logs in again after a Logout behind its back (another holder of the serialised session)', async () => {
    // Prepare: another process resumes the same session and logs it out.
    const keyBefore = await client.sessionKey();
    const other = await VsphereClient.resume(client.serialize(), { insecure: true, pooled: false });
    await other.close(); // Logout
    // Act
    const keyAfter = await client.sessionKey();
    // Assess
    expect(keyAfter).not.toBe(keyBefore);
  });

  it('resumes a serialised session in a later invocation without logging in again', async () => {
    // Prepare: the first invocation logs in, serialises and ends without Logout.
    const first = await VsphereClient.connect({ ...opts(), pooled: false });
    const key = await first.sessionKey();
    const serialized = JSON.parse(JSON.stringify(first.serialize()));
    first.release();
    await sim.resetStats();
    // Act: a later invocation.
    const later = await VsphereClient.resume(serialized, {
      insecure: true,
      password: sim.password,
      pooled: false,
    });
    const vms = await allVms(later);
    // Assess
    expect(await later.sessionKey()).toBe(key);
    expect(vms).toHaveLength(sim.vms);
    expect((await sim.stats()).soap.byMethod.Login ?? 0).toBe(0);
    await later.close();
  });

  it('fails with NotAuthenticatedError when a resumed session is dead and there is no password', async () => {
    // Prepare
    const separate = await VsphereClient.connect({ ...opts(), pooled: false });
    const serialized = separate.serialize();
    await separate.close();
    // Act
    const resumed = await VsphereClient.resume(serialized, { insecure: true, pooled: false });
    const err = await resumed.sessionKey().catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(NotAuthenticatedError);
    expect((err as NotAuthenticatedError).faultType).toBe('NotAuthenticated');
    expect(String((err as Error).message)).not.toContain(serialized.cookie.split('=')[1]!);
    resumed.release();
  });

  it('keeps the cookie and password out of inspect and JSON, but not out of serialize', () => {
    const cookie = client.serialize().cookie;
    const value = cookie.split('=')[1]!;
    expect(inspect(client, { depth: 5 })).not.toContain(value);
    expect(JSON.stringify(client)).not.toContain(value);
    expect(inspect(client, { depth: 5 })).not.toContain(sim.password);
    expect(cookie).toMatch(/^vmware_soap_session=/);
  });

  it('verifies TLS by default and refuses the self-signed certificate', async () => {
    const err = await VsphereClient.connect({ ...opts(), insecure: false, pooled: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NetworkError);
  });

  it('trusts the server through the ca option, with verification on', async () => {
    // Prepare: the simulator's certificate as a PEM CA bundle.
    const pem = await serverCertificatePem(sim.port);
    expect(new X509Certificate(pem).subjectAltName).toContain('127.0.0.1');
    // Act
    const c = await VsphereClient.connect({ ...opts(), insecure: false, ca: pem, pooled: false });
    // Assess
    expect(await c.sessionKey()).toMatch(/.+/);
    await c.close();
  });
});

describe('idle session expiry', () => {
  let idle: VcsimService;
  beforeAll(async () => {
    idle = await startTestVcsim({ vms: 4, sessionIdleTimeoutMs: 400 });
  });
  afterAll(async () => {
    await idle?.stop();
  });

  it('logs in again by itself after the server expired the idle session', async () => {
    // Prepare
    const c = await VsphereClient.connect({
      url: idle.url,
      username: idle.username,
      password: idle.password,
      insecure: true,
      pooled: false,
    });
    const before = await c.sessionKey();
    await new Promise((r) => setTimeout(r, 1200)); // past the timeout and the server's next check
    await idle.resetStats();
    // Act
    const vms = [];
    for await (const vm of c.retrieve({ types: ['VirtualMachine'] })) vms.push(vm);
    const after = await c.sessionKey();
    // Assess
    expect(vms).toHaveLength(idle.vms);
    expect(after).not.toBe(before);
    expect((await idle.stats()).soap.byMethod.Login).toBe(1);
    await c.close();
  });
});

describe('retries (a proxy that resets connections in front of vcsim)', () => {
  let proxy: net.Server;
  let resetNext = 0;
  let resetOnNextRequest = 0;
  const live = new Set<net.Socket>();
  let url: string;
  beforeAll(async () => {
    proxy = net.createServer((inbound) => {
      if (resetNext > 0) {
        resetNext--;
        inbound.resetAndDestroy();
        return;
      }
      const outbound = connectToSim(inbound, live);
      inbound.on('data', (chunk) => {
        // A server that closed an idle keep-alive connection answers the next request with a reset.
        if (resetOnNextRequest > 0) {
          resetOnNextRequest--;
          inbound.resetAndDestroy();
          outbound.destroy();
          return;
        }
        outbound.write(chunk);
      });
      inbound.on('end', () => outbound.end());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/sdk`;
  });
  afterAll(async () => {
    for (const s of live) s.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  const cutConnections = async () => {
    for (const s of live) s.destroy();
    await new Promise((r) => setTimeout(r, 50)); // let the agent see its sockets close
  };

  it('retries an idempotent read after connection resets, with backoff, and succeeds', async () => {
    // Prepare
    const c = await VsphereClient.connect({ ...opts(), url, pooled: false, retryBaseMs: 20 });
    await cutConnections();
    resetNext = 2;
    // Act
    const name = await c.readProperty(c.serviceContent.rootFolder, 'name');
    // Assess
    expect(name).toBe('Datacenters');
    expect(resetNext).toBe(0);
    await c.close();
  });

  it('gives up after the bounded number of retries with a NetworkError', async () => {
    const c = await VsphereClient.connect({ ...opts(), url, pooled: false, retries: 1, retryBaseMs: 20 });
    await cutConnections();
    resetNext = 5;
    const err = await c.readProperty(c.serviceContent.rootFolder, 'name').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(resetNext).toBe(3); // one try + one retry
    resetNext = 0;
    await c.close();
  });

  it('sends any call once more when a reused keep-alive socket turns out to be dead', async () => {
    // Prepare: one call leaves a socket in the pool; the "server" resets it on its next request.
    const c = await VsphereClient.connect({ ...opts(), url, pooled: false, maxSockets: 1 });
    await c.readProperty(c.serviceContent.rootFolder, 'name');
    resetOnNextRequest = 1;
    // Act: a call that is not idempotent.
    const [view] = await c.call(
      'CreateContainerView',
      c.serviceContent.viewManager,
      '<container type="Folder">group-d1</container><type>VirtualMachine</type><recursive>true</recursive>',
    );
    // Assess
    expect(resetOnNextRequest).toBe(0);
    expect(view?.refType).toBe('ContainerView');
    await c.call('DestroyView', { type: 'ContainerView', value: view!.text });
    await c.close();
  });

  it('does not retry a call that is not idempotent', async () => {
    const c = await VsphereClient.connect({ ...opts(), url, pooled: false, retryBaseMs: 20 });
    await cutConnections();
    resetNext = 1;
    const err = await c
      .call(
        'CreateContainerView',
        c.serviceContent.viewManager,
        '<container type="Folder">group-d1</container><recursive>true</recursive>',
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(resetNext).toBe(0);
    await c.close();
  });
});

describe('admission (a gate awaited with a connected socket ready, before the request takes it)', () => {
  // A proxy in front of vcsim that counts, per connection, the bytes each way.
  let proxy: net.Server;
  const connections: { acceptedAt: number; bytesIn: number; bytesOut: number }[] = [];
  const live = new Set<net.Socket>();
  let url: string;
  beforeAll(async () => {
    proxy = net.createServer((inbound) => {
      const record = { acceptedAt: performance.now(), bytesIn: 0, bytesOut: 0 };
      connections.push(record);
      const outbound = connectToSim(inbound, live);
      inbound.pipe(outbound);
      inbound.on('data', (chunk: Buffer) => {
        record.bytesIn += chunk.length;
      });
      outbound.on('data', (chunk: Buffer) => {
        record.bytesOut += chunk.length;
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/sdk`;
  });
  afterAll(async () => {
    for (const s of live) s.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  let someVm: MoRef;
  const vm = () => someVm;
  const fresh = async () => {
    someVm ??= { type: 'VirtualMachine', value: (await allVms(client))[0]!.moid };
    const c = await VsphereClient.connect({ ...opts(), url, pooled: false, maxSockets: 1 });
    for (const s of live) s.destroy(); // no warm socket: the next call must connect
    await new Promise((r) => setTimeout(r, 50));
    connections.length = 0;
    return c;
  };

  it('connects (TCP and TLS) while admission is pending, and writes nothing until admitted', async () => {
    // Prepare
    const c = await fresh();
    const seen: { inAtStart?: number; inAtEnd?: number; outAtStart?: number } = {};
    // Act
    const png = await c.screenshot(vm(), {
      admit: async () => {
        await new Promise((r) => setTimeout(r, 100)); // the handshake, meanwhile
        seen.outAtStart = connections[0]?.bytesOut;
        seen.inAtStart = connections[0]?.bytesIn;
        await new Promise((r) => setTimeout(r, 200));
        seen.inAtEnd = connections[0]?.bytesIn;
        return undefined;
      },
    });
    // Assess: the TLS handshake went both ways while admission was pending, then nothing more was written
    // until admission; the request went afterwards.
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(connections).toHaveLength(1);
    expect(seen.outAtStart).toBeGreaterThan(0);
    expect(seen.inAtStart).toBeGreaterThan(0);
    expect(seen.inAtEnd).toBe(seen.inAtStart);
    expect(connections[0]!.bytesIn).toBeGreaterThan(seen.inAtEnd ?? 0);
    await c.close();
  });

  it('holds no socket and no in-flight slot while admission is pending', async () => {
    // One socket, one in-flight slot: a call waiting for admission must not block another call.
    const c = await fresh();
    let admit!: (value: undefined) => void;
    const waiting = c.screenshot(vm(), { admit: () => new Promise<undefined>((r) => (admit = r)) });
    await new Promise((r) => setTimeout(r, 100));
    await expect(c.readProperty(c.serviceContent.rootFolder, 'name')).resolves.toBe('Datacenters');
    admit(undefined);
    await expect(waiting).resolves.toBeInstanceOf(Buffer);
    await c.close();
  });

  it("does not count the admission's wait against the call's timeout", async () => {
    const c = await fresh();
    const slowAdmission = () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 400));
    // Cold (connect, then admission) and warm (admission, then the idle socket).
    await expect(c.screenshot(vm(), { timeoutMs: 250, admit: slowAdmission })).resolves.toBeInstanceOf(
      Buffer,
    );
    await expect(c.screenshot(vm(), { timeoutMs: 250, admit: slowAdmission })).resolves.toBeInstanceOf(
      Buffer,
    );
    await c.close();
  });

  it('withdraws an admission whose deadline passed before the request could be written, and asks again', async () => {
    // Prepare
    const c = await fresh();
    await sim.resetStats();
    const log: string[] = [];
    let asked = 0;
    // Act: the first admission is already late when granted; the second is not.
    const png = await c.screenshot(vm(), {
      admit: async () => {
        asked++;
        log.push(`admit ${asked}`);
        const sendBy = asked === 1 ? performance.now() - 1 : performance.now() + 60_000;
        return { sendBy, withdraw: async () => void log.push(`withdraw ${asked}`) };
      },
    });
    // Assess
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(log).toEqual(['admit 1', 'withdraw 1', 'admit 2']);
    expect((await sim.stats()).screen.served).toBe(1);
    await c.close();
  });

  it('fails the call with the admission error and sends no request when admission is refused', async () => {
    // Prepare
    const c = await fresh();
    await sim.resetStats();
    const refused = new Error('no slot');
    // Act
    const err = await c.screenshot(vm(), { admit: () => Promise.reject(refused) }).catch((e: unknown) => e);
    // Assess
    expect(err).toBe(refused);
    expect((await sim.stats()).screen.served).toBe(0);
    await c.close();
  });

  it('admits before taking a warm keep-alive socket, so a refusal costs no connection', async () => {
    // Prepare: one call leaves a connected socket in the pool.
    const c = await fresh();
    await c.readProperty(c.serviceContent.rootFolder, 'name');
    expect(connections).toHaveLength(1);
    // Act: a refused admission, then an admitted call.
    await c.screenshot(vm(), { admit: () => Promise.reject(new Error('no slot')) }).catch(() => undefined);
    let admitted = 0;
    await c.screenshot(vm(), {
      admit: async () => {
        admitted++;
        return undefined;
      },
    });
    // Assess: both ran on the one warm socket.
    expect({ admitted, connections: connections.length }).toEqual({ admitted: 1, connections: 1 });
    expect(connections).toHaveLength(1);
    await c.close();
  });
});

describe('retrieval', () => {
  it('pages through every VM with maxObjects, across at least three pages, and destroys the view', async () => {
    // Prepare
    await sim.resetStats();
    // Act
    const vms = await allVms(client, 100);
    // Assess
    const stats = await sim.stats();
    expect(vms).toHaveLength(sim.vms);
    expect(new Set(vms.map((v) => v.moid)).size).toBe(sim.vms);
    expect(stats.soap.byMethod.ContinueRetrievePropertiesEx).toBeGreaterThanOrEqual(3);
    expect(stats.pages.open).toBe(0);
    expect(stats.soap.byMethod.DestroyView).toBe(1);
    const vm = vms[0]!;
    expect(vm.type).toBe('VirtualMachine');
    expect(typeof vm.props.name).toBe('string');
    expect(['poweredOn', 'poweredOff', 'suspended']).toContain(vm.props['runtime.powerState']);
    expect(typeof vm.props['config.hardware.numCPU']).toBe('number');
    expect(typeof vm.props['config.template']).toBe('boolean');
    expect(vm.props['runtime.host']).toMatchObject({ type: 'HostSystem' });
  });

  it('cancels the unread result set and destroys the view when the caller stops early', async () => {
    await sim.resetStats();
    let n = 0;
    for await (const _ of client.retrieve({ types: ['VirtualMachine'], maxObjects: 50 })) {
      if (++n === 60) break;
    }
    const stats = await sim.stats();
    expect(stats.pages.canceled).toBe(1);
    expect(stats.pages.open).toBe(0);
    expect(stats.soap.byMethod.DestroyView).toBe(1);
  });

  it('retrieves every inventory kind with its default properties, from the root or a container', async () => {
    const kinds = [
      'Datacenter',
      'Folder',
      'ClusterComputeResource',
      'HostSystem',
      'ResourcePool',
      'Datastore',
      'Network',
      'DistributedVirtualPortgroup',
    ] as const;
    const byType = new Map<string, number>();
    for await (const o of client.retrieve({ types: [...kinds] })) {
      byType.set(o.type, (byType.get(o.type) ?? 0) + 1);
      expect(typeof o.props.name).toBe('string');
    }
    expect(byType.get('Datacenter')).toBe(sim.counts.datacenters);
    expect(byType.get('ClusterComputeResource')).toBe(sim.counts.clusters);
    expect(byType.get('HostSystem')).toBe(sim.counts.hosts);
    expect(byType.get('Datastore')).toBe(sim.counts.datastores);
    expect(byType.get('DistributedVirtualPortgroup')).toBe(sim.counts.portgroups);

    const clusters = [];
    for await (const c of client.retrieve({ types: ['ClusterComputeResource'] })) clusters.push(c);
    const cluster = clusters[0]!;
    expect(cluster.props['summary.numHosts']).toBeGreaterThan(0);
    const hostsInCluster = [];
    for await (const h of client.retrieve({
      types: ['HostSystem'],
      container: { type: 'ClusterComputeResource', value: cluster.moid },
      properties: { HostSystem: ['name', 'summary.hardware.memorySize'] },
    })) {
      hostsInCluster.push(h);
    }
    expect(hostsInCluster).toHaveLength(cluster.props['summary.numHosts']!);
    expect(Object.keys(hostsInCluster[0]!.props).sort()).toEqual(['name', 'summary.hardware.memorySize']);
  });
});

describe('incremental updates', () => {
  it('observes a power-off through the WaitForUpdatesEx call already waiting: answered by the change', async () => {
    // Prepare
    const watcher = await client.createWatcher({
      types: ['VirtualMachine'],
      properties: { VirtualMachine: ['name', 'runtime.powerState'] },
    });
    const initial = await watcher.waitForUpdates('', { maxWaitSeconds: 0 });
    const on = initial.objects.find((o) =>
      o.changes.some((c) => c.name === 'runtime.powerState' && c.value === 'poweredOn'),
    )!;
    expect(initial.objects.every((o) => o.kind === 'enter')).toBe(true);
    expect(initial.objects).toHaveLength(sim.vms);
    const vm: MoRef = { type: 'VirtualMachine', value: on.moid };
    await sim.resetStats();
    // Act: one call that waits far longer than the test may run (its timeout is 60 s), so the only thing
    // that can answer it is the change; the simulator answers an expired wait with no update set at all.
    let answered = false;
    const waiting = watcher.waitForUpdates(initial.version, { maxWaitSeconds: 600 }).finally(() => {
      answered = true;
    });
    // Held at vcsim (counted, not answered) before anything changes.
    await expect
      .poll(async () => (await sim.stats()).soap.inFlight, { timeout: 20_000, interval: 20 })
      .toBe(1);
    const answeredBeforeThePowerOff = answered;
    await client.waitForTask(await client.powerOffVm(vm));
    const batch = await waiting;
    // Assess: the call was still waiting when the power-off was made, it is the only WaitForUpdatesEx (no
    // second call picked the change up), and its answer is the one update set the change produced.
    expect(answeredBeforeThePowerOff).toBe(false);
    const stats = await sim.stats();
    expect(stats.soap.byMethod.WaitForUpdatesEx).toBe(1);
    expect(stats.updates.sets).toBe(1);
    expect(batch.objects).toContainEqual({
      kind: 'modify',
      type: 'VirtualMachine',
      moid: vm.value,
      changes: [{ name: 'runtime.powerState', op: 'assign', value: 'poweredOff' }],
    });
    await client.waitForTask(await client.powerOnVm(vm));
    await watcher.destroy();
  });
});

describe('operations', () => {
  const firstVm = async (): Promise<MoRef> => {
    for await (const o of client.retrieve({
      types: ['VirtualMachine'],
      properties: { VirtualMachine: ['name'] },
    })) {
      return { type: 'VirtualMachine', value: o.moid };
    }
    throw new Error('no VM');
  };

  it('acquires a WebMKS ticket', async () => {
    const ticket = await client.acquireWebMksTicket(await firstVm());
    expect(ticket.ticket.length).toBeGreaterThan(8);
  });

  it('fetches a distinct PNG screen per VM with the session cookie', async () => {
    const vms = (await allVms(client)).slice(0, 2).map((o) => ({ type: 'VirtualMachine', value: o.moid }));
    const [a, b] = await Promise.all(vms.map((vm) => client.screenshot(vm)));
    expect(a!.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(b!.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(a!.equals(b!)).toBe(false);
  });

  it('powers a VM off and on and destroys it through tasks; a failing task throws TaskError', async () => {
    const vm = await firstVm();
    await client.waitForTask(await client.powerOffVm(vm));
    expect(await client.readProperty(vm, 'runtime.powerState')).toBe('poweredOff');
    const err = await client.waitForTask(await client.powerOffVm(vm)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).faultType).toBe('InvalidPowerState');
    await client.waitForTask(await client.powerOnVm(vm));
    expect(await client.readProperty(vm, 'runtime.powerState')).toBe('poweredOn');
    await client.waitForTask(await client.powerOffVm(vm));
    await client.waitForTask(await client.destroy(vm));
    const left = await allVms(client);
    expect(left.map((o) => o.moid)).not.toContain(vm.value);
  });

  it('answers an unknown object with a ManagedObjectNotFound SOAP fault', async () => {
    const err = await client
      .acquireWebMksTicket({ type: 'VirtualMachine', value: 'vm-does-not-exist' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SoapFault);
    expect((err as SoapFault).faultType).toBe('ManagedObjectNotFound');
  });
});

describe('timeouts, aborts and the in-flight cap (injected delay)', () => {
  let slow: VcsimService;
  const SI: MoRef = { type: 'ServiceInstance', value: 'ServiceInstance' };
  beforeAll(async () => {
    slow = await startTestVcsim({ vms: 4, delays: { CurrentTime: 1500 } });
  });
  afterAll(async () => {
    await slow?.stop();
  });
  const slowClient = (extra: object = {}) =>
    VsphereClient.connect({
      url: slow.url,
      username: slow.username,
      password: slow.password,
      insecure: true,
      pooled: false,
      ...extra,
    });

  it('never has more requests in flight than maxConcurrent', async () => {
    // Prepare (first in this block: an aborted call keeps the server busy after the client gives up)
    const c = await slowClient({ maxConcurrent: 2 });
    await slow.resetStats();
    const started = Date.now();
    // Act
    await Promise.all(Array.from({ length: 4 }, () => c.call('CurrentTime', SI)));
    // Assess
    expect((await slow.stats()).soap.maxInFlight).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    await c.close();
  });

  // vcsim holds each CurrentTime for 1,500 ms whatever the client does: a call it still counts in flight when
  // the client's error arrives has not been answered, so the error came from the client's own timeout or
  // abort, not from the answer. Each test starts once the calls of the one before have ended there.
  const idle = () =>
    expect.poll(async () => (await slow.stats()).soap.inFlight, { timeout: 20_000, interval: 20 }).toBe(0);

  it('times out a call that takes longer than its timeout, and keeps working afterwards', async () => {
    const c = await slowClient();
    await idle();
    await slow.resetStats();
    // 250 ms against the server's 1,500: the answer is 6x later than the timeout.
    const err = await c.call('CurrentTime', SI, '', { timeoutMs: 250 }).catch((e: unknown) => e);
    const atError = await slow.stats();
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).method).toBe('CurrentTime');
    expect(atError.soap.byMethod.CurrentTime).toBe(1);
    expect(atError.soap.inFlight).toBe(1);
    expect(await c.sessionKey()).toMatch(/.+/);
    await c.close();
  });

  it('stops a call when its AbortSignal fires', async () => {
    const c = await slowClient();
    await idle();
    await slow.resetStats();
    const ac = new AbortController();
    // Aborted once vcsim holds the call, 1,500 ms before it would answer.
    const err = c.call('CurrentTime', SI, '', { signal: ac.signal }).catch((e: unknown) => e);
    await expect
      .poll(async () => (await slow.stats()).soap.byMethod.CurrentTime ?? 0, {
        timeout: 20_000,
        interval: 20,
      })
      .toBe(1);
    ac.abort();
    const aborted = await err;
    const atError = await slow.stats();
    expect(aborted).toBeInstanceOf(AbortedError);
    expect(atError.soap.byMethod.CurrentTime).toBe(1);
    expect(atError.soap.inFlight).toBe(1);
    await c.close();
  });
});

describe('incremental updates: invalid versions and truncated update sets', () => {
  const watchVms = () =>
    client.createWatcher({
      types: ['VirtualMachine'],
      properties: { VirtualMachine: ['name', 'runtime.powerState'] },
    });
  const collect = async (batches: AsyncIterable<UpdateBatch>) => {
    const out: UpdateBatch[] = [];
    for await (const b of batches) out.push(b);
    return out;
  };

  it('reports a version its collector never issued as InvalidVersionError; a fresh watcher starts over', async () => {
    // Prepare: two watchers, each with its own collector and versions.
    const watcher = await watchVms();
    const other = await watchVms();
    const initial = await watcher.waitForUpdates('', { maxWaitSeconds: 0 });
    const foreignVersion = (await other.waitForUpdates('', { maxWaitSeconds: 0 })).version;
    await other.destroy();
    await sim.resetStats();
    // Act
    const garbage = await watcher
      .waitForUpdates('not-a-version', { maxWaitSeconds: 0 })
      .catch((e: unknown) => e);
    const foreign = await watcher
      .waitForUpdates(foreignVersion, { maxWaitSeconds: 0 })
      .catch((e: unknown) => e);
    // Assess: faults, not retried, and the watcher's own version is still current.
    expect(garbage).toBeInstanceOf(InvalidVersionError);
    expect((garbage as InvalidVersionError).faultType).toBe('InvalidCollectorVersion');
    expect(foreign).toBeInstanceOf(InvalidVersionError);
    expect((await sim.stats()).updates.invalidVersions).toBe(2);
    expect((await watcher.waitForUpdates(initial.version, { maxWaitSeconds: 0 })).objects).toEqual([]);
    await watcher.destroy();

    // The caller's fallback: a fresh watcher's initial state matches a full retrieval.
    const fresh = await watchVms();
    const state = (await collect(fresh.updatesSince('', { maxWaitSeconds: 0 }))).flatMap((b) => b.objects);
    const vms = await allVms(client);
    expect(state.every((o) => o.kind === 'enter')).toBe(true);
    expect(state.map((o) => o.moid).sort()).toEqual(vms.map((v) => v.moid).sort());
    await fresh.destroy();
  });

  it('continues truncated update sets: the initial state in pages of 100, then 30 power-offs in sets of 10', async () => {
    // Prepare: the initial state, itself cut at maxObjectUpdates 100.
    const watcher = await watchVms();
    await sim.resetStats();
    const initial = await collect(watcher.updatesSince('', { maxWaitSeconds: 0, maxObjectUpdates: 100 }));
    const enters = initial.flatMap((b) => b.objects);
    expect(initial.length).toBe(Math.ceil(enters.length / 100));
    expect(initial.length).toBeGreaterThanOrEqual(3);
    expect(initial.map((b) => b.truncated)).toEqual(initial.map((_, i) => i < initial.length - 1));
    expect(new Set(enters.map((o) => o.moid)).size).toBe(enters.length);
    expect(enters.length).toBe((await allVms(client)).length);
    const victims: MoRef[] = enters
      .filter((o) => o.changes.some((c) => c.name === 'runtime.powerState' && c.value === 'poweredOn'))
      .slice(0, 30)
      .map((o) => ({ type: 'VirtualMachine', value: o.moid }));
    expect(victims).toHaveLength(30);
    // Each task records its update before it succeeds, so all 30 are pending before the next wait.
    await Promise.all(victims.map(async (vm) => client.waitForTask(await client.powerOffVm(vm))));

    // Act
    const batches = await collect(
      watcher.updatesSince(initial.at(-1)!.version, { maxWaitSeconds: 10, maxObjectUpdates: 10 }),
    );

    // Assess: at least three calls, each at most 10 objects, every change exactly once.
    const changes = batches.flatMap((b) => b.objects);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches.every((b) => b.objects.length <= 10)).toBe(true);
    expect(batches.map((b) => b.truncated)).toEqual(batches.map((_, i) => i < batches.length - 1));
    expect(new Set(batches.map((b) => b.version)).size).toBe(batches.length);
    expect(changes.map((o) => o.moid).sort()).toEqual(victims.map((v) => v.value).sort());
    for (const o of changes) {
      expect(o).toMatchObject({
        kind: 'modify',
        changes: [{ name: 'runtime.powerState', op: 'assign', value: 'poweredOff' }],
      });
    }
    const stats = (await sim.stats()).updates;
    expect(stats.continued).toBe(initial.length - 1 + batches.length - 1);
    expect(stats.invalidVersions).toBe(0);
    // The last version continues from there: nothing else changed.
    expect((await watcher.waitForUpdates(batches.at(-1)!.version, { maxWaitSeconds: 0 })).objects).toEqual(
      [],
    );

    await watcher.destroy();
    await Promise.all(victims.map(async (vm) => client.waitForTask(await client.powerOnVm(vm))));
  });
});

// The PEM of the certificate a TLS server presents (read without verifying it).
function serverCertificatePem(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate(true).raw;
      socket.end();
      resolve(
        `-----BEGIN CERTIFICATE-----\n${raw
          .toString('base64')
          .match(/.{1,64}/g)!
          .join('\n')}\n-----END CERTIFICATE-----\n`,
      );
    });
    socket.on('error', reject);
  });
}
