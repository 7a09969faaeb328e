/**
 * bench join's data: two datasets `a` and `b` (an `id` column in format `text`, a category `g` of
 * 4 values, an integer `v` in 0..100), each split evenly over 2 agencies. Side a holds the ids with
 * keys [0, A), side b those with keys [A − S, A − S + B), S = min(A, B) / 2: the S shared ids are
 * half of the smaller side (half of each side when A = B). DuckDB generates every agency's rows
 * from `range(N)` (never row by row in JS) as Parquet, then CSV from it (what the agency loads into
 * its DuckDB store); both are cached under .bench-cache/join/AxB/ with the plaintext truth of the
 * two queries, computed by DuckDB over the same files.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseSchema, type Schema } from '../../src/federation/schema.js';
import { packageRoot } from '../../src/util/package-root.js';

/** The four values of `g`. */
export const GROUPS = ['g1', 'g2', 'g3', 'g4'] as const;
const SIDES = ['a', 'b'] as const;
export type Side = (typeof SIDES)[number];
/** Agencies per side. */
export const AGENCIES_PER_SIDE = 2;

export const ANTI_SQL = 'SELECT g, COUNT(*) FROM a x WHERE NOT EXISTS (SELECT 1 FROM b y WHERE y.id = x.id) GROUP BY g';
export const INNER_SQL = 'SELECT x.g, COUNT(*), SUM(y.v) FROM a x JOIN b y ON x.id = y.id GROUP BY x.g';
/** The two queries by name. */
export const JOIN_QUERIES = { anti: ANTI_SQL, inner: INNER_SQL } as const;
export type JoinKind = keyof typeof JOIN_QUERIES;

/** Per group: COUNT(*) and, for the inner join, SUM(y.v). */
export type GroupTotals = Readonly<Record<string, readonly bigint[]>>;

/** One size: total ids per side. */
export interface JoinSize {
  readonly a: number;
  readonly b: number;
}

/** The files of one agency: CSV (loaded by the agency) and Parquet (read by the baseline). */
export interface AgencyFiles {
  readonly id: string;
  readonly side: Side;
  readonly rows: number;
  readonly csv: string;
  readonly parquet: string;
  readonly db: string;
}

export interface JoinData {
  readonly dir: string;
  readonly shared: number;
  readonly agencies: readonly AgencyFiles[];
  readonly truth: { readonly anti: GroupTotals; readonly inner: GroupTotals };
}

/** `100000x100000` → { a, b }; RangeError for anything else. */
export function parseSize(text: string): JoinSize {
  const m = /^(\d[\d_]*)x(\d[\d_]*)$/.exec(text.trim());
  const a = Number(m?.[1]?.replace(/_/g, ''));
  const b = Number(m?.[2]?.replace(/_/g, ''));
  if (m === null || !Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 4 || b < 4)
    throw new RangeError(`--sizes takes AxB pairs of id counts of at least 4, e.g. 100000x100000; got ${text}`);
  return { a, b };
}

export const sizeLabel = (s: JoinSize): string => `${s.a}x${s.b}`;

/** Rows of agency `index` of a side of `total` ids (row i goes to agency i mod 2). */
function agencyRows(total: number, index: number): number {
  return Math.floor((total + AGENCIES_PER_SIDE - 1 - index) / AGENCIES_PER_SIDE);
}

/** The federation's schema for a size: maxRows is each side's largest agency. */
export function joinSchema(size: JoinSize): Schema {
  const dataset = (total: number): unknown => ({
    maxRows: agencyRows(total, 0),
    columns: {
      id: { type: 'id', format: 'text' },
      g: { type: 'category', values: [...GROUPS] },
      v: { type: 'integer', min: 0, max: 100 },
    },
  });
  return parseSchema({ datasets: { a: dataset(size.a), b: dataset(size.b) } }, 'bench-join');
}

/** The generating SELECT of one agency's rows, in key order. */
function generator(size: JoinSize, side: Side, index: number): string {
  const shared = Math.floor(Math.min(size.a, size.b) / 2);
  const [total, first, salt] = side === 'a' ? [size.a, 0, 1] : [size.b, size.a - shared, 2];
  const groups = `[${GROUPS.map((g) => `'${g}'`).join(', ')}]`;
  return `
    SELECT 'id' || lpad(CAST(k AS VARCHAR), 10, '0') AS id,
      ${groups}[1 + CAST(hash(k + ${salt} * 1000000000000) % ${GROUPS.length} AS INTEGER)] AS g,
      CAST(hash(k + ${salt + 2} * 1000000000000) % 101 AS INTEGER) AS v
    FROM (SELECT ${first} + i AS k FROM range(${total}) AS t(i) WHERE i % ${AGENCIES_PER_SIDE} = ${index})`;
}

function cacheDir(size: JoinSize): string {
  const dir = join(packageRoot(), '.bench-cache', 'join', sizeLabel(size));
  mkdirSync(dir, { recursive: true });
  return dir;
}

function totalsOf(rows: readonly (readonly unknown[])[]): GroupTotals {
  const out: Record<string, bigint[]> = {};
  for (const [g, ...values] of rows) out[String(g)] = values.map((v) => BigInt(String(v)));
  return out;
}

/** Every agency's files of a size, generated on first use, and the plaintext truth. */
export async function joinData(size: JoinSize, onStep: (what: string) => void): Promise<JoinData> {
  const dir = cacheDir(size);
  const agencies: AgencyFiles[] = SIDES.flatMap((side) =>
    Array.from({ length: AGENCIES_PER_SIDE }, (_, i) => ({
      id: `${side}-${i + 1}`,
      side,
      rows: agencyRows(side === 'a' ? size.a : size.b, i),
      csv: join(dir, `${side}-${i + 1}.csv`),
      parquet: join(dir, `${side}-${i + 1}.parquet`),
      db: join(dir, `${side}-${i + 1}.duckdb`),
    })),
  );
  const truthFile = join(dir, 'truth.json');
  const shared = Math.floor(Math.min(size.a, size.b) / 2);
  if (existsSync(truthFile) && agencies.every((f) => existsSync(f.csv) && existsSync(f.parquet))) {
    const t = JSON.parse(readFileSync(truthFile, 'utf8')) as { anti: unknown[][]; inner: unknown[][] };
    return { dir, shared, agencies, truth: { anti: totalsOf(t.anti), inner: totalsOf(t.inner) } };
  }
  const instance = await DuckDBInstance.create(':memory:', { temp_directory: join(dir, 'duckdb-tmp') });
  const db = await instance.connect();
  try {
    for (const f of agencies) {
      const index = Number(f.id.slice(2)) - 1;
      onStep(`generating ${f.rows.toLocaleString('en-US')} rows of ${f.id}`);
      await db.run(`COPY (${generator(size, f.side, index)}) TO '${f.parquet}.part' (FORMAT parquet)`);
      renameSync(`${f.parquet}.part`, f.parquet);
      await db.run(`COPY (SELECT * FROM read_parquet('${f.parquet}')) TO '${f.csv}.part' (FORMAT csv, HEADER)`);
      renameSync(`${f.csv}.part`, f.csv);
    }
    onStep('computing the plaintext truth');
    const files = (side: Side): string =>
      `read_parquet([${agencies
        .filter((f) => f.side === side)
        .map((f) => `'${f.parquet}'`)
        .join(', ')}])`;
    const rows = async (sql: string): Promise<string[][]> =>
      (await db.runAndReadAll(sql)).getRows().map((r) => r.map((c) => String(c)));
    const anti = await rows(
      `SELECT x.g, COUNT(*) FROM ${files('a')} x WHERE NOT EXISTS (SELECT 1 FROM ${files('b')} y WHERE y.id = x.id) GROUP BY x.g ORDER BY x.g`,
    );
    const inner = await rows(
      `SELECT x.g, COUNT(*), SUM(y.v) FROM ${files('a')} x JOIN ${files('b')} y ON x.id = y.id GROUP BY x.g ORDER BY x.g`,
    );
    writeFileSync(truthFile, `${JSON.stringify({ anti, inner })}\n`);
    return { dir, shared, agencies, truth: { anti: totalsOf(anti), inner: totalsOf(inner) } };
  } finally {
    db.closeSync();
    instance.closeSync();
    rmSync(join(dir, 'duckdb-tmp'), { recursive: true, force: true });
  }
}

/**
 * A release's rows as totals per group (the group column, then its count and sum columns in
 * SELECT order), to compare with the truth whatever the columns are named.
 */
export function releasedTotals(
  columns: readonly { readonly name: string; readonly kind: string }[],
  rows: readonly Readonly<Record<string, unknown>>[],
): GroupTotals {
  const group = columns.find((c) => c.kind === 'group');
  const measures = columns.filter((c) => c.kind === 'count' || c.kind === 'sum');
  const out: Record<string, bigint[]> = {};
  for (const r of rows)
    out[String(group === undefined ? '' : r[group.name])] = measures.map((m) => BigInt(String(r[m.name])));
  return out;
}

/** Null when equal, else the first difference (group names are public category values). */
export function compareTotals(actual: GroupTotals, expected: GroupTotals): string | null {
  const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  for (const k of [...keys].sort()) {
    const a = (actual[k] ?? []).join(',');
    const e = (expected[k] ?? []).join(',');
    if (a !== e) return `group ${k}: got [${a}], expected [${e}]`;
  }
  return null;
}
