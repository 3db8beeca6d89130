// vSphere adapter tests — UpdateWatcher's handling of WaitForUpdatesEx answers: empty waits, truncated
// sets continued at once, request encoding (no network: the client's SOAP call is replaced by canned
// answers in vim25 form).

import { describe, expect, it } from 'vitest';
import { UpdateWatcher, type VsphereClient } from '#shared/vsphere';
import { parseSoap, type XNode } from '../../../shared/vsphere/parse.ts';
import { soapEnvelope } from './fixtures.ts';

const REF = {
  collector: { type: 'PropertyCollector', value: 'session[1]pc' },
  filter: { type: 'PropertyFilter', value: 'session[1]f' },
  view: { type: 'ContainerView', value: 'session[1]v' },
};

const updateSet = (version: string, truncated: boolean, moids: string[]) =>
  parseSoap(
    soapEnvelope(
      `<WaitForUpdatesExResponse xmlns="urn:vim25"><returnval><version>${version}</version><filterSet><filter type="PropertyFilter">f</filter>` +
        moids
          .map(
            (m) =>
              `<objectSet><kind>modify</kind><obj type="VirtualMachine">${m}</obj><changeSet><name>name</name><op>assign</op><val xsi:type="xsd:string">${m}</val></changeSet></objectSet>`,
          )
          .join('') +
        `</filterSet><truncated>${truncated}</truncated></returnval></WaitForUpdatesExResponse>`,
    ),
  ).returnvals;

// A stand-in for the client's call(): records requests and answers from a script.
function scripted(answers: XNode[][]) {
  const requests: { method: string; args: string; timeoutMs: number | undefined }[] = [];
  const client = {
    transport: { timeoutMs: 5000 },
    call: async (method: string, _self: unknown, args: string, opts: { timeoutMs?: number }) => {
      requests.push({ method, args, timeoutMs: opts.timeoutMs });
      const next = answers.shift();
      if (!next) throw new Error('no more answers');
      return next;
    },
  } as unknown as VsphereClient;
  return { client, requests };
}

describe('UpdateWatcher', () => {
  it('answers the same version and no objects when the wait ended without changes', async () => {
    const { client, requests } = scripted([[]]);
    const batch = await new UpdateWatcher(client, REF).waitForUpdates('5', {
      maxWaitSeconds: 2,
      maxObjectUpdates: 50,
    });
    expect(batch).toEqual({ version: '5', truncated: false, objects: [] });
    expect(requests[0]?.args).toBe(
      '<version>5</version><options><maxWaitSeconds>2</maxWaitSeconds><maxObjectUpdates>50</maxObjectUpdates></options>',
    );
    expect(requests[0]?.timeoutMs).toBe(7000); // the server's wait plus the call timeout
  });

  it('continues a truncated update set at once until it is complete', async () => {
    // Prepare
    const { client, requests } = scripted([
      updateSet('1_a', true, ['vm-1', 'vm-2']),
      updateSet('1_b', true, ['vm-3']),
      updateSet('2', false, ['vm-4']),
    ]);
    // Act
    const batches = [];
    for await (const b of new UpdateWatcher(client, REF).updatesSince('1', {
      maxWaitSeconds: 30,
      maxObjectUpdates: 2,
    })) {
      batches.push(b);
    }
    // Assess
    expect(batches.map((b) => [b.version, b.truncated, b.objects.map((o) => o.moid)])).toEqual([
      ['1_a', true, ['vm-1', 'vm-2']],
      ['1_b', true, ['vm-3']],
      ['2', false, ['vm-4']],
    ]);
    expect(
      requests.map((r) => r.args.match(/<version>(.*?)<\/version><options><maxWaitSeconds>(\d+)/)?.slice(1)),
    ).toEqual([
      ['1', '30'],
      ['1_a', '0'],
      ['1_b', '0'],
    ]);
  });
});
