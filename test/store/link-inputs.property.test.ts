/**
 * Property: one side of a linked query from the DuckDB store equals a plain JavaScript evaluation
 * of the same rows (link-reference.ts), for random rows (duplicate ids, several groups), random
 * WHERE clauses, groupBy and measure lists and maxRowsPerId bounds, under `reject` and `skip`; and
 * the same rows attached as Parquet give the same answer as loaded from CSV.
 * FEDSTAT_LONG=1 runs 300 cases instead of 25.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { InvalidRowCensus } from '../../src/store/invalid-rows.js';
import type { DuckDbAgencyStore } from '../../src/store/store.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { tempDir, writeCsv } from './helpers.js';
import { LINK_SCHEMA, byId, linkCsv, linkRowArb, linkSpecArb, referenceLinkInputs } from './link-reference.js';

const RUNS = process.env['FEDSTAT_LONG'] === '1' ? 300 : 25;
const dir = tempDir('link-property');

let store: DuckDbAgencyStore;
let writerDb: DuckDBInstance;
let writer: DuckDBConnection;
let n = 0;

beforeAll(async () => {
  store = await openDuckDbStore(':memory:');
  writerDb = await DuckDBInstance.create(':memory:');
  writer = await writerDb.connect();
});
afterAll(async () => {
  await store.close();
  writer.closeSync();
  writerDb.closeSync();
});

describe('linkInputs (DuckDB)', () => {
  it('equals the JavaScript reference, loaded from CSV or attached as Parquet', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(linkRowArb, { maxLength: 30 }), linkSpecArb, async (rows, side) => {
        const csv = writeCsv(dir, linkCsv(rows));
        const parquet = join(dir, `v${++n}.parquet`);
        await writer.run(
          `COPY (SELECT * FROM read_csv('${csv}', header = true, columns = {'person': 'VARCHAR', 'district': 'VARCHAR', 'sex': 'VARCHAR', 'age': 'INTEGER', 'amount': 'BIGINT'})) TO '${parquet}' (FORMAT parquet)`,
        );
        const reports: InvalidRowCensus[] = [];
        await store.loadCsv('rejecting', LINK_SCHEMA, csv);
        await store.loadCsv('skipping', LINK_SCHEMA, csv, { onInvalid: 'skip', onInvalidRows: (c) => reports.push(c) });
        await store.attachParquet('files', LINK_SCHEMA, parquet, {
          onInvalid: 'skip',
          onInvalidRows: (c) => reports.push(c),
        });
        const want = referenceLinkInputs(LINK_SCHEMA, { ...side, dataset: 'x' }, rows);
        const skipped = await store.linkInputs({ ...side, dataset: 'skipping' }, LINK_SCHEMA);
        expect(skipped.width).toBe(
          side.groupBy.reduce((a, g) => a * (g === 'sex' ? 2 : 3), 1) * (1 + side.measures.length),
        );
        expect(byId(skipped)).toEqual(want.inputs);
        expect(byId(await store.linkInputs({ ...side, dataset: 'files' }, LINK_SCHEMA))).toEqual(want.inputs);
        const over = { dataset: 'x', rows: want.overRows, byColumn: { person: want.overRows } };
        expect(reports).toEqual(
          want.overIds === 0
            ? []
            : [
                { ...over, dataset: 'skipping' },
                { ...over, dataset: 'files' },
              ],
        );
        const rejecting = store.linkInputs({ ...side, dataset: 'rejecting' }, LINK_SCHEMA);
        if (want.overIds === 0) {
          expect(byId(await rejecting)).toEqual(want.inputs);
        } else {
          const e = await fedstatRejectionOf(rejecting);
          expect(e.code).toBe('DATA_INVALID');
          expect(e.message).toContain(`${want.overIds === 1 ? '1 id has' : `${want.overIds} ids have`} more than`);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
