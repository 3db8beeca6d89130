// vSphere adapter tests — request encoding: escaping and envelopes (no network).

import { describe, expect, it } from 'vitest';
import { objectsFilterSpec, propertySpec, viewFilterSpec } from '../../../shared/vsphere/specs.ts';
import { el, envelope, escapeXml, moRefEl, strings } from '../../../shared/vsphere/xml.ts';

describe('escapeXml', () => {
  it('escapes markup characters and quotes', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });

  it('drops control characters XML 1.0 cannot carry but keeps tabs, newlines and unicode', () => {
    expect(escapeXml('x\u0000y\u0007z\t\n\r é 🚀')).toBe('xyz\t\n\r é 🚀');
  });
});

describe('el', () => {
  it('omits undefined elements and children, escapes text and attributes', () => {
    expect(el('a', undefined)).toBe('');
    expect(el('a', ['<b/>', undefined, el('c', 'x&y')], { k: 'v"' })).toBe(
      '<a k="v&quot;"><b/><c>x&amp;y</c></a>',
    );
    expect(el('n', 100)).toBe('<n>100</n>');
    expect(el('b', false)).toBe('<b>false</b>');
    expect(strings('type', ['A', 'B'])).toBe('<type>A</type><type>B</type>');
  });
});

describe('envelope', () => {
  it('wraps the method in a SOAP body in the urn:vim25 namespace with _this first', () => {
    const xml = envelope(
      'Login',
      { type: 'SessionManager', value: 'SessionManager' },
      el('userName', 'u<1>'),
    );
    expect(xml).toContain(
      '<soapenv:Body><Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>',
    );
    expect(xml).toContain('<userName>u&lt;1&gt;</userName></Login></soapenv:Body></soapenv:Envelope>');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope')).toBe(true);
  });

  it('escapes managed object reference values', () => {
    expect(moRefEl('obj', { type: 'Folder', value: 'group-"1"' })).toBe(
      '<obj type="Folder">group-&quot;1&quot;</obj>',
    );
  });
});

describe('property filter specs', () => {
  it('builds a container-view traversal with the view skipped and the WSDL element order', () => {
    const spec = viewFilterSpec('specSet', { type: 'ContainerView', value: 'session[1]2' }, [
      propertySpec('VirtualMachine', ['name', 'runtime.powerState']),
    ]);
    expect(spec).toBe(
      '<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet><pathSet>runtime.powerState</pathSet></propSet>' +
        '<objectSet><obj type="ContainerView">session[1]2</obj><skip>true</skip>' +
        '<selectSet xsi:type="TraversalSpec"><name>view</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet>' +
        '</objectSet></specSet>',
    );
  });

  it('asks for all properties when no path is given, and lists explicit objects', () => {
    expect(propertySpec('Task', [])).toBe('<propSet><type>Task</type><all>true</all></propSet>');
    expect(objectsFilterSpec('specSet', [{ type: 'Task', value: 'task-1' }], 'Task', ['info.state'])).toBe(
      '<specSet><propSet><type>Task</type><pathSet>info.state</pathSet></propSet>' +
        '<objectSet><obj type="Task">task-1</obj><skip>false</skip></objectSet></specSet>',
    );
  });
});
