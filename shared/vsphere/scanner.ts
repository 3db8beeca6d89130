// vSphere adapter — response decoding: a small streaming XML tokenizer for SOAP answers. It finds
// markup with indexOf instead of stepping through a state machine per character, which makes it several
// times faster than general-purpose SAX parsers on vim25's plain documents; DTDs are refused.

/** Receives tokens in document order. Element and attribute names keep their prefixes. */
export interface ScanHandler {
  open(name: string, attrs: Record<string, string> | undefined): void;
  close(name: string): void;
  text(text: string): void;
}

/** A well-formedness error, with the byte-independent character offset where it was found. */
export class XmlSyntaxError extends Error {}

const ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);|&/g;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the five predefined entities and character references; a bare `&` is an error. */
export function decodeEntities(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(ENTITY, (m, ent: string | undefined) => {
    if (ent === undefined) throw new XmlSyntaxError(`bad entity near ${JSON.stringify(s.slice(0, 40))}`);
    if (ent.charCodeAt(0) !== 35) return NAMED[ent]!;
    const code =
      ent.charCodeAt(1) === 120 ? Number.parseInt(ent.slice(2), 16) : Number.parseInt(ent.slice(1), 10);
    if (!(code > 0 && code <= 0x10ffff)) throw new XmlSyntaxError(`bad character reference ${m}`);
    return String.fromCodePoint(code);
  });
}

const isSpace = (c: number) => c === 32 || c === 10 || c === 9 || c === 13;

/**
 * Streaming tokenizer: `write` chunks (strings; split anywhere), then `end`. Incomplete markup at a
 * chunk's end waits for the next chunk, so only the unfinished tail is ever held.
 */
export class XmlScanner {
  private buf = '';
  // How much of `buf` is known to hold no '<' (a long text waiting for its end is not rescanned).
  private scanned = 0;
  private readonly stack: string[] = [];
  private seenRoot = false;

  constructor(private readonly h: ScanHandler) {}

  write(chunk: string): void {
    const buf = this.buf.length === 0 ? chunk : this.buf + chunk;
    const n = buf.length;
    let pos = 0;
    let from = this.scanned;
    this.scanned = 0;
    while (pos < n) {
      const lt = buf.indexOf('<', Math.max(from, pos));
      from = 0;
      if (lt < 0) {
        this.scanned = n - pos; // text without its end yet: keep it
        break;
      }
      if (lt > pos) this.emitText(buf.slice(pos, lt));
      const next = this.markup(buf, lt);
      if (next < 0) {
        pos = lt;
        break;
      }
      pos = next;
    }
    this.buf = pos >= n ? '' : buf.slice(pos);
  }

  end(): void {
    if (this.buf.trim() !== '') throw new XmlSyntaxError('document ends inside markup or text');
    if (this.stack.length > 0)
      throw new XmlSyntaxError(`document ends inside <${this.stack[this.stack.length - 1]}>`);
    if (!this.seenRoot) throw new XmlSyntaxError('empty document');
  }

  private emitText(raw: string): void {
    if (this.stack.length === 0) {
      if (raw.trim() !== '') throw new XmlSyntaxError('text outside the root element');
      return;
    }
    let t = decodeEntities(raw);
    if (t.indexOf('\r') >= 0) t = t.replace(/\r\n?/g, '\n');
    this.h.text(t);
  }

  // Handles the markup at buf[lt] === '<'; answers the position after it, or -1 if it is incomplete.
  private markup(buf: string, lt: number): number {
    const c1 = buf.charCodeAt(lt + 1);
    if (Number.isNaN(c1)) return -1;
    if (c1 === 47 /* / */) {
      const gt = buf.indexOf('>', lt + 2);
      if (gt < 0) return -1;
      const name = buf.slice(lt + 2, gt).trimEnd();
      const open = this.stack.pop();
      if (open !== name) throw new XmlSyntaxError(`</${name}> does not close <${open ?? ''}>`);
      this.h.close(name);
      return gt + 1;
    }
    if (c1 === 63 /* ? */) {
      const end = buf.indexOf('?>', lt + 2);
      return end < 0 ? -1 : end + 2;
    }
    if (c1 === 33 /* ! */) {
      if (buf.startsWith('<!--', lt)) {
        const end = buf.indexOf('-->', lt + 4);
        return end < 0 ? -1 : end + 3;
      }
      if (buf.startsWith('<![CDATA[', lt)) {
        const end = buf.indexOf(']]>', lt + 9);
        if (end < 0) return -1;
        if (this.stack.length === 0) throw new XmlSyntaxError('CDATA outside the root element');
        this.h.text(buf.slice(lt + 9, end));
        return end + 3;
      }
      if (buf.length - lt < 9) return -1; // could still become a comment or CDATA
      throw new XmlSyntaxError('DTDs and declarations are not accepted');
    }
    return this.openTag(buf, lt);
  }

  private openTag(buf: string, lt: number): number {
    const n = buf.length;
    let i = lt + 1;
    while (i < n) {
      const c = buf.charCodeAt(i);
      if (c === 62 || c === 47 || isSpace(c)) break;
      i++;
    }
    if (i >= n) return -1;
    const name = buf.slice(lt + 1, i);
    if (name === '') throw new XmlSyntaxError('empty element name');
    let attrs: Record<string, string> | undefined;
    for (;;) {
      while (i < n && isSpace(buf.charCodeAt(i))) i++;
      if (i >= n) return -1;
      const c = buf.charCodeAt(i);
      if (c === 62 /* > */) {
        this.openElement(name, attrs);
        return i + 1;
      }
      if (c === 47 /* / */) {
        if (i + 1 >= n) return -1;
        if (buf.charCodeAt(i + 1) !== 62) throw new XmlSyntaxError(`bad empty-element tag <${name}>`);
        this.openElement(name, attrs);
        this.stack.pop();
        this.h.close(name);
        return i + 2;
      }
      const eq = buf.indexOf('=', i);
      if (eq < 0) return -1;
      const attrName = buf.slice(i, eq).trim();
      if (/[<>\s/]/.test(attrName)) throw new XmlSyntaxError(`bad attribute in <${name}>`);
      let q = eq + 1;
      while (q < n && isSpace(buf.charCodeAt(q))) q++;
      if (q >= n) return -1;
      const quote = buf.charCodeAt(q);
      if (quote !== 34 && quote !== 39)
        throw new XmlSyntaxError(`unquoted attribute ${attrName} in <${name}>`);
      const close = buf.indexOf(quote === 34 ? '"' : "'", q + 1);
      if (close < 0) return -1;
      const raw = buf.slice(q + 1, close);
      if (raw.indexOf('<') >= 0) throw new XmlSyntaxError(`'<' in attribute ${attrName} of <${name}>`);
      attrs ??= {};
      attrs[attrName] = decodeEntities(raw);
      i = close + 1;
      const after = buf.charCodeAt(i);
      if (i < n && !isSpace(after) && after !== 62 && after !== 47) {
        throw new XmlSyntaxError(`missing space after attribute ${attrName} in <${name}>`);
      }
    }
  }

  private openElement(name: string, attrs: Record<string, string> | undefined): void {
    if (this.stack.length === 0) {
      if (this.seenRoot) throw new XmlSyntaxError('more than one root element');
      this.seenRoot = true;
    }
    this.stack.push(name);
    this.h.open(name, attrs);
  }
}
