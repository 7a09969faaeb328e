/**
 * `aggregate` against a plain JS reference: random small datasets (two category columns with
 * Chinese, accented and CSV-hostile values; two integer columns with negative bounds) written as
 * CSV, loaded into DuckDB, and random plans (nested AND/OR/NOT, IN, BETWEEN, 0-2 group columns,
 * SUM and AVG) evaluated both ways.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import type { CategoryColumn, DatasetSchema, IntegerColumn } from '../../src/federation/schema.js';
import { planMeasures } from '../../src/query/plan.js';
import type { ComparisonOp, Predicate, QueryPlan, SelectItem } from '../../src/query/plan.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { tempDir, writeCsv } from './helpers.js';

const dir = tempDir('aggregate');
let store: DuckDbAgencyStore;
beforeAll(async () => {
  store = await openDuckDbStore(':memory:');
});
afterAll(async () => {
  await store.close();
});

const POOL = ['锦江区', '青羊区', '金牛区', '武侯区', '成华区', '男', '女', 'Zoë', 'Café', 'a,b', 'say "hi"', 'x', 'X'];
const CATS = ['region', 'kind'] as const;
const INTS = ['x', 'y'] as const;
type Row = Record<string, string | number>;

interface Case {
  readonly schema: DatasetSchema;
  readonly rows: readonly Row[];
}

const boundsArb = fc.oneof(
  fc.tuple(fc.integer({ min: -1000, max: 0 }), fc.integer({ min: 0, max: 1000 })),
  fc
    .tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 0, max: 5 }))
    .map(([a, w]) => [a, a + w] as [number, number]),
  fc.constant([-(2 ** 52), 2 ** 52] as [number, number]),
);

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    region: fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: 6 }),
    kind: fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: 4 }),
    x: boundsArb,
    y: boundsArb,
  })
  .chain((d) => {
    const schema = parseSchema(
      {
        datasets: {
          d: {
            columns: {
              region: { type: 'category', values: d.region },
              x: { type: 'integer', min: d.x[0], max: d.x[1] },
              kind: { type: 'category', values: d.kind },
              y: { type: 'integer', min: d.y[0], max: d.y[1] },
            },
          },
        },
      },
      'property',
    ).datasets['d']!;
    const row = fc.record({
      region: fc.constantFrom(...d.region),
      kind: fc.constantFrom(...d.kind),
      x: fc.integer({ min: d.x[0], max: d.x[1] }),
      y: fc.integer({ min: d.y[0], max: d.y[1] }),
    });
    return fc.array(row, { maxLength: 40 }).map((rows) => ({ schema, rows }));
  });

function cat(schema: DatasetSchema, name: string): CategoryColumn {
  return schema.columns[name] as CategoryColumn;
}
function int(schema: DatasetSchema, name: string): IntegerColumn {
  return schema.columns[name] as IntegerColumn;
}

function predicateArb(schema: DatasetSchema, rows: readonly Row[], depth: number): fc.Arbitrary<Predicate> {
  const catName = fc.constantFrom(...CATS);
  const intName = fc.constantFrom(...INTS);
  // Literals often equal a stored value or a bound, so boundary mistakes (< for <=) show.
  const intValue = (n: string): fc.Arbitrary<number> => {
    const { min, max } = int(schema, n);
    const seen = rows.map((r) => r[n] as number);
    const pick = [fc.integer({ min, max }), fc.constantFrom(min, max)];
    return seen.length === 0
      ? fc.oneof(...pick)
      : fc.oneof(fc.constantFrom(...seen), fc.constantFrom(...seen), ...pick);
  };
  const leaves: fc.Arbitrary<Predicate>[] = [
    catName.chain((column) =>
      fc.record({
        kind: fc.constant('compare' as const),
        column: fc.constant(column),
        op: fc.constantFrom<ComparisonOp>('=', '<>'),
        value: fc.constantFrom(...cat(schema, column).values),
      }),
    ),
    intName.chain((column) =>
      fc.record({
        kind: fc.constant('compare' as const),
        column: fc.constant(column),
        op: fc.constantFrom<ComparisonOp>('=', '<>', '<', '<=', '>', '>='),
        value: intValue(column),
      }),
    ),
    catName.chain((column) =>
      fc.record({
        kind: fc.constant('in' as const),
        column: fc.constant(column),
        values: fc.array(fc.constantFrom(...cat(schema, column).values), { minLength: 1, maxLength: 3 }),
      }),
    ),
    intName.chain((column) =>
      fc.record({
        kind: fc.constant('in' as const),
        column: fc.constant(column),
        values: fc.array(intValue(column), { minLength: 1, maxLength: 3 }),
      }),
    ),
    intName.chain((column) =>
      fc.record({
        kind: fc.constant('between' as const),
        column: fc.constant(column),
        low: intValue(column),
        high: intValue(column),
      }),
    ),
  ];
  if (depth === 0) return fc.oneof(...leaves);
  const sub = predicateArb(schema, rows, depth - 1);
  return fc.oneof(
    { arbitrary: fc.oneof(...leaves), weight: 3 },
    {
      arbitrary: fc.record({
        kind: fc.constantFrom('and' as const, 'or' as const),
        args: fc.array(sub, { minLength: 2, maxLength: 3 }),
      }),
      weight: 2,
    },
    { arbitrary: sub.map((arg): Predicate => ({ kind: 'not', arg })), weight: 1 },
  );
}

function planArb(schema: DatasetSchema, rows: readonly Row[]): fc.Arbitrary<QueryPlan> {
  return fc
    .record({
      groupBy: fc.shuffledSubarray([...CATS], { maxLength: 2 }),
      sums: fc.array(fc.tuple(fc.constantFrom('sum' as const, 'avg' as const), fc.constantFrom(...INTS)), {
        maxLength: 3,
      }),
      where: fc.option(predicateArb(schema, rows, 3), { nil: null }),
    })
    .map(({ groupBy, sums, where }) => ({
      dataset: 'd',
      groupBy,
      where,
      select: [
        ...groupBy.map((g): SelectItem => ({ kind: 'group', column: g, alias: g })),
        { kind: 'aggregate', fn: 'count', column: null, alias: 'count' },
        ...sums.map(([fn, column], i): SelectItem => ({
          kind: 'aggregate',
          fn,
          column,
          alias: `${fn}_${column}_${i}`,
        })),
      ],
    }));
}

/** The reference: SQL semantics over the rows, written directly. */
function holds(p: Predicate, row: Row): boolean {
  switch (p.kind) {
    case 'and':
      return p.args.every((a) => holds(a, row));
    case 'or':
      return p.args.some((a) => holds(a, row));
    case 'not':
      return !holds(p.arg, row);
    case 'in':
      return p.values.includes(row[p.column]!);
    case 'between':
      return (row[p.column] as number) >= (p.low as number) && (row[p.column] as number) <= (p.high as number);
    case 'compare': {
      const v = row[p.column]!;
      switch (p.op) {
        case '=':
          return v === p.value;
        case '<>':
          return v !== p.value;
        case '<':
          return v < p.value;
        case '<=':
          return v <= p.value;
        case '>':
          return v > p.value;
        case '>=':
          return v >= p.value;
      }
    }
  }
}

function reference(plan: QueryPlan, schema: DatasetSchema, rows: readonly Row[]): Map<number, bigint[]> {
  const measures = planMeasures(plan);
  const out = new Map<number, bigint[]>();
  for (const row of rows) {
    if (plan.where !== null && !holds(plan.where, row)) continue;
    let index = 0;
    for (const g of plan.groupBy)
      index = index * cat(schema, g).values.length + cat(schema, g).values.indexOf(row[g] as string);
    const acc = out.get(index) ?? measures.map(() => 0n);
    measures.forEach((m, i) => {
      acc[i] = acc[i]! + (m.kind === 'count' ? 1n : BigInt(row[m.column!] as number));
    });
    out.set(index, acc);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/** CSV with the columns in a scrambled order, quoting only where needed or on a whim. */
function toCsv(rows: readonly Row[], order: readonly string[], quoteAll: boolean): string {
  const cell = (v: string | number): string => {
    const s = String(v);
    return quoteAll || /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [order.join(','), ...rows.map((r) => order.map((c) => cell(r[c]!)).join(','))].join('\n') + '\n';
}

describe('aggregate equals a plain JS evaluation', () => {
  it('over random datasets and plans', async () => {
    await fc.assert(
      fc.asyncProperty(
        caseArb.chain((c) =>
          fc.record({
            c: fc.constant(c),
            plans: fc.array(planArb(c.schema, c.rows), { minLength: 1, maxLength: 6 }),
            order: fc.shuffledSubarray(['region', 'kind', 'x', 'y'], { minLength: 4, maxLength: 4 }),
            quoteAll: fc.boolean(),
          }),
        ),
        async ({ c, plans, order, quoteAll }) => {
          const report = await store.loadCsv('d', c.schema, writeCsv(dir, toCsv(c.rows, order, quoteAll)));
          expect(report.rowsLoaded).toBe(c.rows.length);
          for (const plan of plans) {
            const got = await store.aggregate(plan, c.schema);
            expect(new Map([...got.groups].map(([k, v]) => [k, [...v]]))).toEqual(reference(plan, c.schema, c.rows));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
