/**
 * Issue 11, item 2, with a real coordinator (connectCoordinator over real mTLS gRPC to agencies
 * with DuckDB files and witness files) operating a real log file: after a query has published
 * its head, a log cut a few bytes short, cut below the head the agencies hold, or deleted is
 * refused when the coordinator opens it — nothing is cut, created or appended, so no published
 * entry is ever silently replaced — and restoring the log from a copy is the way out. A crash
 * mid-append beyond the published head leaves a torn tail that is cut, and the federation goes
 * on: the agencies accept the next query and the auditor's verification passes against their
 * heads.
 */
import { appendFileSync, existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectCoordinator, defaultTransparencyLog } from '../../src/coordinator/connect.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { FedstatError } from '../../src/errors.js';
import { verifyAuditLog } from '../../src/auditor/verify.js';
import { recordBytes, writeRecord } from '../../src/transparency/log-record.js';
import { LogWitness } from '../../src/transparency/log-witness.js';
import { verifyLogFile } from '../../src/auditor/log-file-check.js';
import { readTreeHeadFile, treeHeadFileFor } from '../../src/transparency/tree-head-file.js';
import { createTestFederation, type TestFederation } from '../helpers/test-federation.js';

let tf: TestFederation | undefined;
afterEach(async () => {
  await tf?.close();
  tf = undefined;
});

const DP = { privacy: { rho: '0.1' } } as const;
const SQL = 'SELECT COUNT(*) AS n FROM residents';

async function refusal(f: TestFederation): Promise<FedstatError> {
  const e = await connectCoordinator({ federation: f.federation }).then(
    async (c) => {
      await c.close();
      return null;
    },
    (x: unknown) => x,
  );
  if (!(e instanceof FedstatError)) throw new Error(`expected the coordinator to refuse its log, got ${String(e)}`);
  return e;
}

/** Byte offset of the end of record `count - 1` in the log file (records: u32 length, guard, entry, hash). */
function recordsEnd(file: string, count: number): number {
  const bytes = readFileSync(file);
  let end = 16;
  for (let i = 0; i < count; i++) end += recordBytes(bytes.readUInt32BE(end));
  return end;
}

describe('the coordinator never rewrites published history', () => {
  it("refuses a log cut short, cut below the agencies' heads or deleted; restored, it goes on; a torn tail beyond the head is cut", async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: 30, exactRelease: false, transparencyLog: true });
    for (const id of tf.ids) {
      await tf.start(id, undefined, {
        logWitness: await LogWitness.open(tf.federation, `agency ${id}`, join(tf.dir, `${id}.witness.json`)),
        ledger: await BudgetLedger.open(join(tf.dir, `${id}.ledger`), { budgets: { residents: '2' } }),
      });
    }
    const log = defaultTransparencyLog(tf.federationFile);
    const headFile = treeHeadFileFor(log);
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation });
      await coordinator.query(SQL, DP);
      await coordinator.query(SQL, DP);
    }
    const published = (await readTreeHeadFile(headFile))[0]!;
    const held = await Promise.all(tf.ids.map(async (id) => (await tf!.agencies.get(id)!.agency.describe()).logHead!));
    expect(published.size).toBeGreaterThanOrEqual(Math.max(...held.map((h) => h.size)));
    const backup = readFileSync(log);
    const restore = (): void => {
      writeFileSync(log, backup, { mode: 0o600 });
    };

    // 1. Cut by a few bytes: the last published entry is torn. Refused; the file is left as found.
    truncateSync(log, backup.length - 5);
    let e = await refusal(tf);
    expect(e.code).toBe('IO');
    expect(e.message).toMatch(
      new RegExp(
        `has ${published.size - 1} complete entries and \\d+ bytes of a torn one, but its published tree head .* covers ${published.size} entries`,
      ),
    );
    expect(e.message).toMatch(/restore the log from a backup/);
    expect(statSync(log).size).toBe(backup.length - 5);

    // 2. Cut below the head every agency holds, at a record boundary: refused.
    const below = Math.min(...held.map((h) => h.size)) - 1;
    truncateSync(log, recordsEnd(log, below));
    e = await refusal(tf);
    expect([e.code, e.details['size'], e.details['publishedSize']]).toEqual(['IO', below, published.size]);

    // 3. Deleted: refused, and no fresh empty log is created in its place.
    rmSync(log);
    e = await refusal(tf);
    expect(e.message).toMatch(/is missing/);
    expect(existsSync(log)).toBe(false);

    // Restored from the copy: the coordinator opens it and the agencies accept the next query.
    restore();
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation });
      expect((await coordinator.query(SQL, DP)).agencies.failed).toEqual([]);
    }

    // 4. A crash mid-append beyond the published head: the partial record is cut, and the federation goes on.
    const afterThird = readFileSync(log).length;
    const entry = new TextEncoder().encode('an entry the operator was writing when it crashed');
    const record = Buffer.alloc(recordBytes(entry.length));
    writeRecord(record, 0, entry);
    appendFileSync(log, record.subarray(0, 30));
    const torn = await verifyLogFile(log);
    expect(torn.ok && torn.tornBytes).toBe(30);
    {
      await using coordinator = await connectCoordinator({ federation: tf.federation });
      expect(statSync(log).size).toBe(afterThird); // cut at open
      expect((await coordinator.query(SQL, DP)).agencies.failed).toEqual([]);
    }
    const since = await Promise.all(tf.ids.map(async (id) => (await tf!.agencies.get(id)!.agency.describe()).logHead!));
    const report = await verifyAuditLog(log, {
      federation: tf.federation,
      heads: await readTreeHeadFile(headFile),
      since: [...held, ...since],
    });
    expect(report.findings).toEqual([]);
    expect(report.counts).toMatchObject({ query: 4, release: 4 });
  });
});
