/**
 * Loading a CSV file into a new DuckDB table, validated against the dataset schema, without
 * validating row by row in JS. The steps of `stageCsv`: check the file and read its header; stage
 * it into DuckDB, where one `CREATE TABLE … AS SELECT` parses the file with DuckDB's parallel CSV
 * reader (all VARCHAR) and converts every cell with the rules of cell-rules.ts, so an invalid cell
 * becomes NULL and its row keeps its raw cells in an extra column (dropped after validation);
 * meanwhile csv-scan.ts maps the physical lines, which is what turns the row position of an
 * invalid row back into its line number; then validate with the SQL rules' verdicts and explain
 * the invalid rows that are reported (one in `reject` mode, ten in `skip` mode) with the JS rules
 * (csv-validate.ts). The caller swaps the staged table in (duckdb-store.ts).
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
import { cellSql, showValue } from './cell-rules.js';
import { expectedRecords, parseCsvLine, readFirstLine, scanCsvLayout } from './csv-scan.js';
import type { CsvLayout } from './csv-scan.js';
import {
  dataInvalid,
  DELIM,
  RAW,
  REJECTS,
  REJECTS_SCAN,
  rows,
  validateStaged,
  type StagedCsv,
} from './csv-validate.js';
import { quoteIdent } from './sql-dialect.js';
import type { LoadOptions } from './store.js';

const PROGRESS_INTERVAL_MS = 250;
const enumName = (i: number): string => `"fedstat$enum$${i}"`;

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
  if (mode !== 'reject' && mode !== 'skip')
    throw new RangeError(`onInvalid must be 'reject' or 'skip', got ${String(mode)}`);
  const path = await regularFile(file);
  const header = await readHeader(file, path, schema);
  const progress = progressReporter(options);
  progress(0);
  // The line scan runs while DuckDB parses; its result is needed only afterwards.
  const scan = startLineScan(file, path);
  const cleanup: string[] = [];
  let created = false;
  try {
    await stageIntoTable(conn, { target, schema, file, path, header }, scan, progress, cleanup);
    created = true;
    const layout = await scan.layout;
    const structural = structuralError(file, layout);
    if (structural !== null) throw structural;
    const result = await validateStaged({ conn, target, schema, file, header, layout }, mode);
    await conn.run(`ALTER TABLE ${target} DROP COLUMN ${RAW}`);
    checkMaxRows(file, schema, result.rowsLoaded);
    progress(result.rowsLoaded + result.rowsSkipped);
    return result;
  } catch (e) {
    if (created) await conn.run(`DROP TABLE IF EXISTS ${target}`).catch(() => undefined);
    throw e;
  } finally {
    for (const sql of [...cleanup.reverse(), `DROP TABLE IF EXISTS temp.main.${DELIM}`]) {
      await conn.run(sql).catch(() => undefined);
    }
  }
}

/** The absolute path of `file`, after checking it is a regular file this process can stat (IO otherwise). */
async function regularFile(file: string): Promise<string> {
  const path = resolve(file);
  const info = await stat(path).catch((e: unknown) => {
    throw new FedstatError('IO', `cannot read ${file}: ${describeError(e)}; check the path`, {
      cause: e,
      details: { file },
    });
  });
  if (!info.isFile())
    throw new FedstatError('IO', `${file} is not a regular file; give the path of a CSV file`, { details: { file } });
  return path;
}

/** The schema column at each position of the header, after checking the header names them all. */
async function readHeader(file: string, path: string, schema: DatasetSchema): Promise<string[]> {
  const first = await readFirstLine(path);
  if (first === null)
    throw dataInvalid(`${file}: the file is empty; it needs a header row naming the columns`, { file });
  if (first === 'tooLong')
    throw dataInvalid(`${file}:1: the header line is longer than 1 MiB; is this a CSV file?`, { file, line: 1 });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(first);
  } catch {
    throw dataInvalid(`${file}:1: the header is not valid UTF-8; save the file as UTF-8`, { file, line: 1 });
  }
  const fields = parseCsvLine(text.startsWith('\uFEFF') ? text.slice(1) : text);
  if (fields === null)
    throw dataInvalid(`${file}:1: the header has an unbalanced quote; fix the header row`, { file, line: 1 });
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
    const must = `the header must name each of ${names.join(', ')} exactly once, in any order`;
    throw dataInvalid(`${file}:1: the header ${problems.join(' and ')}; ${must}`, {
      file,
      line: 1,
      missing,
      columns: names,
    });
  }
  return fields;
}

/** Reports rows done to `options.onProgress`, never the same number twice nor a smaller one. */
function progressReporter(options: LoadOptions): (rowsDone: number) => void {
  let lastReported = -1;
  return (n) => {
    if (options.onProgress !== undefined && n > lastReported) {
      lastReported = n;
      options.onProgress(n);
    }
  };
}

/** The physical-line scan of the file (csv-scan.ts), running while DuckDB parses it. */
interface LineScan {
  /** The file's line layout (IO when the file cannot be read). */
  readonly layout: Promise<CsvLayout>;
  /** The records the file holds, once the scan is done (for progress); null before. */
  readonly estimate: () => number | null;
}

function startLineScan(file: string, path: string): LineScan {
  let estimate: number | null = null;
  const layout = scanCsvLayout(path).then(
    (l) => {
      estimate = expectedRecords(l);
      return l;
    },
    (e: unknown) => {
      throw new FedstatError('IO', `cannot read ${file}: ${describeError(e)}`, { cause: e, details: { file } });
    },
  );
  layout.catch(() => undefined);
  return { layout, estimate: () => estimate };
}

/** What staging needs to know about the file. */
interface Staging {
  readonly target: string;
  readonly schema: DatasetSchema;
  readonly file: string;
  readonly path: string;
  readonly header: readonly string[];
}

/**
 * Stages the file into `target` with one CREATE TABLE … AS SELECT: DuckDB's CSV reader (rejected
 * lines kept in REJECTS) and the SQL rules of cell-rules.ts. The objects to drop afterwards are
 * added to `cleanup` as they are created; `target` exists exactly when this returns.
 */
async function stageIntoTable(
  conn: DuckDBConnection,
  s: Staging,
  scan: LineScan,
  progress: (rowsDone: number) => void,
  cleanup: string[],
): Promise<void> {
  const enums = await createEnumTypes(conn, s.schema, cleanup);
  const { sql, params } = stagingStatement(s, enums);
  cleanup.push(`DROP TABLE IF EXISTS temp.main.${REJECTS}`, `DROP TABLE IF EXISTS temp.main.${REJECTS_SCAN}`);
  await conn.run(`DROP TABLE IF EXISTS temp.main.${REJECTS}`);
  await conn.run(`DROP TABLE IF EXISTS temp.main.${REJECTS_SCAN}`);
  const stopProgress = watchProgress(conn, scan, progress);
  try {
    await conn.run(sql, params);
  } catch (e) {
    throw await stagingError(s.file, e, scan);
  } finally {
    stopProgress();
  }
}

/** One ENUM per category column: DuckDB casts to it by hash lookup, and enum_code is the position. */
async function createEnumTypes(
  conn: DuckDBConnection,
  schema: DatasetSchema,
  cleanup: string[],
): Promise<Map<string, string>> {
  const enums = new Map<string, string>();
  for (const [i, name] of Object.keys(schema.columns).entries()) {
    const col = schema.columns[name];
    if (col?.type !== 'category') continue;
    const type = enumName(i);
    await conn.run(
      `CREATE OR REPLACE TEMP TYPE ${type} AS ENUM ` +
        '(SELECT v FROM (SELECT unnest($1::VARCHAR[]) AS v, generate_subscripts($1::VARCHAR[], 1) AS i) ORDER BY i)',
      [listValue([...col.values])],
    );
    cleanup.push(`DROP TYPE IF EXISTS ${type}`);
    const order = (await rows(conn, `SELECT enum_range(NULL::${type})::VARCHAR[]`))[0]?.[0];
    if (JSON.stringify((order as { items?: unknown } | undefined)?.items) !== JSON.stringify(col.values)) {
      throw new FedstatError('INTERNAL', `DuckDB reordered the values of ${name}; please report this`);
    }
    enums.set(name, type);
  }
  return enums;
}

/** The staging statement and its parameters: $1 the file, then the values the cell rules bind. */
function stagingStatement(s: Staging, enums: ReadonlyMap<string, string>): { sql: string; params: DuckDBValue[] } {
  const { schema, header } = s;
  const names = Object.keys(schema.columns);
  const params: DuckDBValue[] = [s.path];
  const bind = (v: DuckDBValue): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const helpers: string[] = [];
  const converts: string[] = [];
  // The raw cells sit beside the converted columns, which carry the schema's names: their own
  // names must start with a prefix no schema column starts with (a column may be called c0).
  let prefix = 'c';
  while (names.some((n) => n.toLowerCase().startsWith(prefix.toLowerCase()))) prefix = `_${prefix}`;
  const raw = (i: number): string => `${prefix}${i}`;
  for (const [i, name] of names.entries()) {
    const col = schema.columns[name];
    if (col === undefined) continue;
    const cell = cellSql(col, `"${raw(header.indexOf(name))}"`, String(i), enums.get(name) ?? null, bind);
    helpers.push(...cell.helpers);
    converts.push(`${cell.convert} AS ${quoteIdent(name)}`);
  }
  const columns = header.map((_, i) => `'${raw(i)}': 'VARCHAR'`).join(', ');
  const reader =
    `read_csv($1, header = true, auto_detect = false, columns = {${columns}}, delim = ',', quote = '"', escape = '"', ` +
    `strict_mode = true, store_rejects = true, rejects_table = '${REJECTS.slice(1, -1)}', rejects_scan = '${REJECTS_SCAN.slice(1, -1)}')`;
  const inner = `SELECT *${helpers.map((h) => `, ${h}`).join('')} FROM ${reader}`;
  const rawCells = header.map((_, i) => `"${raw(i)}"`).join(', ');
  // Kept as bytes: the client's string conversion would drop a leading U+FEFF the SQL rules saw.
  const rawBytes = header.map((_, i) => `encode("${raw(i)}")`).join(', ');
  const anyInvalid = names.map((n) => `${quoteIdent(n)} IS NULL`).join(' OR ');
  const sql =
    `CREATE TABLE ${s.target} AS SELECT ${names.map(quoteIdent).join(', ')}, CASE WHEN ${anyInvalid} THEN [${rawBytes}] END AS ${RAW} ` +
    `FROM (SELECT ${converts.join(', ')}, ${rawCells} FROM (${inner}))`;
  return { sql, params };
}

/** While DuckDB parses: rows done, from its progress and the records the line scan found (once it has). Returns the stop. */
function watchProgress(conn: DuckDBConnection, scan: LineScan, progress: (rowsDone: number) => void): () => void {
  const timer = setInterval(() => {
    const estimate = scan.estimate();
    if (estimate === null) return;
    try {
      const pct = conn.progress.percentage;
      if (pct > 0) progress(Math.floor((Math.min(pct, 100) / 100) * estimate));
    } catch {
      // progress is best effort
    }
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

/** Why staging failed: the file's line structure when that is what DuckDB tripped over, else its parser, else IO. */
async function stagingError(file: string, e: unknown, scan: LineScan): Promise<FedstatError> {
  const layout = await scan.layout.catch(() => null);
  const structural = layout === null ? null : structuralError(file, layout);
  if (structural !== null) return structural;
  const msg = describeError(e);
  if (/Invalid Input Error|Conversion Error|CSV/i.test(msg)) {
    return dataInvalid(
      `${file}: DuckDB cannot parse the file (${msg.replace(/\s+/g, ' ').slice(0, 200)}); ` +
        'check that it is a comma-separated UTF-8 CSV file',
      { file },
    );
  }
  return new FedstatError('IO', `cannot load ${file}: ${msg.slice(0, 200)}`, { cause: e, details: { file } });
}

/** Structural problems that make line numbers meaningless: the file is refused whatever the mode. */
function structuralError(file: string, layout: CsvLayout): FedstatError | null {
  if (layout.strayCrLine !== null) {
    return dataInvalid(
      `${file}:${layout.strayCrLine}: a carriage return inside a line; save the file with LF or CRLF line endings`,
      {
        file,
        line: layout.strayCrLine,
      },
    );
  }
  if (layout.crlfLines > 0 && layout.lfLines > 0) {
    return dataInvalid(`${file}: mixes CRLF and LF line endings; save the file with one kind of line ending`, { file });
  }
  if (layout.oddQuoteLine !== null) {
    return dataInvalid(
      `${file}:${layout.oddQuoteLine}: a quoted field runs past the end of the line, or a quote is unbalanced; ` +
        'fedstat reads one record per line, so remove line breaks and stray quotes inside fields',
      { file, line: layout.oddQuoteLine },
    );
  }
  return null;
}

/** maxRows bounds every encrypted sum: more rows could wrap the plain modulus. */
function checkMaxRows(file: string, schema: DatasetSchema, rowsLoaded: number): void {
  if (rowsLoaded <= schema.maxRows) return;
  throw dataInvalid(
    `${file}: ${rowsLoaded} rows exceed the dataset's maxRows of ${schema.maxRows}; raise maxRows in the schema or load fewer rows`,
    { file, rows: rowsLoaded, maxRows: schema.maxRows },
  );
}
