import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import { RESERVED_WORDS } from '../../src/query/format-plan.js';
import { formatIdentifier, formatLiteral, formatPlan } from '../../src/query/format-plan.js';
import { parseQuery } from '../../src/query/parse.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { RESIDENTS } from './fixtures.js';

describe('formatPlan', () => {
  it('prints canonical one-line SQL with implicit default names', () => {
    const plan = parseQuery(
      `select district,  count(*) as count, sum(income) as total, avg(age)
      from Residents r where r.age between 18 and 60 and (district = '锦江区' or district in ('青羊区', '武侯区')) and not insured = 'no'
      group by district`,
      RESIDENTS,
    );
    expect(formatPlan(plan)).toBe(
      "SELECT district, COUNT(*), SUM(income) AS total, AVG(age) FROM residents WHERE age BETWEEN 18 AND 60 AND (district = '锦江区' OR district IN ('青羊区', '武侯区')) AND NOT insured = 'no' GROUP BY district",
    );
  });

  it('prints NOT over IN and BETWEEN inside the comparison, and NOT over connectives with parentheses', () => {
    const plan = parseQuery(
      'SELECT COUNT(*) FROM residents WHERE NOT age IN (1, 2) OR NOT age BETWEEN 3 AND 4 OR NOT (age = 1 AND age = 2) OR NOT NOT age <> 5',
      RESIDENTS,
    );
    expect(formatPlan(plan)).toBe(
      'SELECT COUNT(*) FROM residents WHERE age NOT IN (1, 2) OR age NOT BETWEEN 3 AND 4 OR NOT (age = 1 AND age = 2) OR NOT NOT age <> 5',
    );
  });

  it('quotes identifiers only when needed and doubles quotes in strings', () => {
    expect(formatIdentifier('district')).toBe('district');
    expect(formatIdentifier('group')).toBe('"group"');
    expect(formatIdentifier('Select')).toBe('"Select"');
    expect(formatIdentifier('人数')).toBe('"人数"');
    expect(formatIdentifier('1st')).toBe('"1st"');
    expect(formatLiteral("it's")).toBe("'it''s'");
    expect(formatLiteral(-42)).toBe('-42');
  });

  it('prints totals as ROLLUP(...) or CUBE(...) around the GROUP BY columns', () => {
    const base: QueryPlan = {
      dataset: 'residents',
      groupBy: ['district', 'insured'],
      select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'n' }],
      where: null,
    };
    expect(formatPlan({ ...base, totals: 'rollup' })).toBe(
      'SELECT COUNT(*) AS n FROM residents GROUP BY ROLLUP(district, insured)',
    );
    expect(formatPlan({ ...base, groupBy: ['group'], totals: 'cube' })).toBe(
      'SELECT COUNT(*) AS n FROM residents GROUP BY CUBE("group")',
    );
    expect(formatPlan(base)).toBe('SELECT COUNT(*) AS n FROM residents GROUP BY district, insured');
  });

  it('keeps the line single when a category value holds a control character', () => {
    const plan: QueryPlan = {
      dataset: 't',
      groupBy: [],
      select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'count' }],
      where: { kind: 'compare', column: 'c', op: '=', value: 'a\nb\u2028' },
    };
    expect(formatPlan(plan)).toBe("SELECT COUNT(*) FROM t WHERE c = 'a\\u000ab\\u2028'");
  });

  it('round-trips every keyword of the grammar as a dataset, column and alias name; the reserved ones need quotes', () => {
    const require = createRequire(import.meta.url);
    const grammar = readFileSync(require.resolve('node-sql-parser/build/trino.js'), 'utf8');
    const words = [
      ...new Set([...grammar.matchAll(/"([A-Za-z_][A-Za-z0-9_]*)"/g)].map((m) => m[1]!.toLowerCase())),
    ].filter((w) => w.length <= 63);
    expect(words.length).toBeGreaterThan(300);
    for (const w of words) {
      const schema = parseSchema(
        {
          datasets: {
            [w]: { columns: { [w]: { type: 'category', values: ['a'] }, qty_0: { type: 'integer', min: 0, max: 9 } } },
          },
        },
        'kw.json',
      );
      const plan: QueryPlan = {
        dataset: w,
        groupBy: [w],
        select: [
          { kind: 'group', column: w, alias: w },
          { kind: 'aggregate', fn: 'sum', column: 'qty_0', alias: `${w}_` },
        ],
        where: {
          kind: 'and',
          args: [
            { kind: 'compare', column: w, op: '=', value: 'a' },
            { kind: 'in', column: w, values: ['a'] },
          ],
        },
      };
      expect(parseQuery(formatPlan(plan), schema), w).toEqual(plan);
      // Inside ROLLUP(...) / CUBE(...) the name is a function argument, another grammar rule.
      const withTotals: QueryPlan = { ...plan, totals: w.length % 2 === 0 ? 'rollup' : 'cube' };
      expect(parseQuery(formatPlan(withTotals), schema), `${w} with totals`).toEqual(withTotals);
      if (RESERVED_WORDS.has(w)) {
        // Unquoted, the word is read as a keyword: the list holds no word that would not need quotes.
        const bare = `SELECT ${w}, COUNT(*) AS c FROM ${w} WHERE ${w} = 'a' GROUP BY ${w}`;
        expect(() => parseQuery(bare, schema), w).toThrow();
      }
    }
  });
});
