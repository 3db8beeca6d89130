// vSphere adapter tests — response decoding: streaming parse of RetrievePropertiesEx and
// WaitForUpdatesEx answers, values by xsi:type, faults (no network).

import { StringDecoder } from 'node:string_decoder';
import { describe, expect, it } from 'vitest';
import {
  childText,
  decodeObjectContent,
  decodeValue,
  parseSoap,
  SoapResponseParser,
  type XNode,
} from '../../../shared/vsphere/parse.ts';
import { decodeUpdateSet } from '../../../shared/vsphere/watch.ts';
import { faultEnvelope, retrievePage, soapEnvelope, waitForUpdatesResponse } from './fixtures.ts';

const STREAM = new Set(['objects']);

// Feeds bytes in the given chunk sizes through a UTF-8 decoder, as the transport does.
function parseInChunks(xml: string, sizes: (i: number) => number) {
  const bytes = Buffer.from(xml, 'utf8');
  const items: XNode[] = [];
  const itemsSeenPerChunk: number[] = [];
  const parser = new SoapResponseParser(STREAM, (n) => items.push(n));
  const dec = new StringDecoder('utf8');
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = Math.max(1, sizes(i));
    parser.write(dec.write(bytes.subarray(off, off + n)));
    itemsSeenPerChunk.push(items.length);
    off += n;
  }
  parser.write(dec.end());
  return { items, result: parser.end('RetrievePropertiesEx'), itemsSeenPerChunk };
}

describe('streaming RetrievePropertiesEx parse', () => {
  it('hands each ObjectContent out as it closes and keeps only the token', () => {
    // Prepare
    const xml = retrievePage(0, 250, '3');
    // Act
    const { items, result, itemsSeenPerChunk } = parseInChunks(xml, () => 4096);
    // Assess
    expect(items).toHaveLength(250);
    expect(result.fault).toBeUndefined();
    expect(result.returnvals[0]?.children?.map((c) => c.name)).toEqual(['token']);
    expect(childText(result.returnvals[0], 'token')).toBe('3');
    // Objects arrive progressively, not all at the end.
    expect(itemsSeenPerChunk.filter((n) => n > 0 && n < 250).length).toBeGreaterThan(10);
  });

  it('decodes the same objects whatever the chunk boundaries, including inside multi-byte characters', () => {
    // Prepare: a name with 2-, 3- and 4-byte UTF-8 characters and an entity.
    const name = 'vm-é-中文-🚀-&amp;-x';
    const xml = retrievePage(0, 3).replace('DC0_C0_RP0_VM1', name);
    const whole = parseInChunks(xml, () => 1 << 20).items.map((n) => decodeObjectContent(n));
    // Act: every chunk size from 1 to 13 bytes, and a pseudo-random mix.
    for (let size = 1; size <= 13; size++) {
      const { items } = parseInChunks(xml, () => size);
      // Assess
      expect(items.map((n) => decodeObjectContent(n))).toEqual(whole);
    }
    const mixed = parseInChunks(xml, (i) => ((i * 7919) % 61) + 1).items.map((n) => decodeObjectContent(n));
    expect(mixed).toEqual(whole);
    expect(whole[1]?.props.name).toBe('vm-é-中文-🚀-&-x');
  });

  it('decodes properties by xsi:type', () => {
    const [item] = parseInChunks(retrievePage(10, 11), () => 1 << 20).items;
    const o = decodeObjectContent(item!);
    expect(o.type).toBe('VirtualMachine');
    expect(o.moid).toBe('vm-10');
    expect(o.props).toEqual({
      'config.guestFullName': 'Other Linux (64-bit)',
      'config.hardware.memoryMB': 1034,
      'config.hardware.numCPU': 2,
      'config.template': true,
      'config.uuid': '42300010-aaaa-bbbb-cccc-dddddddddddd',
      datastore: [
        { type: 'Datastore', value: 'datastore-1' },
        { type: 'Datastore', value: 'datastore-2' },
      ],
      'guest.ipAddress': '10.0.10.0',
      name: 'DC0_C0_RP0_VM10',
      'runtime.host': { type: 'HostSystem', value: 'host-2' },
      'runtime.powerState': 'poweredOn',
      'summary.storage.committed': 53687091210,
    });
    expect(o.missing).toBeUndefined();
  });

  it('reports missing properties', () => {
    const xml = soapEnvelope(
      '<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-1</obj>' +
        '<missingSet><path>guest.ipAddress</path><fault><fault xsi:type="NoPermission"><object type="VirtualMachine">vm-1</object></fault></fault></missingSet>' +
        '</objects></returnval></RetrievePropertiesExResponse>',
    );
    const { items } = parseInChunks(xml, () => 50);
    expect(decodeObjectContent(items[0]!).missing).toEqual([
      { path: 'guest.ipAddress', faultType: 'NoPermission' },
    ]);
  });

  it('answers no returnval for an empty result', () => {
    const r = parseSoap(
      soapEnvelope('<RetrievePropertiesExResponse xmlns="urn:vim25"></RetrievePropertiesExResponse>'),
    );
    expect(r.returnvals).toEqual([]);
  });

  it('rejects malformed XML and non-SOAP documents', () => {
    expect(() => parseSoap(retrievePage(0, 2).slice(0, -20))).toThrow();
    expect(() => parseSoap('<html><body>502 Bad Gateway</body></html>')).toThrow(/not a SOAP envelope/);
  });
});

describe('decodeValue', () => {
  const node = (xml: string) =>
    parseSoap(soapEnvelope(`<XResponse><returnval>${xml}</returnval></XResponse>`)).returnvals[0]!;

  it('decodes arrays of primitives, enums and nil', () => {
    expect(
      decodeValue(node('<x xsi:type="ArrayOfString"><string>a</string><string>b</string></x>').children![0]!),
    ).toEqual(['a', 'b']);
    expect(decodeValue(node('<x xsi:type="ArrayOfInt"><int>1</int><int>2</int></x>').children![0]!)).toEqual([
      1, 2,
    ]);
    expect(
      decodeValue(node('<x xsi:type="ArrayOfBoolean"><boolean>true</boolean></x>').children![0]!),
    ).toEqual([true]);
    expect(decodeValue(node('<x xsi:type="HostSystemPowerState">poweredOn</x>').children![0]!)).toBe(
      'poweredOn',
    );
    expect(decodeValue(node('<x xsi:nil="true"/>').children![0]!)).toBeNull();
  });

  it('decodes data objects, nested references, known numeric fields and repeated elements', () => {
    const v = decodeValue(
      node(
        '<val xsi:type="DatastoreSummary"><datastore type="Datastore">datastore-1</datastore><name>ds1</name>' +
          '<url>ds:///vmfs/1/</url><capacity>1099511627776</capacity><freeSpace>549755813888</freeSpace>' +
          '<accessible>true</accessible><type>VMFS</type><tag>a</tag><tag>b</tag></val>',
      ).children![0]!,
    );
    expect(v).toEqual({
      _type: 'DatastoreSummary',
      datastore: { type: 'Datastore', value: 'datastore-1' },
      name: 'ds1',
      url: 'ds:///vmfs/1/',
      capacity: 1099511627776,
      freeSpace: 549755813888,
      accessible: true,
      type: 'VMFS',
      tag: ['a', 'b'],
    });
  });
});

describe('fault decoding', () => {
  it('reads the fault type from the detail xsi:type, with its fields', () => {
    const r = parseSoap(
      faultEnvelope(
        'InvalidArgument',
        'A specified parameter was not correct: version',
        '<invalidProperty>version</invalidProperty>',
      ),
      'WaitForUpdatesEx',
    );
    expect(r.fault?.faultType).toBe('InvalidArgument');
    expect(r.fault?.faultString).toBe('A specified parameter was not correct: version');
    expect(r.fault?.detail).toEqual({ _type: 'InvalidArgument', invalidProperty: 'version' });
    expect(r.fault?.method).toBe('WaitForUpdatesEx');
    expect(r.fault?.message).toContain('WaitForUpdatesEx failed: InvalidArgument');
  });

  it('falls back to the element name when there is no xsi:type', () => {
    const xml = soapEnvelope(
      '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring></faultstring>' +
        '<detail><NotAuthenticatedFault xmlns="urn:vim25"><object type="Folder">group-d1</object><privilegeId>System.View</privilegeId></NotAuthenticatedFault></detail></soapenv:Fault>',
    );
    const f = parseSoap(xml).fault!;
    expect(f.faultType).toBe('NotAuthenticated');
    expect(f.detail).toMatchObject({
      object: { type: 'Folder', value: 'group-d1' },
      privilegeId: 'System.View',
    });
  });

  it('decodes a fault with an empty detail', () => {
    expect(parseSoap(faultEnvelope('InvalidLogin', 'Cannot complete login')).fault?.faultType).toBe(
      'InvalidLogin',
    );
  });
});

describe('WaitForUpdatesEx decoding', () => {
  it('decodes enter, modify and leave updates with their changes, the version and truncation', () => {
    const ret = parseSoap(waitForUpdatesResponse).returnvals[0]!;
    expect(decodeUpdateSet(ret)).toEqual({
      version: '1_2',
      truncated: true,
      objects: [
        {
          kind: 'modify',
          type: 'VirtualMachine',
          moid: 'vm-42',
          changes: [
            { name: 'runtime.powerState', op: 'assign', value: 'poweredOff' },
            { name: 'guest.ipAddress', op: 'remove', value: undefined },
          ],
        },
        {
          kind: 'enter',
          type: 'VirtualMachine',
          moid: 'vm-43',
          changes: [
            { name: 'name', op: 'assign', value: 'new & shiny' },
            { name: 'config.hardware.numCPU', op: 'assign', value: 4 },
          ],
        },
        { kind: 'leave', type: 'VirtualMachine', moid: 'vm-7', changes: [] },
      ],
    });
  });
});
