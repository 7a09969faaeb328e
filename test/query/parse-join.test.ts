import { describe, expect, it } from 'vitest';
import type { ErrorCode, FedstatError } from '../../src/errors.js';
import { joinGroupBy, joinMeasures } from '../../src/query/join-plan.js';
import type { JoinPlan } from '../../src/query/join-plan.js';
import { isJoinQuery, parseJoinQuery } from '../../src/query/parse-join.js';
import { parseQuery } from '../../src/query/parse.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { deepFrozen, SEED, SEED_WITH_TEXT_IDS } from './join-fixtures.js';

const parse = (sql: string): JoinPlan => parseJoinQuery(sql, SEED);

/** Where the error must point: the first occurrence of a snippet, or its nth (from 1). */
type Needle = string | readonly [string, number];

/** The 1-based column of `needle` in the one-line `sql`. */
function columnOf(sql: string, needle: Needle): number {
  const [text, nth] = typeof needle === 'string' ? [needle, 1] : needle;
  let at = -1;
  for (let i = 0; i < nth; i++) at = sql.indexOf(text, at + 1);
  if (at < 0) throw new Error(`test bug: ${text} is not in the query`);
  return at + 1;
}

/** Checks code, message text, one-line message and that the error points at `needle`. */
function refuses(sql: string, pattern: RegExp, needle: Needle, code: ErrorCode = 'QUERY_INVALID'): FedstatError {
  const e = fedstatErrorOf(() => parseJoinQuery(sql, SEED_WITH_TEXT_IDS));
  expect(e.code).toBe(code);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toMatch(/[\n\r]/);
  const column = columnOf(sql, needle);
  expect([e.details['line'], e.details['column']]).toEqual([1, column]);
  expect(e.message).toContain(`at 1:${column}`);
  return e;
}

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
  ])('%s → %s', (sql, expected) => {
    expect(isJoinQuery(sql)).toBe(expected);
  });

  it('parseQuery still refuses a join, pointing to the join form', () => {
    const e = fedstatErrorOf(() => parseQuery(INNER, SEED));
    expect(e.message).toMatch(/INNER JOIN is not supported.*JOIN … ON x\.id = y\.id/);
  });
});

const ANTI_FIX = /write the anti-join as WHERE NOT EXISTS \(SELECT 1 FROM … WHERE ….id = ….id\)$/;
const J = 'FROM social_insurance s JOIN rental_filings h ON s.citizen_id = h.citizen_id';
const A =
  'FROM residence_registrations r WHERE NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id)';

describe('anti-joins written other ways are refused with the NOT EXISTS form', () => {
  it.each([
    [
      'SELECT COUNT(*) FROM residence_registrations r LEFT ANTI JOIN social_insurance s ON r.citizen_id = s.citizen_id',
      /LEFT ANTI JOIN is not supported/,
      'LEFT ANTI',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r ANTI JOIN social_insurance s ON r.citizen_id = s.citizen_id',
      /ANTI JOIN is not supported/,
      'ANTI JOIN',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r LEFT JOIN social_insurance s ON r.citizen_id = s.citizen_id WHERE s.citizen_id IS NULL',
      /LEFT JOIN … WHERE … IS NULL is not supported/,
      'LEFT JOIN',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r WHERE r.citizen_id NOT IN (SELECT citizen_id FROM social_insurance)',
      /NOT IN \(SELECT …\) is not supported/,
      'NOT IN',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations EXCEPT SELECT COUNT(*) FROM social_insurance',
      /EXCEPT is not supported/,
      'EXCEPT',
    ],
  ] as const)('%s', (sql, pattern, at) => {
    const e = refuses(sql, pattern, at);
    expect(e.message).toMatch(ANTI_FIX);
  });
});

describe('other join forms are refused with the form to write', () => {
  it.each([
    [
      `SELECT COUNT(*) FROM social_insurance s LEFT JOIN rental_filings h ON s.citizen_id = h.citizen_id`,
      /LEFT JOIN is not supported.*\[INNER\] JOIN … ON x\.id = y\.id/,
      'LEFT',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s RIGHT OUTER JOIN rental_filings h ON s.citizen_id = h.citizen_id`,
      /RIGHT JOIN is not supported/,
      'RIGHT',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s FULL JOIN rental_filings h ON s.citizen_id = h.citizen_id`,
      /FULL JOIN is not supported/,
      'FULL',
    ],
    [`SELECT COUNT(*) FROM social_insurance s CROSS JOIN rental_filings h`, /CROSS JOIN is not supported/, 'CROSS'],
    [`SELECT COUNT(*) FROM social_insurance NATURAL JOIN rental_filings`, /NATURAL JOIN is not supported/, 'NATURAL'],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings h USING (citizen_id)`,
      /USING \(…\) is not supported.*write ON x\.id = y\.id/,
      'USING',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s, rental_filings h WHERE s.citizen_id = h.citizen_id`,
      /listing two datasets with a comma is not supported.*JOIN … ON/,
      ', rental',
    ],
    [
      `SELECT COUNT(*) ${J} JOIN school_enrolments e ON e.citizen_id = s.citizen_id`,
      /links two datasets, not more/,
      'JOIN school',
    ],
    [
      `SELECT COUNT(*) ${J} WHERE NOT EXISTS (SELECT 1 FROM school_enrolments e WHERE e.citizen_id = s.citizen_id)`,
      /links two datasets, not more/,
      'NOT EXISTS',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance a JOIN social_insurance b ON a.citizen_id = b.citizen_id`,
      /social_insurance is joined with itself/,
      'JOIN',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings s ON s.citizen_id = s.citizen_id`,
      /both datasets are called s/,
      'JOIN',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings h ON s.district = h.district`,
      /linked on id columns only, and social_insurance\.district is a category column.*join on the id columns: s\.citizen_id/,
      's.district',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings h ON UPPER(s.citizen_id) = h.citizen_id`,
      /ON must compare the id columns themselves/,
      'UPPER',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings h ON s.citizen_id = h.citizen_id AND s.age > 30`,
      /ON may hold only the id equality.*move the other conditions to WHERE/,
      'AND',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings h ON citizen_id = h.citizen_id`,
      /"citizen_id" is ambiguous.*write s\.citizen_id or h\.citizen_id/,
      'citizen_id = h',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN hotel_stays g ON s.citizen_id = g.guest_id`,
      /gb11643 ids and hotel_stays\.guest_id holds text ids/,
      's.citizen_id = g',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s WHERE EXISTS (SELECT 1 FROM rental_filings h WHERE h.citizen_id = s.citizen_id)`,
      /EXISTS without NOT is not supported.*JOIN … ON x\.id = y\.id/,
      'EXISTS',
    ],
    [`SELECT COUNT(*) ${A} OR r.age > 30`, /NOT EXISTS must be one of the conditions joined by AND/, 'NOT EXISTS'],
    [
      `SELECT s.sector, COUNT(*) ${J} GROUP BY ROLLUP(s.sector)`,
      /ROLLUP\(…\) is not yet supported for joins/,
      'ROLLUP',
    ],
    [`SELECT s.sector, COUNT(*) ${J} GROUP BY CUBE(s.sector)`, /CUBE\(…\) is not yet supported for joins/, 'CUBE'],
  ] as const)('%s', (sql, pattern, at) => {
    refuses(sql, pattern, at);
  });

  it('refuses a condition inside NOT EXISTS, explaining the OR across agencies', () => {
    const e = refuses(
      `SELECT COUNT(*) FROM residence_registrations r WHERE NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id AND s.insured = '是')`,
      /NOT EXISTS may hold only the id equality: a condition on social_insurance inside it would need an OR across that dataset's agencies, which fedstat does not compute.*against every record of social_insurance/,
      'AND s.insured',
    );
    expect(e.message).toMatch(ANTI_FIX);
    refuses(
      `SELECT COUNT(*) FROM residence_registrations r WHERE NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.insured = '是')`,
      /NOT EXISTS may hold only the id equality/,
      's.insured',
    );
  });

  it('refuses columns of the NOT EXISTS dataset outside it', () => {
    const why = /column of the NOT EXISTS dataset.*only columns of residence_registrations/;
    refuses(`SELECT s.sector, COUNT(*) ${A} GROUP BY s.sector`, why, ['s.sector', 2]);
    refuses(`SELECT COUNT(*), AVG(s.monthly_income) ${A}`, why, 's.monthly_income');
    refuses(`SELECT COUNT(*) ${A} AND s.age > 30`, why, 's.age');
    refuses(`SELECT COUNT(*), SUM(monthly_income) ${A}`, why, 'monthly_income');
  });
});

describe('WHERE, GROUP BY and SELECT of a join', () => {
  it.each([
    [
      `SELECT COUNT(*) ${J} WHERE s.age > h.lease_months`,
      /compares columns of social_insurance and rental_filings.*each condition must name columns of one dataset/,
      's.age',
    ],
    [
      `SELECT COUNT(*) ${J} WHERE s.age > 30 OR h.lease_months > 6`,
      /combines social_insurance and rental_filings.*each condition must name columns of one dataset/,
      's.age',
    ],
    [
      `SELECT COUNT(*) ${J} WHERE NOT (s.age > 30 AND h.lease_months > 6)`,
      /combines social_insurance and rental_filings/,
      's.age',
    ],
    [
      `SELECT COUNT(*) ${J} WHERE s.citizen_id = '1'`,
      /citizen_id of social_insurance is an identifier \(id\) column/,
      "s.citizen_id = '1'",
    ],
    [
      `SELECT COUNT(*) ${J} GROUP BY h.citizen_id`,
      /citizen_id of rental_filings is an identifier \(id\) column/,
      ['h.citizen_id', 2],
    ],
    [`SELECT citizen_id, COUNT(*) ${J}`, /is an identifier \(id\) column/, 'citizen_id'],
    [
      `SELECT district, COUNT(*) ${J} GROUP BY district`,
      /"district" is ambiguous: both social_insurance and rental_filings have it.*write s\.district or h\.district/,
      ['district', 2],
    ],
    [
      `SELECT COUNT(*) ${J} WHERE x.age > 3`,
      /unknown table "x" in "x\.age".*reads s \(social_insurance\) and h \(rental_filings\)/,
      'x.age',
    ],
    [`SELECT COUNT(*) ${J} WHERE sh.age > 3`, /unknown table "sh".*\(did you mean s\?\)/, 'sh.age'],
    [
      `SELECT COUNT(*) ${J} WHERE social_insurance.age > 3`,
      /social_insurance is called s in this query.*; write s\.age/,
      'social_insurance.age',
    ],
    [
      `SELECT COUNT(*) ${J} WHERE s.agee > 3`,
      /unknown column "agee" in social_insurance.*\(did you mean age\?\)/,
      's.agee',
    ],
    [
      `SELECT COUNT(*) ${J} WHERE rentaltype = '整租'`,
      /unknown column "rentaltype".*\(did you mean h\.rental_type\?\)/,
      'rentaltype',
    ],
    [`SELECT COUNT(*) ${J} WHERE h.rental_type = '整'`, /'整' is not a value of rental_filings\.rental_type/, "'整'"],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filing h ON s.citizen_id = h.citizen_id`,
      /unknown dataset "rental_filing".*did you mean rental_filings/,
      'rental_filing h',
      'NOT_FOUND',
    ],
    [
      `SELECT s.sector, h.rental_type, s.city, COUNT(*) ${J} GROUP BY s.sector, h.rental_type, s.city`,
      /GROUP BY lists 3 columns.*for both datasets together/,
      ['s.city', 2],
    ],
    [
      `SELECT COUNT(*) ${J} GROUP BY s.age`,
      /GROUP BY s\.age: social_insurance\.age is an integer column/,
      ['s.age', 1],
    ],
    [
      `SELECT s.city, COUNT(*) ${J} GROUP BY s.sector`,
      /s\.city must appear in GROUP BY to be selected.*; add GROUP BY s\.sector, s\.city/,
      's.city',
    ],
    [
      `SELECT AVG(s.age) AS a, AVG(h.lease_months) AS a ${J}`,
      /the output name "a" is used twice/,
      'AVG(h.lease_months)',
    ],
    [
      `SELECT AVG(s.age), AVG(r.age) FROM social_insurance s JOIN residence_registrations r ON s.citizen_id = r.citizen_id`,
      /the output name "avg_age" is used twice/,
      'AVG(r.age)',
    ],
    [
      `SELECT SUM(h.rental_type) ${J}`,
      /SUM\(h\.rental_type\): rental_filings\.rental_type is a category column/,
      'h.rental_type',
    ],
    [`SELECT s.sector ${J} GROUP BY s.sector`, /the query has no aggregate/, 's.sector'],
    [`SELECT COUNT(*) ${J} HAVING COUNT(*) > 3`, /HAVING is not supported.*; fedstat links records with/, 'HAVING'],
  ] as const)('%s', (sql, pattern, at, code?: ErrorCode) => {
    refuses(sql, pattern, at, code);
  });
});
