/**
 * Loading a CSV file into a new DuckDB table, validated against the dataset schema, without
 * validating row by row in JS: one `CREATE TABLE … AS SELECT` parses the file with DuckDB's
 * parallel CSV reader (all VARCHAR) and converts every cell with the rules of cell-rules.ts, so an
 * invalid cell becomes NULL. Meanwhile csv-scan.ts maps the physical lines, which is what turns
 * the row position of an invalid row back into its line number. Invalid rows keep their raw cells
 * in an extra column (NULL for valid rows, dropped after validation), and only the rows that are
 * reported (one in `reject` mode, ten in `skip` mode) are explained in JS.
 *
 * Line numbers: the table keeps file order (DuckDB preserves insertion order), so row r is the
 * r-th record; records are lines after the header minus the lines DuckDB drops (blank lines and
 * rows its parser rejects, which it reports with their line numbers). Quoted fields that span
 * lines are refused (see csv-scan.ts).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { listValue } from '@duckdb/node-api';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { describeError, FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import { cellSql, diagnoseCell, showValue } from './cell-rules.js';
import { expectedRecords, parseCsvLine, readFirstLine, scanCsvLayout } from './csv-scan.js';
import { LineMap, mergeSorted } from './line-map.js';
import type { CsvLayout } from './csv-scan.js';
import { quoteIdent } from './sql-dialect.js';
import type { InvalidRow, LoadOptions } from './store.js';

export interface StagedCsv {
  readonly rowsLoaded: number;
  readonly rowsSkipped: number;
  readonly invalid: readonly InvalidRow[];
}

const REPORTED_IN_SKIP_MODE = 10;
const PROGRESS_INTERVAL_MS = 250;
// Temporary objects live in the loading connection's own temp catalog (DuckDB wants plain names for rejects tables).
const REJECTS = '"fedstat_rejects"';
const REJECTS_SCAN = '"fedstat_rejects_scan"';
// The raw cells of invalid rows, as BLOBs; `$` cannot occur in a schema column name.
const RAW = '"fedstat$raw"';
const DELIM = '"fedstat$delim_end"';
const enumName = (i: number): string => `"fedstat$enum$${i}"`;

function dataInvalid(message: string, details: Record<string, unknown> = {}): FedstatError {
  return new FedstatError('DATA_INVALID', message, { details });
}

async function rows(conn: DuckDBConnection, sql: string, params: DuckDBValue[] = []): Promise<DuckDBValue[][]> {
  return (await conn.runAndReadAll(sql, params)).getRows();
}

async function scalar(conn: DuckDBConnection, sql: string, params: DuckDBValue[] = []): Promise<number> {
  return Number((await rows(conn, sql, params))[0]?.[0] ?? 0);
}

/** The schema column at each position of the header, after checking the header names them all. */
async function readHeader(file: string, path: string, schema: DatasetSchema): Promise<string[]> {
  const first = await readFirstLine(path);
  if (first === null) throw dataInvalid(`${file}: the file is empty; it needs a header row naming the columns`, { file });
  if (first === 'tooLong') throw dataInvalid(`${file}:1: the header line is longer than 1 MiB; is this a CSV file?`, { file, line: 1 });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(first);
  } catch {
    throw dataInvalid(`${file}:1: the header is not valid UTF-8; save the file as UTF-8`, { file, line: 1 });
  }
  const fields = parseCsvLine(text.startsWith('\uFEFF') ? text.slice(1) : text);
  if (fields === null) throw dataInvalid(`${file}:1: the header has an unbalanced quote; fix the header row`, { file, line: 1 });
  const names = Object.keys(schema.columns);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f)) problems.push(`names column ${showValue(f)} twice`);
    else if (!names.includes(f)) {
      const near = names.find((n) => n.toLowerCase() === f.trim().toLowerCase());
      problems.push(`has unknown column ${showValue(f)}${near === undefined ? '' : ` (did you mean ${near}?)`}`);
    }
    seen.add(f);
  }
  const missing = names.filter((n) => !seen.has(n));
  if (missing.length > 0) problems.unshift(`is missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  if (problems.length > 0) {
    throw dataInvalid(`${file}:1: the header ${problems.join(' and ')}; the header must name each of ${names.join(', ')} exactly once, in any order`, {
      file, line: 1, missing, columns: names,
    });
  }
  return fields;
}

/** Structural problems that make line numbers meaningless: the file is refused whatever the mode. */
function structuralError(file: string, layout: CsvLayout): FedstatError | null {
  if (layout.strayCrLine !== null) {
    return dataInvalid(`${file}:${layout.strayCrLine}: a carriage return inside a line; save the file with LF or CRLF line endings`, { file, line: layout.strayCrLine });
  }
  if (layout.crlfLines > 0 && layout.lfLines > 0) {
    return dataInvalid(`${file}: mixes CRLF and LF line endings; save the file with one kind of line ending`, { file });
  }
  if (layout.oddQuoteLine !== null) {
    return dataInvalid(`${file}:${layout.oddQuoteLine}: a quoted field runs past the end of the line, or a quote is unbalanced; fedstat reads one record per line, so remove line breaks and stray quotes inside fields`, {
      file, line: layout.oddQuoteLine,
    });
  }
  return null;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A raw cell read back as the bytes DuckDB's rules saw (a BLOB), decoded keeping every character. */
function rawCell(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const bytes = (value as { bytes?: unknown }).bytes;
  if (!(bytes instanceof Uint8Array)) throw new FedstatError('INTERNAL', 'a raw cell came back without its bytes; please report this');
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
      return n === undefined || n === null ? `row has the wrong number of fields (the header has ${width})` : `row has ${n} fields, the header has ${width}`;
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

/**
 * Creates `target` (a qualified, quoted table name that must not exist) from `file`, validated
 * against `schema`. Leaves `target` absent when it throws. In `reject` mode the first invalid row
 * throws DATA_INVALID naming file, line, column and value; in `skip` mode invalid rows are counted
 * and left out. Refuses files whose line structure is ambiguous in either mode.
 */
export async function stageCsv(
  conn: DuckDBConnection,
  target: string,
  schema: DatasetSchema,
  file: string,
  options: LoadOptions = {},
): Promise<StagedCsv> {
  const mode = options.onInvalid ?? 'reject';
  if (mode !== 'reject' && mode !== 'skip') throw new RangeError(`onInvalid must be 'reject' or 'skip', got ${String(mode)}`);
  const path = resolve(file);
  const info = await stat(path).catch((e: unknown) => {
    throw new FedstatError('IO', `cannot read ${file}: ${describeError(e)}; check the path`, { cause: e, details: { file } });
  });
  if (!info.isFile()) throw new FedstatError('IO', `${file} is not a regular file; give the path of a CSV file`, { details: { file } });

  const header = await readHeader(file, path, schema);
  const width = header.length;
  let lastReported = -1;
  const progress = (n: number): void => {
    if (options.onProgress !== undefined && n > lastReported) {
      lastReported = n;
      options.onProgress(n);
    }
  };
  progress(0);

  // The line scan runs while DuckDB parses; its result is needed only afterwards.
  let estimate: number | null = null;
  const scan = scanCsvLayout(path).then(
    (l) => {
      estimate = expectedRecords(l);
      return l;
    },
    (e: unknown) => {
      throw new FedstatError('IO', `cannot read ${file}: ${describeError(e)}`, { cause: e, details: { file } });
    },
  );
  scan.catch(() => undefined);

  const names = Object.keys(schema.columns);
  const params: DuckDBValue[] = [path];
  const bind = (v: DuckDBValue): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const temps: string[] = [];
  let created = false;
  try {
    // One ENUM per category column: DuckDB casts to it by hash lookup, and enum_code is the position.
    const enums = new Map<string, string>();
    for (const [i, name] of names.entries()) {
      const col = schema.columns[name];
      if (col?.type !== 'category') continue;
      const type = enumName(i);
      await conn.run(
        `CREATE OR REPLACE TEMP TYPE ${type} AS ENUM (SELECT v FROM (SELECT unnest($1::VARCHAR[]) AS v, generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i)`,
        [listValue([...col.values])],
      );
      temps.push(`DROP TYPE IF EXISTS ${type}`);
      const order = (await rows(conn, `SELECT enum_range(NULL::${type})::VARCHAR[]`))[0]?.[0];
      if (JSON.stringify((order as { items?: unknown } | undefined)?.items) !== JSON.stringify(col.values)) {
        throw new FedstatError('INTERNAL', `DuckDB reordered the values of ${name}; please report this`);
      }
      enums.set(name, type);
    }
    const helpers: string[] = [];
    const converts: string[] = [];
    for (const [i, name] of names.entries()) {
      const col = schema.columns[name];
      if (col === undefined) continue;
      const raw = `"c${header.indexOf(name)}"`;
      const cell = cellSql(col, raw, String(i), enums.get(name) ?? null, bind);
      helpers.push(...cell.helpers);
      converts.push(`${cell.convert} AS ${quoteIdent(name)}`);
    }
    const columns = header.map((_, i) => `'c${i}': 'VARCHAR'`).join(', ');
    const reader =
      `read_csv($1, header = true, auto_detect = false, columns = {${columns}}, delim = ',', quote = '"', escape = '"', ` +
      `strict_mode = true, store_rejects = true, rejects_table = '${REJECTS.slice(1, -1)}', rejects_scan = '${REJECTS_SCAN.slice(1, -1)}')`;
    temps.push(`DROP TABLE IF EXISTS temp.main.${REJECTS}`, `DROP TABLE IF EXISTS temp.main.${REJECTS_SCAN}`);
    await conn.run(`DROP TABLE IF EXISTS temp.main.${REJECTS}`);
    await conn.run(`DROP TABLE IF EXISTS temp.main.${REJECTS_SCAN}`);

    const inner = `SELECT *${helpers.map((h) => `, ${h}`).join('')} FROM ${reader}`;
    const rawCells = header.map((_, i) => `"c${i}"`).join(', ');
    // Kept as bytes: the client's string conversion would drop a leading U+FEFF the SQL rules saw.
    const rawBytes = header.map((_, i) => `encode("c${i}")`).join(', ');
    const anyInvalid = names.map((n) => `${quoteIdent(n)} IS NULL`).join(' OR ');
    const ctas =
      `CREATE TABLE ${target} AS SELECT ${names.map(quoteIdent).join(', ')}, CASE WHEN ${anyInvalid} THEN [${rawBytes}] END AS ${RAW} ` +
      `FROM (SELECT ${converts.join(', ')}, ${rawCells} FROM (${inner}))`;
    const timer = setInterval(() => {
      if (estimate === null) return;
      try {
        const pct = conn.progress.percentage;
        if (pct > 0) progress(Math.floor((Math.min(pct, 100) / 100) * estimate));
      } catch {
        // progress is best effort
      }
    }, PROGRESS_INTERVAL_MS);
    try {
      created = true;
      await conn.run(ctas, params);
    } catch (e) {
      created = false;
      const layout = await scan.catch(() => null);
      const structural = layout === null ? null : structuralError(file, layout);
      if (structural !== null) throw structural;
      const msg = describeError(e);
      if (/Invalid Input Error|Conversion Error|CSV/i.test(msg)) {
        throw dataInvalid(`${file}: DuckDB cannot parse the file (${msg.replace(/\s+/g, ' ').slice(0, 200)}); check that it is a comma-separated UTF-8 CSV file`, { file });
      }
      throw new FedstatError('IO', `cannot load ${file}: ${msg.slice(0, 200)}`, { cause: e, details: { file } });
    } finally {
      clearInterval(timer);
    }

    const layout = await scan;
    const structural = structuralError(file, layout);
    if (structural !== null) throw structural;
    const result = await validateStaged(conn, target, schema, file, layout, width, header, mode);
    await conn.run(`ALTER TABLE ${target} DROP COLUMN ${RAW}`);
    if (result.rowsLoaded > schema.maxRows) {
      // maxRows bounds every encrypted sum: more rows could wrap the plain modulus.
      throw dataInvalid(`${file}: ${result.rowsLoaded} rows exceed the dataset's maxRows of ${schema.maxRows}; raise maxRows in the schema or load fewer rows`, {
        file, rows: result.rowsLoaded, maxRows: schema.maxRows,
      });
    }
    progress(result.rowsLoaded + result.rowsSkipped);
    return result;
  } catch (e) {
    if (created) await conn.run(`DROP TABLE IF EXISTS ${target}`).catch(() => undefined);
    throw e;
  } finally {
    for (const sql of [...temps.reverse(), `DROP TABLE IF EXISTS temp.main.${DELIM}`]) {
      await conn.run(sql).catch(() => undefined);
    }
  }
}

/** Finds, explains and (in skip mode) deletes the invalid rows of the freshly created table. */
async function validateStaged(
  conn: DuckDBConnection,
  target: string,
  schema: DatasetSchema,
  file: string,
  layout: CsvLayout,
  width: number,
  header: readonly string[],
  mode: 'reject' | 'skip',
): Promise<StagedCsv> {
  const limit = mode === 'reject' ? 1 : REPORTED_IN_SKIP_MODE;
  // DuckDB keeps blank lines as NULL records when there is one column, and skips them otherwise.
  const blanksAreRecords = width === 1;
  let records = await scalar(conn, `SELECT count(*) FROM ${target}`);
  const rejectLines = (await rows(conn, `SELECT line FROM temp.main.${REJECTS} GROUP BY line ORDER BY line`)).map((r) => Number(r[0]));
  if (blanksAreRecords) {
    const trailingBlanks = layout.blankCount - layout.blankLines.length;
    if (trailingBlanks > 0) {
      records -= trailingBlanks;
      await conn.run(`DELETE FROM ${target} WHERE rowid >= $1`, [records]);
    }
  }
  const expected = blanksAreRecords ? layout.lines - 1 - (layout.blankCount - layout.blankLines.length) : expectedRecords(layout);
  if (records + rejectLines.length !== expected) {
    throw dataInvalid(`${file}: cannot match records to lines (read ${records + rejectLines.length} records from ${expected} non-empty lines after the header); check for line breaks inside quoted fields`, { file });
  }
  const blankInvalid = blanksAreRecords ? [] : layout.blankLines;
  const map = new LineMap(mergeSorted(blankInvalid, rejectLines));
  const bad = `${RAW} IS NOT NULL`;

  // Lines ending in a comma: DuckDB drops the trailing empty field, so they look valid to SQL.
  const rejected = new Set(rejectLines);
  const delimLines = layout.delimiterEndLines.filter((l) => !rejected.has(l));
  let delimValid = 0;
  if (delimLines.length > 0) {
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${DELIM} AS SELECT unnest($1::BIGINT[]) AS r`, [listValue(delimLines.map((l) => BigInt(map.recordOf(l))))]);
    delimValid = await scalar(conn, `SELECT count(*) FROM ${target} WHERE rowid IN (SELECT r FROM temp.main.${DELIM}) AND NOT (${bad})`);
  }
  const sqlInvalid = await scalar(conn, `SELECT count(*) FROM ${target} WHERE ${bad}`);
  const total = sqlInvalid + delimValid + rejectLines.length + blankInvalid.length;
  if (total === 0) return { rowsLoaded: records, rowsSkipped: 0, invalid: [] };

  // The first `limit` invalid lines of each kind; together they hold the first `limit` overall.
  const found = new Map<number, InvalidRow | { record: number }>();
  const sqlRecords = (await rows(conn, `SELECT rowid FROM ${target} WHERE ${bad} ORDER BY rowid LIMIT ${limit}`)).map((r) => Number(r[0]));
  for (const r of sqlRecords) found.set(map.lineOf(r), { record: r });
  for (const line of blankInvalid.slice(0, limit)) found.set(line, { line, column: '', value: '', reason: 'empty line' });
  const rejectDetails = await rows(conn, `SELECT line, min(error_type), min(csv_line) FROM temp.main.${REJECTS} GROUP BY line ORDER BY line LIMIT ${limit}`);
  for (const [line, type, csv] of rejectDetails) {
    found.set(Number(line), { line: Number(line), column: '', value: '', reason: rejectReason(String(type), typeof csv === 'string' ? csv : null, width) });
  }
  for (const line of delimLines.slice(0, limit)) {
    if (!found.has(line)) found.set(line, { line, column: '', value: '', reason: `row ends with a comma, so it has more fields than the header's ${width}` });
  }
  const first = [...found.entries()].sort((a, b) => a[0] - b[0]).slice(0, limit);

  // The raw cells of the SQL-invalid rows among them, in header order.
  const explain = first.flatMap(([, v]) => ('record' in v ? [v.record] : []));
  const raw = new Map<number, readonly unknown[]>();
  if (explain.length > 0) {
    for (const [r, cells] of await rows(conn, `SELECT rowid, ${RAW} FROM ${target} WHERE rowid IN (${explain.map(Number).join(', ')})`)) {
      raw.set(Number(r), (cells as { items?: readonly unknown[] } | null)?.items ?? []);
    }
  }
  const invalid: InvalidRow[] = first.map(([line, v]) => {
    if (!('record' in v)) return v;
    const cells = raw.get(v.record);
    for (const [pos, name] of header.entries()) {
      const col = schema.columns[name];
      const cell = rawCell(cells?.[pos]);
      const reason = col === undefined ? null : diagnoseCell(col, cell);
      if (reason !== null) return { line, column: name, value: clip(cell ?? ''), reason };
    }
    throw new FedstatError('INTERNAL', `${file}:${line}: SQL and JS validation disagree about this row; please report this`);
  });

  if (mode === 'reject') {
    const row = invalid[0];
    if (row === undefined) throw new FedstatError('INTERNAL', 'an invalid row vanished; please report this');
    const where = row.column === '' ? '' : `column ${row.column}: `;
    throw dataInvalid(`${file}:${row.line}: ${where}${row.reason}; fix the row or load with --on-invalid skip`, {
      file, line: row.line, column: row.column, invalidRows: total,
    });
  }
  const delimClause = delimLines.length > 0 ? ` OR rowid IN (SELECT r FROM temp.main.${DELIM})` : '';
  await conn.run(`DELETE FROM ${target} WHERE ${bad}${delimClause}`);
  const loaded = await scalar(conn, `SELECT count(*) FROM ${target}`);
  return { rowsLoaded: loaded, rowsSkipped: total, invalid };
}
