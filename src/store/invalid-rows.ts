/**
 * What a store does with the out-of-domain rows a live source's census found
 * (store/live-source.ts): `reject` refuses the statement, naming how many rows of which column;
 * `skip` answers without them and tells the agency's operator. The count never travels in an
 * answer: a refusal names it (the operator asked for refusals), a skip only reports it locally.
 */
import { FedstatError } from '../errors.js';

/** The out-of-domain rows of one live dataset at one statement. */
export interface InvalidRowCensus {
  /** The dataset read. */
  readonly dataset: string;
  /** Rows with at least one cell out of its column's domain (NULL included). */
  readonly rows: number;
  /** Per checked column with any, the rows whose cell there is out of domain. */
  readonly byColumn: Readonly<Record<string, number>>;
}

/** How a live dataset treats out-of-domain rows: refuse to answer, or answer without them. */
export type OnInvalidRows = 'reject' | 'skip';

/** Called with every census that found out-of-domain rows a statement skipped. */
export type InvalidRowsReport = (census: InvalidRowCensus) => void;

function count(v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    throw new FedstatError('INTERNAL', 'store returned a census that is not a count; please report this');
  return n;
}

/**
 * A census from the cells `censusOutputs` produced: out-of-domain rows, then one count per
 * column of `columns`. Several result rows (one per group) add up.
 */
export function censusOf(
  dataset: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
): InvalidRowCensus {
  let total = 0;
  const per = columns.map(() => 0);
  for (const cells of rows) {
    if (cells.length !== columns.length + 1)
      throw new FedstatError('INTERNAL', 'store returned a census of the wrong width; please report this');
    total += count(cells[0]);
    columns.forEach((_, i) => (per[i] = (per[i] ?? 0) + count(cells[i + 1])));
  }
  const byColumn: Record<string, number> = {};
  columns.forEach((name, i) => {
    if ((per[i] ?? 0) > 0) byColumn[name] = per[i] ?? 0;
  });
  return Object.freeze({ dataset, rows: total, byColumn: Object.freeze(byColumn) });
}

/** "district 2, monthly_income 1": the columns of a census, most rows first. */
export function describeCensus(census: InvalidRowCensus): string {
  return Object.entries(census.byColumn)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
}

/**
 * Refuses (`reject`) with DATA_INVALID when the census found out-of-domain rows, or reports them
 * (`skip`); nothing to do for a clean census.
 */
export function applyCensus(census: InvalidRowCensus, onInvalid: OnInvalidRows, report?: InvalidRowsReport): void {
  if (census.rows === 0) return;
  if (onInvalid === 'skip') {
    report?.(census);
    return;
  }
  const rows = census.rows === 1 ? '1 row' : `${census.rows} rows`;
  throw new FedstatError(
    'DATA_INVALID',
    `dataset ${census.dataset}: ${rows} out of the schema's domains (${describeCensus(census)}); fix them at the source, or serve the dataset with --on-invalid skip to answer without them`,
    { details: { dataset: census.dataset, rows: census.rows, byColumn: census.byColumn } },
  );
}
