/**
 * The SQL rule (bulk conversion in DuckDB) and the JS rule (explaining reported rows) of every
 * column type must accept exactly the same cells, and the SQL must store the right value.
 */
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Column } from '../../src/federation/schema.js';
import { citizenId } from './helpers.js';
import { cellSql, diagnoseCell, showValue } from '../../src/store/cell-rules.js';
import { cellChecks } from '../../src/store/cell-spec.js';
import { gb11643CheckChar, isValidGb11643 } from '../../src/util/gb11643.js';
import { adversarialCell, CELL_COLUMNS } from './adversarial-cells.js';

let instance: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
});
afterAll(() => {
  conn.closeSync();
  instance.closeSync();
});

const NULL_CELL = '<<null>>';

/** Runs the column's SQL rule over `cells`; returns the stored value per cell (null = invalid). */
async function viaSql(col: Column, cells: readonly (string | null)[]): Promise<unknown[]> {
  let type: string | null = null;
  if (col.type === 'category') {
    type = '"t_enum"';
    await conn.run(
      `CREATE OR REPLACE TEMP TYPE ${type} AS ENUM (SELECT v FROM (SELECT unnest($1::VARCHAR[]) AS v, generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i)`,
      [listValue([...col.values])],
    );
  }
  // listValue types a list by its first item, so NULL cells travel as a sentinel.
  const params: DuckDBValue[] = [listValue(cells.map((c) => c ?? NULL_CELL))];
  const cell = cellSql(col, '"c0"', '0', type, (v) => {
    params.push(v);
    return `$${params.length}`;
  });
  const sql = `SELECT ${cell.convert}, i FROM (SELECT *${cell.helpers.map((h) => `, ${h}`).join('')} FROM (SELECT NULLIF(unnest($1::VARCHAR[]), '${NULL_CELL}') AS "c0", generate_subscripts($1::VARCHAR[], 1) AS i)) ORDER BY i`;
  const rows = (await conn.runAndReadAll(sql, params)).getRows();
  return rows.map((r) => (typeof r[0] === 'bigint' ? Number(r[0]) : r[0]));
}

async function agree(col: Column, cells: readonly (string | null)[], stored: (cell: string) => unknown): Promise<void> {
  const got = await viaSql(col, cells);
  cells.forEach((cell, i) => {
    const reason = diagnoseCell(col, cell);
    expect({ cell, sql: got[i] }).toEqual({ cell, sql: reason === null ? stored(cell!) : null });
  });
}

const junk = (alphabet: string): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...alphabet), { maxLength: 8 }).map((cs) => cs.join(''));

describe('SQL and JS cell rules agree', () => {
  it('integer cells', async () => {
    const col: Column = { type: 'integer', min: -1000, max: 2 ** 40 };
    const cellArb = fc.oneof(
      fc.integer({ min: -1500, max: 1500 }).map(String),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
      fc.tuple(fc.constantFrom('0', '00', '-0', '+', '-', ' '), fc.nat(999)).map(([p, n]) => p + String(n)),
      junk('0123456789-+. eE_xX١'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(cellArb, { nil: null }), { minLength: 1, maxLength: 50 }), async (cells) => {
        await agree(col, cells, (c) => Number(BigInt(c)));
      }),
      { numRuns: 40 },
    );
  });

  it('category cells, NFC-normalised', async () => {
    const col: Column = { type: 'category', values: ['锦江区', 'Café', 'a,b', 'x', 'Ångström'] };
    const cellArb = fc.oneof(
      fc.constantFrom(...col.values),
      fc.constantFrom(...col.values).map((v) => v.normalize('NFD')),
      fc.constantFrom('X', ' x', 'x ', '锦江', 'Cafe', 'ab', ''),
      fc.string({ maxLength: 4 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(cellArb, { nil: null }), { minLength: 1, maxLength: 50 }), async (cells) => {
        await agree(col, cells, (c) => col.values.indexOf(c.normalize('NFC')));
      }),
      { numRuns: 40 },
    );
  });

  it('GB 11643 cells: the SQL check is isValidGb11643', async () => {
    const col: Column = { type: 'id', format: 'gb11643' };
    const digits = (n: number): fc.Arbitrary<string> =>
      fc.array(fc.constantFrom(...'0123456789'), { minLength: n, maxLength: n }).map((d) => d.join(''));
    const date = fc
      .tuple(fc.integer({ min: 1880, max: 2100 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }))
      .map(([y, m, d]) => `${y}${String(m).padStart(2, '0')}${String(d).padStart(2, '0')}`);
    const first17 = fc.tuple(digits(6), date, digits(3)).map(([a, b, c]) => a + b + c);
    const cellArb = fc.oneof(
      first17.map((f) => f + gb11643CheckChar(f)),
      fc.tuple(first17, fc.constantFrom(...'0123456789Xx')).map(([f, c]) => f + c),
      first17.map((f) => f + gb11643CheckChar(f) + '0'),
      digits(18),
      junk('0123456789X -'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(cellArb, { nil: null }), { minLength: 1, maxLength: 60 }), async (cells) => {
        await agree(col, cells, (c) => c);
        for (const c of cells) if (c !== null) expect(diagnoseCell(col, c) === null).toBe(isValidGb11643(c));
      }),
      { numRuns: 60 },
    );
  });

  it('text id cells: anything but empty', async () => {
    await agree({ type: 'id', format: 'text' }, ['a', ' ', '0', null, '张三'], (c) => c);
  });
});

describe('characters that are not values of any domain', () => {
  const ID = citizenId('51010419900101123');
  const cases: [Column, string, string][] = [
    [{ type: 'category', values: ['锦江区'] }, '锦江区\u0000', 'U+0000 (a control character) at character 4'],
    [
      { type: 'category', values: ['锦江区'] },
      '\uFEFF锦江区',
      'U+FEFF (a byte order mark, allowed only at the very start of a file) at character 1',
    ],
    [{ type: 'category', values: ['Café'] }, 'Cafe\u0301\u0000', 'U+0000 (a control character) at character 6'],
    [
      { type: 'integer', min: 0, max: 99 },
      '\uFEFF30',
      'U+FEFF (a byte order mark, allowed only at the very start of a file) at character 1',
    ],
    [{ type: 'integer', min: 0, max: 99 }, '30\u0000', 'U+0000 (a control character) at character 3'],
    [
      { type: 'id', format: 'gb11643' },
      '\uFEFF' + ID,
      'U+FEFF (a byte order mark, allowed only at the very start of a file) at character 1',
    ],
    [{ type: 'id', format: 'text' }, 'a\tb', 'U+0009 (a control character) at character 2'],
    [{ type: 'id', format: 'text' }, 'ab\u2028', 'U+2028 (a line separator) at character 3'],
    [{ type: 'id', format: 'text' }, 'x\u0085', 'U+0085 (a control character) at character 2'],
    [{ type: 'id', format: 'text' }, '\u007f', 'U+007F (a control character) at character 1'],
  ];
  it.each(cases)('%j refuses %j, naming the character and its position, never the value', async (col, cell, where) => {
    expect(diagnoseCell(col, cell)).toBe(`value has ${where}, which no column accepts`);
    expect(await viaSql(col, [cell])).toEqual([null]);
  });
});

describe('adversarial cells: the SQL path and the JS path give the same verdict', () => {
  it.each(CELL_COLUMNS.map((c) => [c.type === 'id' ? `id ${c.format}` : c.type, c] as const))('%s', async (_, col) => {
    const stored = (c: string): unknown =>
      col.type === 'category' ? col.values.indexOf(c.normalize('NFC')) : col.type === 'integer' ? Number(BigInt(c)) : c;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(adversarialCell, { nil: null, freq: 10 }), { minLength: 1, maxLength: 60 }),
        async (cells) => {
          await agree(col, cells, stored);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the checks are one definition: patterns read the same in JS and RE2, and integer patterns accept canonical integers', () => {
    for (const col of CELL_COLUMNS) {
      for (const check of cellChecks(col)) {
        if (check.kind !== 'pattern') continue;
        expect(check.source).toMatch(/^[A-Za-z0-9\-[\]?+{}]+$/);
        if (check.canonicalIntegers) {
          fc.assert(
            fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (n) =>
              new RegExp(`^(?:${check.source})$`).test(String(n)),
            ),
          );
        }
      }
    }
  });
});

describe('diagnoseCell', () => {
  it('phrases each problem with the value', () => {
    expect(diagnoseCell({ type: 'integer', min: 0, max: 120 }, '130')).toBe('value "130" is outside 0..120');
    expect(diagnoseCell({ type: 'integer', min: 0, max: 120 }, '1.5')).toBe(
      'value "1.5" is not a plain decimal integer',
    );
    expect(diagnoseCell({ type: 'integer', min: 0, max: 120 }, null)).toBe('empty value');
    const many = Array.from({ length: 12 }, (_, i) => `v${i}`);
    expect(diagnoseCell({ type: 'category', values: many }, 'w')).toBe(
      'value "w" is not one of the declared values (v0, v1, v2, v3, v4, v5, v6, v7, … (12 in all))',
    );
    expect(showValue('a\u0000b\n')).toBe('"a\\u0000b\\n"');
  });

  it('shows invisible characters escaped, spaces as they are', () => {
    expect(showValue('\uFEFF锦江区\u3000')).toBe('"\\ufeff锦江区\\u3000"');
    expect(showValue('a b\u00a0c\u200bd\u202e')).toBe('"a b\\u00a0c\\u200bd\\u202e"');
    expect(showValue('\u{E0001}x')).toBe('"\\u{e0001}x"');
  });
});
