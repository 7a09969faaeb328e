import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePgTableName, quotePgTableName } from '../../src/store/pg-table-name.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

describe('parsePgTableName', () => {
  it('reads names the way PostgreSQL does: unquoted parts fold to lower case, quoted parts are kept', () => {
    expect(parsePgTableName('rentals')).toEqual({ schema: null, table: 'rentals' });
    expect(parsePgTableName('Public.Rentals')).toEqual({ schema: 'public', table: 'rentals' });
    expect(parsePgTableName('"Housing"."Rental Filings"')).toEqual({ schema: 'Housing', table: 'Rental Filings' });
    expect(parsePgTableName('housing."Mixed"')).toEqual({ schema: 'housing', table: 'Mixed' });
    expect(parsePgTableName('"a""b"')).toEqual({ schema: null, table: 'a"b' });
    expect(parsePgTableName('"a.b"')).toEqual({ schema: null, table: 'a.b' });
    expect(parsePgTableName('_x$1.t2')).toEqual({ schema: '_x$1', table: 't2' });
    expect(parsePgTableName('"锦江区"."租房"')).toEqual({ schema: '锦江区', table: '租房' });
  });

  it('refuses malformed names with CONFIG_INVALID and the fix', () => {
    for (const bad of [
      '',
      '"',
      '"unterminated',
      '""',
      'a.',
      '.a',
      'a..b',
      'a.b.c',
      '1abc',
      'a b',
      'a;drop table t',
      'a"b"',
      `"${'x'.repeat(64)}"`,
      '"a\u0000b"',
      'rentals ',
    ]) {
      const e = fedstatErrorOf(() => parsePgTableName(bad));
      expect(e.code, bad).toBe('CONFIG_INVALID');
      expect(e.message).toMatch(/write SCHEMA\.TABLE/);
    }
    expect(fedstatErrorOf(() => parsePgTableName('db.s.t')).message).toMatch(/more than two parts/);
    // 63 bytes is the limit, counted in UTF-8 (21 three-byte characters fit, 22 do not).
    expect(parsePgTableName(`"${'区'.repeat(21)}"`).table).toBe('区'.repeat(21));
    expect(fedstatErrorOf(() => parsePgTableName(`"${'区'.repeat(22)}"`)).message).toMatch(/longer than 63 bytes/);
  });

  it('quotePgTableName writes what parsePgTableName reads back (property)', () => {
    const part = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
      .filter((s) => !s.includes('\u0000') && Buffer.byteLength(s, 'utf8') <= 63);
    fc.assert(
      fc.property(fc.option(part, { nil: null }), part, (schema, table) => {
        const quoted = quotePgTableName({ schema, table });
        expect(parsePgTableName(quoted)).toEqual({ schema, table });
      }),
    );
    expect(quotePgTableName({ schema: 'Agency Data', table: 'a"b' })).toBe('"Agency Data"."a""b"');
    expect(quotePgTableName({ schema: null, table: 'select' })).toBe('"select"');
  });
});
