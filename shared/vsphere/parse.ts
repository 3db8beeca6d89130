// vSphere adapter — response decoding: a streaming SOAP parser (over XmlScanner) that turns response
// chunks into small element trees, hands large result lists to the caller item by item as they close,
// and decodes vim25 values by their xsi:type.

import { SoapFault } from './errors.ts';
import { XmlScanner } from './scanner.ts';
import type { MissingProperty, MoRef, VimValue } from './types.ts';

/** One element of a response, reduced to what vim25 decoding needs. */
export interface XNode {
  name: string;
  /** Local part of xsi:type, if present (`string`, `ManagedObjectReference`, `ArrayOfString` …). */
  xsiType: string | undefined;
  /** The unprefixed `type` attribute that ManagedObjectReference elements carry. */
  refType: string | undefined;
  nil: boolean;
  text: string;
  children: XNode[] | undefined;
}

/** What a whole response decoded to: its `returnval` elements (minus streamed items) or its fault. */
export interface SoapResult {
  returnvals: XNode[];
  fault: SoapFault | undefined;
}

const local = (name: string): string => {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
};

/**
 * Incremental SOAP response parser. Elements from the method response down are built as {@link XNode}s;
 * children of a `returnval` whose name is in `streamNames` are passed to `onItem` as soon as they close
 * and are not kept, so a RetrievePropertiesEx page never sits whole in memory.
 */
export class SoapResponseParser {
  private readonly scanner: XmlScanner;
  private readonly stack: XNode[] = [];
  private depth = 0;
  private bodyChild: XNode | undefined;
  private sawEnvelope = false;

  constructor(
    private readonly streamNames: ReadonlySet<string> = new Set(),
    private readonly onItem: (node: XNode) => void = () => {},
  ) {
    this.scanner = new XmlScanner({
      open: (name, attrs) => this.open(name, attrs),
      close: () => this.close(),
      text: (t) => this.appendText(t),
    });
  }

  private open(tagName: string, attrs: Record<string, string> | undefined): void {
    const d = this.depth++;
    if (d === 0) this.sawEnvelope = local(tagName) === 'Envelope';
    if (d < 2) return; // Envelope and Body carry nothing we need
    let xsiType: string | undefined;
    let refType: string | undefined;
    let nil = false;
    for (const key in attrs) {
      const value = attrs[key]!;
      if (key === 'type') refType = value;
      else if (key.endsWith(':type')) xsiType = local(value);
      else if (key.endsWith(':nil')) nil = value === 'true' || value === '1';
    }
    const node: XNode = { name: local(tagName), xsiType, refType, nil, text: '', children: undefined };
    this.stack.push(node);
  }

  private close(): void {
    const d = --this.depth;
    if (d < 2) return;
    const node = this.stack.pop()!;
    const parent = this.stack[this.stack.length - 1];
    if (!parent) {
      this.bodyChild = node;
      return;
    }
    if (d === 4 && parent.name === 'returnval' && this.streamNames.has(node.name)) {
      this.onItem(node);
      return;
    }
    if (parent.children) parent.children.push(node);
    else parent.children = [node];
  }

  private appendText(t: string): void {
    const node = this.stack[this.stack.length - 1];
    if (node) node.text += t;
  }

  /** Feeds one decoded chunk; `onItem` may be called for items it completes. */
  write(chunk: string): void {
    this.scanner.write(chunk);
  }

  /** Ends the document and returns its return values or fault; throws on malformed XML. */
  end(method?: string): SoapResult {
    this.scanner.end();
    if (!this.sawEnvelope || !this.bodyChild) throw new Error('response is not a SOAP envelope');
    const body = this.bodyChild;
    if (body.name === 'Fault') return { returnvals: [], fault: decodeFault(body, method) };
    return { returnvals: (body.children ?? []).filter((c) => c.name === 'returnval'), fault: undefined };
  }
}

/** Parses a complete response string (tests, small calls). */
export function parseSoap(xml: string, method?: string): SoapResult {
  const p = new SoapResponseParser();
  p.write(xml);
  return p.end(method);
}

/** Returns the named child, if any. */
export function child(node: XNode | undefined, name: string): XNode | undefined {
  if (!node?.children) return undefined;
  for (const c of node.children) if (c.name === name) return c;
  return undefined;
}

/** Returns every child with that name. */
export function childrenNamed(node: XNode | undefined, name: string): XNode[] {
  return node?.children ? node.children.filter((c) => c.name === name) : [];
}

/** Reads a child's text (`undefined` when absent). */
export function childText(node: XNode | undefined, name: string): string | undefined {
  return child(node, name)?.text;
}

/** Reads a ManagedObjectReference element. */
export function toMoRef(node: XNode): MoRef {
  return { type: node.refType ?? node.xsiType ?? '', value: node.text };
}

const NUMERIC = new Set(['int', 'long', 'short', 'byte', 'float', 'double', 'decimal', 'integer']);

// Fields of nested data objects arrive without xsi:type; these are the numeric and boolean ones the
// inventory reads, so whole summaries (`summary`, `summary.hardware` …) decode usefully too.
const NUMERIC_FIELDS = new Set([
  'capacity',
  'freeSpace',
  'uncommitted',
  'committed',
  'unshared',
  'numCPU',
  'numCpu',
  'memoryMB',
  'memorySizeMB',
  'numCpuCores',
  'numCpuPkgs',
  'numCpuThreads',
  'cpuMhz',
  'memorySize',
  'numNics',
  'numHBAs',
  'numHosts',
  'numEffectiveHosts',
  'totalCpu',
  'totalMemory',
  'effectiveCpu',
  'effectiveMemory',
  'overallCpuUsage',
  'overallMemoryUsage',
  'overallCpuDemand',
  'guestMemoryUsage',
  'hostMemoryUsage',
  'uptime',
  'uptimeSeconds',
  'numEthernetCards',
  'numVirtualDisks',
  'maxCpuUsage',
  'maxMemoryUsage',
  'deviceKey',
  'progress',
  'eventChainId',
]);
const BOOLEAN_FIELDS = new Set([
  'template',
  'accessible',
  'multipleHostAccess',
  'inMaintenanceMode',
  'rebootRequired',
  'connected',
  'cancelable',
  'cancelled',
  'toolsInstallerMounted',
]);

function decodePrimitive(type: string, text: string): VimValue | undefined {
  if (type === 'string' || type === 'dateTime' || type === 'anyURI' || type === 'base64Binary') return text;
  if (NUMERIC.has(type)) return Number(text);
  if (type === 'boolean') return text === 'true' || text === '1';
  return undefined;
}

/**
 * Decodes an element by its xsi:type (or by `hint`, the element type an `ArrayOf*` implies):
 * primitives, ManagedObjectReference, `ArrayOf*`, enums (as strings) and data objects.
 */
export function decodeValue(node: XNode, hint?: string): VimValue {
  if (node.nil) return null;
  const type = node.xsiType ?? hint ?? (node.refType !== undefined ? 'ManagedObjectReference' : undefined);
  if (type === 'ManagedObjectReference') return toMoRef(node);
  if (type?.startsWith('ArrayOf')) {
    let elem = type.slice(7);
    elem =
      elem === 'String'
        ? 'string'
        : elem === 'Int' || elem === 'Long' || elem === 'Short' || elem === 'Byte'
          ? 'long'
          : elem === 'Boolean'
            ? 'boolean'
            : elem;
    return (node.children ?? []).map((c) => decodeValue(c, elem));
  }
  if (type !== undefined) {
    const p = decodePrimitive(type, node.text);
    if (p !== undefined) return p;
  }
  if (!node.children) {
    // A leaf without a known primitive type: an enum, or a field of a nested data object.
    if (node.refType !== undefined) return toMoRef(node);
    if (NUMERIC_FIELDS.has(node.name) && node.text !== '' && !Number.isNaN(Number(node.text)))
      return Number(node.text);
    if (BOOLEAN_FIELDS.has(node.name) && (node.text === 'true' || node.text === 'false'))
      return node.text === 'true';
    if (node.text === '' && node.xsiType) return { _type: node.xsiType };
    return node.text;
  }
  const obj: { [field: string]: VimValue } = {};
  if (node.xsiType) obj._type = node.xsiType;
  for (const c of node.children) {
    const v = decodeValue(c);
    const prev = obj[c.name];
    // vim25 arrays inside data objects are repeated elements: a second occurrence makes an array.
    if (prev === undefined) obj[c.name] = v;
    else if (Array.isArray(prev) && repeated.has(prev)) prev.push(v);
    else {
      const arr = [prev, v];
      repeated.add(arr);
      obj[c.name] = arr;
    }
  }
  return obj;
}
// Arrays made from repeated elements (as opposed to values that are arrays themselves).
const repeated = new WeakSet<VimValue[]>();

/** Decodes a SOAP Fault element into a {@link SoapFault} (subclassing is done by the caller). */
export function decodeFault(fault: XNode, method?: string): SoapFault {
  const detailNode = child(fault, 'detail')?.children?.[0];
  let faultType = 'Unknown';
  let detail: Record<string, unknown> = {};
  if (detailNode) {
    faultType = detailNode.xsiType ?? detailNode.name.replace(/Fault$/, '');
    const v = detailNode.children ? decodeValue(detailNode) : {};
    if (v && typeof v === 'object' && !Array.isArray(v)) detail = v as Record<string, unknown>;
  } else if (childText(fault, 'faultcode')?.includes('Client')) {
    faultType = 'InvalidRequest';
  }
  return new SoapFault(
    {
      faultType,
      faultCode: local(childText(fault, 'faultcode') ?? ''),
      faultString: childText(fault, 'faultstring') ?? '',
      detail,
    },
    method,
  );
}

/** Decodes one RetrieveResult `objects` element (ObjectContent) into type, moid, props and missing paths. */
export function decodeObjectContent(node: XNode): {
  type: string;
  moid: string;
  props: Record<string, VimValue>;
  missing: MissingProperty[] | undefined;
} {
  let type = '';
  let moid = '';
  const props: Record<string, VimValue> = {};
  let missing: MissingProperty[] | undefined;
  for (const c of node.children ?? []) {
    if (c.name === 'obj') {
      type = c.refType ?? '';
      moid = c.text;
    } else if (c.name === 'propSet') {
      let name = '';
      let val: XNode | undefined;
      for (const p of c.children ?? []) {
        if (p.name === 'name') name = p.text;
        else if (p.name === 'val') val = p;
      }
      if (val) props[name] = decodeValue(val);
    } else if (c.name === 'missingSet') {
      const f = child(child(c, 'fault'), 'fault');
      missing ??= [];
      missing.push({ path: childText(c, 'path') ?? '', faultType: f?.xsiType ?? 'Unknown' });
    }
  }
  return { type, moid, props, missing };
}
