/**
 * AND/OR/NOT precedence against a real SQL engine. node-sql-parser 5.4 mis-nests AND/OR (in every
 * dialect), so parseQuery rebuilds the boolean structure itself; here random conditions written
 * with as few parentheses as SQL allows are counted by DuckDB and by the parsed plan.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import { formatIdentifier, formatLiteral } from '../../src/query/format-plan.js';
import { parseQuery } from '../../src/query/parse.js';
import type { Predicate } from '../../src/query/plan.js';
import { atomArb, predicateArb } from './arbitraries.js';
import { DISTRICTS, RESIDENTS } from './fixtures.js';

type Row = { district: string; age: number; income: number; insured: string };

// A fixed pseudo-random table (LCG), so failures replay.
function makeRows(n: number): Row[] {
  let s = 12345;
  const next = (m: number): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % m;
  };
  return Array.from({ length: n }, () => ({
    district: DISTRICTS[next(DISTRICTS.length)]!,
    age: next(121),
    income: next(40) * 50_000,
    insured: next(2) === 0 ? 'yes' : 'no',
  }));
}

const ROWS = makeRows(300);
let db: DuckDBInstance;
let conn: DuckDBConnection;

beforeAll(async () => {
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  await conn.run('CREATE TABLE residents (district VARCHAR, age INTEGER, income INTEGER, insured VARCHAR)');
  const values = ROWS.map(
    (r) => `(${formatLiteral(r.district)}, ${r.age}, ${r.income}, ${formatLiteral(r.insured)})`,
  ).join(', ');
  await conn.run(`INSERT INTO residents VALUES ${values}`);
});

afterAll(() => {
  conn.closeSync();
  db.closeSync();
});

async function duckCount(where: string): Promise<number> {
  const reader = await conn.runAndReadAll(`SELECT COUNT(*) FROM residents WHERE ${where}`);
  return Number(reader.getRows()[0]![0]);
}

/** Layout choices for the text: keyword case, spacing, comments, redundant parentheses, literal first. */
interface Style {
  readonly lower: boolean;
  readonly space: string;
  readonly parenAtoms: boolean;
  readonly literalFirst: boolean;
  readonly notInside: boolean;
}

const FLIP = { '=': '=', '<>': '<>', '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as const;

/** SQL with the fewest parentheses standard precedence (NOT > AND > OR) allows. */
function minimal(p: Predicate, style: Style, required = 0): string {
  const kw = (k: string): string => (style.lower ? k.toLowerCase() : k);
  const prec = p.kind === 'or' ? 1 : p.kind === 'and' ? 2 : p.kind === 'not' ? 3 : 4;
  let text: string;
  switch (p.kind) {
    case 'or':
    case 'and':
      text = p.args.map((a) => minimal(a, style, prec)).join(`${style.space}${kw(p.kind.toUpperCase())}${style.space}`);
      break;
    case 'not':
      if (style.notInside && (p.arg.kind === 'in' || p.arg.kind === 'between')) {
        const a = p.arg;
        text =
          a.kind === 'in'
            ? `${formatIdentifier(a.column)} ${kw('NOT IN')} (${a.values.map(formatLiteral).join(', ')})`
            : `${formatIdentifier(a.column)} ${kw('NOT BETWEEN')} ${formatLiteral(a.low)} ${kw('AND')} ${formatLiteral(a.high)}`;
      } else {
        text = `${kw('NOT')}${style.space}${minimal(p.arg, style, 3)}`;
      }
      break;
    case 'compare':
      text = style.literalFirst
        ? `${formatLiteral(p.value)} ${FLIP[p.op]} ${formatIdentifier(p.column)}`
        : `${formatIdentifier(p.column)} ${p.op} ${formatLiteral(p.value)}`;
      if (style.parenAtoms) text = `(${text})`;
      break;
    case 'in':
      text = `${formatIdentifier(p.column)} ${kw('IN')} (${p.values.map(formatLiteral).join(', ')})`;
      break;
    case 'between':
      text = `${formatIdentifier(p.column)} ${kw('BETWEEN')} ${formatLiteral(p.low)} ${kw('AND')} ${formatLiteral(p.high)}`;
      break;
  }
  return prec < required ? `(${text})` : text;
}

const styleArb: fc.Arbitrary<Style> = fc.record({
  lower: fc.boolean(),
  space: fc.constantFrom(' ', '\n  ', ' /* c */ ', ' -- c\n', '\t'),
  parenAtoms: fc.boolean(),
  literalFirst: fc.boolean(),
  notInside: fc.boolean(),
});

describe('WHERE precedence', () => {
  const residents = RESIDENTS.datasets['residents']!;
  const predArb = predicateArb(
    atomArb({
      columns: {
        district: residents.columns['district']!,
        age: residents.columns['age']!,
        income: residents.columns['income']!,
        insured: residents.columns['insured']!,
      },
      maxRows: 10,
    }),
    5,
  );

  it('counts the same rows as DuckDB for conditions written with minimal parentheses', async () => {
    await fc.assert(
      fc.asyncProperty(predArb, styleArb, async (pred, style) => {
        const text = minimal(pred, style);
        const plan = parseQuery(`SELECT COUNT(*) FROM residents WHERE ${text}`, RESIDENTS);
        const ours = ROWS.filter((r) => evaluatePredicate(plan.where, r)).length;
        const reference = ROWS.filter((r) => evaluatePredicate(pred, r)).length;
        expect(ours).toBe(await duckCount(text));
        expect(ours).toBe(reference);
      }),
      { numRuns: 250 },
    );
  });

  it('binds AND tighter than OR where node-sql-parser does not', () => {
    const plan = parseQuery(
      "SELECT COUNT(*) FROM residents WHERE age = 1 AND age = 2 AND district = '锦江区' OR insured = 'yes'",
      RESIDENTS,
    );
    expect(plan.where).toEqual({
      kind: 'or',
      args: [
        {
          kind: 'and',
          args: [
            { kind: 'compare', column: 'age', op: '=', value: 1 },
            { kind: 'compare', column: 'age', op: '=', value: 2 },
            { kind: 'compare', column: 'district', op: '=', value: '锦江区' },
          ],
        },
        { kind: 'compare', column: 'insured', op: '=', value: 'yes' },
      ],
    });
    const plan2 = parseQuery(
      "SELECT COUNT(*) FROM residents WHERE insured = 'no' OR NOT age = 3 AND age = 4",
      RESIDENTS,
    );
    expect(plan2.where).toEqual({
      kind: 'or',
      args: [
        { kind: 'compare', column: 'insured', op: '=', value: 'no' },
        {
          kind: 'and',
          args: [
            { kind: 'not', arg: { kind: 'compare', column: 'age', op: '=', value: 3 } },
            { kind: 'compare', column: 'age', op: '=', value: 4 },
          ],
        },
      ],
    });
  });

  it('keeps explicit parentheses as structure', () => {
    const plan = parseQuery(
      'SELECT COUNT(*) FROM residents WHERE age = 1 AND (age = 2 AND (age = 3)) AND ((age = 4 OR age = 5))',
      RESIDENTS,
    );
    expect(plan.where).toEqual({
      kind: 'and',
      args: [
        { kind: 'compare', column: 'age', op: '=', value: 1 },
        {
          kind: 'and',
          args: [
            { kind: 'compare', column: 'age', op: '=', value: 2 },
            { kind: 'compare', column: 'age', op: '=', value: 3 },
          ],
        },
        {
          kind: 'or',
          args: [
            { kind: 'compare', column: 'age', op: '=', value: 4 },
            { kind: 'compare', column: 'age', op: '=', value: 5 },
          ],
        },
      ],
    });
  });
});
