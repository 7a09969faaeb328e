/**
 * The agency's own zCDP budget ledger: one budget per dataset (from the agency's policy), every
 * charge checked against it and made durable before it is acknowledged. The coordinator never
 * touches this file; an agency charges it before it adds noise and contributes.
 *
 * Durability argument (why a crash never under-counts):
 * 1. `charge` resolves only after the record's bytes were written and `fsync` returned. A caller
 *    must not release (contribute) anything before `charge` resolves.
 * 2. Hence any charge whose record is absent or torn after a crash was never acknowledged, so
 *    nothing was released for it, so leaving it out loses no privacy accounting.
 * 3. Any record that did reach disk complete is counted, acknowledged or not (over-counting is
 *    the safe direction); that includes a final record that lacks only its newline.
 * 4. A torn tail (bytes after the last newline that do not form a valid next record) is cut off
 *    on open, under the lock, before anything new is appended. A newline-terminated line that
 *    fails its checksum is not a crash artefact but corruption: `open` refuses the file.
 * 5. A failed write or fsync is rolled back (truncate + fsync) and the charge rejected; if the
 *    rollback fails too, the ledger refuses every further charge until it is reopened.
 *
 * Concurrency: charges in one process go through one queue; each flush takes every pending
 * charge, decides them in arrival order against the running total, appends the accepted ones in
 * one write and one fsync (group commit), then acknowledges them. Across processes the lock file
 * (`src/util/file-lock.ts`) allows one writer.
 *
 * Replays: a (dataset, queryId) pair is charged at most once; a second charge is rejected with
 * REPLAY, never answered as an idempotent success, because answering the same query again with
 * fresh noise would leak more than the one charge recorded. A caller that retries a lost answer
 * looks the charge up with `find` and resends the answer it kept, not a new one.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { FedstatError } from '../errors.js';
import { acquireFileLock } from '../util/file-lock.js';
import { syncDir, writeAll } from '../util/durable-file.js';
import { GroupCommit } from '../util/group-commit.js';
import { encodeCharge, MAX_NAME, type LedgerEntry } from './budget-record.js';
import { formatRho, parseRho, rhoAdd, rhoCompare, rhoSubClamped, RHO_ZERO, type Rho } from './budget-rho.js';
import { replayLedger } from './budget-replay.js';

export type { LedgerEntry } from './budget-record.js';
/** An acknowledged (durable) charge. */
export type Charge = LedgerEntry;

export interface BudgetLedgerOptions {
  /** ρ budget per dataset, from the agency's own policy: "0.5", "1/4" or an exact `Rho`. */
  readonly budgets: Readonly<Record<string, string | Rho>>;
}

export interface ChargeRequest {
  readonly dataset: string;
  /** The query's id: charged at most once per dataset. */
  readonly queryId: string;
  /** ρ this query spends on the dataset: "0.05", "1/40" or an exact `Rho`; must be > 0. */
  readonly rho: string | Rho;
  /** When the charge is made; defaults to now. */
  readonly at?: Date;
}

interface Pending {
  readonly dataset: string;
  readonly queryId: string;
  readonly rho: Rho;
  readonly at: string;
  readonly resolve: (c: Charge) => void;
  readonly reject: (e: Error) => void;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const key = (dataset: string, queryId: string): string => JSON.stringify([dataset, queryId]);

function toRho(value: string | Rho, what: string, code: 'CONFIG_INVALID' | 'QUERY_INVALID'): Rho {
  const r = typeof value === 'string' ? parseRho(value) : parseRho(`${value.num}/${value.den}`);
  if (r === null) throw new FedstatError(code, `${what} is not a ρ value; write a non-negative decimal such as "0.05" or a fraction such as "1/40"`);
  return r;
}

export class BudgetLedger {
  readonly file: string;
  readonly #budgets: ReadonlyMap<string, Rho>;
  readonly #entries: LedgerEntry[];
  readonly #byKey: Map<string, LedgerEntry>;
  readonly #spent = new Map<string, Rho>();
  readonly #handle: FileHandle;
  readonly #unlock: () => Promise<void>;
  #size: number;
  #head: string;
  readonly #queue: GroupCommit<Pending>;
  #broken: FedstatError | null = null;
  #closed = false;

  private constructor(file: string, budgets: ReadonlyMap<string, Rho>, handle: FileHandle, unlock: () => Promise<void>,
    entries: LedgerEntry[], head: string, size: number) {
    this.file = file;
    this.#queue = new GroupCommit((batch) => this.#commit(batch), `budget ledger ${file}`);
    this.#budgets = budgets;
    this.#handle = handle;
    this.#unlock = unlock;
    this.#entries = entries;
    this.#head = head;
    this.#size = size;
    this.#byKey = new Map(entries.map((e) => [key(e.dataset, e.queryId), e]));
    for (const e of entries) this.#spent.set(e.dataset, rhoAdd(this.#spent.get(e.dataset) ?? RHO_ZERO, e.rho));
  }

  /**
   * Opens (or creates, mode 0600) the ledger at `file`, takes `<file>.lock`, replays and verifies
   * every record, and cuts off a torn tail left by a crash. Throws FedstatError CONFIG_INVALID
   * for a bad budget, IO for a corrupt or locked ledger.
   */
  static async open(file: string, options: BudgetLedgerOptions): Promise<BudgetLedger> {
    const budgets = new Map<string, Rho>();
    for (const [dataset, value] of Object.entries(options.budgets)) {
      budgets.set(dataset, toRho(value, `the budget for dataset ${dataset}`, 'CONFIG_INVALID'));
    }
    const unlock = await acquireFileLock(`${file}.lock`, 'budget ledger');
    let handle: FileHandle | null = null;
    try {
      const existed = await fs.stat(file).then((s) => s, () => null);
      if (existed !== null && (existed.mode & 0o077) !== 0) {
        throw new FedstatError('IO', `budget ledger ${file} is accessible to other users (mode ${(existed.mode & 0o777).toString(8)}); run chmod 600 on it`);
      }
      handle = await fs.open(file, 'a+', 0o600);
      const { entries, head, size } = await replayLedger(file, handle);
      if (existed === null) await syncDir(file);
      return new BudgetLedger(file, budgets, handle, unlock, entries, head, size);
    } catch (e) {
      await handle?.close();
      await unlock();
      if (e instanceof FedstatError) throw e;
      throw new FedstatError('IO', `cannot open budget ledger ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; check the path and its permissions`, { cause: e });
    }
  }

  /**
   * Atomically checks and records a charge; resolves once it is durable. Rejects with
   * POLICY_REFUSED when the dataset has no budget or the charge would exceed it (the message
   * states requested, remaining and total ρ), REPLAY when (dataset, queryId) was charged before,
   * QUERY_INVALID for a malformed ρ or an empty or over-long (> 256) name, IO when the write
   * fails (nothing is charged then), UNAVAILABLE after `close`. Throws TypeError for non-string
   * names and RangeError for an invalid or out-of-range `at`.
   */
  charge(request: ChargeRequest): Promise<Charge> {
    const { dataset, queryId } = request;
    if (typeof dataset !== 'string' || typeof queryId !== 'string') throw new TypeError('dataset and queryId must be strings');
    const at = (request.at ?? new Date()).toISOString(); // RangeError for an invalid Date
    if (!ISO.test(at)) throw new RangeError(`charge time ${at} is outside years 0000..9999`);
    return new Promise<Charge>((resolve, reject) => {
      try {
        for (const [what, v] of [['dataset name', dataset], ['query id', queryId]] as const) {
          if (v.length === 0 || v.length > MAX_NAME) throw new FedstatError('QUERY_INVALID', `the ${what} must have 1..${MAX_NAME} characters, not ${v.length}`);
        }
        const rho = toRho(request.rho, `the requested ρ for dataset ${dataset}`, 'QUERY_INVALID');
        if (rho.num === 0n) throw new FedstatError('QUERY_INVALID', `the requested ρ for dataset ${dataset} is 0; a DP query spends a positive ρ`);
        if (this.#closed) throw new FedstatError('UNAVAILABLE', `budget ledger ${this.file} is closed; open it again`);
        this.#queue.push({ dataset, queryId, rho, at, resolve, reject });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** ρ durably spent on `dataset` (zero when nothing was charged). */
  spent(dataset: string): Rho {
    return this.#spent.get(dataset) ?? RHO_ZERO;
  }

  /** The dataset's budget from the policy given to `open`; NOT_FOUND when it has none. */
  budget(dataset: string): Rho {
    const b = this.#budgets.get(dataset);
    if (b === undefined) throw new FedstatError('NOT_FOUND', `no ρ budget for dataset ${dataset} in this agency's policy; add one to allow DP queries on it`);
    return b;
  }

  /** budget − spent, never below zero (a budget lowered under what was spent leaves nothing). */
  remaining(dataset: string): Rho {
    return rhoSubClamped(this.budget(dataset), this.spent(dataset));
  }

  /** Datasets this ledger has a budget for, sorted. */
  datasets(): string[] {
    return [...this.#budgets.keys()].sort();
  }

  /** Number of durable charges against `dataset`. */
  charges(dataset: string): number {
    let n = 0;
    for (const e of this.#entries) if (e.dataset === dataset) n++;
    return n;
  }

  /** The charge recorded for (dataset, queryId), if any: how a retry finds its original charge. */
  find(dataset: string, queryId: string): Charge | undefined {
    return this.#byKey.get(key(dataset, queryId));
  }

  /** Every durable charge in ledger order, hash-chained (for the audit log). */
  entries(): readonly Charge[] {
    return this.#entries.slice();
  }

  /** The chain head: the hash of the last record (the header's hash when no charge exists). */
  head(): string {
    return this.#head;
  }

  /** Waits for queued charges to settle, closes the file and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.drained();
    await this.#handle.close();
    await this.#unlock();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #refusal(p: Pending, spent: Rho): FedstatError | null {
    if (this.#broken !== null) return this.#broken;
    const k = key(p.dataset, p.queryId);
    if (this.#byKey.has(k)) {
      return new FedstatError('REPLAY', `query ${p.queryId} was already charged to dataset ${p.dataset}; resend the answer kept for it instead of answering again`,
        { details: { dataset: p.dataset, queryId: p.queryId } });
    }
    const budget = this.#budgets.get(p.dataset);
    if (budget === undefined) {
      return new FedstatError('POLICY_REFUSED', `dataset ${p.dataset}: no ρ budget in this agency's policy; add one to allow DP queries on it`, { details: { dataset: p.dataset } });
    }
    if (rhoCompare(rhoAdd(spent, p.rho), budget) > 0) {
      const remaining = rhoSubClamped(budget, spent);
      return new FedstatError('POLICY_REFUSED',
        `dataset ${p.dataset}: requested ρ=${formatRho(p.rho)}, remaining ρ=${formatRho(remaining)} of ρ=${formatRho(budget)}; ask for at most the remaining ρ or raise this agency's budget for ${p.dataset}`,
        { details: { dataset: p.dataset, requested: formatRho(p.rho), remaining: formatRho(remaining), budget: formatRho(budget), spent: formatRho(spent) } });
    }
    return null;
  }

  async #commit(batch: Pending[]): Promise<void> {
    const spent = new Map<string, Rho>();
    const accepted: { p: Pending; entry: LedgerEntry; line: string }[] = [];
    const inBatch = new Set<string>();
    let head = this.#head;
    for (const p of batch) {
      const before = spent.get(p.dataset) ?? this.spent(p.dataset);
      const refusal = this.#refusal(p, before);
      const k = key(p.dataset, p.queryId);
      if (refusal !== null || inBatch.has(k)) {
        p.reject(refusal ?? new FedstatError('REPLAY', `query ${p.queryId} was charged twice at once to dataset ${p.dataset}; charge each query once`));
        continue;
      }
      const { entry, line } = encodeCharge({ seq: this.#entries.length + accepted.length + 1, dataset: p.dataset, queryId: p.queryId, rho: p.rho, at: p.at, prev: head });
      accepted.push({ p, entry, line });
      inBatch.add(k);
      head = entry.hash;
      spent.set(p.dataset, rhoAdd(before, p.rho));
    }
    if (accepted.length === 0) return;
    const bytes = Buffer.from(accepted.map((a) => `${a.line}\n`).join(''), 'utf8');
    try {
      await writeAll(this.#handle, bytes);
      await this.#handle.sync();
    } catch (e) {
      const failed = new FedstatError('IO', `writing budget ledger ${this.file} failed (${(e as NodeJS.ErrnoException).code ?? String(e)}); nothing was charged, fix the disk and retry`, { cause: e });
      try {
        await this.#handle.truncate(this.#size);
        await this.#handle.sync();
      } catch (e2) {
        this.#broken = new FedstatError('IO', `budget ledger ${this.file} is in an unknown state after a failed write; reopen it (reopening counts every complete record)`, { cause: e2 });
      }
      for (const a of accepted) a.p.reject(failed);
      return;
    }
    this.#size += bytes.length;
    this.#head = head;
    for (const [dataset, total] of spent) this.#spent.set(dataset, total);
    for (const { p, entry } of accepted) {
      this.#entries.push(entry);
      this.#byKey.set(key(entry.dataset, entry.queryId), entry);
      p.resolve(entry);
    }
  }
}
