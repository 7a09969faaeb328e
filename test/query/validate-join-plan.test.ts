import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { validateJoinPlan } from '../../src/query/join-plan.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { deepFrozen, SEED, SEED_WITH_TEXT_IDS } from './join-fixtures.js';

const QUERIES = [
  `SELECT s.sector, COUNT(*) AS n, AVG(h.monthly_rent) AS rent FROM social_insurance s JOIN rental_filings h
   ON s.citizen_id = h.citizen_id WHERE s.insured = '是' AND h.rental_type = '整租' GROUP BY s.sector`,
  `SELECT r.district, COUNT(*) AS registered_uninsured FROM residence_registrations r
   WHERE NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id) AND r.age >= 16 GROUP BY r.district`,
  `SELECT e.school_type, h.rental_type, SUM(h.monthly_rent), AVG(e.grade) FROM school_enrolments e
   JOIN rental_filings h ON h.citizen_id = e.citizen_id
   WHERE (e.age BETWEEN 6 AND 15 OR e.grade IN (1, 2)) AND NOT h.city = '德阳市' GROUP BY e.school_type, h.rental_type`,
];

/** A JSON copy of the first query's plan, for tampering. */
function plan(i = 0): Record<string, unknown> {
  return JSON.parse(JSON.stringify(parseJoinQuery(QUERIES[i] ?? '', SEED))) as Record<string, unknown>;
}

function rejects(raw: unknown, code: ErrorCode, pattern: RegExp): void {
  const e = fedstatErrorOf(() => validateJoinPlan(raw, SEED_WITH_TEXT_IDS));
  expect(e.code).toBe(code);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toMatch(/[\n\r]/);
}

type Obj = Record<string, unknown>;
const side = (p: Obj, s: 'left' | 'right'): Obj => p[s] as Obj;
const items = (p: Obj): Obj[] => p['select'] as Obj[];

describe('validateJoinPlan', () => {
  it.each(QUERIES)('accepts what parseJoinQuery makes, unchanged and deep-frozen, after a JSON round trip', (sql) => {
    const parsed = parseJoinQuery(sql, SEED);
    const again = validateJoinPlan(JSON.parse(JSON.stringify(parsed)), SEED);
    expect(again).toEqual(parsed);
    expect(deepFrozen(again)).toBe(true);
  });

  it('returns a copy that later mutation of the input cannot change', () => {
    const raw = plan();
    const checked = validateJoinPlan(raw, SEED);
    (side(raw, 'left')['where'] as Obj)['value'] = '否';
    expect(checked.left.where).toEqual({ kind: 'compare', column: 'insured', op: '=', value: '是' });
  });

  it.each<[string, (p: Obj) => unknown, ErrorCode, RegExp]>([
    ['an extra top-level key', (p) => ({ ...p, sql: 'x' }), 'BAD_MESSAGE', /unexpected field "sql"/],
    ['a missing key', ({ groupBy: _g, ...p }) => p, 'BAD_MESSAGE', /missing field groupBy/],
    [
      'an extra key in a side',
      (p) => ({ ...p, left: { ...side(p, 'left'), agency: 'a' } }),
      'BAD_MESSAGE',
      /left: unexpected field "agency"/,
    ],
    [
      'an extra key in a select item',
      (p) => ({ ...p, select: [{ ...items(p)[0], x: 1 }, ...items(p).slice(1)] }),
      'BAD_MESSAGE',
      /select\[0\]: unexpected field "x"/,
    ],
    ['kind other than join', (p) => ({ ...p, kind: 'query' }), 'BAD_MESSAGE', /kind: expected one of join/],
    ['an unknown join kind', (p) => ({ ...p, join: 'left' }), 'BAD_MESSAGE', /join: expected one of inner, anti/],
    [
      'a wrong side name',
      (p) => ({ ...p, groupBy: [{ side: 'middle', column: 'sector' }] }),
      'BAD_MESSAGE',
      /groupBy\[0\]\.side: expected one of left, right/,
    ],
    [
      'a group item of the wrong side',
      (p) => ({ ...p, select: [{ ...items(p)[0], side: 'right' }, ...items(p).slice(1)] }),
      'QUERY_INVALID',
      /unknown column "sector" in rental_filings/,
    ],
    [
      'an unknown column in a side WHERE',
      (p) => ({ ...p, right: { ...side(p, 'right'), where: { kind: 'compare', column: 'rent', op: '=', value: 1 } } }),
      'QUERY_INVALID',
      /unknown column "rent" in rental_filings.*did you mean/,
    ],
    [
      'an id column in a side WHERE',
      (p) => ({
        ...p,
        left: { ...side(p, 'left'), where: { kind: 'compare', column: 'citizen_id', op: '=', value: '1' } },
      }),
      'QUERY_INVALID',
      /identifier \(id\) column/,
    ],
    [
      'an unknown dataset',
      (p) => ({ ...p, right: { ...side(p, 'right'), dataset: 'rentals' } }),
      'NOT_FOUND',
      /rentals/,
    ],
    [
      'a non-id join column',
      (p) => ({ ...p, left: { ...side(p, 'left'), id: 'sector' } }),
      'QUERY_INVALID',
      /social_insurance\.sector is not an id column/,
    ],
    [
      'an unknown join column',
      (p) => ({ ...p, left: { ...side(p, 'left'), id: 'cid' } }),
      'QUERY_INVALID',
      /social_insurance\.cid is not an id column.*join on social_insurance\.citizen_id/,
    ],
    [
      'id columns of different formats',
      (p) => ({
        ...p,
        right: { dataset: 'hotel_stays', alias: 'g', id: 'guest_id', where: null },
        select: items(p).slice(0, 2),
      }),
      'QUERY_INVALID',
      /\(gb11643\) and hotel_stays\.guest_id \(text\) hold ids of different formats/,
    ],
    [
      'a dataset joined with itself',
      (p) => ({ ...p, right: { ...side(p, 'left'), alias: 't', where: null } }),
      'QUERY_INVALID',
      /joined with itself/,
    ],
    [
      'equal aliases',
      (p) => ({ ...p, right: { ...side(p, 'right'), alias: 'S' } }),
      'QUERY_INVALID',
      /both datasets are called/,
    ],
    [
      'an unsafe alias',
      (p) => ({ ...p, right: { ...side(p, 'right'), alias: 'h; DROP' } }),
      'BAD_MESSAGE',
      /right\.alias: unsafe alias/,
    ],
    [
      'COUNT with a side',
      (p) => ({ ...p, select: [items(p)[0], { ...items(p)[1], side: 'left' }] }),
      'BAD_MESSAGE',
      /count takes side null/,
    ],
    [
      'AVG of a category column',
      (p) => ({ ...p, select: [items(p)[0], { ...items(p)[2], column: 'rental_type' }] }),
      'QUERY_INVALID',
      /rental_filings\.rental_type is a category column/,
    ],
    [
      'AVG without a side',
      (p) => ({ ...p, select: [items(p)[0], { ...items(p)[2], side: null }] }),
      'BAD_MESSAGE',
      /select\[1\]\.side: expected one of left, right/,
    ],
    [
      'GROUP BY an integer column',
      (p) => ({ ...p, groupBy: [{ side: 'right', column: 'monthly_rent' }], select: items(p).slice(1) }),
      'QUERY_INVALID',
      /integer column/,
    ],
    [
      'three GROUP BY columns',
      (p) => ({
        ...p,
        groupBy: [
          { side: 'left', column: 'sector' },
          { side: 'left', column: 'city' },
          { side: 'right', column: 'city' },
        ],
      }),
      'BAD_MESSAGE',
      /groupBy: expected 0 to 2 items, got 3/,
    ],
    [
      'a duplicate GROUP BY column',
      (p) => ({
        ...p,
        groupBy: [
          { side: 'left', column: 'sector' },
          { side: 'left', column: 'sector' },
        ],
      }),
      'QUERY_INVALID',
      /appears twice/,
    ],
    [
      'a selected column not grouped',
      (p) => ({ ...p, groupBy: [] }),
      'QUERY_INVALID',
      /sector is selected but not in GROUP BY/,
    ],
    [
      'duplicate output names',
      (p) => ({ ...p, select: [...items(p), { ...items(p)[1], alias: 'N' }] }),
      'QUERY_INVALID',
      /the output name "N" is used twice/,
    ],
    ['no aggregate', (p) => ({ ...p, select: items(p).slice(0, 1) }), 'QUERY_INVALID', /no aggregate/],
    [
      'a string where an object belongs',
      (p) => ({ ...p, left: 'social_insurance' }),
      'BAD_MESSAGE',
      /left: expected an object/,
    ],
  ])('rejects %s', (_what, tamper, code, pattern) => {
    rejects(tamper(plan()), code, pattern);
  });

  it('rejects an anti-join that uses the NOT EXISTS dataset', () => {
    const anti = plan(1);
    rejects(
      {
        ...anti,
        right: { ...side(anti, 'right'), where: { kind: 'compare', column: 'insured', op: '=', value: '是' } },
      },
      'QUERY_INVALID',
      /NOT EXISTS dataset social_insurance carries conditions/,
    );
    rejects(
      {
        ...anti,
        groupBy: [{ side: 'right', column: 'sector' }],
        select: [{ kind: 'group', side: 'right', column: 'sector', alias: 'sector' }, items(anti)[1]],
      },
      'QUERY_INVALID',
      /uses columns of the NOT EXISTS dataset/,
    );
    rejects(
      {
        ...anti,
        select: [...items(anti), { kind: 'aggregate', fn: 'sum', side: 'right', column: 'monthly_income', alias: 's' }],
      },
      'QUERY_INVALID',
      /uses columns of the NOT EXISTS dataset/,
    );
  });

  it('rejects garbage with BAD_MESSAGE only', () => {
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap');
        },
      },
    );
    for (const raw of [null, 3, 'plan', [], Object.create({ kind: 'join' }) as unknown, hostile]) {
      expect(fedstatErrorOf(() => validateJoinPlan(raw, SEED)).code).toBe('BAD_MESSAGE');
    }
    const getter = plan();
    Object.defineProperty(getter, 'join', { get: () => 'inner', enumerable: true });
    rejects(getter, 'BAD_MESSAGE', /field join is not a data property/);
  });
});
