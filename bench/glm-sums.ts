/**
 * One GLM Newton round's sums (learn/sums.ts GlmSums) at an agency: computed by the store's SQL
 * engine (store/glm-sums.ts: compileGlmSums, then duckDbGlmSums on an in-memory DuckDB table typed
 * as duckdb-store.ts types it) against the JavaScript loops over the same rows, in the same run.
 *
 * Rows are synthetic social-insurance records (68 districts, 32 sectors, sex, 5 zones, age,
 * income, months insured; binomial response `insured`), loaded once with DuckDB's appender. Three
 * formulas: d ≈ 11, d ≈ 40 and d = 120 coefficients, β random and small. Per formula, median of
 * --reps runs of each: "compile" (compileGlmSums), "SQL" (running the statement and reading its
 * row), "JS" (sumsOf: encodeRecord + accumulate per record, what an agency without SQL sums would
 * do every round), and "JS pre-coded" (sumsOfRows over rows coded once, with the one-off coding
 * time beside it). Every run's SQL sums are checked against the JavaScript sums (1e-9 relative).
 *
 * Headline ratio: SQL round time / JS encodeRecord+accumulate time at d ≈ 11 on the same rows (the
 * agency-side cost of a round in the store vs in JavaScript). Target: ≤ 1, the store no slower
 * than the JavaScript loop it replaces (ours; issue 13's targets are for the full protected round,
 * measured by a `train` benchmark).
 *
 *   npm run bench -- glm-sums [--json] [--rows N] [--reps N]
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import { progressBar } from '../src/cli/progress.js';
import { formatInteger, renderTable } from '../src/cli/table.js';
import { parseSchema, type DatasetSchema } from '../src/federation/schema.js';
import { codeModel } from '../src/learn/design.js';
import type { DataRecord } from '../src/learn/design-row.js';
import { parseFormula } from '../src/learn/formula.js';
import { encodeRows, sumsOf, sumsOfRows } from '../src/learn/pooled-fit.js';
import type { GlmSums } from '../src/learn/sums.js';
import { compileGlmSums, duckDbGlmSums } from '../src/store/glm-sums.js';
import { DUCKDB_DIALECT } from '../src/store/sql-dialect.js';
import { median, positiveIntOption } from './shared/stats.js';

const TARGET = 1;
const DATASET = 'b';
const levels = (prefix: string, k: number): string[] => Array.from({ length: k }, (_, i) => `${prefix}${i}`);
const SCHEMA = parseSchema(
  {
    datasets: {
      [DATASET]: {
        columns: {
          district: { type: 'category', values: levels('区', 68) },
          sector: { type: 'category', values: levels('业', 32) },
          sex: { type: 'category', values: ['男', '女'] },
          zone: { type: 'category', values: levels('zone', 5) },
          age: { type: 'integer', min: 16, max: 120 },
          income: { type: 'integer', min: 0, max: 1000000 },
          months: { type: 'integer', min: 0, max: 600 },
          insured: { type: 'category', values: ['否', '是'] },
        },
      },
    },
  },
  'bench-glm-sums-schema.json',
).datasets[DATASET] as DatasetSchema;
const CASES = [
  ['d ≈ 11', 'insured ~ age + sex + zone + income + months + age:sex + income:sex'],
  ['d ≈ 40', 'insured ~ age + sex + sector + zone + income + months + age:sex + income:sex'],
  [
    'd = 120',
    'insured ~ age + sex + district + sector + zone + income + months + age:sex + age:zone + months:sex + zone:sex + age:months + income:sex + income:months',
  ],
] as const;

/** mulberry32: a small seeded generator, so every run measures the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(n: number, rand: () => number): DataRecord[] {
  const pick = (k: number): number => Math.floor(rand() * k);
  const columns = Object.entries(SCHEMA.columns);
  return Array.from({ length: n }, () => {
    const rec: Record<string, string | number> = {};
    for (const [name, c] of columns) {
      if (c.type === 'category') rec[name] = c.values[pick(c.values.length)] as string;
      else if (c.type === 'integer') rec[name] = c.min + pick(Math.min(c.max - c.min + 1, 5000));
    }
    return rec;
  });
}

/** Creates the table as duckdb-store.ts types it (category codes USMALLINT, integers BIGINT) and appends the rows. */
async function load(conn: DuckDBConnection, rows: readonly DataRecord[]): Promise<void> {
  const cols = Object.entries(SCHEMA.columns);
  const q = (n: string): string => DUCKDB_DIALECT.quoteIdent(n);
  const type = (c: (typeof cols)[number][1]): string =>
    c.type === 'category' ? 'USMALLINT' : c.type === 'integer' ? 'BIGINT' : 'VARCHAR';
  await conn.run(`CREATE TABLE ${q(DATASET)} (${cols.map(([n, c]) => `${q(n)} ${type(c)} NOT NULL`).join(', ')})`);
  const appender = await conn.createAppender(DATASET);
  for (const rec of rows) {
    for (const [n, c] of cols) {
      const v = rec[n];
      if (c.type === 'category') appender.appendUSmallInt(c.values.indexOf(String(v)));
      else appender.appendBigInt(BigInt(v as number));
    }
    appender.endRow();
  }
  appender.closeSync();
}

/** Throws unless the SQL sums equal the JavaScript sums to `rel` relative (entries near zero: of the largest). */
function check(label: string, sql: GlmSums, js: GlmSums, rel = 1e-9): void {
  if (sql.n !== js.n) throw new Error(`${label}: SQL n ${sql.n}, JavaScript n ${js.n}`);
  const pairs: [string, ArrayLike<number>, ArrayLike<number>][] = [
    ['gradient', sql.gradient, js.gradient],
    ['information', sql.information, js.information],
    ['deviance', [sql.deviance], [js.deviance]],
  ];
  for (const [what, a, e] of pairs) {
    let scale = 1;
    for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i] as number));
    for (let i = 0; i < e.length; i++) {
      const [x, y] = [a[i] as number, e[i] as number];
      if (!(Math.abs(x - y) <= rel * Math.max(Math.abs(y), scale * 1e-3)))
        throw new Error(`${label}: ${what}[${i}] SQL ${x}, JavaScript ${y}`);
    }
  }
}

interface Row {
  readonly label: string;
  readonly d: number;
  readonly sqlKiB: number;
  readonly informationSums: number;
  readonly compileMs: number;
  readonly sqlMs: number;
  readonly jsMs: number;
  readonly precodedMs: number;
  readonly encodeMs: number;
  /** SQL / JS (encodeRecord + accumulate). */
  readonly ratio: number;
  /** SQL / JS over pre-coded rows. */
  readonly ratioPrecoded: number;
}

function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const out = f();
  return [out, performance.now() - t];
}

async function timeAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const out = await f();
  return [out, performance.now() - t];
}

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const n = positiveIntOption(args, '--rows', 1_000_000);
  const reps = positiveIntOption(args, '--reps', 3);
  const rand = prng(2024);
  const [records, generateMs] = time(() => generate(n, rand));
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const results: Row[] = [];
  let loadMs: number;
  try {
    [, loadMs] = await timeAsync(() => load(conn, records));
    const bar = progressBar('glm-sums', { json, total: CASES.length * reps });
    let done = 0;
    for (const [label, formula] of CASES) {
      const coding = codeModel(parseFormula(formula, SCHEMA, DATASET), SCHEMA, 'binomial', DATASET);
      const beta = coding.columns.map(() => (rand() - 0.5) * 0.2);
      const [compiled] = time(() => compileGlmSums(coding, SCHEMA, beta, DUCKDB_DIALECT));
      const [encoded, encodeMs] = time(() => encodeRows(coding, records));
      // Warm-up: DuckDB's first run of the statement, the JIT on the JavaScript loops.
      await duckDbGlmSums(conn, compiled);
      sumsOf(coding, records.slice(0, 20_000), beta);
      sumsOfRows(coding, encodeRows(coding, records.slice(0, 20_000)), beta);
      const t = { compile: [] as number[], sql: [] as number[], js: [] as number[], precoded: [] as number[] };
      // Repetitions outermost, so drift on a shared machine hits every measurement alike.
      for (let r = 0; r < reps; r++) {
        t.compile.push(time(() => compileGlmSums(coding, SCHEMA, beta, DUCKDB_DIALECT))[1]);
        const [viaSql, sqlMs] = await timeAsync(() => duckDbGlmSums(conn, compiled));
        const [viaJs, jsMs] = time(() => sumsOf(coding, records, beta));
        const [viaCoded, precodedMs] = time(() => sumsOfRows(coding, encoded, beta));
        check(label, viaSql, viaJs);
        check(`${label} (pre-coded)`, viaCoded, viaJs);
        t.sql.push(sqlMs);
        t.js.push(jsMs);
        t.precoded.push(precodedMs);
        bar.update(++done, CASES.length * reps, label);
      }
      const sqlMs = median(t.sql);
      results.push({
        label,
        d: coding.columns.length,
        sqlKiB: compiled.sql.length / 1024,
        informationSums: compiled.information.length,
        compileMs: median(t.compile),
        sqlMs,
        jsMs: median(t.js),
        precodedMs: median(t.precoded),
        encodeMs,
        ratio: sqlMs / median(t.js),
        ratioPrecoded: sqlMs / median(t.precoded),
      });
    }
    bar.done();
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  const headline = results[0]?.ratio ?? Number.NaN;
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'glm-sums',
        ratio: headline,
        ratioMeaning: 'SQL round / JS encodeRecord+accumulate, d ≈ 11',
        target: TARGET,
        rows: n,
        reps,
        generateMs,
        loadMs,
        results,
      })}\n`,
    );
    return;
  }
  const ms = (x: number): string => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
  process.stdout.write(
    `one Newton round's sums, binomial, ${formatInteger(n)} rows (generated in ${ms(generateMs)}, loaded into DuckDB in ${ms(loadMs)}); median of ${reps}:\n`,
  );
  process.stdout.write(
    `${renderTable(
      [
        'model',
        'd',
        'SQL text',
        'info sums',
        'compile',
        'SQL',
        'JS',
        'SQL / JS',
        'JS pre-coded',
        'SQL / pre-coded',
        'coding once',
      ],
      results.map((r) => [
        r.label,
        String(r.d),
        `${r.sqlKiB.toFixed(0)} KiB`,
        formatInteger(r.informationSums),
        ms(r.compileMs),
        ms(r.sqlMs),
        ms(r.jsMs),
        r.ratio.toFixed(2),
        ms(r.precodedMs),
        r.ratioPrecoded.toFixed(2),
        ms(r.encodeMs),
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    )}\n`,
  );
  process.stdout.write(
    `\nheadline: SQL round / JS encodeRecord+accumulate at d ≈ 11 = ${headline.toFixed(2)} (target ≤ ${TARGET})\n`,
  );
}
