// vSphere adapter — request encoding: XML escaping and SOAP envelopes for vim25 method calls. Requests
// are small, so they are built as strings; element order follows the vim25 WSDL sequences.

import type { MoRef } from './types.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

// Characters XML 1.0 cannot carry at all (not even escaped).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching exactly those control characters is the point
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

/** Escapes text for element content and attribute values; drops characters XML 1.0 cannot carry. */
export function escapeXml(text: string): string {
  return text.replace(FORBIDDEN, '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A request fragment: already-serialised XML. */
export type Xml = string;

/**
 * One element. `content` is text (escaped here), a number/boolean, or a list of child fragments
 * (`undefined` entries are skipped, so optional fields read naturally); `undefined` omits the element.
 */
export function el(
  name: string,
  content: string | number | boolean | ReadonlyArray<Xml | undefined> | undefined,
  attrs?: Record<string, string>,
): Xml {
  if (content === undefined) return '';
  let open = name;
  if (attrs) for (const [k, v] of Object.entries(attrs)) open += ` ${k}="${escapeXml(v)}"`;
  const body = Array.isArray(content)
    ? content.filter((c) => c !== undefined).join('')
    : typeof content === 'string'
      ? escapeXml(content)
      : String(content);
  return `<${open}>${body}</${name}>`;
}

/** A ManagedObjectReference element: `<name type="HostSystem">host-12</name>`. */
export function moRefEl(name: string, ref: MoRef | undefined): Xml {
  if (!ref) return '';
  return `<${name} type="${escapeXml(ref.type)}">${escapeXml(ref.value)}</${name}>`;
}

/** Repeats `name` for each string (vim25 arrays are repeated elements). */
export function strings(name: string, values: ReadonlyArray<string> | undefined): Xml {
  return values ? values.map((v) => el(name, v)).join('') : '';
}

/** Wraps a method call (`<Method xmlns="urn:vim25"><_this …/>…</Method>`) in a SOAP 1.1 envelope. */
export function envelope(method: string, self: MoRef, args: Xml = ''): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    `<soapenv:Body><${method} xmlns="urn:vim25">${moRefEl('_this', self)}${args}</${method}></soapenv:Body>` +
    '</soapenv:Envelope>'
  );
}
