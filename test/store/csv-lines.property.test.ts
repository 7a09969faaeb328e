/**
 * Line numbers stay exact whatever mix of rows a file holds: random files of valid rows, blank
 * lines, rows DuckDB's parser rejects (wrong field counts), rows it silently accepts but fedstat
 * must not (trailing commas), and rows with invalid cells, with LF or CRLF endings and with or
 * without a final line break. Skip mode must report exactly the invalid lines a JS walk over the
 * generated lines finds; reject mode must name the first of them.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { ID1, ID2, ID3, PEOPLE_SCHEMA, tempDir, writeCsv } from './helpers.js';

const dir = tempDir('csv-lines');
let store: DuckDbAgencyStore;
beforeAll(async () => {
  store = await openDuckDbStore(':memory:');
});
afterAll(async () => {
  await store.close();
});

type Kind =
  | 'valid'
  | 'blank'
  | 'badCategory'
  | 'badInteger'
  | 'notInteger'
  | 'emptyCell'
  | 'tooMany'
  | 'tooFew'
  | 'trailingComma'
  | 'badId';
/** The column each kind of invalid row is reported against ('' for the whole row). */
const COLUMN: Record<Exclude<Kind, 'valid'>, string> = {
  blank: '',
  badCategory: 'district',
  badInteger: 'age',
  notInteger: 'balance',
  emptyCell: 'age',
  tooMany: '',
  tooFew: '',
  trailingComma: '',
  badId: 'pid',
};

interface Line {
  readonly kind: Kind;
  readonly text: string;
  readonly age: number;
}

const q = (s: string, quote: boolean): string => (quote ? `"${s}"` : s);
const lineArb: fc.Arbitrary<Line> = fc
  .record({
    kind: fc.oneof(
      { arbitrary: fc.constant<Kind>('valid'), weight: 6 },
      {
        arbitrary: fc.constantFrom<Kind>(
          'blank',
          'badCategory',
          'badInteger',
          'notInteger',
          'emptyCell',
          'tooMany',
          'tooFew',
          'trailingComma',
          'badId',
        ),
        weight: 3,
      },
    ),
    id: fc.constantFrom(ID1, ID2, ID3),
    district: fc.constantFrom('锦江区', '青羊区', '金牛区'),
    age: fc.integer({ min: 0, max: 120 }),
    balance: fc.integer({ min: -50000, max: 50000 }),
    quote: fc.boolean(),
  })
  .map(({ kind, id, district, age, balance, quote }) => {
    const cells = [q(id, quote), q(district, quote), String(age), q(String(balance), quote)];
    switch (kind) {
      case 'valid':
        break;
      case 'blank':
        return { kind, text: '', age };
      case 'badCategory':
        cells[1] = '成都';
        break;
      case 'badInteger':
        cells[2] = '121';
        break;
      case 'notInteger':
        cells[3] = '1.5';
        break;
      case 'emptyCell':
        cells[2] = quote ? '""' : '';
        break;
      case 'tooMany':
        cells.push('7');
        break;
      case 'tooFew':
        cells.pop();
        break;
      case 'trailingComma':
        cells.push('');
        break;
      case 'badId':
        cells[0] = id.slice(0, 17) + (id.endsWith('0') ? '1' : '0');
        break;
    }
    return { kind, text: cells.join(','), age };
  });

const fileArb = fc.record({
  lines: fc.array(lineArb, { maxLength: 40 }),
  header: fc.constantFrom('pid,district,age,balance', 'age,balance,pid,district'),
  crlf: fc.boolean(),
  finalBreak: fc.boolean(),
});

/** Reorders a data line to the header's column order (rows are generated in schema order). */
function reorder(text: string, header: string): string {
  if (header.startsWith('pid') || text === '') return text;
  const cells = text.split(',');
  if (cells.length < 4) return [cells[2], cells[3], cells[0], cells[1]].filter((c) => c !== undefined).join(',');
  return [cells[2], cells[3], cells[0], cells[1], ...cells.slice(4)].join(',');
}

interface File {
  readonly lines: readonly Line[];
  readonly header: string;
  readonly crlf: boolean;
  readonly finalBreak: boolean;
}

function build(f: File): { content: string; invalid: { line: number; column: string }[]; validAges: number[] } {
  const eol = f.crlf ? '\r\n' : '\n';
  const texts = [f.header, ...f.lines.map((l) => reorder(l.text, f.header))];
  let content = texts.join(eol);
  if (f.finalBreak) content += eol;
  // Blank lines after the last non-blank line are not records.
  let last = f.lines.length - 1;
  while (last >= 0 && f.lines[last]!.kind === 'blank') last--;
  const invalid: { line: number; column: string }[] = [];
  const validAges: number[] = [];
  f.lines.forEach((l, i) => {
    if (i > last) return;
    if (l.kind === 'valid') validAges.push(l.age);
    else
      invalid.push({
        line: i + 2,
        column: l.kind === 'tooFew' || l.kind === 'tooMany' || l.kind === 'trailingComma' ? '' : COLUMN[l.kind],
      });
  });
  return { content, invalid, validAges };
}

describe('line numbers of invalid rows', () => {
  it('skip mode reports exactly the invalid lines, reject mode the first', async () => {
    await fc.assert(
      fc.asyncProperty(fileArb, async (f) => {
        const { content, invalid, validAges } = build(f);
        const file = writeCsv(dir, content);
        const report = await store.loadCsv('people', PEOPLE_SCHEMA, file, { onInvalid: 'skip' });
        expect(report.rowsSkipped).toBe(invalid.length);
        expect(report.rowsLoaded).toBe(validAges.length);
        expect(report.invalid.map((r) => ({ line: r.line, column: r.column }))).toEqual(invalid.slice(0, 10));
        if (validAges.length > 0) {
          const agg = await store.aggregate(
            {
              dataset: 'people',
              groupBy: [],
              select: [{ kind: 'aggregate', fn: 'sum', column: 'age', alias: 'a' }],
              where: null,
            },
            PEOPLE_SCHEMA,
          );
          expect([...agg.groups]).toEqual([
            [0, [BigInt(validAges.length), BigInt(validAges.reduce((a, b) => a + b, 0))]],
          ]);
        }
        const rejected = await store.loadCsv('people', PEOPLE_SCHEMA, file).then(
          () => null,
          (e: unknown) => e,
        );
        if (invalid.length === 0) expect(rejected).toBeNull();
        else
          expect(String((rejected as Error).message)).toMatch(
            new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${invalid[0]!.line}: `),
          );
      }),
      { numRuns: 40 },
    );
  });
});
