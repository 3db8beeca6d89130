// Integration tests — the simulated vCenter (infra/local/vcsim) and its starter: a real simulator process over
// real HTTPS sockets, spoken to with hand-written SOAP envelopes (independent of shared/vsphere).
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VcsimService } from '../../infra/local/services/vcsim.ts';
import { startTestVcsim } from '../setup/vcsim.ts';

const agent = new Agent({ keepAlive: true, rejectUnauthorized: false, maxSockets: 32 });

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function httpCall(
  url: string,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', agent, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

interface SoapAnswer {
  status: number;
  text: string;
  cookie: string | undefined;
}

/** Posts one vim25 method call; `call` is the method element, written with the default namespace urn:vim25. */
async function soap(vc: VcsimService, call: string, cookie?: string): Promise<SoapAnswer> {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"' +
    ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body>${call}</soapenv:Body></soapenv:Envelope>`;
  const headers: Record<string, string> = {
    'Content-Type': 'text/xml; charset=utf-8',
    SOAPAction: 'urn:vim25/7.0',
  };
  if (cookie) headers.Cookie = cookie;
  const answer = await httpCall(vc.url, { method: 'POST', body, headers });
  const raw = answer.headers['set-cookie'];
  const setCookie = (Array.isArray(raw) ? raw : raw ? [raw] : []).find((c) =>
    c.startsWith('vmware_soap_session='),
  );
  return { status: answer.status, text: answer.body.toString('utf8'), cookie: setCookie?.split(';')[0] };
}

function method(name: string, thisType: string, thisValue: string, inner = ''): string {
  return `<${name} xmlns="urn:vim25"><_this type="${thisType}">${thisValue}</_this>${inner}</${name}>`;
}

/** Text of the first `<tag>…</tag>`. */
function textOf(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}(?:\\s[^>]*)?>([^<]*)</${tag}>`).exec(xml)?.[1];
}

function faultOf(answer: SoapAnswer): string | undefined {
  return /<(\w+)Fault\b[^>]*xsi:type="(\w+)"/.exec(answer.text)?.[2];
}

interface ServiceContent {
  rootFolder: string;
  propertyCollector: string;
  viewManager: string;
  sessionManager: string;
}

async function serviceContent(vc: VcsimService): Promise<ServiceContent> {
  const answer = await soap(vc, method('RetrieveServiceContent', 'ServiceInstance', 'ServiceInstance'));
  expect(answer.status).toBe(200);
  const need = (tag: string) => {
    const value = textOf(answer.text, tag);
    if (!value) throw new Error(`no ${tag} in the service content`);
    return value;
  };
  return {
    rootFolder: need('rootFolder'),
    propertyCollector: need('propertyCollector'),
    viewManager: need('viewManager'),
    sessionManager: need('sessionManager'),
  };
}

async function login(vc: VcsimService, sc: ServiceContent, username: string, password: string) {
  return soap(
    vc,
    method(
      'Login',
      'SessionManager',
      sc.sessionManager,
      `<userName>${username}</userName><password>${password}</password>`,
    ),
  );
}

async function loggedIn(vc: VcsimService, sc: ServiceContent): Promise<string> {
  const answer = await login(vc, sc, vc.username, vc.password);
  expect(answer.status).toBe(200);
  if (!answer.cookie) throw new Error('Login set no vmware_soap_session cookie');
  return answer.cookie;
}

async function vmView(vc: VcsimService, sc: ServiceContent, cookie: string): Promise<string> {
  const answer = await soap(
    vc,
    method(
      'CreateContainerView',
      'ViewManager',
      sc.viewManager,
      `<container type="Folder">${sc.rootFolder}</container><type>VirtualMachine</type><recursive>true</recursive>`,
    ),
    cookie,
  );
  expect(answer.status).toBe(200);
  const view = textOf(answer.text, 'returnval');
  if (!view) throw new Error('CreateContainerView returned no view');
  return view;
}

function retrieveVmNames(pc: string, view: string, maxObjects?: number): string {
  const options =
    maxObjects === undefined ? '<options/>' : `<options><maxObjects>${maxObjects}</maxObjects></options>`;
  return method(
    'RetrievePropertiesEx',
    'PropertyCollector',
    pc,
    '<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet>' +
      `<objectSet><obj type="ContainerView">${view}</obj><skip>true</skip>` +
      '<selectSet xsi:type="TraversalSpec"><name>view</name><type>ContainerView</type><path>view</path>' +
      '<skip>false</skip></selectSet></objectSet></specSet>' +
      options,
  );
}

function objectsOf(xml: string): string[] {
  return [...xml.matchAll(/<obj type="VirtualMachine">([^<]+)<\/obj>/g)].map((m) => m[1] ?? '');
}

/** Polls `probe` every 20 ms until it holds (20 s at most: a wait for an event, not a bound on its timing). */
async function until(probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error('timed out waiting for the fixture');
    await sleep(20);
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('vcsim fixture (about 350 VMs)', () => {
  let vc: VcsimService;
  let sc: ServiceContent;
  let cookie: string;
  let vms: string[] = [];

  beforeAll(async () => {
    vc = await startTestVcsim({
      vms: 350,
      username: 'vfleet',
      password: 's3cret',
      delays: { CurrentTime: 400 },
    });
    sc = await serviceContent(vc);
    cookie = await loggedIn(vc, sc);
  });

  afterAll(async () => {
    await vc?.stop();
  });

  it('reports the exact inventory it built', () => {
    expect(vc.counts).toMatchObject({ datacenters: 1, clusters: 1, hosts: 4, vms: 350, datastores: 1 });
    expect(vc.vms).toBe(350);
    expect(vc.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/sdk$/);
  });

  it('logs in with its credentials and refuses wrong ones', async () => {
    const ok = await login(vc, sc, 'vfleet', 's3cret');
    expect(ok.status).toBe(200);
    expect(ok.cookie).toMatch(/^vmware_soap_session=.+/);
    expect(textOf(ok.text, 'userName')).toBe('vfleet');

    const wrong = await login(vc, sc, 'vfleet', 'not-the-password');
    expect(wrong.status).toBe(500);
    expect(faultOf(wrong)).toBe('InvalidLogin');
    expect(wrong.cookie).toBeUndefined();
  });

  it('pages RetrievePropertiesEx at maxObjects and serves the rest through ContinueRetrievePropertiesEx', async () => {
    const view = await vmView(vc, sc, cookie);
    const first = await soap(vc, retrieveVmNames(sc.propertyCollector, view, 100), cookie);
    expect(first.status).toBe(200);
    const pages = [objectsOf(first.text)];
    let token = textOf(first.text, 'token');
    expect(token).toBeTruthy();
    while (token) {
      const next = await soap(
        vc,
        method(
          'ContinueRetrievePropertiesEx',
          'PropertyCollector',
          sc.propertyCollector,
          `<token>${token}</token>`,
        ),
        cookie,
      );
      expect(next.status).toBe(200);
      pages.push(objectsOf(next.text));
      token = textOf(next.text, 'token');
    }
    expect(pages.map((page) => page.length)).toEqual([100, 100, 100, 50]);
    const all = pages.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(vc.counts.vms);
    vms = all;
  });

  it('cuts pages at the server page size when the client sets no maxObjects, and cancels a token', async () => {
    const view = await vmView(vc, sc, cookie);
    const first = await soap(vc, retrieveVmNames(sc.propertyCollector, view), cookie);
    expect(objectsOf(first.text)).toHaveLength(vc.pageSize);
    const token = textOf(first.text, 'token');
    expect(token).toBeTruthy();

    const cancel = await soap(
      vc,
      method(
        'CancelRetrievePropertiesEx',
        'PropertyCollector',
        sc.propertyCollector,
        `<token>${token}</token>`,
      ),
      cookie,
    );
    expect(cancel.status).toBe(200);
    const after = await soap(
      vc,
      method(
        'ContinueRetrievePropertiesEx',
        'PropertyCollector',
        sc.propertyCollector,
        `<token>${token}</token>`,
      ),
      cookie,
    );
    expect(after.status).toBe(500);
    expect(faultOf(after)).toBe('InvalidArgument');
  });

  it('answers AcquireTicket webmks with a ticket, and refuses it without a session', async () => {
    const vm = vms[0] ?? 'vm-1';
    const answer = await soap(
      vc,
      method('AcquireTicket', 'VirtualMachine', vm, '<ticketType>webmks</ticketType>'),
      cookie,
    );
    expect(answer.status).toBe(200);
    expect(textOf(answer.text, 'ticket')).toMatch(/^[0-9a-f]{24}$/);
    expect(textOf(answer.text, 'host')).toBe('127.0.0.1');
    expect(Number(textOf(answer.text, 'port'))).toBe(vc.port);
    expect(textOf(answer.text, 'sslThumbprint')).toBe(vc.thumbprint);
    expect(textOf(answer.text, 'cfgFile')).toMatch(/\.vmx$/);
    expect(textOf(answer.text, 'url')).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ticket\/[0-9a-f]+$/);

    const anonymous = await soap(
      vc,
      method('AcquireTicket', 'VirtualMachine', vm, '<ticketType>webmks</ticketType>'),
    );
    expect(faultOf(anonymous)).toBe('NotAuthenticated');
    const unknownType = await soap(
      vc,
      method('AcquireTicket', 'VirtualMachine', vm, '<ticketType>nonsense</ticketType>'),
      cookie,
    );
    expect(faultOf(unknownType)).toBe('InvalidArgument');
    const unknownVm = await soap(
      vc,
      method('AcquireTicket', 'VirtualMachine', 'vm-999999', '<ticketType>webmks</ticketType>'),
      cookie,
    );
    expect(faultOf(unknownVm)).toBe('ManagedObjectNotFound');
  });

  it('serves a distinct PNG per VM at /screen, only to a logged-in session', async () => {
    const [a, b] = vms;
    if (!a || !b) throw new Error('the paging test lists the VMs first');
    await vc.resetStats();
    const first = await httpCall(`${vc.screenUrl}?id=${a}`, { headers: { Cookie: cookie } });
    const second = await httpCall(`${vc.screenUrl}?id=${b}`, { headers: { Cookie: cookie } });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('image/png');
    expect(first.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(second.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(first.body.equals(second.body)).toBe(false);
    const again = await httpCall(`${vc.screenUrl}?id=${a}`, { headers: { Cookie: cookie } });
    expect(again.body.equals(first.body)).toBe(true);

    expect((await httpCall(`${vc.screenUrl}?id=${a}`)).status).toBe(401);
    const stranger = await httpCall(`${vc.screenUrl}?id=${a}`, {
      headers: { Cookie: 'vmware_soap_session=not-a-session' },
    });
    expect(stranger.status).toBe(401);
    expect((await httpCall(`${vc.screenUrl}?id=vm-999999`, { headers: { Cookie: cookie } })).status).toBe(
      404,
    );

    const stats = await vc.stats();
    expect(stats.screen).toMatchObject({ calls: 6, served: 3, unauthorized: 2, notFound: 1, inFlight: 0 });
    expect(stats.screen.minGapMs).toBeGreaterThanOrEqual(0);
  });

  it('delays the named method by the injected delay, and only that method', async () => {
    await vc.resetStats();
    const answered: string[] = [];
    const started = performance.now();
    const slow = soap(vc, method('CurrentTime', 'ServiceInstance', 'ServiceInstance'), cookie).then((a) => {
      answered.push('CurrentTime');
      return { answer: a, ms: performance.now() - started };
    });
    // Once vcsim holds CurrentTime, another method sent after it is answered before it.
    await until(async () => (await vc.stats()).soap.inFlight === 1);
    await soap(vc, method('RetrieveServiceContent', 'ServiceInstance', 'ServiceInstance'), cookie);
    answered.push('RetrieveServiceContent');
    const { answer, ms } = await slow;
    expect(answer.status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(answered).toEqual(['RetrieveServiceContent', 'CurrentTime']);
    expect((await vc.stats()).soap.byMethod).toMatchObject({ CurrentTime: 1, RetrieveServiceContent: 1 });
  });

  it('keeps WaitForUpdatesEx working: a power-off shows up as a modify update', async () => {
    const vm = vms[1];
    if (!vm) throw new Error('the paging test lists the VMs first');
    const created = await soap(
      vc,
      method('CreatePropertyCollector', 'PropertyCollector', sc.propertyCollector),
      cookie,
    );
    const pc = textOf(created.text, 'returnval');
    if (!pc) throw new Error('CreatePropertyCollector returned nothing');
    const filter = await soap(
      vc,
      method(
        'CreateFilter',
        'PropertyCollector',
        pc,
        '<spec><propSet><type>VirtualMachine</type><pathSet>runtime.powerState</pathSet></propSet>' +
          `<objectSet><obj type="VirtualMachine">${vm}</obj></objectSet></spec><partialUpdates>false</partialUpdates>`,
      ),
      cookie,
    );
    expect(filter.status).toBe(200);
    const initial = await soap(
      vc,
      method(
        'WaitForUpdatesEx',
        'PropertyCollector',
        pc,
        '<version></version><options><maxWaitSeconds>5</maxWaitSeconds></options>',
      ),
      cookie,
    );
    expect(textOf(initial.text, 'kind')).toBe('enter');
    expect(initial.text).toContain('poweredOn');
    const version = textOf(initial.text, 'version') ?? '';

    await vc.resetStats();
    // A wait far longer than the test may run (60 s): only the change can answer it (an expired wait
    // answers no update set at all).
    let answered = false;
    const waiting = soap(
      vc,
      method(
        'WaitForUpdatesEx',
        'PropertyCollector',
        pc,
        `<version>${version}</version><options><maxWaitSeconds>600</maxWaitSeconds></options>`,
      ),
      cookie,
    ).finally(() => {
      answered = true;
    });
    await until(async () => (await vc.stats()).soap.inFlight === 1);
    expect(answered).toBe(false);
    const task = await soap(vc, method('PowerOffVM_Task', 'VirtualMachine', vm), cookie);
    expect(task.status).toBe(200);
    const update = await waiting;
    expect(textOf(update.text, 'kind')).toBe('modify');
    expect(update.text).toContain('poweredOff');
    const stats = await vc.stats();
    expect(stats.soap.byMethod.WaitForUpdatesEx).toBe(1);
    expect(stats.updates.sets).toBe(1);
  });

  it('ends every session on request, after which the old cookie is refused', async () => {
    const own = await loggedIn(vc, sc);
    const ok = await httpCall(`${vc.screenUrl}?id=${vms[0]}`, { headers: { Cookie: own } });
    expect(ok.status).toBe(200);
    expect(await vc.terminateSessions()).toBeGreaterThanOrEqual(1);
    expect((await vc.stats()).sessions).toBe(0);
    expect((await httpCall(`${vc.screenUrl}?id=${vms[0]}`, { headers: { Cookie: own } })).status).toBe(401);
    const time = await soap(vc, method('CurrentTime', 'ServiceInstance', 'ServiceInstance'), own);
    expect(faultOf(time)).toBe('NotAuthenticated');
    cookie = await loggedIn(vc, sc);
  });
});

describe('vcsim fixture (small inventory, short token lifetime)', () => {
  let vc: VcsimService;
  let sc: ServiceContent;
  let cookie: string;

  beforeAll(async () => {
    vc = await startTestVcsim({
      vms: 20,
      pageSize: 5,
      pageTtlMs: 300,
      delays: { screen: 500, AcquireTicket: 250 },
    });
    sc = await serviceContent(vc);
    cookie = await loggedIn(vc, sc);
  });

  afterAll(async () => {
    await vc?.stop();
  });

  it('lets a continuation token expire', async () => {
    const view = await vmView(vc, sc, cookie);
    const first = await soap(vc, retrieveVmNames(sc.propertyCollector, view), cookie);
    expect(objectsOf(first.text)).toHaveLength(5);
    const token = textOf(first.text, 'token');
    expect(token).toBeTruthy();
    await sleep(600);
    const late = await soap(
      vc,
      method(
        'ContinueRetrievePropertiesEx',
        'PropertyCollector',
        sc.propertyCollector,
        `<token>${token}</token>`,
      ),
      cookie,
    );
    expect(faultOf(late)).toBe('InvalidArgument');
  });

  it('delays AcquireTicket, and counts concurrent screen requests and their spacing', async () => {
    const view = await vmView(vc, sc, cookie);
    const ids = objectsOf((await soap(vc, retrieveVmNames(sc.propertyCollector, view, 50), cookie)).text);
    expect(ids).toHaveLength(vc.counts.vms);

    const ticketStart = performance.now();
    const ticket = await soap(
      vc,
      method('AcquireTicket', 'VirtualMachine', ids[0] ?? 'vm-1', '<ticketType>webmks</ticketType>'),
      cookie,
    );
    expect(ticket.status).toBe(200);
    expect(performance.now() - ticketStart).toBeGreaterThanOrEqual(250);

    // Spacing is measured between request starts: two requests one after the other, with a pause between
    // the first's answer and the second's request, start at least the first's delay (500 ms) plus that
    // pause apart (an end-to-start measure would see only the pause).
    const screen = (id: string | undefined) =>
      httpCall(`${vc.screenUrl}?id=${id}`, { headers: { Cookie: cookie } });
    await vc.resetStats();
    expect((await screen(ids[0])).status).toBe(200);
    const pauseStart = performance.now();
    await sleep(300);
    const pauseMs = performance.now() - pauseStart;
    expect((await screen(ids[1])).status).toBe(200);
    const spaced = await vc.stats();
    expect(spaced.screen).toMatchObject({ calls: 2, served: 2, maxInFlight: 1, inFlight: 0 });
    expect(spaced.screen.minGapMs).not.toBeNull();
    expect(spaced.screen.minGapMs!).toBeGreaterThanOrEqual(500 + pauseMs - 1);

    // Concurrent requests: the others are sent once vcsim holds the first, so they overlap it, and
    // the smallest gap is smaller than the spaced pair's (below the first's time in flight).
    await vc.resetStats();
    const first = screen(ids[0]);
    await until(async () => (await vc.stats()).screen.inFlight === 1);
    const answers = await Promise.all([first, ...ids.slice(1, 4).map((id) => screen(id))]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const stats = await vc.stats();
    expect(stats.screen.calls).toBe(4);
    expect(stats.screen.served).toBe(4);
    expect(stats.screen.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(stats.screen.inFlight).toBe(0);
    expect(stats.screen.minGapMs).not.toBeNull();
    expect(stats.screen.minGapMs!).toBeLessThan(spaced.screen.minGapMs!);
  });

  it('stops cleanly and starts again on the same port', async () => {
    const { port, pid, tmpDir } = vc;
    expect(existsSync(tmpDir)).toBe(true);
    await vc.stop();
    expect(existsSync(tmpDir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();

    vc = await startTestVcsim({ vms: 4, port });
    expect(vc.port).toBe(port);
    sc = await serviceContent(vc);
    cookie = await loggedIn(vc, sc);
    expect(vc.counts.vms).toBe(4);
  });
});

describe('vcsim fixture: WaitForUpdatesEx versions and truncated sets (20 VMs)', () => {
  let vc: VcsimService;
  let sc: ServiceContent;
  let cookie: string;

  beforeAll(async () => {
    vc = await startTestVcsim({ vms: 20 });
    sc = await serviceContent(vc);
    cookie = await loggedIn(vc, sc);
  });

  afterAll(async () => {
    await vc?.stop();
  });

  /** A new collector with a filter on every VM's name; answers the collector. */
  async function watchVmNames(): Promise<string> {
    const created = await soap(
      vc,
      method('CreatePropertyCollector', 'PropertyCollector', sc.propertyCollector),
      cookie,
    );
    const pc = textOf(created.text, 'returnval');
    if (!pc) throw new Error('CreatePropertyCollector returned nothing');
    const view = await vmView(vc, sc, cookie);
    const filter = await soap(
      vc,
      method(
        'CreateFilter',
        'PropertyCollector',
        pc,
        '<spec><propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet>' +
          `<objectSet><obj type="ContainerView">${view}</obj><skip>true</skip>` +
          '<selectSet xsi:type="TraversalSpec"><name>view</name><type>ContainerView</type><path>view</path>' +
          '<skip>false</skip></selectSet></objectSet></spec><partialUpdates>false</partialUpdates>',
      ),
      cookie,
    );
    expect(filter.status).toBe(200);
    return pc;
  }

  const waitForUpdates = (pc: string, version: string, maxObjectUpdates = 0) =>
    soap(
      vc,
      method(
        'WaitForUpdatesEx',
        'PropertyCollector',
        pc,
        `<version>${version}</version><options><maxWaitSeconds>0</maxWaitSeconds>` +
          (maxObjectUpdates > 0 ? `<maxObjectUpdates>${maxObjectUpdates}</maxObjectUpdates>` : '') +
          '</options>',
      ),
      cookie,
    );

  it('cuts a set at maxObjectUpdates, serves the rest from the returned version, and answers a repeat again', async () => {
    // Prepare
    const pc = await watchVmNames();
    await vc.resetStats();
    // Act
    const first = await waitForUpdates(pc, '', 8);
    const v1 = textOf(first.text, 'version') ?? '';
    const second = await waitForUpdates(pc, v1, 8);
    const v2 = textOf(second.text, 'version') ?? '';
    const repeat = await waitForUpdates(pc, v1, 8); // a client that lost the answer
    const third = await waitForUpdates(pc, v2, 8);
    const v3 = textOf(third.text, 'version') ?? '';
    // Assess
    expect([first, second, repeat, third].map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(objectsOf(first.text)).toHaveLength(8);
    expect(textOf(first.text, 'truncated')).toBe('true');
    expect(objectsOf(second.text)).toHaveLength(8);
    expect(textOf(second.text, 'truncated')).toBe('true');
    expect(repeat.text).toBe(second.text);
    expect(objectsOf(third.text)).toHaveLength(4);
    expect(textOf(third.text, 'truncated')).not.toBe('true');
    expect(new Set([v1, v2, v3]).size).toBe(3);
    const all = [first, second, third].flatMap((a) => objectsOf(a.text));
    expect(new Set(all).size).toBe(vc.counts.vms);
    expect((await vc.stats()).updates).toEqual({
      sets: 3,
      truncated: 2,
      continued: 2,
      resent: 1,
      invalidVersions: 0,
    });
    // Nothing changed since v3: one check, no set. v1 is now too old to continue from.
    const quiet = await waitForUpdates(pc, v3);
    expect(quiet.status).toBe(200);
    expect(objectsOf(quiet.text)).toEqual([]);
    expect(faultOf(await waitForUpdates(pc, v1))).toBe('InvalidCollectorVersion');
  });

  it('answers InvalidCollectorVersion to garbage and to another collector’s version', async () => {
    // Prepare
    const pc = await watchVmNames();
    const other = await watchVmNames();
    const own = textOf((await waitForUpdates(pc, '')).text, 'version') ?? '';
    const foreign = textOf((await waitForUpdates(other, '')).text, 'version') ?? '';
    await vc.resetStats();
    // Act
    const answers = await Promise.all(
      ['not-a-version', '-', '1', foreign].map((version) => waitForUpdates(pc, version)),
    );
    // Assess
    expect(answers.map((a) => a.status)).toEqual([500, 500, 500, 500]);
    expect(answers.map(faultOf)).toEqual(Array(4).fill('InvalidCollectorVersion'));
    expect((await vc.stats()).updates.invalidVersions).toBe(4);
    expect((await waitForUpdates(pc, own)).status).toBe(200);
  });
});
