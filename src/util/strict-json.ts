/**
 * JSON that says when a key is defined twice. JSON.parse keeps the last of `{"a": 1, "a": 2}`
 * and silently drops the first, so a schema or federation file with a pasted-over column or
 * dataset would load something its author did not write. `parseStrictJson` parses with JSON.parse
 * (its syntax errors, its values) and then walks the text once, without recursion, comparing the
 * keys of each object after unescaping (`"a"` and `"\u0061"` are the same key).
 */
import { jsonPathChild } from './json-path.js';

/** A key defined twice in one object; `path` is the JSON path of the second definition. */
export class DuplicateJsonKeyError extends Error {
  override readonly name = 'DuplicateJsonKeyError';
  constructor(
    readonly key: string,
    readonly path: string,
  ) {
    super(`duplicate key ${JSON.stringify(key)} at ${path}`);
  }
}

interface Frame {
  readonly path: string;
  /** The keys seen so far; null for an array. */
  readonly keys: Set<string> | null;
  /** The current key (object) or index (array). */
  at: string | number;
  expectKey: boolean;
}

/** The index just past the string token that starts at `start` (a quote). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    i += c === 0x5c ? 2 : 1;
  }
}

/** The path of the first repeated key in `text`, which must be valid JSON, or null. */
export function findDuplicateKey(text: string): DuplicateJsonKeyError | null {
  const stack: Frame[] = [];
  const valuePath = (): string => {
    const top = stack[stack.length - 1];
    return top === undefined ? '' : jsonPathChild(top.path, top.at);
  };
  for (let i = 0; i < text.length;) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === '{' || c === '[') {
      stack.push({ path: valuePath(), keys: c === '{' ? new Set() : null, at: 0, expectKey: c === '{' });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',' && top !== undefined) {
      if (top.keys === null) top.at = (top.at as number) + 1;
      else top.expectKey = true;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      if (top !== undefined && top.keys !== null && top.expectKey) {
        const key = JSON.parse(text.slice(i, end)) as string;
        top.at = key;
        top.expectKey = false;
        if (top.keys.has(key)) return new DuplicateJsonKeyError(key, jsonPathChild(top.path, key));
        top.keys.add(key);
      }
      i = end;
      continue;
    }
    i++;
  }
  return null;
}

/**
 * JSON.parse that also refuses a key defined twice in one object (DuplicateJsonKeyError). Syntax
 * errors and values are JSON.parse's, so every other reader of the same file sees the same value.
 */
export function parseStrictJson(text: string): unknown {
  const value = JSON.parse(text) as unknown;
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) throw duplicate;
  return value;
}
