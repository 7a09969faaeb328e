/**
 * A dataset's `maxRows` bounds every sum the encoding proves cannot wrap. A loaded table is checked
 * when it loads; a live source, whose rows change under the agency, is checked on every answer.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { LocalAggregate } from './store.js';

/** DATA_INVALID when `rows` (the rows a statement read) exceed the schema's maxRows. */
export function checkRowCount(dataset: string, schema: DatasetSchema, rows: bigint | number): void {
  if (BigInt(rows) > BigInt(schema.maxRows)) {
    throw new FedstatError(
      'DATA_INVALID',
      `dataset ${dataset}: more rows match than the schema's maxRows (${schema.maxRows}); raise maxRows in the federation file (it bounds every sum) or narrow the table`,
      { details: { dataset, maxRows: schema.maxRows } },
    );
  }
}

/** DATA_INVALID when the rows an aggregate counted exceed the schema's maxRows. */
export function checkMaxRows(dataset: string, schema: DatasetSchema, local: LocalAggregate): void {
  let rows = 0n;
  for (const measures of local.groups.values()) rows += measures[0] ?? 0n;
  checkRowCount(dataset, schema, rows);
}
