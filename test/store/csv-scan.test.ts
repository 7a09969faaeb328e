import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectedRecords, parseCsvLine, readFirstLine, scanCsvLayout } from '../../src/store/csv-scan.js';
import type { CsvLayout } from '../../src/store/csv-scan.js';
import { tempDir, writeCsv } from './helpers.js';

const dir = tempDir('csv-scan');

/** The layout computed the obvious way: split the text on LF. */
function reference(content: string): CsvLayout {
  const parts = content.split('\n');
  if (content.endsWith('\n')) parts.pop();
  if (content === '') parts.pop();
  const blank: number[] = [];
  const delimiterEnd: number[] = [];
  let oddQuoteLine: number | null = null;
  let strayCrLine: number | null = null;
  let crlf = 0;
  let lf = 0;
  parts.forEach((text, i) => {
    const line = i + 1;
    const broken = i < parts.length - 1 || content.endsWith('\n');
    const crEnded = broken && text.endsWith('\r');
    const body = crEnded ? text.slice(0, -1) : text;
    if (crEnded) crlf++;
    else if (broken) lf++;
    if (body === '') blank.push(line);
    else if (body.endsWith(',')) delimiterEnd.push(line);
    if ((text.split('"').length - 1) % 2 === 1) oddQuoteLine ??= line;
    if (body.includes('\r')) strayCrLine ??= line;
  });
  const blankCount = blank.length;
  for (let trailing = parts.length; blank.length > 0 && blank[blank.length - 1] === trailing; trailing--) blank.pop();
  return {
    lines: parts.length,
    blankLines: blank,
    blankCount,
    delimiterEndLines: delimiterEnd,
    oddQuoteLine,
    strayCrLine,
    crlfLines: crlf,
    lfLines: lf,
  };
}

describe('scanCsvLayout', () => {
  it('finds blank lines, trailing commas, odd quotes and stray CRs across any chunk boundary', async () => {
    const text = fc
      .array(fc.constantFrom('a', ',', '"', '\r', '\n', '\n', '锦', '\r\n'), { maxLength: 60 })
      .map((xs) => xs.join(''));
    await fc.assert(
      fc.asyncProperty(text, fc.integer({ min: 1, max: 9 }), async (content, chunk) => {
        const path = writeCsv(dir, content);
        expect(await scanCsvLayout(path, chunk)).toEqual(reference(content));
      }),
      { numRuns: 300 },
    );
  });

  it('counts records after the header, ignoring trailing blank lines', async () => {
    const l = await scanCsvLayout(writeCsv(dir, 'h\n1\n\n2,\n\n\n'));
    expect(l).toMatchObject({ lines: 6, blankLines: [3], blankCount: 3, delimiterEndLines: [4] });
    expect(expectedRecords(l)).toBe(2);
  });
});

describe('parseCsvLine', () => {
  it('splits RFC 4180 fields', () => {
    expect(parseCsvLine('a,b,c')).toEqual(['a', 'b', 'c']);
    expect(parseCsvLine('"a,b","say ""hi""",')).toEqual(['a,b', 'say "hi"', '']);
    expect(parseCsvLine('')).toEqual(['']);
    expect(parseCsvLine(',')).toEqual(['', '']);
    expect(parseCsvLine('a,b\r')).toEqual(['a', 'b']);
    expect(parseCsvLine('x"y,z')).toEqual(['x"y', 'z']);
    expect(parseCsvLine('"open')).toBeNull();
    expect(parseCsvLine('"a"b,c')).toBeNull();
  });

  it('round-trips quoted fields', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 6 }), (fields) => {
        const clean = fields.map((f) => f.replace(/[\r\n]/g, ''));
        expect(parseCsvLine(clean.map((f) => `"${f.replaceAll('"', '""')}"`).join(','))).toEqual(clean);
      }),
    );
  });
});

describe('readFirstLine', () => {
  it('reads line 1 without its break, null for an empty file', async () => {
    expect(Buffer.from((await readFirstLine(writeCsv(dir, 'a,b\r\nc'))) as Uint8Array).toString()).toBe('a,b\r');
    expect(Buffer.from((await readFirstLine(writeCsv(dir, 'only'))) as Uint8Array).toString()).toBe('only');
    expect(await readFirstLine(writeCsv(dir, ''))).toBeNull();
    expect(await readFirstLine(writeCsv(dir, 'x'.repeat((1 << 20) + 5)))).toBe('tooLong');
  });
});
