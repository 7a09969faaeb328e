import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { formatFormula, formatFormulaString, parseFormula } from '../../src/learn/formula.js';
import type { Formula } from '../../src/learn/formula.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { runs } from './arbitraries.js';
import { INSURANCE, col } from './fixtures.js';

const parse = (text: string): Formula => parseFormula(text, INSURANCE, 'social_insurance');

/** Drops the spans and the text: what the formula means. */
function meaning(f: Formula): unknown {
  return {
    response: [f.response.column, f.response.event],
    terms: f.terms.map((t) => t.factors.map((x) => x.column)),
    intercept: f.intercept,
    offset: f.offset === null ? null : [f.offset.column, f.offset.log],
  };
}

/** Checks code, message, one line, and the reported column (line 1). */
function refuses(text: string, code: ErrorCode, pattern: RegExp, column?: number) {
  const e = fedstatErrorOf(() => parse(text));
  expect(e.code).toBe(code);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toMatch(/[\n\r]/);
  if (column !== undefined) {
    expect([e.details['line'], e.details['column']]).toEqual([1, column]);
    expect(e.message).toContain(`at 1:${column}`);
  }
  return e;
}

describe('parseFormula', () => {
  it('reads terms, interactions, the event, the offset and keeps spans', () => {
    const text = "insured == '是' ~ age + sex + sector:age + offset(log(household))";
    const f = parse(text);
    expect(meaning(f)).toEqual({
      response: ['insured', '是'],
      terms: [['age'], ['sex'], ['sector', 'age']],
      intercept: true,
      offset: ['household', true],
    });
    expect(text.slice(f.terms[2]!.span.start, f.terms[2]!.span.end)).toBe('sector:age');
    expect(text.slice(f.response.span.start, f.response.span.end)).toBe("insured == '是'");
    expect(f.interceptSpan).toBeNull();
  });

  it.each([
    ['employed ~ age - 1', false],
    ['employed ~ -1 + age', false],
    ['employed ~ 0 + age', false],
    ['employed ~ age + 0', false],
    ['employed ~ 1 + age', true],
    ['employed ~ age', true],
    ['employed ~ 1', true],
  ])('%s: intercept %s', (text, intercept) => {
    expect(parse(text).intercept).toBe(intercept);
  });

  it('resolves names case-insensitively to the schema spelling', () => {
    expect(meaning(parse('Employed ~ AGE + Sex'))).toEqual(meaning(parse('employed ~ age + sex')));
    expect(formatFormula(parse('Employed ~ AGE+Sex:age'))).toBe('employed ~ age + sex:age');
  });

  it('formats canonically: terms as written, then the offset, then - 1', () => {
    expect(formatFormula(parse('employed~0+age+offset(household)+sex'))).toBe(
      'employed ~ age + sex + offset(household) - 1',
    );
    expect(formatFormula(parse("insured=='否' ~ 1"))).toBe("insured == '否' ~ 1");
  });
});

describe('formula errors point at the mistake, with the fix', () => {
  it('an unknown column: position, did-you-mean and the valid columns (never the id column)', () => {
    const text = "insured == '是' ~ age + sexx + sector";
    const e = refuses(
      text,
      'QUERY_INVALID',
      /unknown column "sexx" in social_insurance.*did you mean sex\?/,
      col(text, 'sexx'),
    );
    expect(e.details['suggestion']).toBe('sex');
    expect(e.details['valid']).not.toContain('citizen_id');
    refuses('insurd ~ age', 'QUERY_INVALID', /unknown column "insurd".*did you mean insured\?/, 1);
    refuses('employed ~ age:sectr', 'QUERY_INVALID', /did you mean sector\?/, col('employed ~ age:sectr', 'sectr'));
  });

  it('an id column, on either side', () => {
    refuses(
      'employed ~ age + citizen_id',
      'QUERY_INVALID',
      /citizen_id of social_insurance is an identifier \(id\) column/,
      col('employed ~ age + citizen_id', 'citizen_id'),
    );
    refuses('citizen_id ~ age', 'QUERY_INVALID', /identifier/, 1);
  });

  it('the response on the right side, as a term, in an interaction or as the offset', () => {
    const t1 = 'contribution_months ~ age + contribution_months';
    refuses(
      t1,
      'QUERY_INVALID',
      /the response contribution_months is also on the right side/,
      col(t1, 'contribution_months', 5),
    );
    refuses(
      "insured == '是' ~ age:insured",
      'QUERY_INVALID',
      /the response insured is also on the right side/,
      col("insured == '是' ~ age:insured", 'insured', 3),
    );
    refuses('household ~ age + offset(log(household))', 'QUERY_INVALID', /cannot be its own offset/);
  });

  it('duplicate terms, in any order, and a column twice in one interaction', () => {
    const t = 'employed ~ age + sex + sex:age + age:sex';
    refuses(t, 'QUERY_INVALID', /the term age:sex repeats sex:age \(at 1:24\)/, col(t, 'age:sex'));
    refuses('employed ~ age + age', 'QUERY_INVALID', /repeats age/, 18);
    refuses('employed ~ sex:sex', 'QUERY_INVALID', /sex appears twice in the interaction/, 16);
  });

  it('nothing to estimate: no terms once the intercept is dropped', () => {
    refuses('employed ~ -1', 'QUERY_INVALID', /no terms once the intercept is dropped/, 13);
    refuses('employed ~ 0', 'QUERY_INVALID', /no terms once the intercept is dropped/, 12);
    refuses('employed ~ offset(household) - 1', 'QUERY_INVALID', /nothing to estimate/);
  });

  it('unknown functions, with did-you-mean or the reason', () => {
    refuses(
      'employed ~ ofset(household)',
      'QUERY_INVALID',
      /unknown function ofset\(\) at 1:12; did you mean offset\(\)\?/,
      12,
    );
    refuses(
      'employed ~ log(age)',
      'QUERY_INVALID',
      /unknown function log\(\) at 1:12; log\(\) is taken only inside offset\(log\(col\)\)/,
      12,
    );
    refuses('employed ~ factor(sex)', 'QUERY_INVALID', /category columns are factors already/);
    refuses('employed ~ offset(sqrt(household))', 'QUERY_SYNTAX', /sqrt\(\) is not supported inside offset/, 19);
  });

  it('R operators fedstat does not take, with the rewrite', () => {
    refuses('employed ~ age*sex', 'QUERY_SYNTAX', /"\*" is not supported.*write a \+ b \+ a:b for a\*b/, 15);
    refuses('employed ~ .', 'QUERY_SYNTAX', /"\." is not supported.*list the columns/, 12);
    refuses('employed ~ (age + sex)', 'QUERY_SYNTAX', /parentheses are not supported/, 12);
    refuses('employed ~ age - sex', 'QUERY_INVALID', /removing the term sex with - is not supported/, 18);
    refuses("insured = '是' ~ age", 'QUERY_SYNTAX', /write == to name the event/, 9);
  });

  it('syntax: missing pieces, lookalike characters, strings', () => {
    refuses('employed age', 'QUERY_SYNTAX', /expected ~ after the response near "age"/, 10);
    refuses('employed', 'QUERY_SYNTAX', /the formula has no ~/, 9);
    refuses('~ age', 'QUERY_SYNTAX', /no response before ~/, 1);
    refuses('employed ~', 'QUERY_SYNTAX', /the right side of ~ is empty/, 11);
    refuses('employed ~ age +', 'QUERY_SYNTAX', /expected a term \(the formula ends\)/, 17);
    refuses('employed ～ age', 'QUERY_SYNTAX', /"～" \(U\+FF5E\) is not ASCII at 1:10; type "~" instead/, 10);
    refuses('employed ~ age ＋ sex', 'QUERY_SYNTAX', /type "\+" instead/, 16);
    refuses("insured == '是 ~ age", 'QUERY_SYNTAX', /unterminated string/, 12);
    refuses('employed ~ 2', 'QUERY_SYNTAX', /the number 2 cannot be a term/, 12);
    refuses('employed ~ age sex', 'QUERY_SYNTAX', /expected \+ or - between terms near "sex"/, 16);
  });

  it('the event: a category value, quoted, from the domain', () => {
    refuses("insured == '事' ~ age", 'QUERY_INVALID', /"事" is not a value of insured at 1:1; valid values: 是, 否/, 1);
    refuses('employed == 1 ~ age', 'QUERY_SYNTAX', /expected a quoted value after ==/, 13);
    refuses(
      "employed == '1' ~ age",
      'QUERY_INVALID',
      /== names an event of a category column, and employed is an integer column/,
    );
  });

  it('the intercept set twice or both ways', () => {
    refuses('employed ~ age - 1 + 1', 'QUERY_INVALID', /the intercept is dropped by "-1" and kept here/, 22);
    refuses('employed ~ 0 + age - 1', 'QUERY_INVALID', /the intercept is dropped twice/, 22);
    refuses('employed ~ age - 0', 'QUERY_SYNTAX', /-0 is ambiguous/, 18);
  });

  it('offsets: integer columns, log needs min ≥ 1, one of them', () => {
    refuses(
      'employed ~ age + offset(sex)',
      'QUERY_INVALID',
      /offset\(\) takes an integer column, and sex is a category column/,
      25,
    );
    refuses(
      'employed ~ age + offset(log(contribution_months))',
      'QUERY_INVALID',
      /log\(contribution_months\) is undefined where contribution_months is below 1 \(its schema allows 0\)/,
      29,
    );
    refuses('employed ~ offset(household) + offset(age)', 'QUERY_INVALID', /a second offset\(\)/, 32);
  });

  it('positions count lines in a formula written over several', () => {
    const e = fedstatErrorOf(() => parse('employed ~ age +\n  sexx'));
    expect([e.details['line'], e.details['column']]).toEqual([2, 3]);
    expect(e.message).toContain('at 2:3');
  });
});

/** Schema names that look like formula words; category values with quotes and backslashes. */
const nameArb = fc.oneof(
  fc.constantFrom('offset', 'log', 'I', 'e1', 'x_1', '_t', 'TRUE', 'age', 'Inf'),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/),
);
const valueArb = fc
  .oneof(
    fc.constantFrom("it's", '"q"', 'a\\b', '\\', '\'"', '是', ' ', '~ + :'),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }),
  )
  .map((s) => s.normalize('NFC'))
  .filter((s) => s.length > 0 && writable(s));

/** What a schema accepts as a category value: no controls, BOM or lone surrogates, no odd backslash run before a quote. */
function writable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || c === 0xfeff) return false;
  }
  return !/\p{Cs}/u.test(s) && !/(^|[^\\])(\\\\)*\\('|$)/.test(s);
}

interface Spec {
  schema: DatasetSchema;
  response: string;
  event: string | null;
  terms: string[][];
  intercept: boolean;
  offset: [string, boolean] | null;
}

const specArb: fc.Arbitrary<Spec> = fc
  .record({
    names: fc.uniqueArray(nameArb, { minLength: 3, maxLength: 7, selector: (n) => n.toLowerCase() }),
    values: fc.uniqueArray(valueArb, { minLength: 2, maxLength: 4 }),
    kinds: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
    picks: fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), { minLength: 0, maxLength: 5 }),
    intercept: fc.boolean(),
    offset: fc.boolean(),
    event: fc.boolean(),
  })
  .map(({ names, values, kinds, picks, intercept, offset, event }) => {
    const [response, exposure, ...predictors] = names as [string, string, ...string[]];
    const columns: Record<string, unknown> = {
      [response]: { type: 'category', values },
      [exposure]: { type: 'integer', min: 1, max: 99 },
    };
    predictors.forEach(
      (n, i) =>
        (columns[n] = kinds[i] ? { type: 'category', values: ['u', 'v'] } : { type: 'integer', min: -5, max: 5 }),
    );
    const schema = parseSchema({ datasets: { d: { columns } } }, 'generated.json').datasets['d'] as DatasetSchema;
    const seen = new Set<string>();
    const terms: string[][] = [];
    for (const p of picks) {
      const t = [...new Set(p.map((i) => predictors[i % predictors.length] as string))];
      const key = [...t].sort().join(':');
      if (!seen.has(key)) terms.push(t);
      seen.add(key);
    }
    const hasTerms = terms.length > 0;
    return {
      schema,
      response,
      event: event ? (values[1] as string) : null,
      terms,
      intercept: intercept || !hasTerms,
      offset: offset ? [exposure, true] : null,
    };
  });

function loudText(s: Spec): string {
  const lhs = s.response.toUpperCase() + (s.event === null ? '' : `==${formatFormulaString(s.event)}`);
  const items = s.terms.map((t) => t.map((c) => c.toUpperCase()).join(':'));
  if (s.offset !== null) items.push(`OFFSET(LOG(${s.offset[0].toUpperCase()}))`);
  if (!s.intercept) items.unshift('0');
  if (items.length === 0) items.push('1');
  return `${lhs}~${items.join('+')}`;
}

describe('formula round trip', () => {
  it('parse(format(f)) means f, and formatting is a fixed point, over random schemas', () => {
    fc.assert(
      fc.property(specArb, fc.boolean(), (s, loud) => {
        const factors = (cols: string[]) => cols.map((c) => ({ column: c, span: { start: 0, end: 0 } }));
        const f: Formula = {
          text: '',
          response: { column: s.response, event: s.event, span: { start: 0, end: 0 } },
          terms: s.terms.map((t) => ({ factors: factors(t), span: { start: 0, end: 0 } })),
          intercept: s.intercept,
          interceptSpan: null,
          offset: s.offset === null ? null : { column: s.offset[0], log: s.offset[1], span: { start: 0, end: 0 } },
        };
        // Or the same formula typed differently: no spaces, names and functions in upper case, 0 + for - 1.
        const text = loud ? loudText(s) : formatFormula(f);
        const parsed = parseFormula(text, s.schema, 'd');
        expect(meaning(parsed)).toEqual(meaning(f));
        expect(formatFormula(parseFormula(formatFormula(parsed), s.schema, 'd'))).toBe(formatFormula(parsed));
      }),
      { numRuns: runs(300) },
    );
  });
});
