import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { formatPlan } from '../../src/query/format-plan.js';
import { parseQuery } from '../../src/query/parse.js';
import { validatePlan } from '../../src/query/validate-plan.js';
import { planArb } from './arbitraries.js';
import { RESIDENTS } from './fixtures.js';

function syntaxError(sql: string): FedstatError {
  try {
    parseQuery(sql, RESIDENTS);
  } catch (e) {
    if (e instanceof FedstatError && e.code === 'QUERY_SYNTAX') return e;
    throw e;
  }
  throw new Error(`parsed: ${sql}`);
}

/** Line and column of an offset, computed independently of the implementation. */
function lineColumn(sql: string, offset: number): [number, number] {
  const before = sql.slice(0, offset).split('\n');
  return [before.length, before.at(-1)!.length + 1];
}

describe('syntax errors', () => {
  it('gives line:column, the text near the error, what was expected and a keyword hint', () => {
    const e = syntaxError('SELECT COUNT(*) FORM residents');
    expect(e.message).toBe(
      'syntax error at 1:22 near "residents": expected FROM, WHERE, GROUP BY, "," or end of input; did you mean FROM instead of "FORM"?',
    );
    expect(e.details).toMatchObject({ line: 1, column: 22, offset: 21, near: 'residents' });
  });

  it('counts lines and columns in the text as typed, leading whitespace included', () => {
    const sql = '\n  SELECT district,\n         COUNT(*)\n  FROM residents\n  WHERE age >\n  GROUP BY district';
    const e = syntaxError(sql);
    // The grammar reads GROUP as a column name and fails at BY; the hint names the real spot.
    expect(e.details).toMatchObject({ line: 6, column: 9 });
    expect(sql.slice(e.details['offset'] as number)).toMatch(/^BY district/);
    expect(e.message).toBe('syntax error at 6:9 near "BY": expected "("; something is missing before GROUP at 6:3');
  });

  it('counts UTF-16 columns after Chinese text', () => {
    const e = syntaxError("SELECT COUNT(*) FROM residents WHERE district = '锦江区' AN age = 1");
    expect(e.details).toMatchObject({ line: 1, column: 55 });
    expect(e.message).toMatch(/^syntax error at 1:55 near "AN": .*; did you mean AND instead of "AN"\?$/);
  });

  it('reports the end of input', () => {
    const e = syntaxError('SELECT COUNT(*) FROM residents WHERE');
    expect(e.message).toMatch(/^syntax error at 1:37 \(unexpected end of input\)/);
    expect(e.details['near']).toBeNull();
  });

  it('points at full-width punctuation from Chinese input methods', () => {
    expect(syntaxError("SELECT COUNT(*) FROM residents WHERE district IN ('锦江区'，'青羊区')").message).toMatch(
      /"，" \(U\+FF0C\) at 1:56 is not ASCII: type "," instead/,
    );
    expect(syntaxError('SELECT COUNT(*) FROM residents WHERE age\u3000= 3').message).toMatch(
      /\(U\+3000\) at 1:41 is not ASCII: type " " instead/,
    );
    expect(syntaxError('SELECT COUNT(*) FROM residents WHERE district = ‘锦江区’').message).toMatch(
      /"‘" \(U\+2018\) at 1:49 is not ASCII: type "'" instead/,
    );
  });

  it('suggests a misspelt keyword', () => {
    expect(syntaxError('SELECT COUNT(*) FROM residents GROUP district').message).toMatch(
      /^syntax error at 1:38 near "district": expected BY$/,
    );
    expect(syntaxError('SELEC COUNT(*) FROM residents').message).toMatch(/did you mean SELECT instead of "SELEC"\?/);
    expect(syntaxError('SELECT COUNT(*) FROM residents WHERE age BETWEEN 1 AN 3').message).toMatch(
      /did you mean AND instead of "AN"|expected AND/,
    );
  });

  it('keeps messages on one line and the excerpt short', () => {
    const e = syntaxError(`SELECT COUNT(*) FROM residents WHERE age = 1 ${'x'.repeat(500)}\n${'y'.repeat(100)}`);
    expect(e.message).not.toMatch(/\n/);
    expect(e.message.length).toBeLessThan(300);
  });

  it('never throws anything but FedstatError on arbitrary or damaged text, and positions are consistent', () => {
    const damaged = planArb(RESIDENTS).chain((plan) => {
      const sql = formatPlan(plan);
      return fc
        .tuple(fc.nat(sql.length), fc.nat(3), fc.string({ maxLength: 3 }))
        .map(([at, cut, insert]) => sql.slice(0, at) + insert + sql.slice(at + cut));
    });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 80 }), damaged), (sql) => {
        let plan;
        try {
          plan = parseQuery(sql, RESIDENTS);
        } catch (e) {
          expect(e).toBeInstanceOf(FedstatError);
          const err = e as FedstatError;
          expect(['QUERY_SYNTAX', 'QUERY_INVALID', 'NOT_FOUND']).toContain(err.code);
          expect(err.message).not.toMatch(/[\n\r]/);
          if (err.code === 'QUERY_SYNTAX' || err.details['offset'] !== undefined) {
            const offset = err.details['offset'] as number;
            expect(offset).toBeGreaterThanOrEqual(0);
            expect(offset).toBeLessThanOrEqual(sql.length);
            expect([err.details['line'], err.details['column']]).toEqual(lineColumn(sql, offset));
            expect(err.message).toContain(`at ${lineColumn(sql, offset).join(':')}`);
          }
          return;
        }
        expect(validatePlan(plan, RESIDENTS)).toEqual(plan);
      }),
      { numRuns: 400 },
    );
  });
});
