/**
 * `aggregate` over a live PostgreSQL table equals the DuckDB store and a plain JS evaluation of the
 * same plan over the same valid rows: random schemas (SQL-keyword and mixed-case names, Unicode
 * category values, integer bounds up to ±2^53), random plans, empty tables and empty groups, column
 * types an agency really has (text, varchar, char(n), an enum, a domain; smallint to bigint), and
 * rows out of the schema's domains (NULLs, unknown text, text that differs only in Unicode
 * normalization, integers just outside the bounds). `skip` answers over the valid rows and reports
 * the exact census; `reject` refuses naming it. The store reads as a role with SELECT only.
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSchema, type DatasetSchema, type Schema } from '../../src/federation/schema.js';
import { evaluatePredicate } from '../../src/query/evaluate.js';
import { planMeasures, type QueryPlan } from '../../src/query/plan.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import type { DuckDbAgencyStore, LocalAggregate } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { freshDatabase, readonlyRole, type TestDatabase } from '../helpers/postgres.js';
import { prng } from '../learn/arbitraries.js';
import { planArb, schemaAndPlanArb } from '../query/arbitraries.js';
import { tempDir, writeCsv } from './helpers.js';
import {
  createLiveTable,
  expectedCensus,
  statementView,
  validRows,
  type CategoryType,
  type IntegerType,
  type LiveCell,
  type LiveRow,
} from './pg-tables.js';

const dir = tempDir('pg-aggregate');
let db: TestDatabase;
let role: string;
let pool: pg.Pool;
let duck: DuckDbAgencyStore;

beforeAll(async () => {
  db = await freshDatabase('pg aggregate');
  const ro = await readonlyRole(db, []);
  role = ro.user;
  pool = new pg.Pool({ ...ro, max: 3 });
  duck = await openDuckDbStore(':memory:');
});
afterAll(async () => {
  await duck.close();
  await pool.end();
  await db.drop();
});

type Row = Record<string, string | number>;

/** Texts no schema value equals: unknown words, and a value's other Unicode normal forms. */
function strangers(values: readonly string[]): string[] {
  const out = [
    '未知区',
    'zz',
    'NULL',
    values[0] + '#',
    ...values.flatMap((v) => [v.normalize('NFD'), v.normalize('NFKD')]),
  ];
  return [...new Set(out)].filter((t) => t !== '' && !t.endsWith(' ') && !values.includes(t));
}

function cellArbs(ds: DatasetSchema): Record<string, { valid: fc.Arbitrary<LiveCell>; bad: fc.Arbitrary<LiveCell> }> {
  const out: Record<string, { valid: fc.Arbitrary<LiveCell>; bad: fc.Arbitrary<LiveCell> }> = {};
  for (const [name, c] of Object.entries(ds.columns)) {
    if (c.type === 'category') {
      const others = strangers(c.values);
      out[name] = {
        valid: fc.constantFrom(...c.values),
        bad: others.length === 0 ? fc.constant(null) : fc.oneof(fc.constant(null), fc.constantFrom(...others)),
      };
    } else if (c.type === 'integer') {
      out[name] = {
        valid: fc.oneof(fc.integer({ min: c.min, max: c.max }), fc.constantFrom(c.min, c.max)),
        bad: fc.constantFrom<LiveCell>(null, BigInt(c.min) - 1n, BigInt(c.max) + 1n),
      };
    } else {
      // Never read by a statement, so never judged: a NULL id is no out-of-domain row.
      out[name] = { valid: fc.option(fc.stringMatching(/^[a-z0-9]{1,8}$/), { nil: null }), bad: fc.constant(null) };
    }
  }
  return out;
}

function liveRowArb(ds: DatasetSchema, dirty: boolean): fc.Arbitrary<LiveRow> {
  const arbs = cellArbs(ds);
  const valid = fc.record(Object.fromEntries(Object.entries(arbs).map(([n, a]) => [n, a.valid])));
  if (!dirty) return valid;
  const checked = Object.keys(ds.columns).filter((n) => ds.columns[n]?.type !== 'id');
  const broken = fc
    .tuple(valid, fc.uniqueArray(fc.constantFrom(...checked), { minLength: 1, maxLength: 2 }))
    .chain(([row, cols]) =>
      fc.tuple(...cols.map((n) => arbs[n]!.bad)).map((cells) => {
        const out: Record<string, LiveCell> = { ...row };
        cols.forEach((n, i) => (out[n] = cells[i] ?? null));
        return out;
      }),
    );
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: broken });
}

function typesArb(ds: DatasetSchema): fc.Arbitrary<Record<string, CategoryType | IntegerType>> {
  const fields: Record<string, fc.Arbitrary<CategoryType | IntegerType>> = {};
  for (const [name, c] of Object.entries(ds.columns)) {
    if (c.type === 'category') fields[name] = fc.constantFrom<CategoryType>('text', 'varchar', 'char', 'enum');
    if (c.type === 'integer') fields[name] = fc.constantFrom<IntegerType>('smallint', 'integer', 'bigint', 'domain');
  }
  return fc.record(fields);
}

const caseArb = schemaAndPlanArb.chain(([schema, plan]) => {
  const ds = schema.datasets[plan.dataset]!;
  return fc.boolean().chain((dirty) =>
    fc.record({
      schema: fc.constant<Schema>(schema),
      plans: fc
        .array(
          planArb(schema).filter((p) => p.dataset === plan.dataset),
          { maxLength: 2 },
        )
        .map((more) => [plan, ...more]),
      rows: fc.array(liveRowArb(ds, dirty), { maxLength: 30 }),
      types: typesArb(ds),
      where: fc.constantFrom('public', 'Agency Data'),
      name: fc.constantFrom('t', 'Rentals', 'select', 'Order By'),
    }),
  );
});

/** The plan evaluated in JavaScript over valid rows: group index → measures, empty groups absent. */
function reference(plan: QueryPlan, ds: DatasetSchema, rows: readonly Row[]): Map<number, bigint[]> {
  const measures = planMeasures(plan);
  const out = new Map<number, bigint[]>();
  for (const row of rows) {
    if (!evaluatePredicate(plan.where ?? null, row)) continue;
    let index = 0;
    for (const g of plan.groupBy) {
      const col = ds.columns[g];
      if (col?.type !== 'category') throw new Error('grouped by a non-category column');
      index = index * col.values.length + col.values.indexOf(row[g] as string);
    }
    const acc = out.get(index) ?? measures.map(() => 0n);
    measures.forEach((m, i) => {
      acc[i] = acc[i]! + (m.kind === 'count' ? 1n : BigInt(row[m.column!] as number));
    });
    out.set(index, acc);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

function plain(local: LocalAggregate): Map<number, bigint[]> {
  return new Map([...local.groups].map(([k, v]) => [k, [...v]]));
}

function csv(ds: DatasetSchema, rows: readonly Row[]): string {
  const cols = Object.keys(ds.columns);
  return [cols, ...rows.map((r) => cols.map((c) => String(r[c])))].map((f) => `${csvRecord(f)}\n`).join('');
}

let run = 0;

describe('PostgreSQL aggregate = DuckDB = JavaScript (property)', () => {
  it('over random schemas, column types, rows (some out of domain) and plans', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ schema, plans, rows, types, where, name }) => {
        const dataset = plans[0]!.dataset;
        const ds = schema.datasets[dataset]!;
        const table = { schema: where, name: `${name}_${++run}` };
        const ref = await createLiveTable(db, table, ds, rows, types);
        await db.query(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(where)} TO ${pg.escapeIdentifier(role)}`);
        await db.query(`GRANT SELECT ON ${ref} TO ${pg.escapeIdentifier(role)}`);
        const valid = validRows(ds, rows);
        await duck.loadCsv(dataset, ds, writeCsv(dir, csv(ds, valid)));

        const reports: InvalidRowCensus[] = [];
        await using skip = await openPostgresStore({
          pool,
          datasets: { [dataset]: { table: ref, schema: ds, onInvalid: 'skip' } },
          onInvalidRows: (c) => reports.push(c),
        });
        await using reject = await openPostgresStore({ pool, datasets: { [dataset]: { table: ref, schema: ds } } });
        for (const plan of plans) {
          // DuckDB loaded the rows valid in every column; the live table is judged by the
          // columns each statement reads (pg-tables.ts statementView).
          const view = statementView(ds, plan, rows);
          const census = view.census;
          reports.length = 0;
          expect(plain(await skip.aggregate(plan, ds))).toEqual(reference(plan, ds, view.rows));
          expect(plain(await duck.aggregate(plan, ds))).toEqual(reference(plan, ds, valid));
          if (census.rows === 0) {
            expect(reports).toEqual([]);
            expect(plain(await reject.aggregate(plan, ds))).toEqual(reference(plan, ds, view.rows));
            continue;
          }
          expect(reports).toEqual([{ dataset, ...census }]);
          const refused = await reject.aggregate(plan, ds).then(
            () => null,
            (e: unknown) => e,
          );
          expect(refused).toMatchObject({
            code: 'DATA_INVALID',
            details: { dataset, rows: census.rows, byColumn: census.byColumn },
          });
          const message = (refused as Error).message;
          expect(message).toContain(census.rows === 1 ? '1 row out of' : `${census.rows} rows out of`);
          for (const [col, n] of Object.entries(census.byColumn)) expect(message).toContain(`${col} ${n}`);
        }
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});

const PLACES = ['锦江区', '青羊区', 'é', "it's"];
const TYPED: DatasetSchema = parseSchema(
  {
    datasets: {
      typed: {
        maxRows: 10_000,
        columns: {
          pid: { type: 'id', format: 'text' },
          c_text: { type: 'category', values: PLACES },
          c_varchar: { type: 'category', values: ['男', '女'] },
          c_char: { type: 'category', values: ['A1', 'B22', 'é'] },
          c_enum: { type: 'category', values: PLACES },
          i_small: { type: 'integer', min: 0, max: 120 },
          i_int: { type: 'integer', min: -50_000, max: 50_000 },
          i_big: { type: 'integer', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
          i_dom: { type: 'integer', min: -3, max: 10 },
        },
      },
    },
  },
  'typed.json',
).datasets['typed']!;
const TYPES: Record<string, CategoryType | IntegerType> = {
  c_text: 'text',
  c_varchar: 'varchar',
  c_char: 'char',
  c_enum: 'enum',
  i_small: 'smallint',
  i_int: 'integer',
  i_big: 'bigint',
  i_dom: 'domain',
};
/** Per column, the out-of-domain cells tried: NULL always; other texts and normal forms; bounds ± 1. */
const BAD: Readonly<Record<string, readonly LiveCell[]>> = {
  c_text: [null, '未知区', 'e\u0301', '锦江区 '],
  c_varchar: [null, '男 ', 'M'],
  c_char: [null, 'C', 'e\u0301'],
  c_enum: [null, '未知区', 'e\u0301'],
  i_small: [null, -1, 121],
  i_int: [null, -50_001, 50_001],
  i_big: [null, BigInt(Number.MIN_SAFE_INTEGER) - 1n, 2n ** 53n],
  i_dom: [null, -4, 11],
};

function typedRows(n: number, seed: number): LiveRow[] {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  return Array.from({ length: n }, (_, i) => {
    const row: Record<string, LiveCell> = {
      pid: rand() < 0.1 ? null : `p${i}`,
      c_text: pick(PLACES),
      c_varchar: pick(['男', '女']),
      c_char: pick(['A1', 'B22', 'é']),
      c_enum: pick(PLACES.slice(0, 3)), // no "it's" row: an empty group
      i_small: int(0, 120),
      i_int: int(-50_000, 50_000),
      i_big: pick([Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 7, int(-1e15, 1e15)]),
      i_dom: int(-3, 10),
    };
    if (rand() < 0.25) {
      const col = pick(Object.keys(BAD));
      row[col] = pick(BAD[col]!);
    }
    return row;
  });
}

describe('PostgreSQL aggregate over every column type an agency may have', () => {
  it('text, varchar, char(n), enum, smallint, integer, bigint and a domain; every kind of bad cell', async () => {
    const rows = typedRows(400, 42);
    const census = expectedCensus(TYPED, rows);
    // Every bad kind is present, so each one is proven to be counted, not summed.
    expect(Object.keys(census.byColumn).sort()).toEqual(Object.keys(BAD).sort());
    const ref = await createLiveTable(db, { schema: 'public', name: 'typed' }, TYPED, rows, TYPES);
    const types = await db.query<{ name: string; type: string }>(
      'SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 ORDER BY attnum',
      [ref],
    );
    expect(types.rows.map((r) => r.type)).toEqual([
      'text',
      'text',
      'character varying',
      'character(5)',
      'typed_e0',
      'smallint',
      'integer',
      'bigint',
      'typed_d1',
    ]);
    await db.query(`GRANT SELECT ON ${ref} TO ${pg.escapeIdentifier(role)}`);
    const valid = validRows(TYPED, rows);
    await duck.loadCsv('typed', TYPED, writeCsv(dir, csv(TYPED, valid)));
    const reports: InvalidRowCensus[] = [];
    await using skip = await openPostgresStore({
      pool,
      datasets: { typed: { table: 'typed', schema: TYPED, onInvalid: 'skip' } },
      onInvalidRows: (c) => reports.push(c),
    });
    await using reject = await openPostgresStore({
      pool,
      datasets: { typed: { table: 'public.typed', schema: TYPED } },
    });
    const sums = ['i_small', 'i_int', 'i_big', 'i_dom'].map((column) => ({
      kind: 'aggregate' as const,
      fn: 'sum' as const,
      column,
      alias: `s_${column}`,
    }));
    const plans: QueryPlan[] = [
      {
        dataset: 'typed',
        groupBy: [],
        select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'n' }, ...sums],
        where: null,
      },
      {
        dataset: 'typed',
        groupBy: ['c_enum', 'c_char'],
        select: [{ kind: 'aggregate', fn: 'count', column: null, alias: 'n' }, ...sums],
        where: { kind: 'in', column: 'c_text', values: ['é', "it's", '锦江区'] },
      },
      {
        dataset: 'typed',
        groupBy: ['c_varchar'],
        select: [{ kind: 'aggregate', fn: 'avg', column: 'i_big', alias: 'a' }],
        where: { kind: 'not', arg: { kind: 'between', column: 'i_dom', low: 0, high: 4 } },
      },
    ];
    for (const plan of plans) {
      const view = statementView(TYPED, plan, rows);
      reports.length = 0;
      expect(plain(await skip.aggregate(plan, TYPED))).toEqual(reference(plan, TYPED, view.rows));
      expect(plain(await duck.aggregate(plan, TYPED))).toEqual(reference(plan, TYPED, valid));
      expect(view.census.rows).toBeGreaterThan(0);
      expect(reports).toEqual([{ dataset: 'typed', ...view.census }]);
      const refused = await fedstatRejectionOf(reject.aggregate(plan, TYPED));
      expect(refused.code).toBe('DATA_INVALID');
      expect(refused.details).toMatchObject({ rows: view.census.rows, byColumn: view.census.byColumn });
      // Counts and column names only: no cell value is echoed.
      for (const cells of Object.values(BAD))
        for (const v of cells) if (typeof v === 'string') expect(refused.message).not.toContain(v);
    }
    // The big sums went past 2^53 and stayed exact.
    const big = planMeasures(plans[0]!).findIndex((m) => m.kind === 'sum' && m.column === 'i_big');
    const total = [...(await skip.aggregate(plans[0]!, TYPED)).groups.values()][0]![big]!;
    expect(total > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  });
});

describe('column names equal to the names fedstat gives its own columns', () => {
  it('a schema column named __fedstat_ok (or like the census and the subqueries) is read as itself', async () => {
    const schema = parseSchema(
      {
        datasets: {
          own: {
            columns: {
              __fedstat_ok: { type: 'category', values: ['是', '否'] },
              __FEDSTAT_OK_1: { type: 'integer', min: 0, max: 9 },
              __fedstat_bad_0: { type: 'integer', min: 0, max: 9 },
              fedstat_cells: { type: 'category', values: ['a', 'b'] },
              fedstat_row: { type: 'integer', min: -5, max: 5 },
            },
          },
        },
      },
      'own.json',
    ).datasets['own']!;
    const rows: LiveRow[] = typedOwnRows();
    const ref = await createLiveTable(db, { schema: 'public', name: 'own' }, schema, rows);
    await db.query(`GRANT SELECT ON ${ref} TO ${pg.escapeIdentifier(role)}`);
    const valid = validRows(schema, rows);
    expect(expectedCensus(schema, rows).rows).toBeGreaterThan(0);
    const reports: InvalidRowCensus[] = [];
    await using store = await openPostgresStore({
      pool,
      datasets: { own: { table: 'own', schema, onInvalid: 'skip' } },
      onInvalidRows: (c) => reports.push(c),
    });
    await duck.loadCsv('own', schema, writeCsv(dir, csv(schema, valid)));
    const plan: QueryPlan = {
      dataset: 'own',
      groupBy: ['__fedstat_ok', 'fedstat_cells'],
      select: [
        { kind: 'aggregate', fn: 'count', column: null, alias: 'n' },
        { kind: 'aggregate', fn: 'sum', column: '__fedstat_bad_0', alias: 'b' },
        { kind: 'aggregate', fn: 'sum', column: 'fedstat_row', alias: 'r' },
        { kind: 'aggregate', fn: 'sum', column: '__FEDSTAT_OK_1', alias: 'o' },
      ],
      where: { kind: 'compare', column: '__fedstat_ok', op: '<>', value: '否' },
    };
    const view = statementView(schema, plan, rows);
    expect(plain(await store.aggregate(plan, schema))).toEqual(reference(plan, schema, view.rows));
    expect(plain(await duck.aggregate(plan, schema))).toEqual(reference(plan, schema, valid));
    expect(reports).toEqual([{ dataset: 'own', ...view.census }]);
  });
});

function typedOwnRows(): LiveRow[] {
  const rand = prng(5);
  return Array.from({ length: 80 }, () => {
    const row: Record<string, LiveCell> = {
      __fedstat_ok: rand() < 0.5 ? '是' : '否',
      __FEDSTAT_OK_1: Math.floor(rand() * 10),
      __fedstat_bad_0: Math.floor(rand() * 10),
      fedstat_cells: rand() < 0.5 ? 'a' : 'b',
      fedstat_row: Math.floor(rand() * 11) - 5,
    };
    if (rand() < 0.2) row[['__fedstat_ok', '__fedstat_bad_0', 'fedstat_row'][Math.floor(rand() * 3)]!] = null;
    return row;
  });
}
