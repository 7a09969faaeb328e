/**
 * Cells built to make the SQL and the JS validators disagree: declared values with a character
 * too many, NUL, byte order marks, controls, line separators, odd spaces, combining marks and
 * compatibility characters (NFC changes them), integers with signs, exponents, leading zeros and
 * 64-bit edges, citizen IDs with a lowercase check character, and any other code point.
 */
import fc from 'fast-check';
import type { Column } from '../../src/federation/schema.js';
import { citizenId } from './helpers.js';

export const DECLARED = ['锦江区', 'Café', 'a,b', 'x', 'Ångström', ' y', '"q"'] as const;
const ID = citizenId('51010419900101123');

export const CELL_COLUMNS: readonly Column[] = [
  { type: 'category', values: DECLARED },
  { type: 'integer', min: -1000, max: 2 ** 40 },
  { type: 'integer', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  { type: 'id', format: 'gb11643' },
  { type: 'id', format: 'text' },
];

const WORDS = [
  ...DECLARED,
  ...DECLARED.map((v) => v.normalize('NFD')),
  '\u212Bngstr\u00f6m',
  'Cafe\u0301',
  '0',
  '5',
  '05',
  '-0',
  '+5',
  '1e3',
  '1.0',
  '0x10',
  '1_0',
  '١٢',
  '٣',
  '9223372036854775807',
  '9223372036854775808',
  '-9223372036854775808',
  '-9223372036854775809',
  '0'.repeat(30) + '7',
  '-' + '0'.repeat(25),
  '9007199254740993',
  ID,
  ID.toLowerCase(),
  ID.slice(0, 17),
] as const;

const CHARS = [
  ' ',
  '\u00a0',
  '\u3000',
  '\t',
  '\u0000',
  '\uFEFF',
  '\u200b',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u007f',
  '\u009f',
  '\r',
  '\n',
  '\u000b',
  '\u000c',
  '"',
  ',',
  '-',
  '+',
  '.',
  'e',
  'E',
  'X',
  'x',
  '\u0301',
  '\u030A',
  '\u00c5',
  '\uFFFD',
  '\uFFFE',
  '\u{1F600}',
] as const;

const anyCodePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .filter((cp) => cp < 0xd800 || cp > 0xdfff)
  .map((cp) => String.fromCodePoint(cp));

const piece = fc.oneof(
  { arbitrary: fc.constantFrom(...WORDS), weight: 4 },
  { arbitrary: fc.constantFrom(...CHARS), weight: 4 },
  { arbitrary: fc.integer({ min: -2000, max: 2000 }).map(String), weight: 1 },
  { arbitrary: anyCodePoint, weight: 1 },
);

/** `base` with one odd character put at its start, at its end or inside it. */
export function withOddChar(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.constantFrom(...CHARS), fc.nat()).map(([b, ch, at]) => {
    const cps = [...b];
    const i = [0, cps.length, at % (cps.length + 1)][at % 3] ?? 0;
    return [...cps.slice(0, i), ch, ...cps.slice(i)].join('');
  });
}

/** One adversarial cell: a word with an odd character, or up to four pieces (often a single word). */
export const adversarialCell: fc.Arbitrary<string> = fc.oneof(
  withOddChar(fc.constantFrom(...WORDS)),
  fc.array(piece, { minLength: 0, maxLength: 4 }).map((p) => p.join('')),
);
