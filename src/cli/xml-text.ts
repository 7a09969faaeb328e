/**
 * Text for SVG and HTML files. Titles and agency names come from the user, so every string that
 * reaches markup passes through here: the five markup characters become entities, and characters
 * XML 1.0 forbids (C0 controls, lone surrogates, U+FFFE/U+FFFF) become U+FFFD so the file stays
 * well-formed. Line breaks become spaces: every use is one line of text.
 */

const ENTITIES: Readonly<Record<string, string>> = Object.freeze({
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
});

function forbiddenInXml(cp: number): boolean {
  return cp < 0x20 || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff;
}

/** `text` made safe for XML character data and attribute values (both quote styles). */
export function escapeXml(text: string): string {
  let out = '';
  // for…of walks code points: a paired surrogate arrives whole, a lone one alone.
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp === 0x09 || cp === 0x0a || cp === 0x0d) out += ' ';
    else if (forbiddenInXml(cp)) out += '\uFFFD';
    else out += ENTITIES[ch] ?? ch;
  }
  return out;
}
