import { describe, expect, it } from 'vitest';
import { closest, editDistance, listNames } from '../../src/query/suggest.js';

describe('suggestions', () => {
  it('computes edit distances in code points, with transpositions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('age', 'aeg')).toBe(1);
    expect(editDistance('锦江', '锦江区')).toBe(1);
    expect(editDistance('😀a', 'a')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('suggests only close names, best first, ignoring case', () => {
    expect(closest('agee', ['district', 'age', 'income'])).toEqual(['age']);
    expect(closest('INCOM', ['district', 'age', 'income'])).toEqual(['income']);
    expect(closest('zzz', ['district', 'age', 'income'])).toEqual([]);
    expect(closest('青羊', ['锦江区', '青羊区', '金牛区'], 3)).toEqual(['青羊区']);
    expect(closest('x'.repeat(300), ['x'])).toEqual([]);
  });

  it('cuts long lists', () => {
    expect(listNames(['a', 'b'])).toBe('a, b');
    expect(
      listNames(
        Array.from({ length: 25 }, (_, i) => `v${i}`),
        3,
      ),
    ).toBe('v0, v1, v2, … (22 more)');
  });
});
