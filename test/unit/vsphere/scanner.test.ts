// vSphere adapter tests — the streaming XML tokenizer, checked against saxes (a general-purpose,
// conformant SAX parser) on generated documents split at random chunk boundaries (no network).

import { StringDecoder } from 'node:string_decoder';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { XmlScanner, XmlSyntaxError } from '../../../shared/vsphere/scanner.ts';
import { retrievePage, waitForUpdatesResponse } from './fixtures.ts';

type Ev = ['open', string, Record<string, string>] | ['close', string] | ['text', string];

// Adjacent text events are merged: both parsers may split text differently.
function push(out: Ev[], ev: Ev): void {
  const last = out[out.length - 1];
  if (ev[0] === 'text' && last?.[0] === 'text') last[1] += ev[1];
  else out.push(ev);
}

function withSaxes(xml: string): Ev[] {
  const out: Ev[] = [];
  const p = new SaxesParser({ xmlns: false });
  let depth = 0; // whitespace outside the root element is not content; the scanner drops it
  p.on('opentag', (t) => {
    depth++;
    push(out, ['open', t.name, { ...(t.attributes as Record<string, string>) }]);
  });
  p.on('closetag', (t) => {
    depth--;
    push(out, ['close', t.name]);
  });
  p.on('text', (t) => depth > 0 && push(out, ['text', t]));
  p.on('cdata', (t) => push(out, ['text', t]));
  p.write(xml).close();
  return out;
}

function withScanner(xml: string, sizes: (i: number) => number): Ev[] {
  const out: Ev[] = [];
  const s = new XmlScanner({
    open: (name, attrs) => push(out, ['open', name, { ...attrs }]),
    close: (name) => push(out, ['close', name]),
    text: (t) => push(out, ['text', t]),
  });
  const bytes = Buffer.from(xml, 'utf8');
  const dec = new StringDecoder('utf8');
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = Math.max(1, sizes(i));
    s.write(dec.write(bytes.subarray(off, off + n)));
    off += n;
  }
  s.write(dec.end());
  s.end();
  return out;
}

// Deterministic pseudo-random generator, so failures reproduce.
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const TEXTS = [
  'plain',
  'a &amp; b',
  '&lt;tag&gt;',
  'quote &quot;x&quot; &apos;y&apos;',
  '&#233;&#x1F680;',
  'é中🚀',
  ' sp ',
  'line\r\nbreak',
  '',
];

function randomDoc(r: () => number, depth = 0): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const name = pick(['a', 'ns:b', 'val', 'propSet', 'x-y.z']);
  let attrs = '';
  if (r() < 0.5) attrs += ` xsi:type="${pick(['xsd:string', 'ArrayOfString', 'a&amp;b'])}"`;
  if (r() < 0.3) attrs += ` type='${pick(['HostSystem', 'q"uote', 'gt>inside'])}'`;
  if (r() < 0.15) attrs += ` spaced = "v" `;
  if (depth > 3 || r() < 0.25)
    return r() < 0.5 ? `<${name}${attrs}/>` : `<${name}${attrs}>${pick(TEXTS)}</${name}>`;
  let inner = '';
  const kids = Math.floor(r() * 4);
  for (let k = 0; k < kids; k++) {
    const roll = r();
    if (roll < 0.1) inner += '<!-- a comment with <tags> -->';
    else if (roll < 0.2) inner += `<![CDATA[raw <b>&amp; ]] text]]>`;
    else if (roll < 0.3) inner += pick(TEXTS);
    else inner += randomDoc(r, depth + 1);
  }
  return `<${name}${attrs}>${inner}</${name} >`;
}

describe('XmlScanner', () => {
  it('produces the same events as saxes on generated documents at any chunking', () => {
    for (let seed = 1; seed <= 300; seed++) {
      // Prepare
      const r = rng(seed);
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<root>${randomDoc(r)}${randomDoc(r)}</root>\n`;
      const expected = withSaxes(xml);
      // Act + Assess: whole, byte by byte, and a random mix of chunk sizes.
      expect(
        withScanner(xml, () => 1 << 20),
        `seed ${seed}`,
      ).toEqual(expected);
      expect(
        withScanner(xml, () => 1),
        `seed ${seed}`,
      ).toEqual(expected);
      const cr = rng(seed * 31);
      expect(
        withScanner(xml, () => 1 + Math.floor(cr() * 40)),
        `seed ${seed}`,
      ).toEqual(expected);
    }
  });

  it('agrees with saxes on real response shapes', () => {
    for (const xml of [retrievePage(0, 20, '7'), waitForUpdatesResponse]) {
      expect(withScanner(xml, () => 7)).toEqual(withSaxes(xml));
    }
  });

  it('refuses malformed documents and DTDs', () => {
    const bad = [
      '<a><b></a>',
      '<a>x &nope; y</a>',
      '<a>bare & amp</a>',
      '<a b=c></a>',
      '<a b="1"c="2"></a>',
      '<a>unclosed',
      '<a></a><b></b>',
      'text<a></a>',
      '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
      '',
      '<a>&#0;</a>',
    ];
    for (const xml of bad) {
      expect(() => withScanner(xml, () => 3), xml).toThrow(XmlSyntaxError);
    }
  });
});
