/**
 * Escaping for SVG and HTML: any string, once escaped, sits in text and in an attribute of a
 * well-formed document and reads back unchanged, except that line breaks become spaces and
 * characters XML forbids become U+FFFD. Also checks that the test's XML checker rejects what a
 * browser's XML parser rejects, so the plot tests that rely on it are not vacuous.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeXml } from '../../src/cli/xml-text.js';
import { parseXml, textOf } from '../helpers/xml-well-formed.js';

/** What escaping should read back as: breaks to spaces, forbidden characters to U+FFFD. */
function expected(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0x09 || cp === 0x0a || cp === 0x0d) out += ' ';
    else if (cp < 0x20 || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff) out += '\ufffd';
    else out += ch;
  }
  return out;
}

describe('escapeXml', () => {
  it('round-trips any string through text and both quote styles of attributes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const e = escapeXml(text);
        const root = parseXml(`<a x="${e}" y='${e}'>${e}</a>`);
        expect(textOf(root)).toBe(expected(text));
        expect(root.attributes.get('x')).toBe(expected(text));
        expect(root.attributes.get('y')).toBe(expected(text));
      }),
    );
  });

  it('writes the five markup characters as entities', () => {
    expect(escapeXml(`<a href="x">'b' & c</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;b&#39; &amp; c&lt;/a&gt;');
    expect(escapeXml('锦江区 😀')).toBe('锦江区 😀');
  });
});

describe('the test XML checker', () => {
  it('accepts a prolog, comments, self-closing tags and entities', () => {
    const root = parseXml(
      '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<!-- c --><a b="1"><c/>x &amp; &#x4E2D;&#25991;<!-- d --></a>\n',
    );
    expect(textOf(root)).toBe('x & 中文');
  });

  it.each([
    ['unclosed element', '<a><b></a>'],
    ['mismatched close', '<a></b>'],
    ['bare ampersand', '<a>x & y</a>'],
    ['unknown entity', '<a>&nbsp;</a>'],
    ['raw < in attribute', '<a b="<"/>'],
    ['unquoted attribute', '<a b=1/>'],
    ['duplicate attribute', '<a b="1" b="2"/>'],
    ['two roots', '<a/><b/>'],
    ['control character', '<a>\u0001</a>'],
    ['lone surrogate', '<a>\ud800</a>'],
    ['attributes run together', '<a b="1"c="2"/>'],
  ])('rejects %s', (_, text) => {
    expect(() => parseXml(text)).toThrow(SyntaxError);
  });
});
