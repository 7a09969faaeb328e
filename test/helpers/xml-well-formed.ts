/**
 * A small XML well-formedness checker and tree builder for the SVG and HTML files the CLI writes
 * (no XML parser among the dependencies). It enforces what a browser's XML parser would reject:
 * one root element, matching and properly nested tags, quoted and unique attributes, no raw `<`
 * in text or attributes, no `&` that is not a known entity, and no character XML 1.0 forbids. An
 * optional `<?xml …?>` declaration, a `<!DOCTYPE …>` and comments are allowed before the root.
 */

/** An element: its name, its attributes (entities decoded) and its children in order. */
export interface XmlElement {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly (XmlElement | string)[];
}

const NAME = /^[A-Za-z_:][\w.:-]*/;
const ENTITY = /^&(?:(amp|lt|gt|quot|apos)|#(\d+)|#x([0-9A-Fa-f]+));/;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function fail(message: string, at: number): never {
  throw new SyntaxError(`not well-formed XML at offset ${at}: ${message}`);
}

/** Decodes entities in text or an attribute value; refuses a bare `&`, a `<` and forbidden characters. */
function decode(raw: string, at: number): string {
  let out = '';
  for (let i = 0; i < raw.length;) {
    const ch = raw[i] as string;
    const cp = raw.codePointAt(i) ?? 0;
    if (ch === '<') fail('raw "<"', at + i);
    if ((cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) || cp === 0xfffe || cp === 0xffff)
      fail(`forbidden character U+${cp.toString(16)}`, at + i);
    if (cp >= 0xd800 && cp <= 0xdfff) fail('lone surrogate', at + i);
    if (ch === '&') {
      const m = ENTITY.exec(raw.slice(i));
      if (m === null) fail('"&" that starts no entity', at + i);
      const [whole, named, dec, hex] = m;
      out +=
        named !== undefined ? NAMED[named] : String.fromCodePoint(Number.parseInt(dec ?? hex ?? '', dec ? 10 : 16));
      i += whole.length;
    } else {
      const step = cp > 0xffff ? 2 : 1;
      out += raw.slice(i, i + step);
      i += step;
    }
  }
  return out;
}

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (/\s/.test(this.text[this.pos] ?? '')) this.pos++;
  }

  /** Skips declarations, a doctype and comments; true if one was skipped. */
  skipMisc(allowProlog: boolean): boolean {
    const rest = this.text.slice(this.pos);
    const close = rest.startsWith('<!--') ? '-->' : allowProlog && /^<[?!]/.test(rest) ? '>' : null;
    if (close === null) return false;
    const end = rest.indexOf(close);
    if (end < 0) fail('unterminated markup declaration', this.pos);
    this.pos += end + close.length;
    return true;
  }

  name(): string {
    const m = NAME.exec(this.text.slice(this.pos));
    if (m === null) fail('expected a name', this.pos);
    this.pos += m[0].length;
    return m[0];
  }

  attributes(): Map<string, string> {
    const attributes = new Map<string, string>();
    for (;;) {
      const before = this.pos;
      this.skipSpace();
      if (/^\/?>/.test(this.text.slice(this.pos))) return attributes;
      if (this.pos === before) fail('attributes must be separated by space', this.pos);
      const name = this.name();
      if (attributes.has(name)) fail(`duplicate attribute ${name}`, this.pos);
      if (this.text[this.pos] !== '=') fail(`attribute ${name} has no "="`, this.pos);
      const quote = this.text[this.pos + 1];
      if (quote !== '"' && quote !== "'") fail(`attribute ${name} is not quoted`, this.pos);
      const end = this.text.indexOf(quote, this.pos + 2);
      if (end < 0) fail(`attribute ${name} is not closed`, this.pos);
      attributes.set(name, decode(this.text.slice(this.pos + 2, end), this.pos + 2));
      this.pos = end + 1;
    }
  }

  element(): XmlElement {
    if (this.text[this.pos] !== '<') fail('expected an element', this.pos);
    this.pos++;
    const name = this.name();
    const attributes = this.attributes();
    if (this.text.startsWith('/>', this.pos)) {
      this.pos += 2;
      return { name, attributes, children: [] };
    }
    this.pos++; // '>'
    const children: (XmlElement | string)[] = [];
    for (;;) {
      const next = this.text.indexOf('<', this.pos);
      if (next < 0) fail(`element ${name} is not closed`, this.pos);
      if (next > this.pos) children.push(decode(this.text.slice(this.pos, next), this.pos));
      this.pos = next;
      if (this.skipMisc(false)) continue;
      if (this.text.startsWith('</', this.pos)) {
        this.pos += 2;
        const closing = this.name();
        if (closing !== name) fail(`</${closing}> closes <${name}>`, this.pos);
        this.skipSpace();
        if (this.text[this.pos] !== '>') fail(`</${closing} is not closed`, this.pos);
        this.pos++;
        return { name, attributes, children };
      }
      children.push(this.element());
    }
  }
}

/** Parses `text` as one XML document, or throws SyntaxError naming the first fault and its offset. */
export function parseXml(text: string): XmlElement {
  const reader = new Reader(text);
  do reader.skipSpace();
  while (reader.skipMisc(true));
  const root = reader.element();
  do reader.skipSpace();
  while (reader.skipMisc(false));
  if (reader.pos !== text.length) fail('content after the root element', reader.pos);
  return root;
}

/** Every element named `name` under `root` (root included), in document order. */
export function findAll(root: XmlElement, name: string): XmlElement[] {
  const found = root.name === name ? [root] : [];
  for (const child of root.children) if (typeof child !== 'string') found.push(...findAll(child, name));
  return found;
}

/** The concatenated text inside `element`. */
export function textOf(element: XmlElement): string {
  return element.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}
