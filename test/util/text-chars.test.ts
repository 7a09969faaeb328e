import { describe, expect, it } from 'vitest';
import { describeNonTextChar, firstNonTextChar, isNonTextChar, nonTextClass } from '../../src/util/text-chars.js';

describe('characters that are not text', () => {
  it('are the controls, the line separators and U+FEFF, nothing else', () => {
    const all = [...Array(0x30000).keys()].filter(isNonTextChar);
    expect(all).toEqual([
      ...Array(32).keys(),
      ...Array.from({ length: 33 }, (_, i) => 0x7f + i),
      0x2028,
      0x2029,
      0xfeff,
    ]);
    const js = new RegExp(nonTextClass('js'), 'u');
    for (let cp = 0; cp < 0x30000; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      expect(js.test(String.fromCodePoint(cp))).toBe(isNonTextChar(cp));
    }
    expect(nonTextClass('re2')).toBe('[\\x{0000}-\\x{001F}\\x{007F}-\\x{009F}\\x{2028}-\\x{2029}\\x{FEFF}]');
  });

  it('are found with their position in code points', () => {
    expect(firstNonTextChar('锦江区')).toBeNull();
    expect(firstNonTextChar('\u{1F600}a\u0000\uFEFF')).toEqual({ codePoint: 0, position: 3 });
    expect(firstNonTextChar('\uFEFF1')).toEqual({ codePoint: 0xfeff, position: 1 });
    expect(describeNonTextChar(0x1b)).toBe('U+001B (a control character)');
    expect(describeNonTextChar(0x2029)).toBe('U+2029 (a paragraph separator)');
  });
});
