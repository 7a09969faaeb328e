/**
 * parseStrictJson is JSON.parse plus one check: no object defines a key twice. Its value and its
 * syntax errors are JSON.parse's, the duplicate's path is exact, and depth costs no stack.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonPathChild } from '../../src/util/json-path.js';
import { DuplicateJsonKeyError, findDuplicateKey, parseStrictJson } from '../../src/util/strict-json.js';

function duplicateOf(text: string): DuplicateJsonKeyError {
  try {
    parseStrictJson(text);
  } catch (e) {
    if (e instanceof DuplicateJsonKeyError) return e;
    throw e;
  }
  throw new Error('expected a DuplicateJsonKeyError');
}

describe('parseStrictJson', () => {
  it('returns what JSON.parse returns for any JSON without duplicate keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (v, pretty) => {
        const text = JSON.stringify(v, null, pretty ? 2 : undefined);
        expect(parseStrictJson(text)).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('finds a key repeated anywhere, with its path', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), fc.jsonValue(), (v, key, dup) => {
        const base = JSON.stringify({ x: [1, { y: v }] });
        // {"x":[1,{"y":…, KEY: dup, KEY: dup}]}
        const text = `${base.slice(0, -3)},${JSON.stringify(key)}:${JSON.stringify(dup)},${JSON.stringify(key)}:${JSON.stringify(dup)}}]}`;
        const e = duplicateOf(text);
        expect(e.key).toBe(key);
        expect(e.path).toBe(jsonPathChild('x[1]', key));
      }),
      { numRuns: 300 },
    );
  });

  it('compares keys after unescaping and names paths through arrays', () => {
    expect(duplicateOf('{"a": 1, "\\u0061": 2}').path).toBe('a');
    expect(duplicateOf('{"p": [{"q": 1}, {"r": "\\"}", "r": 0}]}').path).toBe('p[1].r');
    expect(duplicateOf('[[], [{"a b": 1, "a b": 1}]]').path).toBe('[1][0]["a b"]');
    expect(findDuplicateKey('{"a": {"a": {"a": 1}}, "b": ["a", "a"]}')).toBeNull();
    expect(findDuplicateKey('{"a": "{\\"a\\": 1, \\"a\\": 2}"}')).toBeNull();
  });

  it('leaves syntax errors to JSON.parse', () => {
    expect(() => parseStrictJson('{"a": 1,}')).toThrow(SyntaxError);
    expect(() => parseStrictJson('{"a": 1, "a": }')).toThrow(SyntaxError);
  });

  it('walks deep nesting without recursion', () => {
    const depth = 200_000;
    const text = '{"a":'.repeat(depth) + '{"k": 1, "k": 2}' + '}'.repeat(depth);
    const e = findDuplicateKey(text);
    expect(e?.key).toBe('k');
    expect(e?.path.length).toBe(2 * depth + 1);
  });
});
