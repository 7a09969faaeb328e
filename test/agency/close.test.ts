/**
 * Closing an agency while it answers: a server that stops cancels the call, not the work behind
 * it, so close waits for the answer to finish before it disposes the SEAL objects, the ledger and
 * the store that answer uses; answers that arrive after close are refused.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgency } from '../../src/agency/agency.js';
import { datasetSchemaOf, readHePublicKey } from '../../src/federation/federation.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { newQueryId, signQuery } from '../../src/protocol/query-envelope.js';
import { parseQuery } from '../../src/query/parse.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import type { AgencyStore } from '../../src/store/store.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation | undefined;
afterEach(async () => {
  await tf?.close();
  tf = undefined;
});

describe('closing an agency with an answer in flight', () => {
  it('waits for the answer, then disposes; a later answer is refused', async () => {
    const f = (tf = await createTestFederation({ agencies: 2, rowsPerAgency: 30, exactRelease: true }));
    const inner = await openDuckDbStore(join(f.dir, 'gated.duckdb'));
    await inner.loadCsv('residents', datasetSchemaOf(f.federation, 'residents'), f.csvFiles['agency-1']!);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered!: () => void;
    const reached = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // The store's aggregate waits at the gate: the answer is in flight while the agency closes.
    const store: AgencyStore = Object.assign(Object.create(inner) as AgencyStore, {
      aggregate: async (...args: Parameters<AgencyStore['aggregate']>) => {
        entered();
        await gate;
        return inner.aggregate(...args);
      },
      close: () => inner.close(),
    });
    const agency = await createAgency({
      federation: f.federation,
      secrets: loadKeyFile(f.keyFiles['agency-1']!, f.federation),
      hePublicKey: readHePublicKey(f.federation),
      store,
    });
    const coordinator = loadKeyFile(f.keyFiles['coordinator']!, f.federation);
    const query = (): ReturnType<typeof signQuery> => {
      const now = Date.now();
      return signQuery(
        {
          v: 1,
          queryId: newQueryId(),
          federationId: f.federation.id,
          paramsId: paramsId,
          mode: 'encrypted',
          plan: parseQuery('SELECT COUNT(*) AS n FROM residents', f.federation.schema),
          agencies: [...f.ids],
          threshold: 2,
          issuedAt: now,
          expiresAt: now + 60_000,
        },
        coordinator.signing.secretKey,
      );
    };
    const paramsId = (await agency.describe()).paramsId;
    const answering = agency.answer(query());
    await reached;
    let closed = false;
    const closing = agency.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toBe(false); // still waiting for the answer
    open();
    const contribution = await answering; // completed with SEAL objects still alive
    expect(contribution.payloads).toHaveLength(1);
    await closing;
    expect(closed).toBe(true);
    await expect(agency.answer(query())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  }, 60_000);
});
