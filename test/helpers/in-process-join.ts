/**
 * A federation of two datasets whose agencies run in this process behind in-process AgencyLinks
 * (no gRPC), each agency serving one dataset from its own DuckDB store: for join properties that
 * need many federations quickly. A link can be told to fail one linkage phase or round 1, to
 * stand for an agency that goes away.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgency, type Agency } from '../../src/agency/agency.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { FedstatError } from '../../src/errors.js';
import { initFederation } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { readHePublicKey, type Policy } from '../../src/federation/federation.js';
import type { Schema } from '../../src/federation/schema.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import type { AgencyLink, LinkagePhases } from '../../src/protocol/links.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { Row } from './in-process-federation.js';

/** One dataset of the join and the rows of each of its agencies. */
export interface JoinSideData {
  readonly dataset: string;
  /** Agency id prefix (`l` → l0, l1, …). */
  readonly prefix: string;
  readonly agencies: readonly (readonly Row[])[];
}

/** Where a link fails: a linkage phase, or round 1. */
export type FailAt = keyof LinkagePhases | 'aggregate';

export interface InProcessJoinFederation extends AsyncDisposable {
  readonly coordinator: Coordinator;
  readonly agencies: readonly Agency[];
  /** The CSV file of every agency, by id. */
  readonly files: ReadonlyMap<string, string>;
  /** From now on, `agency` fails at `phase` (UNAVAILABLE, as an agency that went away). */
  failAt(agency: string, phase: FailAt): void;
}

/** Writes `rows` as the agency's CSV (columns in schema order). */
function writeRows(file: string, columns: readonly string[], rows: readonly Row[]): void {
  writeFileSync(
    file,
    [columns, ...rows.map((r) => columns.map((c) => String(r[c])))].map((f) => `${csvRecord(f)}\n`).join(''),
  );
}

export async function inProcessJoinFederation(
  schema: Schema,
  sides: readonly JoinSideData[],
  policy: Policy,
): Promise<InProcessJoinFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-join-'));
  const agencies: Agency[] = [];
  const failing = new Map<string, FailAt>();
  try {
    const specs = sides.flatMap((s) => s.agencies.map((_, i) => ({ id: `${s.prefix}${i}`, dataset: s.dataset })));
    const init = await initFederation({
      outDir: dir,
      schema,
      policy,
      agencies: specs.map((a, i) => ({ id: a.id, endpoint: `127.0.0.1:${7000 + i}`, datasets: [a.dataset] })),
    });
    const hePublicKey = readHePublicKey(init.federation);
    const files = new Map<string, string>();
    for (const side of sides) {
      const ds = schema.datasets[side.dataset];
      if (ds === undefined) throw new Error(`no dataset ${side.dataset}`);
      for (const [i, rows] of side.agencies.entries()) {
        const id = `${side.prefix}${i}`;
        const file = join(dir, `${id}.csv`);
        writeRows(file, Object.keys(ds.columns), rows);
        files.set(id, file);
        const store = await openDuckDbStore(':memory:');
        await store.loadCsv(side.dataset, ds, file);
        agencies.push(
          await createAgency({
            federation: init.federation,
            secrets: loadKeyFile(init.keyFiles[id] ?? '', init.federation),
            hePublicKey,
            store,
          }),
        );
      }
    }
    const gone = (id: string): FedstatError => new FedstatError('UNAVAILABLE', `agency ${id} went away (test)`);
    const guard =
      <A extends unknown[], R>(id: string, phase: FailAt, run: (...a: A) => Promise<R>) =>
      (...a: A): Promise<R> =>
        failing.get(id) === phase ? Promise.reject(gone(id)) : run(...a);
    const links: AgencyLink[] = agencies.map((a) => ({
      agencyId: a.id,
      describe: () => a.describe(),
      aggregate: guard(a.id, 'aggregate', (q) => a.answer(q)),
      unmask: (r) => a.unmask(r),
      linkage: {
        start: guard(a.id, 'start', (r) => a.linkage.start(r)),
        blind: guard(a.id, 'blind', (r) => a.linkage.blind(r)),
        reblind: guard(a.id, 'reblind', (r) => a.linkage.reblind(r)),
        encrypt: guard(a.id, 'encrypt', (r) => a.linkage.encrypt(r)),
        load: guard(a.id, 'load', (r) => a.linkage.load(r)),
      },
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
      files,
      failAt: (agency, phase) => failing.set(agency, phase),
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
