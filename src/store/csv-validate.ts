/**
 * Validating a CSV file staged in DuckDB by csv-load.ts. The SQL rules of cell-rules.ts have
 * already turned every invalid cell into NULL and kept the raw cells of its row in RAW; here the
 * records are matched to the file's lines, the invalid rows are counted (SQL-invalid records,
 * lines DuckDB's reader rejected, blank lines, lines ending in a comma), only the first of them
 * (one in `reject` mode, ten in `skip` mode) are explained with the JS rules (`diagnoseCell`),
 * and then the load is refused naming the first, or the invalid rows are deleted.
 */
import { listValue } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import { diagnoseCell } from './cell-rules.js';
import { expectedRecords, parseCsvLine, type CsvLayout } from './csv-scan.js';
import { LineMap, mergeSorted } from './line-map.js';
import type { InvalidRow } from './store.js';

export interface StagedCsv {
  readonly rowsLoaded: number;
  readonly rowsSkipped: number;
  readonly invalid: readonly InvalidRow[];
}

// Temporary objects live in the loading connection's own temp catalog (DuckDB wants plain names for rejects tables).
export const REJECTS = '"fedstat_rejects"';
export const REJECTS_SCAN = '"fedstat_rejects_scan"';
// The raw cells of invalid rows, as BLOBs; `$` cannot occur in a schema column name.
export const RAW = '"fedstat$raw"';
export const DELIM = '"fedstat$delim_end"';
const BAD = `${RAW} IS NOT NULL`;
const REPORTED_IN_SKIP_MODE = 10;

export function dataInvalid(message: string, details: Record<string, unknown> = {}): FedstatError {
  return new FedstatError('DATA_INVALID', message, { details });
}

export async function rows(conn: DuckDBConnection, sql: string, params: DuckDBValue[] = []): Promise<DuckDBValue[][]> {
  return (await conn.runAndReadAll(sql, params)).getRows();
}

async function scalar(conn: DuckDBConnection, sql: string, params: DuckDBValue[] = []): Promise<number> {
  return Number((await rows(conn, sql, params))[0]?.[0] ?? 0);
}

/** The freshly staged table, and what maps its rows back to the file's lines. */
export interface StagedTable {
  readonly conn: DuckDBConnection;
  readonly target: string;
  readonly schema: DatasetSchema;
  readonly file: string;
  /** The schema column at each position of the file's header. */
  readonly header: readonly string[];
  readonly layout: CsvLayout;
}

/** Finds, explains and (in skip mode) deletes the invalid rows of the freshly created table. */
export async function validateStaged(t: StagedTable, mode: 'reject' | 'skip'): Promise<StagedCsv> {
  const limit = mode === 'reject' ? 1 : REPORTED_IN_SKIP_MODE;
  const { records, rejected } = await matchRecordsToLines(t);
  const lines = await countInvalid(t, rejected);
  if (lines.total === 0) return { rowsLoaded: records, rowsSkipped: 0, invalid: [] };
  const invalid = await explainInvalid(t, await firstInvalid(t, lines, limit));
  if (mode === 'reject') throw rejection(t.file, invalid, lines.total);
  return skipInvalid(t, lines, invalid);
}

/**
 * Counts the records and checks that every non-empty line after the header is one, or a line the
 * reader rejected. DuckDB keeps blank lines as NULL records when there is one column (trailing
 * ones are deleted here), and skips them otherwise.
 */
async function matchRecordsToLines(t: StagedTable): Promise<{ records: number; rejected: number[] }> {
  const { conn, target, layout, file } = t;
  const blanksAreRecords = t.header.length === 1;
  let records = await scalar(conn, `SELECT count(*) FROM ${target}`);
  const rejected = (await rows(conn, `SELECT line FROM temp.main.${REJECTS} GROUP BY line ORDER BY line`)).map((r) =>
    Number(r[0]),
  );
  const trailingBlanks = layout.blankCount - layout.blankLines.length;
  if (blanksAreRecords && trailingBlanks > 0) {
    records -= trailingBlanks;
    await conn.run(`DELETE FROM ${target} WHERE rowid >= $1`, [records]);
  }
  const expected = blanksAreRecords ? layout.lines - 1 - trailingBlanks : expectedRecords(layout);
  if (records + rejected.length !== expected) {
    throw dataInvalid(
      `${file}: cannot match records to lines (read ${records + rejected.length} records from ${expected} non-empty lines ` +
        'after the header); check for line breaks inside quoted fields',
      { file },
    );
  }
  return { records, rejected };
}

/** The invalid lines of each kind, their total, and the map from records to lines. */
interface InvalidLines {
  readonly total: number;
  readonly map: LineMap;
  /** Blank lines that are invalid rows: all but trailing ones, unless blank lines are records (one column). */
  readonly blank: readonly number[];
  /** Lines the reader rejected, sorted. */
  readonly rejected: readonly number[];
  /** Lines ending in a comma that the reader did not reject; their records are listed in DELIM. */
  readonly delimiterEnd: readonly number[];
}

/** Counts the invalid rows of every kind. */
async function countInvalid(t: StagedTable, rejected: readonly number[]): Promise<InvalidLines> {
  const { conn, target, layout } = t;
  const blank = t.header.length === 1 ? [] : layout.blankLines;
  const map = new LineMap(mergeSorted(blank, rejected));
  // Lines ending in a comma: DuckDB drops the trailing empty field, so they look valid to SQL.
  const rejectedLines = new Set(rejected);
  const delimiterEnd = layout.delimiterEndLines.filter((l) => !rejectedLines.has(l));
  let delimValid = 0;
  if (delimiterEnd.length > 0) {
    const records = listValue(delimiterEnd.map((l) => BigInt(map.recordOf(l))));
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${DELIM} AS SELECT unnest($1::BIGINT[]) AS r`, [records]);
    delimValid = await scalar(
      conn,
      `SELECT count(*) FROM ${target} WHERE rowid IN (SELECT r FROM temp.main.${DELIM}) AND NOT (${BAD})`,
    );
  }
  const sqlInvalid = await scalar(conn, `SELECT count(*) FROM ${target} WHERE ${BAD}`);
  return { total: sqlInvalid + delimValid + rejected.length + blank.length, map, blank, rejected, delimiterEnd };
}

/** An invalid line: explained already, or a record the SQL rules found invalid, still to explain. */
type Found = InvalidRow | { readonly record: number };

/** The first `limit` invalid lines: the first `limit` of each kind together hold the first `limit` overall. */
async function firstInvalid(t: StagedTable, lines: InvalidLines, limit: number): Promise<[number, Found][]> {
  const { conn, target } = t;
  const width = t.header.length;
  const found = new Map<number, Found>();
  const sqlRecords = (await rows(conn, `SELECT rowid FROM ${target} WHERE ${BAD} ORDER BY rowid LIMIT ${limit}`)).map(
    (r) => Number(r[0]),
  );
  for (const r of sqlRecords) found.set(lines.map.lineOf(r), { record: r });
  for (const line of lines.blank.slice(0, limit))
    found.set(line, { line, column: '', value: '', reason: 'empty line' });
  const rejects = await rows(
    conn,
    `SELECT line, min(error_type), min(csv_line) FROM temp.main.${REJECTS} GROUP BY line ORDER BY line LIMIT ${limit}`,
  );
  for (const [line, type, csv] of rejects) {
    const reason = rejectReason(String(type), typeof csv === 'string' ? csv : null, width);
    found.set(Number(line), { line: Number(line), column: '', value: '', reason });
  }
  for (const line of lines.delimiterEnd.slice(0, limit)) {
    const reason = `row ends with a comma, so it has more fields than the header's ${width}`;
    if (!found.has(line)) found.set(line, { line, column: '', value: '', reason });
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).slice(0, limit);
}

/** Explains the SQL-invalid records among `first` with the JS rules: the first cell of each, in header order, that fails. */
async function explainInvalid(t: StagedTable, first: readonly [number, Found][]): Promise<InvalidRow[]> {
  const { conn, target, schema, header, file } = t;
  const explain = first.flatMap(([, v]) => ('record' in v ? [v.record] : []));
  const raw = new Map<number, readonly unknown[]>();
  if (explain.length > 0) {
    for (const [r, cells] of await rows(
      conn,
      `SELECT rowid, ${RAW} FROM ${target} WHERE rowid IN (${explain.map(Number).join(', ')})`,
    )) {
      raw.set(Number(r), (cells as { items?: readonly unknown[] } | null)?.items ?? []);
    }
  }
  return first.map(([line, v]) => {
    if (!('record' in v)) return v;
    const cells = raw.get(v.record);
    for (const [pos, name] of header.entries()) {
      const col = schema.columns[name];
      const cell = rawCell(cells?.[pos]);
      const reason = col === undefined ? null : diagnoseCell(col, cell);
      if (reason !== null) return { line, column: name, value: clip(cell ?? ''), reason };
    }
    throw new FedstatError(
      'INTERNAL',
      `${file}:${line}: SQL and JS validation disagree about this row; please report this`,
    );
  });
}

/** Reject mode: DATA_INVALID naming the first invalid row (line, column, reason) and how many there are. */
function rejection(file: string, invalid: readonly InvalidRow[], total: number): FedstatError {
  const row = invalid[0];
  if (row === undefined) return new FedstatError('INTERNAL', 'an invalid row vanished; please report this');
  const where = row.column === '' ? '' : `column ${row.column}: `;
  return dataInvalid(`${file}:${row.line}: ${where}${row.reason}; fix the row or load with --on-invalid skip`, {
    file,
    line: row.line,
    column: row.column,
    invalidRows: total,
  });
}

/** Skip mode: the invalid rows deleted, counted and the first of them reported. */
async function skipInvalid(t: StagedTable, lines: InvalidLines, invalid: readonly InvalidRow[]): Promise<StagedCsv> {
  const delimClause = lines.delimiterEnd.length > 0 ? ` OR rowid IN (SELECT r FROM temp.main.${DELIM})` : '';
  await t.conn.run(`DELETE FROM ${t.target} WHERE ${BAD}${delimClause}`);
  const loaded = await scalar(t.conn, `SELECT count(*) FROM ${t.target}`);
  return { rowsLoaded: loaded, rowsSkipped: lines.total, invalid };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A raw cell read back as the bytes DuckDB's rules saw (a BLOB), decoded keeping every character. */
function rawCell(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const bytes = (value as { bytes?: unknown }).bytes;
  if (!(bytes instanceof Uint8Array))
    throw new FedstatError('INTERNAL', 'a raw cell came back without its bytes; please report this');
  return UTF8.decode(bytes);
}

/** Reported values stay small: a 2 MB cell is cut to its first 200 characters. */
function clip(value: string): string {
  const chars = [...value.slice(0, 400)];
  return chars.length > 200 ? chars.slice(0, 200).join('') + '…' : value;
}

function rejectReason(errorType: string, csvLine: string | null, width: number): string {
  switch (errorType) {
    case 'MISSING COLUMNS':
    case 'TOO MANY COLUMNS': {
      const n = csvLine === null ? null : parseCsvLine(csvLine)?.length;
      return n === undefined || n === null
        ? `row has the wrong number of fields (the header has ${width})`
        : `row has ${n} fields, the header has ${width}`;
    }
    case 'INVALID ENCODING':
      return 'row is not valid UTF-8';
    case 'UNQUOTED VALUE':
      return 'row has text after a closing quote';
    case 'LINE SIZE OVER MAXIMUM':
      return 'row is too long for the CSV reader (over 2 MB)';
    default:
      return `row cannot be parsed (${errorType.toLowerCase()})`;
  }
}
