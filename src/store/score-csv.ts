/**
 * Scoring a CSV file of one dataset with a trained model, on the machine that holds it: the library
 * path of `fedstat predict` (cli/commands/predict.ts), also run by the demo. The model is a GLM's
 * or a federated network's (learn/trained-model.ts). The file is validated as `agency serve`
 * validates a load (stageCsv into an in-memory DuckDB, which refuses the first invalid row naming
 * its line and column), then read back in file order and scored (learn/score.ts,
 * learn/fl/network-score.ts). The output rows are the file's columns, as validated, plus `eta` and
 * `fitted`.
 *
 * The columns the model reads must be in the file; the dataset's other columns (the response among
 * them) may be left out, and those present are validated too.
 */
import { resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DatasetSchema } from '../federation/schema.js';
import { scoreTrained, type TrainedModel } from '../learn/trained-model.js';
import { stageCsv } from './csv-load.js';
import { parseCsvLine, readFirstLine } from './csv-scan.js';
import { cellValue } from './record-scan.js';
import { quoteIdent } from './sql-dialect.js';

/** What scoring a file found. */
export interface ScoreSummary {
  /** Rows scored (every record of the file). */
  readonly rows: number;
  /** Rows whose η was outside the model's range: their fitted value is the mean at the bound. */
  readonly clamped: number;
  /** The fitted values' mean, minimum and maximum; null for a file without records. */
  readonly fitted: { readonly mean: number; readonly min: number; readonly max: number } | null;
}

/** Where the output goes and how far validation and scoring are. */
export interface ScoreCsvOptions {
  /**
   * Receives the header first (the file's columns, then `eta` and `fitted`, renamed `eta_`,
   * `fitted_` … when the file has such columns), then the scored rows in file order, in batches.
   */
  readonly write: (rows: readonly (readonly string[])[]) => Promise<void>;
  /** Records validated so far. */
  readonly onValidate?: (rows: number) => void;
  /** Records scored so far, of `total`. */
  readonly onScore?: (rows: number, total: number) => void;
}

/** The file's header fields, or null when it cannot be read (staging then says why). */
async function peekHeader(file: string): Promise<string[] | null> {
  try {
    const first = await readFirstLine(resolve(file));
    if (first === null || first === 'tooLong') return null;
    const text = new TextDecoder('utf-8', { fatal: true }).decode(first);
    return parseCsvLine(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch {
    return null;
  }
}

/** The columns to validate: those the model reads (they must be in the file) and those the file has. */
function stagingSchema(model: TrainedModel, ds: DatasetSchema, header: readonly string[] | null): DatasetSchema {
  if (header === null) return ds;
  const needed = new Set(model.coding.terms.flatMap((t) => t.factors.map((x) => x.column)));
  if (model.coding.offset !== null) needed.add(model.coding.offset.column);
  const present = new Set(header);
  const columns = Object.fromEntries(
    Object.entries(ds.columns).filter(([name]) => present.has(name) || needed.has(name)),
  );
  return { columns, maxRows: ds.maxRows };
}

/** `base`, or `base_`, `base__`… when the file has a column of that name. */
function freeName(base: string, taken: readonly string[]): string {
  let name = base;
  while (taken.includes(name)) name += '_';
  return name;
}

/** Reads the staged rows in file order, scores them, hands them to `write` with `eta` and `fitted`. */
async function scoreRows(
  conn: DuckDBConnection,
  table: string,
  model: TrainedModel,
  schema: DatasetSchema,
  header: readonly string[],
  total: number,
  options: ScoreCsvOptions,
): Promise<ScoreSummary> {
  await options.write([[...header, freeName('eta', header), freeName('fitted', header)]]);
  const columns = header.map((name) => schema.columns[name]);
  let rows = 0;
  let clamped = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  // A plain scan returns a table's rows in insertion order, which staging keeps as the file's.
  const result = await conn.stream(`SELECT ${header.map(quoteIdent).join(', ')} FROM ${table}`);
  for await (const batch of result.yieldRows()) {
    const out: string[][] = [];
    for (const cells of batch) {
      const record: Record<string, string | number> = {};
      const fields = header.map((name, k) => {
        const value = cellValue(columns[k], cells[k]);
        record[name] = value;
        return String(value);
      });
      const s = scoreTrained(model, record);
      if (s.clamped) clamped++;
      sum += s.fitted;
      min = Math.min(min, s.fitted);
      max = Math.max(max, s.fitted);
      out.push([...fields, String(s.eta), String(s.fitted)]);
    }
    rows += batch.length;
    await options.write(out);
    options.onScore?.(rows, total);
  }
  return { rows, clamped, fitted: rows === 0 ? null : { mean: sum / rows, min, max } };
}

/**
 * Scores `file`, records of `model.dataset`, with `model` (see the file comment). Throws
 * DATA_INVALID at the first record that breaks the schema (before anything is scored), IO when
 * the file cannot be read.
 */
export async function scoreCsvFile(model: TrainedModel, file: string, options: ScoreCsvOptions): Promise<ScoreSummary> {
  const ds = model.schema.datasets[model.dataset] as DatasetSchema;
  const header = await peekHeader(file);
  const schema = stagingSchema(model, ds, header);
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run('SET enable_progress_bar = true');
    await conn.run('SET enable_progress_bar_print = false');
    const table = quoteIdent('predict');
    const staged = await stageCsv(conn, table, schema, file, {
      ...(options.onValidate === undefined ? {} : { onProgress: options.onValidate }),
    });
    const columns = header ?? Object.keys(schema.columns);
    return await scoreRows(conn, table, model, schema, columns, staged.rowsLoaded, options);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
