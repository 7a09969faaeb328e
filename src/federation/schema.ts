/**
 * Dataset schemas: the public contract every agency's data is validated against and every bound
 * proof is derived from. A schema is plain JSON, validated once into frozen values.
 */
import { FedstatError } from '../errors.js';
import { closest } from '../util/closest-name.js';
import { isRecord } from '../util/is-record.js';
import { jsonPathChild } from '../util/json-path.js';
import { DuplicateJsonKeyError, parseStrictJson } from '../util/strict-json.js';
import { codePointName, firstNonTextChar } from '../util/text-chars.js';

/** A column whose values come from a closed list of 1 to 4096 strings. */
export interface CategoryColumn {
  /** Discriminant. */
  readonly type: 'category';
  /** The closed domain, NFC-normalised, in declaration order (the order of GROUP BY output). */
  readonly values: readonly string[];
}

/** A column of integers between inclusive bounds. */
export interface IntegerColumn {
  /** Discriminant. */
  readonly type: 'integer';
  /** Inclusive lower bound, a safe integer. */
  readonly min: number;
  /** Inclusive upper bound, a safe integer not below `min`. */
  readonly max: number;
}

/** A record identifier (a citizen ID, say): stored for later record linkage, never aggregated. */
export interface IdColumn {
  /** Discriminant. */
  readonly type: 'id';
  /** `gb11643`: an 18-character mainland resident ID with a valid check character; `text` (the default): any text. */
  readonly format: 'gb11643' | 'text';
}

/** A column of a dataset, told apart by `type`. */
export type Column = CategoryColumn | IntegerColumn | IdColumn;

/** One dataset: its columns and the bound on its rows. */
export interface DatasetSchema {
  /**
   * Columns by name (1-63 ASCII letters, digits or underscores, not starting with a digit; no two
   * differ only in case); at least one is not an id column.
   */
  readonly columns: Readonly<Record<string, Column>>;
  /** Upper bound on rows any one agency holds for this dataset; bounds COUNT and SUM. Default 1,000,000,000. */
  readonly maxRows: number;
}

/** The datasets a federation can query: the contract every agency's data is validated against. */
export interface Schema {
  /** Datasets by name (named like columns); at least one. */
  readonly datasets: Readonly<Record<string, DatasetSchema>>;
}

const DEFAULT_MAX_ROWS = 1_000_000_000;
const MAX_CATEGORY_VALUES = 4096;
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Where a validation error points: the file and the JSON path inside it. */
export interface JsonLocation {
  readonly file: string;
  readonly path: string;
}

export function configError(at: JsonLocation, problem: string, fix: string): FedstatError {
  const where = at.path === '' ? at.file : `${at.file}: ${at.path}`;
  return new FedstatError('CONFIG_INVALID', `${where}: ${problem}; ${fix}`, {
    details: { file: at.file, path: at.path },
  });
}

/**
 * Parses the text of a JSON config file (a schema, a federation file) strictly: a key defined
 * twice in one object is refused with its path, as JSON.parse would silently keep only the last.
 */
export function parseConfigJson(text: string, file: string): unknown {
  try {
    return parseStrictJson(text);
  } catch (e) {
    if (e instanceof DuplicateJsonKeyError) {
      throw configError(
        { file, path: e.path },
        `duplicate key ${JSON.stringify(e.key)}`,
        'define it once: JSON readers keep only the last definition and drop the others',
      );
    }
    throw configError({ file, path: '' }, `not valid JSON (${(e as Error).message})`, 'fix the JSON syntax');
  }
}

function child(at: JsonLocation, key: string | number): JsonLocation {
  return { file: at.file, path: jsonPathChild(at.path, key) };
}

/** Refuses a key the object at `at` does not take, suggesting the known key it most resembles. */
function checkKeys(raw: Record<string, unknown>, at: JsonLocation, known: readonly string[]): void {
  for (const key of Object.keys(raw)) {
    if (known.includes(key)) continue;
    const [near] = closest(key, known);
    const here = `keys here: ${known.join(', ')}`;
    throw configError(
      child(at, key),
      `unknown key ${JSON.stringify(key)}`,
      near === undefined ? `remove it (${here})` : `did you mean ${near}? (${here})`,
    );
  }
}

function checkName(at: JsonLocation, name: string, what: string): void {
  if (!NAME.test(name)) {
    throw configError(
      at,
      `${what} name ${JSON.stringify(name)} is not allowed`,
      'use 1-63 ASCII letters, digits or underscores, not starting with a digit',
    );
  }
}

/** The keys each column type takes. */
const COLUMN_KEYS = { category: ['type', 'values'], integer: ['type', 'min', 'max'], id: ['type', 'format'] } as const;

function parseColumn(raw: unknown, at: JsonLocation): Column {
  if (!isRecord(raw))
    throw configError(at, 'a column must be an object', 'write {"type": "category" | "integer" | "id", ...}');
  const type = raw['type'];
  if (type === 'category' || type === 'integer' || type === 'id') checkKeys(raw, at, COLUMN_KEYS[type]);
  if (type === 'category') {
    const values = raw['values'];
    if (!Array.isArray(values) || values.length === 0) {
      throw configError(
        child(at, 'values'),
        'a category column needs a non-empty "values" array',
        'list every value the column may hold',
      );
    }
    if (values.length > MAX_CATEGORY_VALUES) {
      throw configError(
        child(at, 'values'),
        `${values.length} values exceed the limit of ${MAX_CATEGORY_VALUES}`,
        'split the column or use an integer column',
      );
    }
    const seen = new Set<string>();
    const out = values.map((v, i) => {
      if (typeof v !== 'string' || v.length === 0) {
        throw configError(
          child(child(at, 'values'), i),
          'a category value must be a non-empty string',
          'quote the value',
        );
      }
      // Values must be writable unambiguously as SQL literals, print on one line, and be possible cells.
      const bad = firstNonTextChar(v);
      if (bad !== null) {
        throw configError(
          child(child(at, 'values'), i),
          `a category value may not contain control characters, byte order marks or line separators (${codePointName(bad.codePoint)} at character ${bad.position})`,
          'remove it from the value',
        );
      }
      if (/\p{Cs}/u.test(v)) {
        throw configError(
          child(child(at, 'values'), i),
          'a category value may not contain a lone surrogate (half of a UTF-16 pair)',
          "fix the value's escapes",
        );
      }
      if (/(^|[^\\])(\\\\)*\\('|$)/.test(v)) {
        throw configError(
          child(child(at, 'values'), i),
          'a category value may not end in, or put before a quote, an odd run of backslashes',
          'remove or double the backslash',
        );
      }
      const nfc = v.normalize('NFC');
      if (seen.has(nfc))
        throw configError(
          child(child(at, 'values'), i),
          `duplicate value ${JSON.stringify(nfc)}`,
          'list each value once',
        );
      seen.add(nfc);
      return nfc;
    });
    return Object.freeze({ type, values: Object.freeze(out) });
  }
  if (type === 'integer') {
    const min = raw['min'];
    const max = raw['max'];
    for (const [k, v] of [
      ['min', min],
      ['max', max],
    ] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
        throw configError(
          child(at, k),
          `"${k}" must be a safe integer (|x| < 2^53)`,
          `give the column's ${k === 'min' ? 'smallest' : 'largest'} possible value`,
        );
      }
    }
    if ((min as number) > (max as number)) throw configError(at, '"min" is greater than "max"', 'swap the bounds');
    return Object.freeze({ type, min: min as number, max: max as number });
  }
  if (type === 'id') {
    const format = raw['format'] ?? 'text';
    if (format !== 'gb11643' && format !== 'text') {
      throw configError(child(at, 'format'), `unknown id format ${JSON.stringify(format)}`, 'use "gb11643" or "text"');
    }
    return Object.freeze({ type, format });
  }
  const [near] = typeof type === 'string' ? closest(type, Object.keys(COLUMN_KEYS)) : [];
  const hint = near === undefined ? '' : `did you mean ${near}? `;
  throw configError(
    child(at, 'type'),
    `unknown column type ${JSON.stringify(type)}`,
    `${hint}use "category", "integer" or "id"`,
  );
}

function parseDataset(raw: unknown, at: JsonLocation): DatasetSchema {
  if (!isRecord(raw)) throw configError(at, 'a dataset must be an object', 'write {"columns": {...}}');
  checkKeys(raw, at, ['columns', 'maxRows']);
  const cols = raw['columns'];
  if (!isRecord(cols) || Object.keys(cols).length === 0) {
    throw configError(
      child(at, 'columns'),
      'a dataset needs a non-empty "columns" object',
      'declare at least one column',
    );
  }
  const columns: Record<string, Column> = {};
  for (const [name, col] of Object.entries(cols)) {
    checkName(child(child(at, 'columns'), name), name, 'column');
    if (Object.keys(columns).some((c) => c.toLowerCase() === name.toLowerCase())) {
      throw configError(
        child(child(at, 'columns'), name),
        `column ${name} differs from another only in case`,
        'rename one of them (SQL names are case-insensitive)',
      );
    }
    columns[name] = parseColumn(col, child(child(at, 'columns'), name));
  }
  if (!Object.values(columns).some((c) => c.type !== 'id')) {
    throw configError(
      child(at, 'columns'),
      'a dataset needs at least one category or integer column',
      'declare a column that can be counted or summed',
    );
  }
  const maxRows = raw['maxRows'] ?? DEFAULT_MAX_ROWS;
  if (typeof maxRows !== 'number' || !Number.isSafeInteger(maxRows) || maxRows < 1) {
    throw configError(
      child(at, 'maxRows'),
      '"maxRows" must be a positive safe integer',
      `omit it for the default of ${DEFAULT_MAX_ROWS}`,
    );
  }
  return Object.freeze({ columns: Object.freeze(columns), maxRows });
}

/**
 * Validates parsed JSON into a frozen schema; errors name `file`, the JSON path and the fix. A key
 * a schema object does not take is refused (a misspelt `maxrows` would silently keep the default).
 * Parse the text with `parseSchemaText` (or `parseConfigJson`) to refuse duplicate keys too.
 */
export function parseSchema(raw: unknown, file: string, path = ''): Schema {
  const at: JsonLocation = { file, path };
  if (!isRecord(raw)) throw configError(at, 'a schema must be a JSON object', 'write {"datasets": {...}}');
  checkKeys(raw, at, ['datasets']);
  const ds = raw['datasets'];
  if (!isRecord(ds) || Object.keys(ds).length === 0) {
    throw configError(
      child(at, 'datasets'),
      'a schema needs a non-empty "datasets" object',
      'declare at least one dataset',
    );
  }
  const datasets: Record<string, DatasetSchema> = {};
  for (const [name, d] of Object.entries(ds)) {
    checkName(child(child(at, 'datasets'), name), name, 'dataset');
    if (Object.keys(datasets).some((d) => d.toLowerCase() === name.toLowerCase())) {
      throw configError(
        child(child(at, 'datasets'), name),
        `dataset ${name} differs from another only in case`,
        'rename one of them (SQL names are case-insensitive)',
      );
    }
    datasets[name] = parseDataset(d, child(child(at, 'datasets'), name));
  }
  return Object.freeze({ datasets: Object.freeze(datasets) });
}

/** Parses and validates the text of a schema file, refusing duplicate and unknown keys. */
export function parseSchemaText(text: string, file: string): Schema {
  return parseSchema(parseConfigJson(text, file), file);
}

/** The dataset's schema, or a NOT_FOUND error listing the datasets that exist. */
export function datasetSchema(schema: Schema, name: string): DatasetSchema {
  const d = Object.hasOwn(schema.datasets, name) ? schema.datasets[name] : undefined;
  if (d === undefined) {
    throw new FedstatError(
      'NOT_FOUND',
      `unknown dataset ${JSON.stringify(name)}; valid datasets: ${Object.keys(schema.datasets).join(', ')}`,
      {
        details: { dataset: name, valid: Object.keys(schema.datasets) },
      },
    );
  }
  return d;
}
