import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DatasetSchema } from '../../src/federation/schema.js';
import { defaultAlias } from '../../src/query/aliases.js';
import { formatJoinPlan } from '../../src/query/format-join-plan.js';
import type { JoinColumn, JoinPlan, JoinSelectItem, JoinSide, JoinSideName } from '../../src/query/join-plan.js';
import { validateJoinPlan } from '../../src/query/join-plan.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';
import { atomArb, predicateArb } from './arbitraries.js';
import { SEED } from './join-fixtures.js';

const RUNS = process.env['FEDSTAT_LONG'] === '1' ? 2000 : 100;
const DATASETS = Object.keys(SEED.datasets);

const columnsOf = (ds: DatasetSchema, type: 'category' | 'integer'): string[] =>
  Object.keys(ds.columns).filter((c) => ds.columns[c]?.type === type);

function sideArb(dataset: string, aliases: readonly string[]): fc.Arbitrary<JoinSide> {
  const ds = SEED.datasets[dataset];
  if (ds === undefined) throw new Error(`test bug: no dataset ${dataset}`);
  return fc.record({
    dataset: fc.constant(dataset),
    alias: fc.constantFrom(dataset, ...aliases),
    id: fc.constant('citizen_id'),
    where: fc.option(predicateArb(atomArb(ds), 3), { nil: null }),
  });
}

type Unnamed =
  | Omit<Extract<JoinSelectItem, { kind: 'group' }>, 'alias'>
  | Omit<Extract<JoinSelectItem, { kind: 'aggregate' }>, 'alias'>;

/** Output names: the default when free, else a numbered one (the parser refuses duplicates). */
function named(items: readonly Unnamed[], custom: readonly (string | null)[]): JoinSelectItem[] {
  const seen = new Set<string>();
  return items.map((it, i) => {
    let alias =
      custom[i] ??
      (it.kind === 'group' ? it.column : defaultAlias({ kind: 'aggregate', fn: it.fn, column: it.column }));
    if (seen.has(alias.toLowerCase())) alias = `out_${i}`;
    seen.add(alias.toLowerCase());
    return { ...it, alias };
  });
}

/** Random plans of parseJoinQuery's shape over the seed schema. */
const joinPlanArb: fc.Arbitrary<JoinPlan> = fc
  .tuple(
    fc.constantFrom<'inner' | 'anti'>('inner', 'anti'),
    fc.uniqueArray(fc.constantFrom(...DATASETS), { minLength: 2, maxLength: 2 }),
  )
  .chain(([join, [l = '', r = '']]) =>
    fc
      .record({
        left: sideArb(l, ['a', 'x']),
        right: sideArb(r, ['b', 'y']).map((s) => (join === 'anti' ? { ...s, where: null } : s)),
      })
      .chain(({ left, right }) => {
        const sides: JoinSideName[] = join === 'anti' ? ['left'] : ['left', 'right'];
        const of = (s: JoinSideName) => SEED.datasets[s === 'left' ? left.dataset : right.dataset] as DatasetSchema;
        const cats = sides.flatMap((s) =>
          columnsOf(of(s), 'category').map((column): JoinColumn => ({ side: s, column })),
        );
        const ints = sides.flatMap((s) => columnsOf(of(s), 'integer').map((column) => ({ side: s, column })));
        const aggregate = fc.oneof(
          fc.constant({ kind: 'aggregate' as const, fn: 'count' as const, side: null, column: null }),
          fc
            .tuple(fc.constantFrom('sum' as const, 'avg' as const), fc.constantFrom(...ints))
            .map(([fn, c]) => ({ kind: 'aggregate' as const, fn, side: c.side, column: c.column })),
        );
        return fc
          .tuple(
            fc.uniqueArray(fc.constantFrom(...cats), { maxLength: 2, selector: (c) => `${c.side}.${c.column}` }),
            fc.array(aggregate, { minLength: 1, maxLength: 3 }),
            fc.array(fc.option(fc.constantFrom('total', '人数', 'n_migrants', 'Count'), { nil: null }), {
              maxLength: 6,
            }),
          )
          .map(([groupBy, aggs, custom]): JoinPlan => ({
            kind: 'join',
            join,
            left,
            right,
            groupBy,
            select: named([...groupBy.map((g) => ({ kind: 'group' as const, ...g })), ...aggs], custom),
          }));
      }),
  );

describe('formatJoinPlan', () => {
  it('writes the issue queries as canonical one-line SQL', () => {
    const inner = parseJoinQuery(
      `SELECT s.sector, COUNT(*) AS n, AVG(h.monthly_rent) AS rent
       FROM social_insurance s JOIN rental_filings h ON h.citizen_id = s.citizen_id
       WHERE s.insured = '是' AND h.rental_type = '整租' GROUP BY s.sector`,
      SEED,
    );
    expect(formatJoinPlan(inner)).toBe(
      "SELECT s.sector, COUNT(*) AS n, AVG(h.monthly_rent) AS rent FROM social_insurance s JOIN rental_filings h ON s.citizen_id = h.citizen_id WHERE s.insured = '是' AND h.rental_type = '整租' GROUP BY s.sector",
    );
    const anti = parseJoinQuery(
      `SELECT district, COUNT(*) FROM residence_registrations
       WHERE age >= 16 AND NOT EXISTS (SELECT 1 FROM social_insurance WHERE social_insurance.citizen_id = residence_registrations.citizen_id)
       GROUP BY district`,
      SEED,
    );
    expect(formatJoinPlan(anti)).toBe(
      'SELECT residence_registrations.district, COUNT(*) FROM residence_registrations WHERE NOT EXISTS (SELECT 1 FROM social_insurance WHERE social_insurance.citizen_id = residence_registrations.citizen_id) AND residence_registrations.age >= 16 GROUP BY residence_registrations.district',
    );
  });

  it('parseJoinQuery(formatJoinPlan(p)) deep-equals p for random plans', () => {
    fc.assert(
      fc.property(joinPlanArb, (plan) => {
        const sql = formatJoinPlan(plan);
        expect(sql).not.toMatch(/[\n\r]/);
        expect(parseJoinQuery(sql, SEED)).toEqual(plan);
        expect(validateJoinPlan(JSON.parse(JSON.stringify(plan)), SEED)).toEqual(plan);
      }),
      { numRuns: RUNS },
    );
  });
});
