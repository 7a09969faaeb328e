/**
 * Defensive accessors for node-sql-parser's AST. Its TypeScript types are loose and differ from
 * what the Trino grammar emits, so the tree is treated as unknown JSON and every field is checked
 * before use; anything unexpected becomes a refusal, never a crash.
 */

export type AstNode = Readonly<Record<string, unknown>>;

export function isNode(v: unknown): v is AstNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `node.type` when it is a string. */
export function typeOf(v: unknown): string | undefined {
  return isNode(v) && typeof v['type'] === 'string' ? v['type'] : undefined;
}

/** The source span of a node, when the grammar recorded one. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

export function spanOf(v: unknown): Span | null {
  if (!isNode(v) || !isNode(v['loc'])) return null;
  const loc = v['loc'];
  const s = isNode(loc['start']) ? loc['start']['offset'] : undefined;
  const e = isNode(loc['end']) ? loc['end']['offset'] : undefined;
  if (typeof s !== 'number' || typeof e !== 'number' || !Number.isInteger(s) || !Number.isInteger(e) || e < s)
    return null;
  return { start: s, end: e };
}

/**
 * True when a clause slot holds nothing: null, '', [], or an object whose fields are all empty
 * (the grammar writes `distinct: {type: null}` and `limit: {seperator: '', value: []}`).
 */
export function isEmpty(v: unknown, depth = 0): boolean {
  if (v === null || v === undefined || v === '' || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isNode(v) && depth < 4) {
    return Object.entries(v).every(([k, x]) => k === 'loc' || isEmpty(x, depth + 1));
  }
  return false;
}

/** Keys of `n` outside `allowed` whose values are not empty. */
export function extraKeys(n: AstNode, allowed: readonly string[]): string[] {
  return Object.keys(n).filter((k) => !allowed.includes(k) && !isEmpty(n[k]));
}

/** An identifier as typed: `name`, `"name"`, `` `name` `` or `qualifier.name`. */
export interface Identifier {
  readonly name: string;
  readonly qualifier: string | null;
}

function identPart(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isNode(v)) {
    if (isNode(v['expr'])) return identPart(v['expr']);
    const t = typeOf(v);
    if (
      (t === 'default' || t === 'double_quote_string' || t === 'backticks_quote_string') &&
      typeof v['value'] === 'string'
    ) {
      return v['value'];
    }
  }
  return null;
}

/**
 * The identifier a node names, or null when it is not a plain (possibly qualified) name. The
 * Trino grammar reads a double-quoted name as a column in SELECT but as a "string" in WHERE and
 * GROUP BY; in standard SQL both are identifiers, so both count here.
 */
export function identifierOf(v: unknown): Identifier | null {
  const t = typeOf(v);
  if (!isNode(v)) return null;
  if (t === 'double_quote_string' || t === 'backticks_quote_string') {
    return typeof v['value'] === 'string' ? { name: v['value'], qualifier: null } : null;
  }
  if (t !== 'column_ref') return null;
  const name = identPart(v['column']);
  if (name === null || name === '*') return null;
  const q = v['table'];
  const qualifier = q === null || q === undefined ? null : identPart(q);
  if (q !== null && q !== undefined && qualifier === null) return null;
  if (!isEmpty(v['db']) || !isEmpty(v['schema'])) return null;
  return { name, qualifier };
}

/** True for `*` or `t.*` in a column position. */
export function isStar(v: unknown): boolean {
  const t = typeOf(v);
  if (t === 'star') return true;
  return t === 'column_ref' && isNode(v) && v['column'] === '*';
}

/** The upper-cased function name of a `function` or `aggr_func` node. */
export function functionName(v: unknown): string | null {
  if (!isNode(v)) return null;
  const n = v['name'];
  if (typeof n === 'string') return n.toUpperCase();
  if (isNode(n) && Array.isArray(n['name'])) {
    const parts = (n['name'] as unknown[]).map(identPart);
    if (parts.every((p): p is string => p !== null) && parts.length > 0) return parts.join('.').toUpperCase();
  }
  if (isNode(n) && isNode(n['schema'])) {
    return identPart(n['schema'])?.toUpperCase() ?? null;
  }
  return null;
}
