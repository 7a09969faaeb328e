import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { QueryPlan } from '../../src/query/plan.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { citizenId, ID1, ID2, ID3, PEOPLE_SCHEMA, tempDir, writeCsv } from './helpers.js';

const dir = tempDir('csv-load');
let store: DuckDbAgencyStore;
beforeAll(async () => {
  store = await openDuckDbStore(':memory:');
});
afterAll(async () => {
  await store.close();
});

const HEADER = 'pid,district,age,balance';
const GOOD = [`${ID1},锦江区,30,-100`, `${ID2},青羊区,45,2000`, `${ID3},锦江区,8,0`];
const FIX = '; fix the row or load with --on-invalid skip';

const countPlan: QueryPlan = {
  dataset: 'people',
  groupBy: ['district'],
  select: [
    { kind: 'aggregate', fn: 'count', column: null, alias: 'n' },
    { kind: 'aggregate', fn: 'sum', column: 'balance', alias: 's' },
  ],
  where: null,
};

async function loadError(content: string, options: { onInvalid?: 'reject' | 'skip' } = {}): Promise<FedstatError> {
  const file = writeCsv(dir, content);
  const e: unknown = await store.loadCsv('people', PEOPLE_SCHEMA, file, options).then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof FedstatError)) throw new Error(`expected a FedstatError, got ${String(e)}`);
  return e;
}

/** The message the first invalid row of `rows` (after the header) produces, minus the file name. */
async function rejectMessage(rows: readonly string[], header = HEADER): Promise<string> {
  const content = [header, ...rows].join('\n') + '\n';
  const file = writeCsv(dir, content);
  const e: unknown = await store.loadCsv('people', PEOPLE_SCHEMA, file).then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof FedstatError) || e.code !== 'DATA_INVALID')
    throw new Error(`expected DATA_INVALID, got ${String(e)}`);
  expect(e.message.startsWith(`${file}:`)).toBe(true);
  return e.message.slice(file.length);
}

describe('loadCsv: valid files', () => {
  it('loads rows in any header order and aggregates them exactly', async () => {
    const file = writeCsv(
      dir,
      ['balance,age,district,pid', '-100,30,锦江区,' + ID1, '2000,45,青羊区,' + ID2, '0,8,锦江区,' + ID3].join('\n') +
        '\n',
    );
    const report = await store.loadCsv('people', PEOPLE_SCHEMA, file);
    expect(report).toEqual({ dataset: 'people', file, rowsLoaded: 3, rowsSkipped: 0, invalid: [] });
    expect(await store.rowCount('people')).toBe(3);
    expect(await store.datasets()).toEqual(['people']);
    const agg = await store.aggregate(countPlan, PEOPLE_SCHEMA);
    expect([...agg.groups]).toEqual([
      [0, [2n, -100n]],
      [1, [1n, 2000n]],
    ]);
  });

  it('accepts a BOM, CRLF line endings, quoted fields, leading zeros and trailing blank lines', async () => {
    const rows = [`"${ID1}","锦江区",007,-0`, `${ID2},"青羊区","45","2000"`];
    const file = writeCsv(dir, '\uFEFF' + [HEADER, ...rows].join('\r\n') + '\r\n\r\n\r\n');
    const report = await store.loadCsv('people', PEOPLE_SCHEMA, file);
    expect(report.rowsLoaded).toBe(2);
    const agg = await store.aggregate(
      { ...countPlan, select: [{ kind: 'aggregate', fn: 'sum', column: 'age', alias: 'a' }] },
      PEOPLE_SCHEMA,
    );
    expect([...agg.groups]).toEqual([
      [0, [1n, 7n]],
      [1, [1n, 45n]],
    ]);
  });

  it('matches category values after NFC normalisation', async () => {
    const schema = parseSchema(
      {
        datasets: {
          people: {
            columns: { name: { type: 'category', values: ['Café', 'Zoë'] }, n: { type: 'integer', min: 0, max: 9 } },
          },
        },
      },
      't',
    ).datasets['people']!;
    const nfd = 'Cafe\u0301';
    const file = writeCsv(dir, `n,name\n1,${nfd}\n2,Zoë\n3,Café\n`);
    await store.loadCsv('people', schema, file);
    const agg = await store.aggregate(
      {
        dataset: 'people',
        groupBy: ['name'],
        select: [{ kind: 'aggregate', fn: 'sum', column: 'n', alias: 's' }],
        where: null,
      },
      schema,
    );
    expect([...agg.groups]).toEqual([
      [0, [2n, 4n]],
      [1, [1n, 2n]],
    ]);
  });

  it('loads a header-only file as an empty dataset', async () => {
    const file = writeCsv(dir, HEADER + '\n');
    expect((await store.loadCsv('people', PEOPLE_SCHEMA, file)).rowsLoaded).toBe(0);
    expect((await store.aggregate(countPlan, PEOPLE_SCHEMA)).groups.size).toBe(0);
  });

  it('reports progress in rising steps that end at the rows read', async () => {
    const file = writeCsv(dir, [HEADER, ...GOOD].join('\n') + '\n');
    const seen: number[] = [];
    await store.loadCsv('people', PEOPLE_SCHEMA, file, { onProgress: (n) => seen.push(n) });
    expect(seen[0]).toBe(0);
    expect(seen[seen.length - 1]).toBe(3);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });
});

describe('loadCsv: the first invalid row names file, line, column and value', () => {
  it('out-of-domain category', async () => {
    expect(await rejectMessage([GOOD[0]!, `${ID2},成都,45,2000`])).toBe(
      `:3: column district: value "成都" is not one of the declared values (锦江区, 青羊区, 金牛区)${FIX}`,
    );
  });
  it('out-of-range integers, at both bounds', async () => {
    expect(await rejectMessage([GOOD[0]!, GOOD[1]!, `${ID3},锦江区,130,0`])).toBe(
      `:4: column age: value "130" is outside 0..120${FIX}`,
    );
    expect(await rejectMessage([`${ID3},锦江区,1,-50001`])).toBe(
      `:2: column balance: value "-50001" is outside -50000..50000${FIX}`,
    );
    expect(await rejectMessage([`${ID3},锦江区,99999999999999999999999,0`])).toBe(
      `:2: column age: value "99999999999999999999999" is outside 0..120${FIX}`,
    );
  });
  it.each(['12.5', '1e3', ' 12', '12 ', '+5', '0x10', '1_000', 'abc', '١٢', '--1', '12.'])(
    'non-integer text %j',
    async (v) => {
      expect(await rejectMessage([`${ID1},锦江区,${v},0`])).toBe(
        `:2: column age: value ${JSON.stringify(v)} is not a plain decimal integer${FIX}`,
      );
    },
  );
  it('empty cells, quoted or not', async () => {
    expect(await rejectMessage([GOOD[0]!, `${ID2},青羊区,,2000`])).toBe(`:3: column age: empty value${FIX}`);
    expect(await rejectMessage([`${ID2},"",45,2000`])).toBe(`:2: column district: empty value${FIX}`);
  });
  it('wrong field counts', async () => {
    expect(await rejectMessage([GOOD[0]!, `${ID2},青羊区,45,2000,7`])).toBe(
      `:3: row has 5 fields, the header has 4${FIX}`,
    );
    expect(await rejectMessage([GOOD[0]!, GOOD[1]!, `${ID2},青羊区,45`])).toBe(
      `:4: row has 3 fields, the header has 4${FIX}`,
    );
    expect(await rejectMessage([`${ID2},青羊区,45,2000,`])).toBe(
      `:2: row ends with a comma, so it has more fields than the header's 4${FIX}`,
    );
    expect(await rejectMessage([`${ID2},青羊区,45,2000,,`])).toBe(
      `:2: row ends with a comma, so it has more fields than the header's 4${FIX}`,
    );
  });
  it('bad GB 11643 IDs: check character, birth date, shape', async () => {
    const wrongCheck = ID1.slice(0, 17) + (ID1[17] === '0' ? '1' : '0');
    const msg = (v: string): string =>
      `:2: column pid: value ${JSON.stringify(v)} is not a valid GB 11643 citizen ID (17 digits with a real birth date, then the check character)${FIX}`;
    for (const id of [
      wrongCheck,
      citizenId('51010419990229123'),
      citizenId('51010418991231123'),
      citizenId('51010419901301123'),
      ID1.toLowerCase().replace(/.$/, 'x'),
      ID1.slice(1),
      ID1 + '1',
    ]) {
      if (id === ID1) continue;
      expect(await rejectMessage([`${id},锦江区,30,0`])).toBe(msg(id));
    }
  });
  it('a blank line between records', async () => {
    expect(await rejectMessage([GOOD[0]!, '', GOOD[1]!])).toBe(`:3: empty line${FIX}`);
  });
  it('reports the earliest invalid line whatever its kind', async () => {
    expect(await rejectMessage([GOOD[0]!, `${ID2},青羊区,999,0`, `${ID2},青羊区,45`])).toBe(
      `:3: column age: value "999" is outside 0..120${FIX}`,
    );
    expect(await rejectMessage([GOOD[0]!, `${ID2},青羊区,45`, `${ID2},青羊区,999,0`])).toBe(
      `:3: row has 3 fields, the header has 4${FIX}`,
    );
    // Within a row, the leftmost invalid column in file order.
    expect(await rejectMessage(['', `${ID2},x,999,0`])).toBe(`:2: empty line${FIX}`);
    expect(await rejectMessage([`x,y,z,w`])).toBe(
      `:2: column pid: value "x" is not a valid GB 11643 citizen ID (17 digits with a real birth date, then the check character)${FIX}`,
    );
  });
  it('keeps line numbers right after blank lines and rejected rows', async () => {
    const rows = [
      GOOD[0]!,
      '',
      `${ID1},锦江区,1`,
      '',
      '',
      GOOD[1]!,
      `${ID3},锦江区,8,0,1`,
      GOOD[2]!,
      `${ID3},锦江区,121,0`,
      GOOD[0]!,
    ];
    const file = writeCsv(dir, [HEADER, ...rows].join('\n') + '\n');
    const report = await store.loadCsv('people', PEOPLE_SCHEMA, file, { onInvalid: 'skip' });
    expect(report.invalid.map((r) => r.line)).toEqual([3, 4, 5, 6, 8, 10]);
    expect(report.invalid[5]).toEqual({
      line: 10,
      column: 'age',
      value: '121',
      reason: 'value "121" is outside 0..120',
    });
    expect(report.rowsLoaded).toBe(4);
    expect(await rejectMessage(rows.filter((r) => r !== ''))).toBe(`:3: row has 3 fields, the header has 4${FIX}`);
  });
  it('a value that is too long is cut in the message', async () => {
    const long = '锦'.repeat(100);
    expect(await rejectMessage([`${ID1},${long},1,1`])).toBe(
      `:2: column district: value ${JSON.stringify('锦'.repeat(40) + '…')} is not one of the declared values (锦江区, 青羊区, 金牛区)${FIX}`,
    );
  });
});

describe('loadCsv: NUL, byte order marks and control characters are in no domain', () => {
  const BOM_REASON = 'U+FEFF (a byte order mark, allowed only at the very start of a file)';
  it('a byte order mark opening a data row is refused with line and column, not an internal error', async () => {
    expect(await rejectMessage([GOOD[0]!, `\uFEFF${ID2},青羊区,45,2000`])).toBe(
      `:3: column pid: value has ${BOM_REASON} at character 1, which no column accepts${FIX}`,
    );
    expect(await rejectMessage([`\uFEFF"${ID2}",青羊区,45,2000`])).toMatch(
      /^:2: (row has text after a closing quote|column pid: value has U\+FEFF)/,
    );
    expect(await rejectMessage([`${ID2},青羊区,\uFEFF45,2000`])).toBe(
      `:2: column age: value has ${BOM_REASON} at character 1, which no column accepts${FIX}`,
    );
    expect(await rejectMessage([`${ID2},青\uFEFF羊区,45,2000`])).toBe(
      `:2: column district: value has ${BOM_REASON} at character 2, which no column accepts${FIX}`,
    );
  });

  it('a category value with a trailing NUL is refused, not counted as the value', async () => {
    expect(await rejectMessage([GOOD[0]!, `${ID2},锦江区\u0000,45,2000`])).toBe(
      `:3: column district: value has U+0000 (a control character) at character 4, which no column accepts${FIX}`,
    );
    expect(await rejectMessage([`${ID2},"锦江区\u0000",45,2000`])).toMatch(/^:2: column district: value has U\+0000 /);
    expect(await rejectMessage([`${ID2},锦江区\t,45,2000`])).toMatch(
      /^:2: column district: value has U\+0009 \(a control character\) at character 4/,
    );
    expect(await rejectMessage([`${ID2},锦江区,45\u0000,2000`])).toMatch(/^:2: column age: value has U\+0000 /);
  });

  it('in skip mode both rows are left out and the counts are exact', async () => {
    const rows = [GOOD[0]!, `\uFEFF${ID2},青羊区,45,2000`, `${ID3},锦江区\u0000,8,5`, GOOD[1]!];
    const file = writeCsv(dir, '\uFEFF' + [HEADER, ...rows].join('\n') + '\n');
    const report = await store.loadCsv('people', PEOPLE_SCHEMA, file, { onInvalid: 'skip' });
    expect(report.rowsLoaded).toBe(2);
    expect(report.invalid).toEqual([
      {
        line: 3,
        column: 'pid',
        value: `\uFEFF${ID2}`,
        reason: `value has ${BOM_REASON} at character 1, which no column accepts`,
      },
      {
        line: 4,
        column: 'district',
        value: '锦江区\u0000',
        reason: 'value has U+0000 (a control character) at character 4, which no column accepts',
      },
    ]);
    const agg = await store.aggregate(countPlan, PEOPLE_SCHEMA);
    expect([...agg.groups]).toEqual([
      [0, [1n, -100n]],
      [1, [1n, 2000n]],
    ]);
  });

  it('names a header column with an invisible character escaped', async () => {
    const e = await loadError('pid,\uFEFFdistrict,age,balance\n');
    expect(e.message).toMatch(/has unknown column "\\ufeffdistrict" \(did you mean district\?\)/);
  });
});

describe('loadCsv: header and file problems', () => {
  it('missing and unknown header columns name the file, the columns and the fix', async () => {
    const e = await loadError('pid,district,salary\n');
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toMatch(
      /:1: the header is missing columns age, balance and has unknown column "salary"; the header must name each of pid, district, age, balance exactly once, in any order$/,
    );
    const dup = await loadError('pid,district,age,balance,age\n');
    expect(dup.message).toMatch(/:1: the header names column "age" twice; /);
    const cased = await loadError('pid,district,Age,balance\n');
    expect(cased.message).toMatch(
      /the header is missing column age and has unknown column "Age" \(did you mean age\?\)/,
    );
  });
  it('an empty file, a missing file, a directory', async () => {
    expect((await loadError('')).message).toMatch(/the file is empty; it needs a header row/);
    const missing = await store.loadCsv('people', PEOPLE_SCHEMA, join(dir, 'nope.csv')).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'IO' });
    expect(await store.loadCsv('people', PEOPLE_SCHEMA, dir).catch((e: unknown) => e)).toMatchObject({ code: 'IO' });
  });
  it('refuses quoted fields that span lines, with the line', async () => {
    const e = await loadError([HEADER, GOOD[0], `${ID2},"青羊\n区",45,2000`, GOOD[1]].join('\n') + '\n', {
      onInvalid: 'skip',
    });
    expect(e.code).toBe('DATA_INVALID');
    expect(e.message).toMatch(/:3: a quoted field runs past the end of the line, or a quote is unbalanced; /);
  });
  it('refuses stray carriage returns and mixed line endings', async () => {
    expect((await loadError(`${HEADER}\n${GOOD[0]!}\n${ID2},青\r羊区,45,2000\n`)).message).toMatch(
      /:3: a carriage return inside a line; /,
    );
    expect((await loadError(`${HEADER}\r\n${GOOD[0]!}\n${GOOD[1]!}\r\n`)).message).toMatch(
      /mixes CRLF and LF line endings/,
    );
  });
  it('refuses invalid UTF-8 in the header and reports it in a row', async () => {
    const bad = Buffer.concat([
      Buffer.from(`${HEADER}\n${GOOD[0]!}\n${ID2},`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(',45,2000\n'),
    ]);
    expect((await loadError(bad as unknown as string)).message).toMatch(/:3: row is not valid UTF-8; /);
    const badHeader = Buffer.concat([Buffer.from([0xff]), Buffer.from(`${HEADER}\n`)]);
    expect((await loadError(badHeader as unknown as string)).message).toMatch(/:1: the header is not valid UTF-8/);
  });
  it('more rows than maxRows', async () => {
    const schema = { ...PEOPLE_SCHEMA, maxRows: 2 };
    const file = writeCsv(dir, [HEADER, ...GOOD].join('\n') + '\n');
    const e = await store.loadCsv('people', schema, file).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'DATA_INVALID' });
    expect(String((e as Error).message)).toMatch(
      /: 3 rows exceed the dataset's maxRows of 2; raise maxRows in the schema/,
    );
  });
});

describe('loadCsv: skip mode', () => {
  it('leaves invalid rows out, counts them and reports the first ten with their lines', async () => {
    const rows: string[] = [];
    for (let i = 0; i < 30; i++) rows.push(i % 3 === 0 ? `${ID1},锦江区,${200 + i},0` : `${ID2},青羊区,${i},${i}`);
    rows.splice(5, 0, '', `${ID1},锦江区,1`, `${ID1},锦江区,1,1,`);
    const file = writeCsv(dir, [HEADER, ...rows].join('\n') + '\n');
    const report = await store.loadCsv('people', PEOPLE_SCHEMA, file, { onInvalid: 'skip' });
    expect(report.rowsLoaded).toBe(20);
    expect(report.rowsSkipped).toBe(13);
    expect(report.invalid.map((r) => r.line)).toEqual([2, 5, 7, 8, 9, 11, 14, 17, 20, 23]);
    expect(report.invalid[0]).toEqual({
      line: 2,
      column: 'age',
      value: '200',
      reason: 'value "200" is outside 0..120',
    });
    expect(report.invalid[2]).toEqual({ line: 7, column: '', value: '', reason: 'empty line' });
    expect(report.invalid[3]).toEqual({ line: 8, column: '', value: '', reason: 'row has 3 fields, the header has 4' });
    expect(report.invalid[4]?.reason).toBe("row ends with a comma, so it has more fields than the header's 4");
    expect(await store.rowCount('people')).toBe(20);
    const agg = await store.aggregate(countPlan, PEOPLE_SCHEMA);
    expect([...agg.groups]).toEqual([
      [1, [20n, BigInt([...Array(30).keys()].filter((i) => i % 3 !== 0).reduce((a, b) => a + b, 0))]],
    ]);
  });
});

describe('loadCsv: atomic replacement', () => {
  it('a failed load leaves the previous table as it was', async () => {
    const good = writeCsv(dir, [HEADER, ...GOOD].join('\n') + '\n');
    await store.loadCsv('people', PEOPLE_SCHEMA, good);
    const before = await store.aggregate(countPlan, PEOPLE_SCHEMA);
    for (const bad of [
      [HEADER, GOOD[0], `${ID2},青羊区,999,0`],
      [HEADER, GOOD[0], `${ID2},"青羊`, `区",1,1`],
      ['pid,district'],
    ]) {
      const file = writeCsv(dir, bad.join('\n') + '\n');
      await expect(store.loadCsv('people', PEOPLE_SCHEMA, file)).rejects.toMatchObject({ code: 'DATA_INVALID' });
      expect(await store.rowCount('people')).toBe(3);
      expect(await store.aggregate(countPlan, PEOPLE_SCHEMA)).toEqual(before);
    }
  });

  it('a successful load replaces the table', async () => {
    const file = writeCsv(dir, [HEADER, GOOD[0]].join('\n') + '\n');
    await store.loadCsv('people', PEOPLE_SCHEMA, file);
    expect(await store.rowCount('people')).toBe(1);
  });
});

describe('single-column datasets', () => {
  const schema = parseSchema({ datasets: { one: { columns: { n: { type: 'integer', min: 0, max: 9 } } } } }, 't')
    .datasets['one']!;
  const sum: QueryPlan = {
    dataset: 'one',
    groupBy: [],
    select: [{ kind: 'aggregate', fn: 'sum', column: 'n', alias: 's' }],
    where: null,
  };
  it('ignores trailing blank lines and reports inner ones as empty values', async () => {
    await store.loadCsv('one', schema, writeCsv(dir, 'n\n1\n2\n\n\n'));
    expect([...(await store.aggregate(sum, schema)).groups]).toEqual([[0, [2n, 3n]]]);
    const e = await store.loadCsv('one', schema, writeCsv(dir, 'n\n1\n\n2\n')).catch((x: unknown) => x);
    expect(String((e as Error).message)).toMatch(/:3: column n: empty value; /);
    const r = await store.loadCsv('one', schema, writeCsv(dir, 'n\n1\n\n2\n,\n3\n\n'), { onInvalid: 'skip' });
    expect(r.invalid.map((x) => [x.line, x.column, x.reason])).toEqual([
      [3, 'n', 'empty value'],
      [5, 'n', 'empty value'],
    ]);
    expect([...(await store.aggregate(sum, schema)).groups]).toEqual([[0, [3n, 6n]]]);
  });
});

describe("columns named like the loader's own", () => {
  it('loads a schema whose columns are called c0, c1 (the raw cells are named apart), empty or not', async () => {
    const schema = parseSchema(
      {
        datasets: {
          named: {
            columns: {
              c1: { type: 'category', values: ['a', 'b'] },
              c0: { type: 'integer', min: -5, max: 5 },
              _c0: { type: 'integer', min: 0, max: 9 },
            },
          },
        },
      },
      'named.json',
    ).datasets['named']!;
    const empty = await store.loadCsv('named', schema, writeCsv(dir, 'c0,c1,_c0\n'));
    expect(empty.rowsLoaded).toBe(0);
    const bad = await store.loadCsv('named', schema, writeCsv(dir, 'c0,c1,_c0\n-5,a,1\n5,b,2\n6,a,3\n'), {
      onInvalid: 'skip',
    });
    expect(bad).toMatchObject({ rowsLoaded: 2, rowsSkipped: 1 });
    expect(bad.invalid[0]).toMatchObject({ line: 4, column: 'c0', value: '6' });
    const plan: QueryPlan = {
      dataset: 'named',
      groupBy: ['c1'],
      select: [
        { kind: 'aggregate', fn: 'count', column: null, alias: 'n' },
        { kind: 'aggregate', fn: 'sum', column: 'c0', alias: 's' },
      ],
      where: null,
    };
    expect([...(await store.aggregate(plan, schema)).groups]).toEqual([
      [0, [1n, -5n]],
      [1, [1n, 5n]],
    ]);
  });
});
