/**
 * JSON paths as fedstat's messages write them: `datasets.people.columns.age`, `parties[2].id`,
 * `datasets["a b"]` for a key that is not a plain identifier.
 */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The path of `key` (an object key or an array index) inside the value at `path` ('' for the root). */
export function jsonPathChild(path: string, key: string | number): string {
  const seg = typeof key === 'number' ? `[${key}]` : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  return path === '' ? seg.replace(/^\./, '') : path + seg;
}
