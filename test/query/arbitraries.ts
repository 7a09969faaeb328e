/**
 * fast-check generators for the query tests: random schemas (names that collide with SQL
 * keywords, Unicode category values, integer bounds up to ±2^53) and random valid plans over them.
 */
import fc from 'fast-check';
import { parseSchema } from '../../src/federation/schema.js';
import type { CategoryColumn, DatasetSchema, IntegerColumn, Schema } from '../../src/federation/schema.js';
import { defaultAlias } from '../../src/query/aliases.js';
import { TOTALS } from '../../src/query/plan.js';
import type { ComparisonOp, Predicate, QueryPlan, SelectItem } from '../../src/query/plan.js';

/** Column and dataset names, with plenty of SQL keywords and mixed case. */
export const nameArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'district',
    'age',
    'income',
    'from',
    'select',
    'Group',
    'order',
    'count',
    'sum',
    'avg',
    'where',
    'desc',
    'value',
    'date',
    'year',
    'key',
    'data',
    'row',
    'e',
    'e1',
    'IN',
    'between',
    'not',
    'x_1',
    '_t',
    'NULL',
    'true',
  ),
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/),
);

/** True for strings this SQL dialect can write: no control characters, no odd backslash run before a quote or at the end. */
export function sqlWritable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return false;
  }
  return !/(^|[^\\])(\\\\)*\\('|$)/.test(s);
}

/** Category values: Chengdu districts, awkward ASCII (quotes, backslashes, keywords) and random graphemes. */
export const categoryValueArb: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom(
      '锦江区',
      '青羊区',
      '金牛区',
      '武侯区',
      '成华区',
      '高新区',
      "it's",
      "''",
      'a\\b',
      'a\\\\',
      'AND',
      'OR x',
      ' ',
      '"q"',
      'NOT',
      '(',
      '😀',
      'é',
      'ﬁ',
    ),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }),
  )
  .map((s) => s.normalize('NFC'))
  .filter((s) => s.length > 0 && sqlWritable(s));

const boundArb = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.maxSafeInteger(),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
);

const columnArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .uniqueArray(categoryValueArb, { minLength: 1, maxLength: 6 })
      .map((values) => ({ type: 'category', values })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(boundArb, boundArb)
      .map(([a, b]) => ({ type: 'integer', min: Math.min(a, b), max: Math.max(a, b) })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'id', format: 'text' }) },
);

const datasetArb = fc
  .uniqueArray(fc.tuple(nameArb, columnArb), { minLength: 1, maxLength: 6, selector: ([n]) => n.toLowerCase() })
  .filter((cols) => cols.some(([, c]) => c.type !== 'id'))
  .map((cols) => ({ columns: Object.fromEntries(cols) }));

/** Random schemas of 1-3 datasets, parsed (so frozen and NFC) like a real schema file. */
export const schemaArb: fc.Arbitrary<Schema> = fc
  .uniqueArray(fc.tuple(nameArb, datasetArb), { minLength: 1, maxLength: 3, selector: ([n]) => n.toLowerCase() })
  .map((ds) => parseSchema({ datasets: Object.fromEntries(ds) }, 'generated.json'));

export const aliasArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'total',
    '人数',
    '人口_2024',
    'Count',
    'x1',
    'ÉTÉ',
    '1st',
    'select',
    'from',
    'n_migrants',
    '平均收入',
  ),
  fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/),
);

function columnsOf<T extends 'category' | 'integer'>(
  ds: DatasetSchema,
  type: T,
): [string, T extends 'category' ? CategoryColumn : IntegerColumn][] {
  return Object.entries(ds.columns).filter(([, c]) => c.type === type) as [
    string,
    T extends 'category' ? CategoryColumn : IntegerColumn,
  ][];
}

/** Comparisons (compare, IN, BETWEEN) on the dataset's columns with literals from their domains. */
export function atomArb(ds: DatasetSchema): fc.Arbitrary<Predicate> {
  const cats = columnsOf(ds, 'category');
  const ints = columnsOf(ds, 'integer');
  const options: fc.Arbitrary<Predicate>[] = [];
  for (const [column, c] of cats) {
    const v = fc.constantFrom(...c.values);
    options.push(
      fc.record({
        kind: fc.constant('compare' as const),
        column: fc.constant(column),
        op: fc.constantFrom<ComparisonOp>('=', '<>'),
        value: v,
      }),
    );
    options.push(
      fc.record({
        kind: fc.constant('in' as const),
        column: fc.constant(column),
        values: fc.array(v, { minLength: 1, maxLength: 4 }),
      }),
    );
  }
  for (const [column, c] of ints) {
    const v = fc.integer({ min: c.min, max: c.max });
    options.push(
      fc.record({
        kind: fc.constant('compare' as const),
        column: fc.constant(column),
        op: fc.constantFrom<ComparisonOp>('=', '<>', '<', '<=', '>', '>='),
        value: v,
      }),
    );
    options.push(
      fc.record({
        kind: fc.constant('in' as const),
        column: fc.constant(column),
        values: fc.array(v, { minLength: 1, maxLength: 4 }),
      }),
    );
    options.push(fc.record({ kind: fc.constant('between' as const), column: fc.constant(column), low: v, high: v }));
  }
  return fc.oneof(...options);
}

/** Predicates of depth at most `depth` over `atom`. */
export function predicateArb(atom: fc.Arbitrary<Predicate>, depth: number): fc.Arbitrary<Predicate> {
  if (depth <= 1) return atom;
  const sub = predicateArb(atom, depth - 1);
  return fc.oneof(
    { weight: 2, arbitrary: atom },
    {
      weight: 1,
      arbitrary: fc.array(sub, { minLength: 2, maxLength: 3 }).map((args) => ({ kind: 'and' as const, args })),
    },
    {
      weight: 1,
      arbitrary: fc.array(sub, { minLength: 2, maxLength: 3 }).map((args) => ({ kind: 'or' as const, args })),
    },
    { weight: 1, arbitrary: sub.map((arg) => ({ kind: 'not' as const, arg })) },
  );
}

function uniqueAliases(items: SelectItem[]): SelectItem[] {
  const seen = new Set<string>();
  return items.map((item, i) => {
    let alias = item.alias;
    if (seen.has(alias.toLowerCase())) alias = `${alias}_${i}`;
    seen.add(alias.toLowerCase());
    return { ...item, alias };
  });
}

/** Random valid plans over `schema`; with `withTotals`, grouped plans may carry ROLLUP or CUBE totals. */
export function planArb(schema: Schema, maxDepth = 4, withTotals = false): fc.Arbitrary<QueryPlan> {
  return fc.constantFrom(...Object.keys(schema.datasets)).chain((dataset) => {
    const ds = schema.datasets[dataset]!;
    const ints = columnsOf(ds, 'integer').map(([n]) => n);
    const cats = columnsOf(ds, 'category').map(([n]) => n);
    const aggArb = fc.oneof(
      fc.constant({ kind: 'aggregate' as const, fn: 'count' as const, column: null }),
      ...(ints.length === 0
        ? []
        : [
            fc.record({
              kind: fc.constant('aggregate' as const),
              fn: fc.constantFrom('sum' as const, 'avg' as const),
              column: fc.constantFrom(...ints),
            }),
          ]),
    );
    const withAlias = (a: fc.Arbitrary<Parameters<typeof defaultAlias>[0]>): fc.Arbitrary<SelectItem> =>
      fc
        .tuple(a, fc.option(aliasArb, { freq: 3 }))
        .map(([item, alias]): SelectItem => ({ ...item, alias: alias ?? defaultAlias(item) }));
    const atoms = cats.length + ints.length > 0 ? atomArb(ds) : null;
    return fc.shuffledSubarray(cats, { maxLength: Math.min(2, cats.length) }).chain((groupBy) => {
      const itemArb =
        groupBy.length === 0
          ? withAlias(aggArb)
          : fc.oneof(
              withAlias(aggArb),
              withAlias(fc.constantFrom(...groupBy).map((column) => ({ kind: 'group' as const, column }))),
            );
      return fc
        .record({
          dataset: fc.constant(dataset),
          groupBy: fc.constant(groupBy),
          first: withAlias(aggArb),
          rest: fc.array(itemArb, { maxLength: 5 }),
          at: fc.nat(),
          where: atoms === null ? fc.constant(null) : fc.option(predicateArb(atoms, maxDepth), { freq: 4 }),
          totals:
            withTotals && groupBy.length > 0 ? fc.option(fc.constantFrom(...TOTALS), { freq: 3 }) : fc.constant(null),
        })
        .map(({ first, rest, at, where, totals }): QueryPlan => {
          const select = [...rest];
          select.splice(at % (rest.length + 1), 0, first);
          const plan = { dataset, groupBy, select: uniqueAliases(select), where };
          return totals === null ? plan : { ...plan, totals };
        });
    });
  });
}

/** A schema with a plan over it (never with totals: test/e2e's reference has none). */
export const schemaAndPlanArb: fc.Arbitrary<[Schema, QueryPlan]> = schemaArb.chain((s) =>
  planArb(s).map((p) => [s, p] as [Schema, QueryPlan]),
);

/** A schema with a plan over it that may carry ROLLUP or CUBE totals. */
export const schemaAndTotalsPlanArb: fc.Arbitrary<[Schema, QueryPlan]> = schemaArb.chain((s) =>
  planArb(s, 4, true).map((p) => [s, p] as [Schema, QueryPlan]),
);
