/**
 * A WHERE condition on its own (`fedstat train --where`): it parses to the predicate the same
 * query's WHERE would, and its errors point into the condition, not into the query built around it.
 */
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import { parseCondition } from '../../src/query/parse-condition.js';
import { parseQuery } from '../../src/query/parse.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

const schema = parseSchema(
  {
    datasets: {
      people: {
        maxRows: 1000,
        columns: {
          age: { type: 'integer', min: 0, max: 120 },
          sex: { type: 'category', values: ['男', '女'] },
        },
      },
    },
  },
  'condition-schema.json',
);

describe('parseCondition', () => {
  it("equals the query's WHERE", () => {
    const condition = "age BETWEEN 18 AND 60 AND NOT sex = '女'";
    expect(parseCondition(condition, 'people', schema)).toEqual(
      parseQuery(`SELECT COUNT(*) FROM people WHERE ${condition}`, schema).where,
    );
  });

  it('places an unknown column at its position in the condition, with a suggestion', () => {
    const e = fedstatErrorOf(() => parseCondition("sex = '男' AND agee > 3", 'people', schema));
    expect(e.code).toBe('QUERY_INVALID');
    expect(e.message).toContain(' at 1:15;');
    expect(e.message).toContain('did you mean age?');
    expect(e.details).toMatchObject({ line: 1, column: 15, offset: 14 });
  });

  it('places a syntax error in the condition, on its own line numbers', () => {
    const e = fedstatErrorOf(() => parseCondition('age >\n  AND', 'people', schema));
    expect(e.code).toBe('QUERY_SYNTAX');
    expect(e.details['line']).toBe(2);
    expect(e.message).toMatch(/ at 2:\d+/);
  });

  it('refuses a value outside the column domain', () => {
    const e = fedstatErrorOf(() => parseCondition("sex = 'x'", 'people', schema));
    expect(e.code).toBe('QUERY_INVALID');
    expect(e.message).toContain('at 1:');
  });
});
