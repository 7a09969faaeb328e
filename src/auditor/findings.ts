/**
 * What an audit can find wrong with a log, one kind per rule, and the bounded list they are
 * collected in. docs/audit.md explains each kind to the auditor.
 */

/**
 * Log structure: `corrupt` (a record fails its checksum; the scan stops there), `head-signature`,
 * `head-other-log`, `fork` (two roots signed for one size), `rollback` (a published head is older
 * than one the auditor kept), `root-mismatch` (the entries below a published head's size are not
 * the ones it signed), `inconsistent` (the log does not extend a --since head), `truncated` (a
 * head covers more entries than the file has).
 * Entries: `malformed`, `unknown-author`, `bad-signature`, `wrong-author` (a role that may not
 * log this kind, or in another party's name).
 * Policy: `duplicate-query`, `unknown-query` (refers to a query the log did not show before),
 * `not-asked` (an agency answered a query that did not ask it), `duplicate-contribution`,
 * `release-without-query`, `released-twice`, `too-few-contributions`, `unbacked-contributor`
 * (a release names an agency with no logged contribution), `unpaid-release` (a DP release
 * without the contributor's budget charge), `budget-exceeded`, `budget-gap` (an agency's
 * reported spend moved by other than the charge: charges missing from the log),
 * `decryption-without-query`, `decrypted-twice`, `duplicate-charge` (one agency charged one
 * query on one dataset twice).
 * Ledgers (`--ledger`): `missing-in-log` (a ledger charge without its budget entry),
 * `missing-in-ledger` (a logged charge the agency's ledger lacks), `ledger-mismatch` (a logged
 * charge that differs from the ledger's in ρ, total spent or ledger head).
 */
export type FindingKind =
  | 'corrupt'
  | 'head-signature'
  | 'head-other-log'
  | 'fork'
  | 'rollback'
  | 'root-mismatch'
  | 'inconsistent'
  | 'truncated'
  | 'malformed'
  | 'unknown-author'
  | 'bad-signature'
  | 'wrong-author'
  | 'duplicate-query'
  | 'unknown-query'
  | 'not-asked'
  | 'duplicate-contribution'
  | 'release-without-query'
  | 'released-twice'
  | 'too-few-contributions'
  | 'unbacked-contributor'
  | 'unpaid-release'
  | 'budget-exceeded'
  | 'budget-gap'
  | 'duplicate-charge'
  | 'decryption-without-query'
  | 'decrypted-twice'
  | 'missing-in-log'
  | 'missing-in-ledger'
  | 'ledger-mismatch';

/** One problem an audit found. */
export interface Finding {
  /** Which rule the log breaks (see `FindingKind`). */
  readonly kind: FindingKind;
  /** The entry's index in the log, or null for a finding about tree heads or a range of entries. */
  readonly entry: number | null;
  /** One line: what is wrong, with the ids involved. */
  readonly message: string;
}

/** Findings kept in full; beyond this only the count grows (a forged log can have millions). */
const DEFAULT_MAX_FINDINGS = 1000;

/** The findings of one audit: the first `max` in full, and the total count. */
export class FindingList {
  readonly #max: number;
  readonly #items: Finding[] = [];
  #count = 0;

  constructor(max = DEFAULT_MAX_FINDINGS) {
    if (!Number.isSafeInteger(max) || max < 0) throw new RangeError('the findings limit is a non-negative integer');
    this.#max = max;
  }

  add(kind: FindingKind, entry: number | null, message: string): void {
    this.#count++;
    if (this.#items.length < this.#max) this.#items.push(Object.freeze({ kind, entry, message }));
  }

  /** All findings, including those not kept. */
  get count(): number {
    return this.#count;
  }

  /** The kept findings, in the order found. */
  get items(): readonly Finding[] {
    return this.#items;
  }
}
