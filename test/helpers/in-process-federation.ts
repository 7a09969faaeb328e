/**
 * A federation whose agencies run in this process behind in-process AgencyLinks (no gRPC): for
 * properties that need many federations quickly. Agencies still load CSV into DuckDB (or, as the
 * options say, answer from a live PostgreSQL table), answer signed plans with signed BFV
 * ciphertexts, and the key authority decrypts only the total.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgency, type Agency } from '../../src/agency/agency.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { readHePublicKey, type Policy } from '../../src/federation/federation.js';
import type { DatasetSchema, Schema } from '../../src/federation/schema.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import type { AgencyLink } from '../../src/protocol/links.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';
import type { AgencyStore } from '../../src/store/store.js';
import { createLiveTable } from '../store/pg-tables.js';
import { readonlyRole, type TestDatabase } from './postgres.js';

export type Row = Record<string, string | number>;

export interface InProcessFederation extends AsyncDisposable {
  readonly coordinator: Coordinator;
  readonly agencies: readonly Agency[];
}

/** Where the agencies keep their rows. */
export interface InProcessOptions {
  /**
   * Agencies (by index into `data`) whose rows are a live table of `db`, read by a PostgreSQL store
   * as a role with only CONNECT, USAGE and SELECT; the others load CSV into DuckDB.
   */
  readonly postgres?: { readonly db: TestDatabase; readonly agencies: readonly number[] };
}

let tables = 0;

/** The agency's store: its rows in DuckDB, or in a live PostgreSQL table. */
async function storeOf(
  i: number,
  dataset: string,
  ds: DatasetSchema,
  rows: readonly Row[],
  file: string,
  options: InProcessOptions,
): Promise<AgencyStore> {
  const pg = options.postgres;
  if (pg !== undefined && pg.agencies.includes(i)) {
    const table = await createLiveTable(pg.db, { schema: 'public', name: `agency${i}_${++tables}` }, ds, rows);
    const role = await readonlyRole(pg.db, [`public.agency${i}_${tables}`]);
    return openPostgresStore({ connection: { ...role, max: 2 }, datasets: { [dataset]: { table, schema: ds } } });
  }
  const store = await openDuckDbStore(':memory:');
  await store.loadCsv(dataset, ds, file);
  return store;
}

/** One agency per entry of `data`, each holding those rows of `dataset`. */
export async function inProcessFederation(
  schema: Schema,
  dataset: string,
  data: readonly (readonly Row[])[],
  policy: Policy,
  options: InProcessOptions = {},
): Promise<InProcessFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-inproc-'));
  const agencies: Agency[] = [];
  try {
    const ids = data.map((_, i) => `a${i}`);
    const init = await initFederation({
      outDir: dir,
      schema,
      policy,
      agencies: ids.map((id, i) => ({ id, endpoint: `127.0.0.1:${7000 + i}` })),
    });
    const ds = schema.datasets[dataset];
    if (ds === undefined) throw new Error(`no dataset ${dataset}`);
    const columns = Object.keys(ds.columns);
    const hePublicKey = readHePublicKey(init.federation);
    for (const [i, id] of ids.entries()) {
      const file = join(dir, `${id}.csv`);
      writeFileSync(
        file,
        [columns, ...(data[i] ?? []).map((r) => columns.map((c) => String(r[c])))]
          .map((f) => `${csvRecord(f)}\n`)
          .join(''),
      );
      const store = await storeOf(i, dataset, ds, data[i] ?? [], file, options);
      agencies.push(
        await createAgency({
          federation: init.federation,
          secrets: loadKeyFile(init.keyFiles[id] ?? '', init.federation),
          hePublicKey,
          store,
        }),
      );
    }
    const links: AgencyLink[] = agencies.map((a) => ({
      agencyId: a.id,
      describe: () => a.describe(),
      aggregate: (q) => a.answer(q),
      unmask: (r) => a.unmask(r),
      close: () => undefined,
    }));
    const keyAuthority = await InProcessKeyAuthority.create({
      federation: init.federation,
      secrets: loadKeyFile(init.keyFiles['key-authority'] ?? '', init.federation),
    });
    const coordinator = await Coordinator.create({
      federation: init.federation,
      secrets: loadKeyFile(init.keyFiles['coordinator'] ?? '', init.federation),
      keyAuthority,
      links,
    });
    return {
      coordinator,
      agencies,
      [Symbol.asyncDispose]: async () => {
        await coordinator.close();
        for (const a of agencies) await a.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const a of agencies) await a.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
