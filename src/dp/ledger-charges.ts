/**
 * Reads the charges of a budget ledger file without touching it: for an auditor holding a copy
 * of an agency's ledger (or reading the live one while the agency runs), no lock and no repair.
 *
 * The ledger is read with the agency's own replay (budget-replay.ts), so it is verified exactly
 * as the agency verifies it when it opens the file — header, every line's hash chain and
 * checksum, a charge missing only its newline counted, a torn tail ignored — and a corrupt ledger
 * is refused the same way. The replay repairs what it reads, so it runs on a private temporary
 * copy, never on the file itself. Only charges come out; other kinds of lines are the ledger's
 * business.
 */
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FedstatError } from '../errors.js';
import { rhoToString } from './rho.js';
import { replayLedger } from './budget-replay.js';

/** One charge as the ledger records it. */
export interface LedgerCharge {
  /** 1-based position among the ledger's charges. */
  readonly seq: number;
  readonly dataset: string;
  readonly queryId: string;
  /** ρ charged, canonical "n/d" (as budget log entries carry it). */
  readonly rho: string;
  /** When the charge was made, ISO 8601 UTC. */
  readonly at: string;
  /** Hex SHA-256 chain head after this charge: what the agency's budget log entry names as `ledgerHead`. */
  readonly hash: string;
}

/**
 * The charges recorded in the budget ledger at `file`, in ledger order; the file is only read.
 * FedstatError IO when it cannot be read or is corrupt (naming the line, as the agency would).
 */
export async function readLedgerCharges(file: string): Promise<LedgerCharge[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new FedstatError(
      'IO',
      `cannot read budget ledger ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; check the path (a copy of the agency's ledger file will do)`,
      { cause: e },
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'fedstat-ledger-read-'));
  try {
    const copy = join(dir, 'ledger');
    const h = await open(copy, 'w+', 0o600);
    try {
      await h.writeFile(bytes);
      const { entries } = await replayLedger(file, h);
      return entries.map((e) =>
        Object.freeze({
          seq: e.seq,
          dataset: e.dataset,
          queryId: e.queryId,
          rho: rhoToString(e.rho),
          at: e.at,
          hash: e.hash,
        }),
      );
    } finally {
      await h.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
