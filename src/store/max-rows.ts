/**
 * A dataset's `maxRows` bounds every sum the encoding proves cannot wrap. A loaded table is checked
 * when it loads; a live source, whose rows change under the agency, is checked on every answer.
 */
import { FedstatError } from '../errors.js';
import type { DatasetSchema } from '../federation/schema.js';
import type { DataRecord } from '../learn/design-row.js';
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

/**
 * `batches` passed on unchanged, refused with DATA_INVALID as soon as they hold more records than
 * the schema's maxRows: a training round's sums are bounded by it, and a live source can grow past
 * it between reads. The round fails before anything is encoded or sent.
 */
export async function* withinMaxRows(
  dataset: string,
  schema: DatasetSchema,
  batches: AsyncIterable<readonly DataRecord[]>,
): AsyncGenerator<readonly DataRecord[], void, undefined> {
  let rows = 0;
  for await (const batch of batches) {
    rows += batch.length;
    checkRowCount(dataset, schema, rows);
    yield batch;
  }
}
