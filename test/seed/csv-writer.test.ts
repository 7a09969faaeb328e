import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { CsvFileWriter, csvField, csvRecord, encodeField } from '../../src/seed/csv-writer.js';
import { parseCsv } from './csv-parse.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedstat-csv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('csvField (RFC 4180)', () => {
  it('quotes exactly the fields that need it and doubles inner quotes', () => {
    expect(csvField('成都市')).toBe('成都市');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField('')).toBe('');
    expect(csvRecord(['a', 'b,c', ''])).toBe('a,"b,c",');
  });

  it('round-trips any record through an independent parser', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', '区', 'X') }), {
          minLength: 2,
          maxLength: 6,
        }),
        (fields) => {
          const parsed = parseCsv(csvRecord(fields) + '\r\n');
          return JSON.stringify(parsed) === JSON.stringify([fields]);
        },
      ),
    );
  });
});

describe('CsvFileWriter', () => {
  it('writes header and records in every field style, byte for byte', async () => {
    const path = join(dir, 'styles.csv');
    const w = await CsvFileWriter.create(path, ['id', 'name', 'n']);
    w.textField('11010519491231002X');
    w.rawField(encodeField('锦江区'));
    w.intField(-1234567890123);
    w.endRecord();
    w.writeRecord(['a"b', 'c,d', '0']);
    w.textField('');
    w.rawField(encodeField('line\nbreak'));
    w.intField(0);
    w.endRecord();
    await w.close();
    expect(w.rows).toBe(3);
    const text = await readFile(path, 'utf8');
    expect(text).toBe('id,name,n\n11010519491231002X,锦江区,-1234567890123\n"a""b","c,d",0\n,"line\nbreak",0\n');
    expect(parseCsv(text)).toEqual([
      ['id', 'name', 'n'],
      ['11010519491231002X', '锦江区', '-1234567890123'],
      ['a"b', 'c,d', '0'],
      ['', 'line\nbreak', '0'],
    ]);
  });

  it('uses CRLF when asked', async () => {
    const path = join(dir, 'crlf.csv');
    const w = await CsvFileWriter.create(path, ['a'], { eol: '\r\n' });
    w.writeRecord(['x']);
    await w.close();
    expect(await readFile(path, 'utf8')).toBe('a\r\nx\r\n');
  });

  it('streams many records across chunk boundaries with backpressure, matching the string reference', async () => {
    const path = join(dir, 'many.csv');
    const w = await CsvFileWriter.create(path, ['i', 'district', 'note']);
    const expected: string[] = ['i,district,note'];
    const districts = ['锦江区', '青羊区', '龙泉驿区'];
    let waits = 0;
    for (let i = 0; i < 60_000; i++) {
      const d = districts[i % 3]!;
      const note = i % 3000 === 0 ? `big,${'x'.repeat(300_000)}` : `n${i}`; // one field larger than a chunk
      w.intField(i);
      w.rawField(encodeField(d));
      w.textField(note);
      expected.push(csvRecord([String(i), d, note]));
      if (w.endRecord()) {
        waits++;
        await w.drained();
      }
    }
    await w.close();
    expect(waits).toBeGreaterThan(0);
    expect(await readFile(path, 'utf8')).toBe(expected.join('\n') + '\n');
  });

  it('writes every safe integer as String(n) does', async () => {
    const path = join(dir, 'ints.csv');
    const w = await CsvFileWriter.create(path, ['n']);
    const edges = [0, 9, 10, 99, 100, 101, 999, 1000, 10 ** 15, 10 ** 15 - 1, Number.MAX_SAFE_INTEGER];
    const ints = [...edges, ...edges.map((n) => -n), ...fc.sample(fc.maxSafeInteger(), { numRuns: 5000, seed: 13 })];
    for (const n of ints) {
      w.intField(n);
      w.endRecord();
    }
    await w.close();
    expect(await readFile(path, 'utf8')).toBe(['n', ...ints.map(String), ''].join('\n'));
  });

  it('refuses non-integers and reports an unwritable path as IO', async () => {
    const w = await CsvFileWriter.create(join(dir, 'int.csv'), ['a']);
    expect(() => w.intField(1.5)).toThrow(RangeError);
    w.abort();
    const err = await CsvFileWriter.create(join(dir, 'missing-dir', 'x.csv'), ['a']).catch((e: unknown) => e);
    expect(isFedstatError(err, 'IO')).toBe(true);
    expect((err as Error).message).toContain('missing-dir');
  });
});
