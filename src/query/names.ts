/**
 * Name resolution against the schema: SQL identifiers are case-insensitive and map to the
 * schema's spelling (schema names are ASCII and never differ only in case). Identifier (`id`)
 * columns resolve to a refusal: identifiers never leave the agency, so no query may name one.
 */
import { FedstatError } from '../errors.js';
import type { Column, DatasetSchema, Schema } from '../federation/schema.js';
import { queryInvalid, quoted } from './query-error.js';
import type { SourcePosition } from './query-error.js';
import { closest, listNames } from './suggest.js';

/** Columns a query may use (every column but the `id` ones), in schema order. */
export function queryableColumns(ds: DatasetSchema): string[] {
  return Object.entries(ds.columns)
    .filter(([, c]) => c.type !== 'id')
    .map(([n]) => n);
}

function findInsensitive(names: readonly string[], typed: string): string | undefined {
  const exact = names.find((n) => n === typed);
  if (exact !== undefined) return exact;
  const lower = typed.toLowerCase();
  return names.find((n) => n.toLowerCase() === lower);
}

function didYouMean(typed: string, names: readonly string[]): string {
  const hit = closest(typed, names)[0];
  return hit === undefined ? '' : ` (did you mean ${hit}?)`;
}

/** The schema's spelling and schema of a dataset, or NOT_FOUND listing the datasets. */
export function resolveDataset(
  schema: Schema,
  typed: string,
  at: SourcePosition | null,
): { name: string; dataset: DatasetSchema } {
  const names = Object.keys(schema.datasets);
  const name = findInsensitive(names, typed);
  const dataset = name === undefined ? undefined : schema.datasets[name];
  if (name === undefined || dataset === undefined) {
    const where = at === null ? '' : ` at ${at.line}:${at.column}`;
    throw new FedstatError(
      'NOT_FOUND',
      `unknown dataset ${quoted(typed)}${where}; valid datasets: ${listNames(names)}${didYouMean(typed, names)}`,
      {
        details: {
          dataset: typed,
          valid: names,
          ...(at === null ? {} : { line: at.line, column: at.column, offset: at.offset }),
        },
      },
    );
  }
  return { name, dataset };
}

/** A column resolved to the schema's spelling. */
export interface ResolvedColumn {
  readonly name: string;
  readonly column: Exclude<Column, { type: 'id' }>;
}

/**
 * Resolves a column name typed in SQL (case-insensitive). Unknown names list the valid columns
 * with a suggestion; `id` columns are refused with the reason.
 */
export function resolveColumn(
  datasetName: string,
  ds: DatasetSchema,
  typed: string,
  at: SourcePosition | null,
): ResolvedColumn {
  const all = Object.keys(ds.columns);
  const name = findInsensitive(all, typed);
  const column = name === undefined ? undefined : ds.columns[name];
  const valid = queryableColumns(ds);
  if (name === undefined || column === undefined) {
    throw queryInvalid(
      `unknown column ${quoted(typed)} in ${datasetName}`,
      at,
      `valid columns: ${listNames(valid)}${didYouMean(typed, valid)}`,
      { columnName: typed, valid },
    );
  }
  if (column.type === 'id') {
    throw idColumnError(datasetName, name, at);
  }
  return { name, column };
}

/** The refusal for any use of an identifier column. */
export function idColumnError(datasetName: string, column: string, at: SourcePosition | null): FedstatError {
  return queryInvalid(
    `column ${column} of ${datasetName} is an identifier (id) column`,
    at,
    'identifiers never leave the agency, so a query cannot select, group, filter or count them',
    { columnName: column },
  );
}
