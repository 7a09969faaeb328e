/**
 * Rebuilds the AND/OR/NOT structure of a WHERE clause from the source text.
 *
 * node-sql-parser 5.4 gets AND/OR precedence wrong (every dialect; ~1 random expression in 6),
 * which would silently change which rows a query counts. Its comparisons (`age > 30`,
 * `district IN (...)`, `age BETWEEN 18 AND 60`) are right and carry source spans, so we keep those
 * as atoms and re-read what lies between them, which can only be `(`, `)`, AND, OR and NOT, with
 * the standard precedence NOT > AND > OR. Parentheses the user wrote are kept as structure:
 * `a AND (b AND c)` stays nested, which makes formatPlan/parseQuery an exact round trip.
 */
import type { Predicate } from './plan.js';
import type { Span } from './ast-node.js';
import { oneLine, positionAt, queryInvalid } from './query-error.js';
import { isKeyword } from './sql-lexer.js';
import type { Token } from './sql-lexer.js';

/** A comparison already converted to a predicate, with its span in the SQL text. */
export interface LocatedAtom {
  readonly span: Span;
  readonly pred: Predicate;
}

type Skel =
  | { readonly t: 'atom'; readonly pred: Predicate; readonly at: number }
  | { readonly t: '(' | ')' | 'AND' | 'OR' | 'NOT'; readonly at: number };

/** Keywords that end the WHERE clause of an accepted query. */
const CLAUSE_END = new Set(['GROUP', 'ORDER', 'HAVING', 'LIMIT', 'WINDOW', 'UNION', 'EXCEPT', 'INTERSECT', 'OFFSET']);

function skeleton(sql: string, tokens: readonly Token[], whereIndex: number, atoms: readonly LocatedAtom[]): Skel[] {
  const sorted = [...atoms].sort((a, b) => a.span.start - b.span.start);
  const out: Skel[] = [];
  let k = 0; // next atom
  let inAtom = false;
  for (let i = whereIndex + 1; i < tokens.length; i++) {
    const tok = tokens[i];
    if (tok === undefined) break;
    const atom = sorted[k];
    if (atom !== undefined && tok.start >= atom.span.start && tok.start < atom.span.end) {
      if (tok.end > atom.span.end) {
        throw queryInvalid(
          `could not read the condition near "${oneLine(tok.text, 30)}"`,
          positionAt(sql, tok.start),
          'remove the parentheses around this column or value',
        );
      }
      if (!inAtom) out.push({ t: 'atom', pred: atom.pred, at: tok.start });
      inAtom = true;
      continue;
    }
    if (inAtom) {
      inAtom = false;
      k++;
      i--; // re-read this token against the next atom
      continue;
    }
    if (atom !== undefined && tok.start < atom.span.start && tok.end > atom.span.start) {
      throw queryInvalid(
        `could not read the condition near "${oneLine(tok.text, 30)}"`,
        positionAt(sql, tok.start),
        'remove the parentheses around this column or value',
      );
    }
    const word = tok.kind === 'word' ? tok.text.toUpperCase() : null;
    if (word === 'AND' || word === 'OR' || word === 'NOT') out.push({ t: word, at: tok.start });
    else if (tok.text === '(' || tok.text === ')') out.push({ t: tok.text, at: tok.start });
    else if (tok.text === ';' || (word !== null && CLAUSE_END.has(word))) break;
    else {
      const fix =
        tok.text === '&&'
          ? 'write AND'
          : tok.text === '||'
            ? 'write OR'
            : tok.text === '!'
              ? 'write NOT'
              : 'combine conditions with AND, OR, NOT and parentheses';
      throw queryInvalid(
        `unexpected "${oneLine(tok.text, 30)}" between conditions in WHERE`,
        positionAt(sql, tok.start),
        fix,
      );
    }
  }
  if (inAtom) k++;
  if (k !== sorted.length) {
    throw queryInvalid(
      'could not match the WHERE clause to its conditions',
      null,
      'add parentheses to make the structure explicit, or report this query as a bug',
    );
  }
  return out;
}

class SkeletonParser {
  private i = 0;
  constructor(
    private readonly sql: string,
    private readonly items: readonly Skel[],
  ) {}

  parse(): Predicate {
    const p = this.or();
    const rest = this.items[this.i];
    if (rest !== undefined)
      this.fail(
        rest,
        rest.t === ')' ? 'an unmatched ")"' : `an unexpected ${rest.t === 'atom' ? 'condition' : rest.t}`,
      );
    return p;
  }

  private fail(at: Skel | undefined, what: string): never {
    throw queryInvalid(
      `WHERE has ${what}`,
      at === undefined ? null : positionAt(this.sql, at.at),
      'combine conditions as cond AND cond, cond OR cond, NOT cond, (cond)',
    );
  }

  private or(): Predicate {
    const args = [this.and()];
    while (this.items[this.i]?.t === 'OR') {
      this.i++;
      args.push(this.and());
    }
    return args.length === 1 ? (args[0] as Predicate) : { kind: 'or', args };
  }

  private and(): Predicate {
    const args = [this.not()];
    while (this.items[this.i]?.t === 'AND') {
      this.i++;
      args.push(this.not());
    }
    return args.length === 1 ? (args[0] as Predicate) : { kind: 'and', args };
  }

  private not(): Predicate {
    if (this.items[this.i]?.t === 'NOT') {
      this.i++;
      return { kind: 'not', arg: this.not() };
    }
    return this.primary();
  }

  private primary(): Predicate {
    const item = this.items[this.i];
    if (item === undefined) this.fail(this.items[this.i - 1], 'a missing condition at its end');
    if (item.t === 'atom') {
      this.i++;
      return item.pred;
    }
    if (item.t === '(') {
      this.i++;
      const inner = this.or();
      if (this.items[this.i]?.t !== ')') this.fail(item, 'a "(" without its ")"');
      this.i++;
      return inner;
    }
    return this.fail(item, `a misplaced ${item.t}`);
  }
}

/**
 * The WHERE predicate with standard precedence, from the statement's tokens and the located
 * comparisons the parser found. `whereIndex` is the index of the WHERE keyword in `tokens`.
 */
export function rebuildWhere(
  sql: string,
  tokens: readonly Token[],
  whereIndex: number,
  atoms: readonly LocatedAtom[],
): Predicate {
  if (!isKeyword(tokens[whereIndex], 'WHERE')) {
    throw queryInvalid('could not find the WHERE keyword', null, 'report this query as a bug');
  }
  return new SkeletonParser(sql, skeleton(sql, tokens, whereIndex, atoms)).parse();
}
