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
 * The log's copy: a charge made with `logEntry` also records, in the same write, the agency's
 * signed transparency-log entry of it; that entry stays `unlogged()` until `markLogged` records
 * (as a note proven by the agency against a tree head it accepted) that the log holds it. So a
 * charge whose entry never reached the log (the coordinator died, the query failed) is handed
 * over again later, from disk, after any restart.
 *
 * Faults: before every write the ledger checks that its path still names the file it opened (a
 * removed or replaced ledger would take the spend with it); a failed write is reported by
 * `fault()` until a write succeeds again, and a failed rollback is retried before the next write.
 *
 * Replays: a (dataset, queryId) pair is charged at most once; a second charge is rejected with
 * REPLAY, never answered as an idempotent success, because answering the same query again with
 * fresh noise would leak more than the one charge recorded. A caller that retries a lost answer
 * looks the charge up with `find` and resends the answer it kept, not a new one.
 */
import { FedstatError } from '../errors.js';
import { GroupCommit } from '../util/group-commit.js';
import {
  encodeCharge,
  encodeNote,
  MAX_NAME,
  MAX_NOTE_ENTRY_BYTES,
  type LedgerEntry,
  type LedgerNote,
} from './budget-record.js';
import {
  BUDGET_RHO,
  formatRho,
  parseRho,
  rhoAdd,
  rhoCompare,
  rhoFrom,
  rhoSubClamped,
  RHO_ZERO,
  type Rho,
} from './rho.js';
import type { Replayed } from './budget-replay.js';
import { LedgerFile } from './ledger-file.js';

export type { LedgerEntry } from './budget-record.js';
/** An acknowledged (durable) charge. */
export type Charge = LedgerEntry;

/** How `BudgetLedger.open` checks charges: the agency's budgets. */
export interface BudgetLedgerOptions {
  /** ρ budget per dataset, from the agency's own policy: "0.5", "1/4" (rho.ts's grammar) or an exact `Rho`. */
  readonly budgets: Readonly<Record<string, string | Rho>>;
}

/** The dataset's state right after a charge: what the charge's log entry reports. */
export interface ChargeState {
  readonly spent: Rho;
  readonly budget: Rho;
}

/** Signs the transparency-log entry of a charge (called once the charge's line, and so its hash, is decided). */
type LogEntrySigner = (charge: Charge, state: ChargeState) => Uint8Array;

export interface ChargeRequest {
  readonly dataset: string;
  /** The query's id: charged at most once per dataset. */
  readonly queryId: string;
  /** ρ this query spends on the dataset: an exact `Rho`, or "0.05", "1/40" (plain forms, `parseRho`); must be > 0. */
  readonly rho: string | Rho;
  /** When the charge is made; defaults to now. */
  readonly at?: Date;
  /** Records the charge's signed log entry with it, in the same write (see `unlogged`). */
  readonly logEntry?: LogEntrySigner;
}

/** A charge whose signed log entry the transparency log is not yet known to hold. */
export interface UnloggedCharge {
  readonly charge: Charge;
  readonly entry: Uint8Array;
}

type Pending =
  | {
      readonly kind: 'charge';
      readonly dataset: string;
      readonly queryId: string;
      readonly rho: Rho;
      readonly at: string;
      readonly sign: LogEntrySigner | undefined;
      readonly resolve: (c: Charge) => void;
      readonly reject: (e: Error) => void;
    }
  | {
      readonly kind: 'note';
      readonly charge: number;
      readonly entry?: Uint8Array;
      readonly index?: number;
      readonly resolve: () => void;
      readonly reject: (e: Error) => void;
    }
  /** A health check: passes through the queue so it never runs beside a write. */
  | { readonly kind: 'probe'; readonly resolve: () => void; readonly reject: (e: Error) => void };
type ChargePending = Extract<Pending, { kind: 'charge' }>;
type NotePending = Extract<Pending, { kind: 'note' }>;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const key = (dataset: string, queryId: string): string => JSON.stringify([dataset, queryId]);

/** A charge's ρ: an exact value (a query's terms), or text in the plain forms only ("0.05", "1/40"). */
function chargeRho(value: string | Rho, what: string): Rho {
  const r =
    typeof value === 'string' ? parseRho(value) : rhoFrom(value, { ...BUDGET_RHO, name: what, code: 'QUERY_INVALID' });
  if (r === null)
    throw new FedstatError(
      'QUERY_INVALID',
      `${what} is not a ρ value; write a non-negative decimal such as "0.05" or a fraction such as "1/40"`,
    );
  return r;
}

/**
 * The agency's zCDP budget ledger: one ρ budget per dataset, each charge checked against it and
 * durable (written and fsynced) before it is acknowledged. One writer per file, held by a lock
 * file; open with `BudgetLedger.open`, charge before releasing anything, `close` when done.
 */
export class BudgetLedger {
  /** Path of the ledger file, as given to `open`. */
  readonly file: string;
  readonly #budgets: ReadonlyMap<string, Rho>;
  readonly #entries: LedgerEntry[];
  readonly #byKey: Map<string, LedgerEntry>;
  readonly #spent = new Map<string, Rho>();
  /** Charge seq → its signed log entry, and → the log index it was proven at. */
  readonly #logEntries = new Map<number, Uint8Array>();
  readonly #logged = new Map<number, number>();
  readonly #disk: LedgerFile;
  #head: string;
  readonly #queue: GroupCommit<Pending>;
  #closed = false;

  private constructor(disk: LedgerFile, budgets: ReadonlyMap<string, Rho>, replayed: Replayed) {
    this.file = disk.path;
    this.#queue = new GroupCommit((batch) => this.#commit(batch), `budget ledger ${disk.path}`);
    this.#budgets = budgets;
    this.#disk = disk;
    this.#entries = replayed.entries;
    this.#head = replayed.head;
    this.#byKey = new Map(replayed.entries.map((e) => [key(e.dataset, e.queryId), e]));
    for (const e of replayed.entries) this.#spent.set(e.dataset, rhoAdd(this.#spent.get(e.dataset) ?? RHO_ZERO, e.rho));
    for (const n of replayed.notes) this.#applyNote(n);
  }

  /**
   * Opens (or creates, mode 0600) the ledger at `file`, takes `<file>.lock`, replays and verifies
   * every record, and cuts off a torn tail left by a crash. Throws FedstatError CONFIG_INVALID
   * for a bad budget, IO for a corrupt or locked ledger.
   */
  static async open(file: string, options: BudgetLedgerOptions): Promise<BudgetLedger> {
    const budgets = new Map<string, Rho>();
    for (const [dataset, value] of Object.entries(options.budgets)) {
      budgets.set(
        dataset,
        rhoFrom(value, { ...BUDGET_RHO, name: `the budget for dataset ${dataset}`, spell: (v) => `"${v}"` }),
      );
    }
    const { file: disk, replayed } = await LedgerFile.open(file);
    return new BudgetLedger(disk, budgets, replayed);
  }

  /**
   * Atomically checks and records a charge; resolves once it is durable. Rejects with
   * POLICY_REFUSED when the dataset has no budget or the charge would exceed it (the message
   * states requested, remaining and total ρ), REPLAY when (dataset, queryId) was charged before,
   * QUERY_INVALID for a malformed ρ or an empty or over-long (more than 256 characters) name, IO
   * when the write fails or the file was removed or replaced (nothing is charged then),
   * UNAVAILABLE after `close`. Throws TypeError for non-string names and RangeError for an
   * invalid or out-of-range `at`.
   */
  charge(request: ChargeRequest): Promise<Charge> {
    const { dataset, queryId } = request;
    if (typeof dataset !== 'string' || typeof queryId !== 'string')
      throw new TypeError('dataset and queryId must be strings');
    const at = (request.at ?? new Date()).toISOString(); // RangeError for an invalid Date
    if (!ISO.test(at)) throw new RangeError(`charge time ${at} is outside years 0000..9999`);
    return new Promise<Charge>((resolve, reject) => {
      try {
        for (const [what, v] of [
          ['dataset name', dataset],
          ['query id', queryId],
        ] as const) {
          if (v.length === 0 || v.length > MAX_NAME)
            throw new FedstatError('QUERY_INVALID', `the ${what} must have 1..${MAX_NAME} characters, not ${v.length}`);
        }
        const rho = chargeRho(request.rho, `the requested ρ for dataset ${dataset}`);
        if (rho.num === 0n)
          throw new FedstatError(
            'QUERY_INVALID',
            `the requested ρ for dataset ${dataset} is 0; a DP query spends a positive ρ`,
          );
        if (this.#closed) throw new FedstatError('UNAVAILABLE', `budget ledger ${this.file} is closed; open it again`);
        this.#queue.push({ kind: 'charge', dataset, queryId, rho, at, sign: request.logEntry, resolve, reject });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /**
   * Charges made with a log entry that the transparency log is not yet known to hold, oldest
   * first (see `markLogged`).
   */
  unlogged(): UnloggedCharge[] {
    const out: UnloggedCharge[] = [];
    for (const [seq, entry] of this.#logEntries) {
      if (!this.#logged.has(seq)) out.push({ charge: this.#entries[seq - 1]!, entry });
    }
    return out;
  }

  /** Charges without a recorded log entry (made without `logEntry`, or cut by a crash before their entry). */
  unsigned(): Charge[] {
    return this.#entries.filter((e) => !this.#logEntries.has(e.seq));
  }

  /** Durably records the signed log entry of an earlier charge that has none (see `unsigned`). */
  attachEntry(charge: Charge, entry: Uint8Array): Promise<void> {
    if (!(entry instanceof Uint8Array) || entry.length === 0 || entry.length > MAX_NOTE_ENTRY_BYTES)
      throw new RangeError('a log entry is 1..16384 bytes');
    return this.#note({ charge: this.#known(charge), entry: Uint8Array.from(entry) });
  }

  /**
   * Durably records that the transparency log holds the entry of `charge` at `index` (the caller
   * checked an inclusion proof under a tree head it accepted). Recording it twice is a no-op.
   */
  markLogged(charge: Charge, index: number): Promise<void> {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new RangeError(`log index ${index} is not a non-negative integer`);
    return this.#note({ charge: this.#known(charge), index });
  }

  /** The signed log entry recorded with `charge`, if any. */
  logEntryOf(charge: Charge): Uint8Array | undefined {
    return this.#logEntries.get(charge.seq);
  }

  /** The log index recorded for the entry of `charge`, if any. */
  loggedAt(charge: Charge): number | undefined {
    return this.#logged.get(charge.seq);
  }

  /**
   * What keeps this ledger from charging, in one line (null when healthy): a failed write (until
   * one succeeds), or the file removed or replaced under the running agency (until a restart).
   */
  fault(): string | null {
    return this.#disk.fault();
  }

  /**
   * `fault()` after checking, in turn with the writes, that the path still names the opened file
   * and, after a failed write, whether the file takes writes again (a rollback to what was
   * acknowledged): a health report that also recovers once the disk is fixed.
   */
  async check(): Promise<string | null> {
    if (!this.#closed)
      await new Promise<void>((resolve) => {
        this.#queue.push({
          kind: 'probe',
          resolve,
          reject: () => {
            resolve();
          },
        });
      });
    return this.fault();
  }

  /** ρ durably spent on `dataset` (zero when nothing was charged). */
  spent(dataset: string): Rho {
    return this.#spent.get(dataset) ?? RHO_ZERO;
  }

  /** The dataset's budget from the policy given to `open`; NOT_FOUND when it has none. */
  budget(dataset: string): Rho {
    const b = this.#budgets.get(dataset);
    if (b === undefined)
      throw new FedstatError(
        'NOT_FOUND',
        `no ρ budget for dataset ${dataset} in this agency's policy; add one to allow DP queries on it`,
      );
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

  /** The chain head: the hash of the last record (the header's hash when no record exists). */
  head(): string {
    return this.#head;
  }

  /** Waits for queued charges to settle, closes the file and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.drained();
    await this.#disk.close();
  }

  /** Same as `close`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #known(charge: Charge): number {
    if (this.#entries[charge.seq - 1] !== charge && this.#entries[charge.seq - 1]?.hash !== charge.hash)
      throw new RangeError('not a charge of this ledger');
    return charge.seq;
  }

  #note(n: { charge: number; entry?: Uint8Array; index?: number }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.#closed) reject(new FedstatError('UNAVAILABLE', `budget ledger ${this.file} is closed; open it again`));
      else this.#queue.push({ kind: 'note', ...n, resolve, reject });
    });
  }

  #applyNote(n: LedgerNote): void {
    if (n.note === 'entry') this.#logEntries.set(n.charge, n.entry);
    else this.#logged.set(n.charge, n.index);
  }

  #refusal(p: ChargePending, spent: Rho): FedstatError | null {
    const k = key(p.dataset, p.queryId);
    if (this.#byKey.has(k)) {
      return new FedstatError(
        'REPLAY',
        `query ${p.queryId} was already charged to dataset ${p.dataset}; resend the answer kept for it instead of answering again`,
        { details: { dataset: p.dataset, queryId: p.queryId } },
      );
    }
    const budget = this.#budgets.get(p.dataset);
    if (budget === undefined) {
      return new FedstatError(
        'POLICY_REFUSED',
        `dataset ${p.dataset}: no ρ budget in this agency's policy; add one to allow DP queries on it`,
        { details: { dataset: p.dataset } },
      );
    }
    if (rhoCompare(rhoAdd(spent, p.rho), budget) > 0) {
      const remaining = rhoSubClamped(budget, spent);
      return new FedstatError(
        'POLICY_REFUSED',
        `dataset ${p.dataset}: requested ρ=${formatRho(p.rho)}, remaining ρ=${formatRho(remaining)} of ρ=${formatRho(budget)}; ask for at most the remaining ρ or raise this agency's budget for ${p.dataset}`,
        {
          details: {
            dataset: p.dataset,
            requested: formatRho(p.rho),
            remaining: formatRho(remaining),
            budget: formatRho(budget),
            spent: formatRho(spent),
          },
        },
      );
    }
    return null;
  }

  async #commit(batch: Pending[]): Promise<void> {
    const blocked = await this.#disk.writable();
    if (blocked !== null) {
      for (const p of batch) p.reject(blocked);
      return;
    }
    const plan = this.#plan(batch);
    if (plan.lines.length === 0) return;
    const bytes = Buffer.from(plan.lines.map((l) => `${l}\n`).join(''), 'utf8');
    try {
      await this.#disk.append(bytes);
    } catch (e) {
      for (const p of plan.accepted) p.reject(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    this.#head = plan.head;
    for (const [dataset, total] of plan.spent) this.#spent.set(dataset, total);
    for (const n of plan.notes) this.#applyNote(n);
    for (const { p, entry } of plan.charges) {
      this.#entries.push(entry);
      this.#byKey.set(key(entry.dataset, entry.queryId), entry);
      p.resolve(entry);
    }
    for (const p of plan.noted) p.resolve();
  }

  /** Decides one batch against the running totals: the lines to write, and what each settles. */
  #plan(batch: Pending[]): {
    lines: string[];
    head: string;
    spent: Map<string, Rho>;
    notes: LedgerNote[];
    charges: { p: ChargePending; entry: LedgerEntry }[];
    noted: NotePending[];
    accepted: Pending[];
  } {
    const lines: string[] = [];
    const spent = new Map<string, Rho>();
    const notes: LedgerNote[] = [];
    const charges: { p: ChargePending; entry: LedgerEntry }[] = [];
    const noted: NotePending[] = [];
    const inBatch = new Set<string>();
    let head = this.#head;
    const note = (fields: Parameters<typeof encodeNote>[0]): void => {
      const encoded = encodeNote(fields);
      lines.push(encoded.line);
      notes.push(encoded.note);
      head = encoded.note.hash;
    };
    for (const p of batch) {
      if (p.kind === 'probe') {
        p.resolve();
        continue;
      }
      if (p.kind === 'note') {
        const done =
          p.entry !== undefined
            ? this.#logEntries.has(p.charge) || notes.some((n) => n.note === 'entry' && n.charge === p.charge)
            : this.#logged.has(p.charge) || notes.some((n) => n.note === 'logged' && n.charge === p.charge);
        const orphan =
          p.entry === undefined &&
          !this.#logEntries.has(p.charge) &&
          !notes.some((n) => n.note === 'entry' && n.charge === p.charge);
        if (orphan) p.reject(new RangeError(`charge ${p.charge} has no log entry to be logged`));
        else if (done) p.resolve();
        else {
          note(
            p.entry !== undefined
              ? { note: 'entry', charge: p.charge, entry: p.entry, prev: head }
              : { note: 'logged', charge: p.charge, index: p.index ?? 0, prev: head },
          );
          noted.push(p);
        }
        continue;
      }
      const before = spent.get(p.dataset) ?? this.spent(p.dataset);
      const refusal = this.#refusal(p, before);
      const k = key(p.dataset, p.queryId);
      if (refusal !== null || inBatch.has(k)) {
        p.reject(
          refusal ??
            new FedstatError(
              'REPLAY',
              `query ${p.queryId} was charged twice at once to dataset ${p.dataset}; charge each query once`,
            ),
        );
        continue;
      }
      const { entry, line } = encodeCharge({
        seq: this.#entries.length + charges.length + 1,
        dataset: p.dataset,
        queryId: p.queryId,
        rho: p.rho,
        at: p.at,
        prev: head,
      });
      lines.push(line);
      head = entry.hash;
      const after = rhoAdd(before, p.rho);
      if (p.sign !== undefined)
        note({
          note: 'entry',
          charge: entry.seq,
          entry: p.sign(entry, { spent: after, budget: this.budget(p.dataset) }),
          prev: head,
        });
      charges.push({ p, entry });
      inBatch.add(k);
      spent.set(p.dataset, after);
    }
    return { lines, head, spent, notes, charges, noted, accepted: [...charges.map((c) => c.p), ...noted] };
  }
}
