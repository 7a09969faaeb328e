import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { isJoinQuery, parseJoinQuery } from '../../src/query/parse-join.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { refuses, SEED } from './join-fixtures.js';

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
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings h ON s.citizenid = h.citizen_id`,
      /unknown column "citizenid" in social_insurance.*join on the id columns: s\.citizen_id \(did you mean s\.citizen_id\?\)/,
      's.citizenid',
    ],
    [
      `SELECT COUNT(*) FROM social_insurance s JOIN rental_filings h ON s.citizen_id = hh.citizen_id`,
      /unknown table "hh".*\(did you mean h\?\)/,
      'hh.citizen_id',
    ],
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

const R = 'SELECT COUNT(*) FROM residence_registrations r WHERE NOT EXISTS ';

describe('the NOT EXISTS subquery holds exactly SELECT 1 FROM dataset WHERE id = id', () => {
  it.each([
    [
      `${R}(SELECT s.sector FROM social_insurance s WHERE s.citizen_id = r.citizen_id)`,
      /takes SELECT 1 or SELECT \* only/,
      's.sector',
    ],
    [
      `${R}(SELECT 1 FROM social_insurance s, rental_filings h WHERE s.citizen_id = r.citizen_id)`,
      /NOT EXISTS must read one dataset/,
      'rental_filings h',
    ],
    [
      `${R}(SELECT 1 FROM social_insurance s JOIN rental_filings h ON s.citizen_id = h.citizen_id WHERE s.citizen_id = r.citizen_id)`,
      /NOT EXISTS must read one dataset/,
      'rental_filings h',
    ],
    [`${R}(SELECT 1 FROM social_insurance s)`, /NOT EXISTS without a WHERE id equality/, 'NOT EXISTS'],
    [
      `${R}(SELECT 1 FROM social_insurance s WHERE s.citizen_id = s.citizen_id)`,
      /compares two columns of social_insurance.*r\.citizen_id = s\.citizen_id/,
      's.citizen_id = s',
    ],
    [
      `${R}(SELECT 1 FROM social_insurance s WHERE s.sector = r.sector)`,
      /social_insurance\.sector is a category column.*s\.citizen_id/,
      's.sector',
    ],
    [
      `${R}(SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id GROUP BY s.sector)`,
      /GROUP BY inside NOT EXISTS is not supported/,
      'GROUP BY',
    ],
    [
      `${R}(SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id ORDER BY 1)`,
      /ORDER BY inside NOT EXISTS is not supported/,
      'ORDER BY',
    ],
    [
      `${R}(SELECT 1 FROM residence_registrations s WHERE s.citizen_id = r.citizen_id)`,
      /residence_registrations is joined with itself/,
      'NOT EXISTS',
    ],
    [
      `${R}(SELECT 1 FROM social_insurance r WHERE r.citizen_id = r.citizen_id)`,
      /both datasets are called r/,
      'NOT EXISTS',
    ],
    [`${R}(SELECT 1 FROM hotel_stays g WHERE g.guest_id = r.citizen_id)`, /holds text ids.*same format/, 'g.guest_id'],
    [
      `SELECT COUNT(*) FROM residence_registrations r WHERE NOT (NOT EXISTS (SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id))`,
      /NOT EXISTS must be one of the conditions joined by AND/,
      'NOT EXISTS',
    ],
    [
      `${R}(SELECT 1 FROM social_insurance s WHERE s.citizen_id = r.citizen_id) AND NOT EXISTS (SELECT 1 FROM rental_filings h WHERE h.citizen_id = r.citizen_id)`,
      /links two datasets, not more/,
      ['NOT EXISTS', 2],
    ],
  ] as const)('%s', (sql, pattern, at) => {
    refuses(sql, pattern, at);
  });
});

describe('other refusals of parseJoinQuery', () => {
  it.each([
    [
      'SELECT COUNT(*) FROM residence_registrations r JOIN social_insurance s',
      /JOIN without ON is not supported.*ON r\.citizen_id = s\.citizen_id/,
      'JOIN',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r LEFT SEMI JOIN social_insurance s ON r.citizen_id = s.citizen_id',
      /LEFT SEMI JOIN is not supported/,
      'LEFT',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r WHERE r.age IN (SELECT age FROM social_insurance)',
      /IN \(SELECT …\) is not supported.*JOIN … ON/,
      'IN (SELECT',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations INTERSECT SELECT COUNT(*) FROM social_insurance',
      /INTERSECT is not supported/,
      'INTERSECT',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r JOIN (SELECT * FROM social_insurance) s ON r.citizen_id = s.citizen_id',
      /subqueries and table functions are not supported/,
      '(SELECT',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r JOIN social_insurance s ON r.citizen_id = s.citizen_id WHERE r.age > 3 && s.age > 4',
      /the operator && is not supported.*write AND/,
      '&&',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r JOIN social_insurance s ON r.citizen_id = s.citizen_id; SELECT 1',
      /more than one statement/,
      ';',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations r JOIN social_insurance s ON r.citizen_id = s.citizen_id WHERE s.district = "锦江区"',
      /write values in single quotes, '锦江区'/,
      's.district',
    ],
    [
      'SELECT COUNT(*) FROM residence_registrations AS "r r" JOIN social_insurance s ON "r r".citizen_id = s.citizen_id',
      /this alias is not supported/,
      'residence_registrations',
    ],
  ] as const)('%s', (sql, pattern, at) => {
    refuses(sql, pattern, at);
  });

  it('refuses a query over one dataset, which links nothing', () => {
    const e = fedstatErrorOf(() => parseJoinQuery('SELECT COUNT(*) FROM residence_registrations', SEED));
    expect(e.code).toBe('QUERY_INVALID');
    expect(e.message).toMatch(/reads one dataset, so it links no records/);
  });

  it('refuses a non-string with TypeError', () => {
    expect(() => parseJoinQuery(3 as unknown as string, SEED)).toThrow(TypeError);
    expect(() => isJoinQuery(null as unknown as string)).toThrow(TypeError);
  });
});
