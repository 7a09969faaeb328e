/**
 * The syntax of a model formula (grammar in formula.ts): a recursive-descent reader over the
 * tokens that yields the response and the right side's items with their spans, and refuses R
 * operators fedstat does not take by name, with the rewrite. Names are not resolved here.
 */
import { closest } from '../util/closest-name.js';
import { formulaError, quote } from './formula-error.js';
import type { Span } from './formula-error.js';
import { tokenizeFormula } from './formula-lexer.js';
import type { Token } from './formula-lexer.js';

const KNOWN_FUNCTIONS = ['offset'];
const SHAPE = 'write response ~ term + term, with a:b interactions, -1 to drop the intercept and offset(col)';

/** Hints for functions R users reach for and fedstat does not take. */
const FUNCTION_HINTS: Readonly<Record<string, string>> = {
  log: 'log() is taken only inside offset(log(col)); a term enters as it is',
  factor:
    'category columns are factors already, dummy-coded against their first value; integer columns enter as numbers',
  'as.factor': 'category columns are factors already; integer columns enter as numbers',
  I: 'arithmetic inside a formula is not supported; fedstat takes columns as they are',
  poly: 'polynomial terms are not supported; an interaction a:b multiplies two columns',
};

/** A name as typed, not yet resolved against the schema. */
export type Unresolved = { readonly name: string; readonly span: Span };
/** One item of the right side: a term, `1`/`0`, or an offset, with the sign before it. */
export interface RawItem {
  readonly sign: '+' | '-';
  readonly span: Span;
  readonly kind: 'term' | 'one' | 'zero' | 'offset';
  readonly names: readonly Unresolved[];
  readonly log: boolean;
}

/** A recursive-descent reader over the tokens; syntax only, no schema. */
class Reader {
  #i = 0;
  constructor(
    readonly text: string,
    readonly tokens: readonly Token[],
  ) {}

  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.#i + ahead, this.tokens.length - 1)] as Token;
  }
  next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.#i++;
    return t;
  }
  isOp(value: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'op' && t.value === value;
  }
  fail(t: Token, problem: string, fix: string | null = SHAPE): Error {
    return formulaError('QUERY_SYNTAX', this.text, t, problem, fix, { near: t.kind === 'end' ? null : t.value });
  }
  expectOp(value: string, what: string): Token {
    if (!this.isOp(value)) throw this.fail(this.peek(), `expected ${what} ${near(this.peek())}`, null);
    return this.next();
  }
  expectName(what: string): Token {
    const t = this.peek();
    if (t.kind !== 'name') throw this.fail(t, `expected ${what} ${near(t)}`);
    return this.next();
  }
}

function near(t: Token): string {
  return t.kind === 'end' ? '(the formula ends)' : `near ${quote(t.value)}`;
}

/** Refusals of R operators that fedstat does not take, each with its rewrite. */
function refuseOperator(r: Reader, t: Token): never {
  const fixes: Readonly<Record<string, string>> = {
    '*': 'write a + b + a:b for a*b',
    '^': 'write the interactions out with ":"',
    '/': 'write a + a:b for a/b',
    '%in%': 'write a:b for b %in% a',
    '|': 'random effects are not supported',
    '.': 'list the columns: "." (every other column) is not supported',
    '=': 'write == to name the event',
    '(': 'parentheses are not supported; write the terms out',
  };
  throw r.fail(t, `${quote(t.value)} is not supported ${near(t)}`, fixes[t.value] ?? SHAPE);
}

function readResponse(r: Reader): { name: Unresolved; event: string | null; span: Span } {
  const t = r.peek();
  if (r.isOp('~'))
    throw r.fail(t, 'the formula has no response before ~', 'write the response column first: response ~ terms');
  const name = r.expectName('the response column');
  let event: string | null = null;
  let end = name.end;
  if (r.isOp('==')) {
    r.next();
    const v = r.next();
    if (v.kind !== 'string')
      throw r.fail(
        v,
        `expected a quoted value after == ${near(v)}`,
        "write the event in quotes, as in insured == '是'",
      );
    event = v.value;
    end = v.end;
  }
  if (r.isOp('=')) refuseOperator(r, r.peek());
  if (!r.isOp('~')) {
    const at = r.peek();
    throw r.fail(
      at,
      at.kind === 'end' ? 'the formula has no ~' : `expected ~ after the response ${near(at)}`,
      'write response ~ term + term',
    );
  }
  r.next();
  return { name: { name: name.value, span: name }, event, span: { start: name.start, end } };
}

function readOffset(r: Reader, fn: Token): { names: Unresolved[]; log: boolean; end: number } {
  r.expectOp('(', '( after offset');
  let log = false;
  let arg = r.expectName('a column inside offset()');
  if (arg.value.toLowerCase() === 'log' && r.isOp('(')) {
    r.next();
    log = true;
    arg = r.expectName('a column inside log()');
    r.expectOp(')', ') to close log(');
  } else if (r.isOp('(')) {
    throw r.fail(
      arg,
      `the function ${arg.value}() is not supported inside offset()`,
      'write offset(col) or offset(log(col))',
    );
  }
  const close = r.expectOp(')', `) to close ${fn.value}(`);
  return { names: [{ name: arg.value, span: arg }], log, end: close.end };
}

function readItem(r: Reader, sign: '+' | '-'): RawItem {
  const t = r.peek();
  if (t.kind === 'number') {
    r.next();
    if (t.value !== '0' && t.value !== '1')
      throw r.fail(t, `the number ${t.value} cannot be a term`, 'write 1 or 0 (the intercept), or a column name');
    return { sign, span: t, kind: t.value === '1' ? 'one' : 'zero', names: [], log: false };
  }
  if (t.kind === 'op') refuseOperator(r, t);
  if (t.kind !== 'name') throw r.fail(t, `expected a term ${near(t)}`);
  if (r.isOp('(', 1)) {
    if (t.value.toLowerCase() === 'offset') {
      r.next();
      const o = readOffset(r, t);
      return { sign, span: { start: t.start, end: o.end }, kind: 'offset', names: o.names, log: o.log };
    }
    const hint = Object.hasOwn(FUNCTION_HINTS, t.value) ? FUNCTION_HINTS[t.value] : undefined;
    const [mean] = closest(t.value, KNOWN_FUNCTIONS);
    throw formulaError(
      'QUERY_INVALID',
      r.text,
      t,
      `unknown function ${t.value}()`,
      hint ??
        (mean !== undefined
          ? `did you mean ${mean}()? (the one function a formula takes is offset(col))`
          : 'the one function a formula takes is offset(col)'),
      { function: t.value },
    );
  }
  const names: Unresolved[] = [{ name: r.next().value, span: t }];
  while (r.isOp(':')) {
    r.next();
    const f = r.expectName('a column after ":"');
    names.push({ name: f.value, span: f });
  }
  const last = names.at(-1)?.span ?? t;
  return { sign, span: { start: t.start, end: last.end }, kind: 'term', names, log: false };
}

function readRhs(r: Reader): RawItem[] {
  const items: RawItem[] = [];
  let sign: '+' | '-' = '+';
  if (r.isOp('+') || r.isOp('-')) sign = r.next().value as '+' | '-';
  if (r.peek().kind === 'end')
    throw r.fail(r.peek(), 'the right side of ~ is empty', 'write at least one term, or 1 for an intercept-only model');
  items.push(readItem(r, sign));
  while (r.peek().kind !== 'end') {
    const t = r.peek();
    if (!r.isOp('+') && !r.isOp('-')) {
      if (t.kind === 'op' && t.value !== ')') refuseOperator(r, t);
      throw r.fail(t, `expected + or - between terms ${near(t)}`);
    }
    sign = r.next().value as '+' | '-';
    items.push(readItem(r, sign));
  }
  return items;
}

/** The response (with its event) and the right side's items of `text`. Throws QUERY_SYNTAX (or QUERY_INVALID for an unknown function). */
export function readFormula(text: string): {
  response: { name: Unresolved; event: string | null; span: Span };
  items: RawItem[];
} {
  const r = new Reader(text, tokenizeFormula(text));
  const response = readResponse(r);
  return { response, items: readRhs(r) };
}
