import { describe, expect, it } from 'vitest';
import { joinGroupBy, joinMeasures } from '../../src/query/join-plan.js';
import type { JoinPlan } from '../../src/query/join-plan.js';
import { isJoinQuery, parseJoinQuery } from '../../src/query/parse-join.js';
import { parseQuery } from '../../src/query/parse.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { deepFrozen, SEED } from './join-fixtures.js';

const parse = (sql: string): JoinPlan => parseJoinQuery(sql, SEED);

const INNER = `SELECT s.sector, COUNT(*) AS n, AVG(h.monthly_rent) AS rent
FROM social_insurance s JOIN rental_filings h ON s.citizen_id = h.citizen_id
WHERE s.insured = '是' AND h.rental_type = '整租'
GROUP BY s.sector;`;

const ANTI = `SELECT r.district, COUNT(*) AS registered_uninsured
FROM residence_registrations r
WHERE NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id)
  AND r.age >= 16
GROUP BY r.district;`;

const INNER_PLAN: JoinPlan = {
  kind: 'join',
  join: 'inner',
  left: {
    dataset: 'social_insurance',
    alias: 's',
    id: 'citizen_id',
    where: { kind: 'compare', column: 'insured', op: '=', value: '是' },
  },
  right: {
    dataset: 'rental_filings',
    alias: 'h',
    id: 'citizen_id',
    where: { kind: 'compare', column: 'rental_type', op: '=', value: '整租' },
  },
  groupBy: [{ side: 'left', column: 'sector' }],
  select: [
    { kind: 'group', side: 'left', column: 'sector', alias: 'sector' },
    { kind: 'aggregate', fn: 'count', side: null, column: null, alias: 'n' },
    { kind: 'aggregate', fn: 'avg', side: 'right', column: 'monthly_rent', alias: 'rent' },
  ],
};

describe('parseJoinQuery accepts the two linked-record forms', () => {
  it('reads the inner join of the issue into a frozen plan with WHERE split by side', () => {
    const plan = parse(INNER);
    expect(plan).toEqual(INNER_PLAN);
    expect(deepFrozen(plan)).toBe(true);
    expect(joinMeasures(plan, 'right')).toEqual(['monthly_rent']);
    expect(joinMeasures(plan, 'left')).toEqual([]);
    expect(joinGroupBy(plan, 'left')).toEqual(['sector']);
    expect(joinGroupBy(plan, 'right')).toEqual([]);
  });

  it('reads INNER JOIN, AS aliases, either ON order and unqualified unique names alike', () => {
    for (const sql of [
      INNER.replace(' JOIN ', ' INNER JOIN '),
      INNER.replace('ON s.citizen_id = h.citizen_id', 'ON h.citizen_id = s.citizen_id'),
      INNER.replace('social_insurance s', 'social_insurance AS s').replace('rental_filings h', 'rental_filings AS h'),
      INNER.replace("s.insured = '是' AND h.rental_type", "insured = '是' AND rental_type").replace(
        'AVG(h.monthly_rent)',
        'AVG(monthly_rent)',
      ),
    ]) {
      expect(parse(sql)).toEqual(INNER_PLAN);
    }
  });

  it('qualifies by the dataset name when there is no alias, and the plan says so', () => {
    const plan = parse(
      'SELECT COUNT(*) FROM social_insurance JOIN rental_filings ON rental_filings.citizen_id = social_insurance.citizen_id WHERE social_insurance.age > 30',
    );
    expect(plan.left).toEqual({
      dataset: 'social_insurance',
      alias: 'social_insurance',
      id: 'citizen_id',
      where: { kind: 'compare', column: 'age', op: '>', value: 30 },
    });
    expect(plan.right.alias).toBe('rental_filings');
    expect(plan.select).toEqual([{ kind: 'aggregate', fn: 'count', side: null, column: null, alias: 'count' }]);
  });

  it('splits a conjunction by side, keeping OR, NOT, IN and BETWEEN inside one side', () => {
    const plan = parse(`SELECT h.rental_type, s.city, SUM(s.monthly_income), AVG(h.floor_area), SUM(h.floor_area)
      FROM social_insurance s JOIN rental_filings h ON s.citizen_id = h.citizen_id
      WHERE (s.age BETWEEN 18 AND 60 AND h.lease_months >= 6) AND (s.sex = '女' OR s.insured = '否')
        AND h.district NOT IN ('锦江区', '青羊区') AND NOT s.city = '德阳市'
      GROUP BY h.rental_type, s.city`);
    expect(plan.left.where).toEqual({
      kind: 'and',
      args: [
        { kind: 'between', column: 'age', low: 18, high: 60 },
        {
          kind: 'or',
          args: [
            { kind: 'compare', column: 'sex', op: '=', value: '女' },
            { kind: 'compare', column: 'insured', op: '=', value: '否' },
          ],
        },
        { kind: 'not', arg: { kind: 'compare', column: 'city', op: '=', value: '德阳市' } },
      ],
    });
    expect(plan.right.where).toEqual({
      kind: 'and',
      args: [
        { kind: 'compare', column: 'lease_months', op: '>=', value: 6 },
        { kind: 'not', arg: { kind: 'in', column: 'district', values: ['锦江区', '青羊区'] } },
      ],
    });
    expect(plan.groupBy).toEqual([
      { side: 'right', column: 'rental_type' },
      { side: 'left', column: 'city' },
    ]);
    expect(plan.select.map((i) => i.alias)).toEqual([
      'rental_type',
      'city',
      'sum_monthly_income',
      'avg_floor_area',
      'sum_floor_area',
    ]);
    expect(joinMeasures(plan, 'right')).toEqual(['floor_area']);
    expect(joinMeasures(plan, 'left')).toEqual(['monthly_income']);
    expect(joinGroupBy(plan, 'right')).toEqual(['rental_type']);
  });

  it('reads the anti-join of the issue', () => {
    const plan = parse(ANTI);
    expect(plan).toEqual({
      kind: 'join',
      join: 'anti',
      left: {
        dataset: 'residence_registrations',
        alias: 'r',
        id: 'citizen_id',
        where: { kind: 'compare', column: 'age', op: '>=', value: 16 },
      },
      right: { dataset: 'social_insurance', alias: 's', id: 'citizen_id', where: null },
      groupBy: [{ side: 'left', column: 'district' }],
      select: [
        { kind: 'group', side: 'left', column: 'district', alias: 'district' },
        { kind: 'aggregate', fn: 'count', side: null, column: null, alias: 'registered_uninsured' },
      ],
    });
    expect(deepFrozen(plan)).toBe(true);
  });

  it('reads NOT EXISTS in any position of the conjunction, with SELECT *, either order, a bare inner id', () => {
    const base = parse(ANTI);
    for (const sql of [
      ANTI.replace('SELECT 1 FROM', 'SELECT * FROM'),
      ANTI.replace('s.citizen_id = r.citizen_id', 'r.citizen_id = s.citizen_id'),
      ANTI.replace('s.citizen_id = r.citizen_id', 'citizen_id = r.citizen_id'),
      `SELECT district, COUNT(*) AS registered_uninsured FROM residence_registrations r
       WHERE age >= 16 AND NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id) GROUP BY district`,
    ]) {
      expect(parse(sql)).toEqual(base);
    }
    const noWhere = parse(
      'SELECT COUNT(*) FROM school_enrolments WHERE NOT EXISTS (SELECT 1 FROM residence_registrations WHERE residence_registrations.citizen_id = school_enrolments.citizen_id)',
    );
    expect(noWhere.left.where).toBeNull();
    expect(noWhere.left.alias).toBe('school_enrolments');
  });
});

describe('isJoinQuery routes linked-record text', () => {
  it.each([
    [INNER, true],
    [ANTI, true],
    ['SELECT COUNT(*) FROM a, b', true],
    ['SELECT COUNT(*) FROM a ANTI JOIN b ON a.id = b.id', true],
    ['SELECT COUNT(*) FROM a EXCEPT SELECT COUNT(*) FROM b', true],
    ['SELECT COUNT(*) FROM a WHERE a.id NOT IN (SELECT id FROM b)', true],
    ["SELECT district, COUNT(*) FROM residence_registrations WHERE district = 'JOIN' GROUP BY district", false],
    ['SELECT COUNT(*) FROM residence_registrations WHERE age IN (1, 2)', false],
    ['SELECT COUNT(*) FROM residence_registrations -- JOIN in a comment', false],
    ['SELECT COUNT(*) FROM residence_registrations anti WHERE anti.age > 3', false],
    ['SELECT COUNT(*) FROM residence_registrations minus', false],
  ])('%s → %s', (sql, expected) => {
    expect(isJoinQuery(sql)).toBe(expected);
  });

  it('parseQuery still refuses a join, pointing to the join form', () => {
    const e = fedstatErrorOf(() => parseQuery(INNER, SEED));
    expect(e.message).toMatch(/INNER JOIN is not supported.*JOIN … ON x\.id = y\.id/);
  });
});
