import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { describe, expect, it } from 'vitest';
import type { FedstatError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';
import { parseQuery } from '../../src/query/parse.js';
import { QUERY_LIMITS } from '../../src/query/limits.js';
import { RESIDENTS } from './fixtures.js';

/** The FedstatError parseQuery throws for `sql` (fails the test if it returns or throws anything else). */
const error = (sql: string): FedstatError => fedstatErrorOf(() => parseQuery(sql, RESIDENTS));

/** Checks code, message text, one-line message, and (when given) the reported line:column. */
function refuses(sql: string, code: ErrorCode, pattern: RegExp, at?: [number, number]): FedstatError {
  const e = error(sql);
  expect(e.code).toBe(code);
  expect(e.message).toMatch(pattern);
  expect(e.message).not.toMatch(/[\n\r]/);
  if (at !== undefined) {
    expect([e.details['line'], e.details['column']]).toEqual(at);
    expect(e.message).toContain(`at ${at[0]}:${at[1]}`);
  }
  return e;
}

const SHAPE = /fedstat accepts SELECT/;

describe('constructs outside the subset are refused by name', () => {
  it.each([
    ['SELECT * FROM residents', /SELECT \* is not supported/, [1, 8]],
    ['SELECT residents.* FROM residents', /SELECT \* is not supported/, [1, 8]],
    [
      'SELECT COUNT(*) FROM residents r JOIN rentals x ON r.district = x.district',
      /INNER JOIN is not supported/,
      [1, 34],
    ],
    ['SELECT COUNT(*) FROM residents, rentals', /reading several datasets is not supported/, [1, 33]],
    ['SELECT COUNT(*) FROM (SELECT age FROM residents) t', /subqueries and table functions are not supported/, [1, 17]],
    ['SELECT COUNT(*) FROM residents WHERE age IN (SELECT rent FROM rentals)', /subqueries are not supported/, [1, 38]],
    ['SELECT COUNT(*) FROM residents ORDER BY 1', /ORDER BY is not supported/, [1, 32]],
    ['SELECT COUNT(*) FROM residents LIMIT 10', /LIMIT\/OFFSET is not supported/, [1, 32]],
    [
      'SELECT district, COUNT(*) FROM residents GROUP BY district HAVING COUNT(*) > 10',
      /HAVING is not supported/,
      [1, 60],
    ],
    ['SELECT DISTINCT district FROM residents', /DISTINCT is not supported/, [1, 8]],
    [
      'WITH t AS (SELECT 1) SELECT COUNT(*) FROM residents',
      /WITH \(common table expressions\) is not supported/,
      [1, 1],
    ],
    [
      'SELECT COUNT(*) FROM residents UNION SELECT COUNT(*) FROM rentals',
      /UNION\/INTERSECT\/EXCEPT is not supported/,
      [1, 32],
    ],
    ['SELECT COUNT(*) OVER () FROM residents', /window functions \(OVER\) are not supported/, [1, 8]],
    [
      'SELECT COUNT(*) FILTER (WHERE age > 3) FROM residents',
      /FILTER \(WHERE \.\.\.\) is not supported.*; move the condition to WHERE/,
      [1, 8],
    ],
    ['SELECT SUM(age + 1) FROM residents', /SUM\(\) of an expression is not supported/, [1, 12]],
    ['SELECT age * 2, COUNT(*) FROM residents', /arithmetic and comparisons are not supported in SELECT/, [1, 8]],
    ['SELECT COUNT(*) FROM residents WHERE age + 1 > 30', /the expression with \+ cannot be compared here/, [1, 38]],
    ['SELECT UPPER(district), COUNT(*) FROM residents', /the function UPPER\(\) is not supported in SELECT/, [1, 8]],
    [
      'SELECT MAX(age) FROM residents',
      /the aggregate MAX\(\) is not supported.*; use COUNT\(\*\), SUM\(col\) or AVG\(col\)/,
      [1, 8],
    ],
    ['SELECT COUNT(*) FROM residents WHERE ABS(age) = 3', /the function ABS\(\) cannot be compared here/, [1, 38]],
    [
      'SELECT CASE WHEN age > 3 THEN 1 END, COUNT(*) FROM residents',
      /CASE expressions are not supported in SELECT/,
      [1, 8],
    ],
    ['SELECT 1, COUNT(*) FROM residents', /constants and expressions are not supported in SELECT/, [1, 8]],
    ['SELECT COUNT(DISTINCT age) FROM residents', /COUNT\(DISTINCT \.\.\.\) is not supported/, [1, 8]],
    ['SELECT COUNT(*) FROM residents; SELECT COUNT(*) FROM rentals', /more than one statement/, [1, 31]],
    ['INSERT INTO residents VALUES (1)', /INSERT statements cannot run in fedstat/, [1, 1]],
    ['DELETE FROM residents', /DELETE statements cannot run in fedstat/, [1, 1]],
    ['UPDATE residents SET age = 1', /UPDATE statements cannot run in fedstat/, [1, 1]],
    ['SELECT COUNT(*) FROM residents WHERE age LIKE 3', /the operator LIKE is not supported/, [1, 38]],
    ['SELECT COUNT(*) FROM residents WHERE age IS NULL', /the operator IS is not supported/, [1, 38]],
    ['SELECT COUNT(*) FROM residents WHERE age = 1 && age = 2', /the operator && is not supported.*write AND/, [1, 46]],
    [
      'SELECT COUNT(*) FROM residents WHERE age = 1 || age = 2',
      /the operator \|\| is not supported.*write OR/,
      [1, 46],
    ],
    ['SELECT COUNT(*) FROM residents WHERE age = CAST(3 AS INT)', /a CAST is not supported in a comparison/, [1, 38]],
  ] as const)('%s', (sql, pattern, at) => {
    refuses(sql, 'QUERY_INVALID', pattern, [...at]);
  });

  it.each([
    'SELECT COUNT(*) FROM residents ORDER BY 1',
    'SELECT DISTINCT district FROM residents',
    'SELECT COUNT(*) FROM residents UNION SELECT COUNT(*) FROM rentals',
    'INSERT INTO residents VALUES (1)',
  ])('shows the accepted shape for %s', (sql) => {
    expect(error(sql).message).toMatch(SHAPE);
  });

  it('refuses an empty query', () => {
    refuses('', 'QUERY_INVALID', /the query is empty/);
    refuses('  -- nothing\n', 'QUERY_INVALID', /the query is empty/);
  });

  it('refuses EXISTS and a missing FROM', () => {
    refuses(
      'SELECT COUNT(*) FROM residents WHERE EXISTS (SELECT 1)',
      'QUERY_INVALID',
      /the SQL could not be read \(invalid column clause with select statement\); write SELECT/,
    );
    refuses(
      'SELECT COUNT(*)',
      'QUERY_INVALID',
      /the query has no FROM clause; add FROM dataset; datasets: residents, rentals/,
    );
  });

  it('refuses SELECT INTO', () => {
    refuses('SELECT COUNT(*) INTO t FROM residents', 'QUERY_INVALID', /SELECT \.\.\. INTO is not supported/, [1, 17]);
  });
});

describe('SELECT and GROUP BY rules', () => {
  it('requires selected columns to be grouped', () => {
    refuses(
      'SELECT district, COUNT(*) FROM residents',
      'QUERY_INVALID',
      /district must appear in GROUP BY to be selected at 1:8; add GROUP BY district/,
      [1, 8],
    );
    refuses(
      'SELECT age, COUNT(*) FROM residents',
      'QUERY_INVALID',
      /age must appear in GROUP BY.*aggregate it with SUM\(age\) or AVG\(age\)/,
    );
  });

  it('requires an aggregate', () => {
    refuses(
      'SELECT district FROM residents GROUP BY district',
      'QUERY_INVALID',
      /the query has no aggregate.*add COUNT\(\*\), SUM\(col\) or AVG\(col\)/,
    );
  });

  it('groups by category columns only, at most two, each once, by name', () => {
    refuses(
      'SELECT COUNT(*) FROM residents GROUP BY age',
      'QUERY_INVALID',
      /GROUP BY age: residents.age is an integer column.*group by category columns \(district, insured\)/,
      [1, 41],
    );
    refuses(
      'SELECT COUNT(*) FROM rentals GROUP BY district, district',
      'QUERY_INVALID',
      /district appears twice in GROUP BY/,
      [1, 49],
    );
    refuses(
      'SELECT COUNT(*) FROM residents GROUP BY 1',
      'QUERY_INVALID',
      /GROUP BY a position is not supported.*GROUP BY district, insured/,
      [1, 41],
    );
    refuses(
      'SELECT COUNT(*) FROM residents GROUP BY UPPER(district)',
      'QUERY_INVALID',
      /GROUP BY UPPER\(\.\.\.\) is not supported/,
      [1, 41],
    );
    const e = refuses(
      'SELECT COUNT(*) FROM residents GROUP BY district, insured, "district"',
      'QUERY_INVALID',
      /GROUP BY lists 3 columns.*the limit is 2/,
      [1, 60],
    );
    expect(e.details['offset']).toBe(59);
  });

  it('sums and averages integer columns only', () => {
    refuses(
      'SELECT SUM(district) FROM residents',
      'QUERY_INVALID',
      /SUM\(district\): residents.district is a category column.*SUM needs an integer column: age, income.*GROUP BY district/,
      [1, 12],
    );
    refuses(
      'SELECT AVG(insured) FROM residents',
      'QUERY_INVALID',
      /AVG\(insured\): residents.insured is a category column/,
    );
    refuses(
      'SELECT SUM(*) FROM residents',
      'QUERY_INVALID',
      /SUM\(\*\) is not valid.*; SUM needs an integer column: age, income/,
      [1, 8],
    );
  });

  it('refuses duplicate output names, ignoring case', () => {
    refuses(
      'SELECT COUNT(*), COUNT(*) FROM residents',
      'QUERY_INVALID',
      /the output name "count" is used twice \(select items 1 and 2\).*give one of them another name with AS/,
      [1, 18],
    );
    refuses('SELECT COUNT(*) AS total, SUM(age) AS TOTAL FROM residents', 'QUERY_INVALID', /"TOTAL" is used twice/);
    refuses(
      'SELECT district, COUNT(*) AS district FROM residents GROUP BY district',
      'QUERY_INVALID',
      /"district" is used twice/,
    );
    refuses('SELECT SUM(age), COUNT(*) AS sum_age FROM residents', 'QUERY_INVALID', /"sum_age" is used twice/);
  });

  it('refuses output names that need escaping', () => {
    refuses('SELECT COUNT(*) AS "x y" FROM residents', 'QUERY_INVALID', /the output name "x y" is not allowed/, [1, 8]);
    refuses('SELECT COUNT(*) AS "a-b" FROM residents', 'QUERY_INVALID', /the output name "a-b" is not allowed/);
    refuses(
      `SELECT COUNT(*) AS "${'n'.repeat(65)}" FROM residents`,
      'QUERY_INVALID',
      /is not allowed.*; use up to 64 letters/,
    );
  });

  it('limits the SELECT list', () => {
    const items = Array.from({ length: QUERY_LIMITS.maxSelectItems + 1 }, (_, i) => `COUNT(*) AS c${i}`).join(', ');
    refuses(`SELECT ${items} FROM residents`, 'QUERY_INVALID', /SELECT lists 65 items.*the limit is 64/);
  });
});

describe('names', () => {
  it('names unknown columns with the valid ones and a suggestion', () => {
    const e = refuses(
      'SELECT agee, COUNT(*) FROM residents',
      'QUERY_INVALID',
      /^unknown column "agee" in residents at 1:8; valid columns: district, age, income, insured \(did you mean age\?\)$/,
      [1, 8],
    );
    expect(e.details).toMatchObject({ columnName: 'agee', valid: ['district', 'age', 'income', 'insured'], offset: 7 });
    refuses(
      'SELECT COUNT(*) FROM residents WHERE incme > 3',
      'QUERY_INVALID',
      /unknown column "incme".*did you mean income\?/,
      [1, 38],
    );
    refuses(
      'SELECT COUNT(*) FROM residents WHERE zzz > 3',
      'QUERY_INVALID',
      /unknown column "zzz" in residents at 1:38; valid columns: district, age, income, insured$/,
    );
    refuses(
      'SELECT SUM(incom) FROM residents',
      'QUERY_INVALID',
      /unknown column "incom".*did you mean income\?/,
      [1, 12],
    );
    refuses(
      'SELECT COUNT(*) FROM residents GROUP BY distrct',
      'QUERY_INVALID',
      /unknown column "distrct".*did you mean district\?/,
      [1, 41],
    );
  });

  it('says NOT_FOUND for an unknown dataset, listing the valid ones', () => {
    const e = refuses(
      'SELECT COUNT(*) FROM residnts',
      'NOT_FOUND',
      /^unknown dataset "residnts" at 1:22; valid datasets: residents, rentals \(did you mean residents\?\)$/,
      [1, 22],
    );
    expect(e.details['valid']).toEqual(['residents', 'rentals']);
    refuses('SELECT COUNT(*) FROM prod.residents', 'QUERY_INVALID', /qualified dataset names are not supported/);
  });

  it('refuses unknown table qualifiers', () => {
    refuses(
      'SELECT COUNT(*) FROM residents r WHERE x.age = 3',
      'QUERY_INVALID',
      /unknown table "x" in "x.age".*reads only residents/,
      [1, 40],
    );
  });

  it('refuses id columns anywhere, saying why', () => {
    const why = /citizen_id of residents is an identifier \(id\) column.*identifiers never leave the agency/;
    refuses('SELECT citizen_id, COUNT(*) FROM residents GROUP BY citizen_id', 'QUERY_INVALID', why, [1, 53]);
    refuses("SELECT COUNT(*) FROM residents WHERE citizen_id = '510104199001011234'", 'QUERY_INVALID', why, [1, 38]);
    refuses('SELECT COUNT(citizen_id) FROM residents', 'QUERY_INVALID', why, [1, 14]);
    refuses('SELECT SUM(CITIZEN_ID) FROM residents', 'QUERY_INVALID', why);
    refuses("SELECT COUNT(*) FROM residents WHERE citizen_id IN ('1')", 'QUERY_INVALID', why);
  });
});

describe('literals and operators', () => {
  it('refuses ordering on category columns', () => {
    refuses(
      "SELECT COUNT(*) FROM residents WHERE district < '锦江区'",
      'QUERY_INVALID',
      /residents.district is a category column, which has no order, so < cannot apply.*use =, <>, IN or NOT IN/,
      [1, 38],
    );
    refuses(
      "SELECT COUNT(*) FROM residents WHERE district BETWEEN '锦江区' AND '青羊区'",
      'QUERY_INVALID',
      /no order, so BETWEEN cannot apply/,
    );
    refuses(
      "SELECT COUNT(*) FROM residents WHERE '锦江区' >= district",
      'QUERY_INVALID',
      /no order, so <= cannot apply/,
    );
  });

  it('refuses category values outside the domain, naming it and the closest values', () => {
    const e = refuses(
      "SELECT COUNT(*) FROM residents WHERE district = '锦江'",
      'QUERY_INVALID',
      /^'锦江' is not a value of residents.district at 1:49; valid values: 锦江区, 青羊区, 金牛区, 武侯区, 成华区 \(closest: 锦江区\)$/,
      [1, 49],
    );
    expect(e.details).toMatchObject({ columnName: 'district', value: '锦江', closest: ['锦江区'] });
    refuses(
      "SELECT COUNT(*) FROM residents WHERE district IN ('锦江区', '青羊')",
      'QUERY_INVALID',
      /'青羊' is not a value of residents.district at 1:58.*closest: 青羊区/,
      [1, 58],
    );
    refuses(
      "SELECT COUNT(*) FROM residents WHERE insured = 'YES'",
      'QUERY_INVALID',
      /'YES' is not a value of residents.insured.*closest: yes/,
    );
  });

  it('refuses literals of the wrong type', () => {
    refuses(
      'SELECT COUNT(*) FROM residents WHERE district = 3',
      'QUERY_INVALID',
      /residents.district is a category column, so 3 cannot match it.*'锦江区'/,
    );
    refuses(
      "SELECT COUNT(*) FROM residents WHERE age = '30'",
      'QUERY_INVALID',
      /residents.age is an integer column, so '30' cannot match it at 1:44; write 30 without quotes/,
      [1, 44],
    );
    refuses('SELECT COUNT(*) FROM residents WHERE age = 1.5', 'QUERY_INVALID', /1.5 is not a whole number/, [1, 38]);
    refuses(
      'SELECT COUNT(*) FROM residents WHERE age = 1e2',
      'QUERY_INVALID',
      /1e2 is not a whole number written in digits/,
    );
    refuses(
      'SELECT COUNT(*) FROM residents WHERE age = NULL',
      'QUERY_INVALID',
      /NULL is not supported.*never hold NULL/,
      [1, 38],
    );
    refuses('SELECT COUNT(*) FROM residents WHERE age = TRUE', 'QUERY_INVALID', /TRUE and FALSE are not supported/);
    refuses('SELECT COUNT(*) FROM residents WHERE age = ?', 'QUERY_INVALID', /query parameters are not supported/);
  });

  it('refuses integers outside the column bounds, naming them', () => {
    const e = refuses(
      'SELECT COUNT(*) FROM residents WHERE age > 200',
      'QUERY_INVALID',
      /^200 is outside the range of residents.age \(0..120\) at 1:38; use a value between 0 and 120$/,
      [1, 38],
    );
    expect(e.details).toMatchObject({ columnName: 'age', min: 0, max: 120, value: 200 });
    refuses(
      'SELECT COUNT(*) FROM residents WHERE age BETWEEN -1 AND 30',
      'QUERY_INVALID',
      /-1 is outside the range of residents.age/,
    );
    refuses(
      'SELECT COUNT(*) FROM residents WHERE income IN (1, 99999999999999999999999)',
      'QUERY_INVALID',
      /99999999999999999999999 is outside the range of residents.income \(0..2000000\)/,
    );
    refuses(
      'SELECT COUNT(*) FROM residents WHERE age = -9223372036854775808',
      'QUERY_INVALID',
      /is outside the range of residents.age/,
    );
  });

  it('refuses conditions that are not comparisons of a column with a literal', () => {
    refuses('SELECT COUNT(*) FROM residents WHERE age', 'QUERY_INVALID', /a bare column is not a condition/, [1, 38]);
    refuses('SELECT COUNT(*) FROM residents WHERE 1 = 1', 'QUERY_INVALID', /a number cannot be compared here/);
    refuses(
      'SELECT COUNT(*) FROM residents WHERE age = income',
      'QUERY_INVALID',
      /comparing two columns is not supported/,
      [1, 38],
    );
    refuses(
      'SELECT COUNT(*) FROM residents WHERE district = "锦江区"',
      'QUERY_INVALID',
      /comparing two columns is not supported.*"锦江区" is a column name in double quotes: write values in single quotes, '锦江区'/,
    );
  });

  it('refuses a backslash before a quote, which dialects read differently', () => {
    refuses(
      "SELECT COUNT(*) FROM residents WHERE district = 'a\\'b'",
      'QUERY_INVALID',
      /a backslash before a quote in a string is ambiguous.*'it''s'/,
      [1, 49],
    );
  });
});

describe('size limits', () => {
  it('refuses too-long text, deep nesting, too many conditions and long IN lists', () => {
    refuses(
      `SELECT COUNT(*) FROM residents WHERE age IN (${'1,'.repeat(60_000)}1)`,
      'QUERY_INVALID',
      /the query is 120\d\d\d characters long; the limit is 100000/,
    );
    refuses(
      `SELECT COUNT(*) FROM residents WHERE ${'NOT '.repeat(32)}age = 1`,
      'QUERY_INVALID',
      /WHERE is too large \(33 conditions and connectives, nested 33 deep\)/,
      [1, 32],
    );
    refuses(
      `SELECT COUNT(*) FROM residents WHERE ${'('.repeat(2000)}age = 1${')'.repeat(2000)}`,
      'QUERY_INVALID',
      /nested too deeply/,
    );
    refuses(
      `SELECT COUNT(*) FROM residents WHERE ${Array.from({ length: 256 }, () => 'age = 1').join(' OR ')}`,
      'QUERY_INVALID',
      /WHERE is too large \(257 conditions/,
    );
    refuses(
      `SELECT COUNT(*) FROM residents WHERE age IN (${Array.from({ length: 1025 }, (_, i) => i % 100).join(',')})`,
      'QUERY_INVALID',
      /IN lists 1025 values.*the limit is 1024/,
      [1, 38],
    );
  });
});
