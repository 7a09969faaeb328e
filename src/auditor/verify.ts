/**
 * The auditor's offline verifier: one streaming pass over a log file (verifyLogFile: every
 * record's checksum, never the whole file in memory) that checks each entry's signature and
 * author against the federation, recomputes the Merkle root at the size of every tree head it was
 * given and compares it with the signed root, and runs the policy (audit-policy.ts).
 *
 * Tree heads come in two sets. `heads` are what the log operator publishes with the log (its
 * latest head, LOG.head.json): the entries below each head's size must be the ones it signed.
 * `since` are heads the auditor (or an agency) kept from before: the log must extend them, and a
 * published head smaller than a kept one is a rollback. All heads must be signed by the log
 * operator (log-operator.ts) and name the federation id as their log id.
 *
 * Agencies' budget ledgers, when given, are reconciled with the budget entries of the log
 * (ledger-reconcile.ts).
 *
 * Every problem becomes a finding naming its entry; the verifier throws only when the file cannot
 * be audited at all (unreadable, or not a transparency log).
 */
import { toHex } from '../crypto/digest.js';
import { FedstatError, isFedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import { FindingList, type Finding } from './findings.js';
import { AuditPolicyChecker, type BudgetSummary } from './policy-checker.js';
import { reconcileLedger, type LedgerReconciliation, type LedgerToReconcile } from './ledger-reconcile.js';
import type { EntryKind } from '../transparency/entry-shape.js';
import { authorProblem, openEntry, type EntryProblem } from '../transparency/log-entry.js';
import { logOperator } from '../transparency/log-operator.js';
import { verifyLogFile, type MerkleTreeView } from './log-file-check.js';
import { MerkleAccumulator } from '../merkle/merkle-accumulator.js';
import { hashEquals } from '../merkle/merkle-hash.js';
import { verifyTreeHead, type SignedTreeHead } from '../merkle/tree-head.js';

/** What `verifyAuditLog` checks the log against. */
export interface AuditVerifyOptions {
  /** The federation whose log this is: party keys, policy, log id. */
  readonly federation: Federation;
  /** Heads the log operator published with this log (usually its latest). */
  readonly heads?: readonly SignedTreeHead[];
  /** Earlier heads the auditor kept (`--since`): the log must extend every one. */
  readonly since?: readonly SignedTreeHead[];
  /** The log operator's public key; default `logOperator(federation).publicKey`. */
  readonly operatorKey?: Uint8Array;
  /** Findings kept in full (the count is always exact); default 1000. */
  readonly maxFindings?: number;
  /** Agencies' budget ledgers (read with readLedgerCharges) to reconcile with the log. */
  readonly ledgers?: readonly LedgerToReconcile[];
}

/** What `verifyAuditLog` found; every problem is in `findings`. */
export interface AuditReport {
  /** True exactly when there is no finding. */
  readonly ok: boolean;
  /** The log file, as given. */
  readonly file: string;
  /** The federation id, which every head must name. */
  readonly logId: string;
  /** Entries read (up to a corrupt record, if any). */
  readonly size: number;
  /** Hex RFC 9162 root of those entries. */
  readonly rootHash: string;
  /**
   * Bytes of a crash-torn final record beyond every head (never acknowledged, so not an entry;
   * not a finding). Bytes of an entry a head covers are part of the `truncated` finding instead.
   */
  readonly tornBytes: number;
  /** The largest valid head whose root matched, or null; entries beyond it are signed by no head. */
  readonly signedSize: number | null;
  /** Heads that were checked and held. */
  readonly headsVerified: number;
  /** Entries per kind whose signature and author held. */
  readonly counts: Record<EntryKind, number>;
  /** Logged spending per agency and dataset, sorted by agency, then dataset. */
  readonly budgets: readonly BudgetSummary[];
  /** One per ledger given, in the order given. */
  readonly ledgers: readonly LedgerReconciliation[];
  /** The first `maxFindings` findings, in the order found. */
  readonly findings: readonly Finding[];
  /** All findings, including any beyond `findings`' limit. */
  readonly findingCount: number;
}

interface HeadToCheck {
  readonly head: SignedTreeHead;
  readonly since: boolean;
}

const ENTRY_FINDING: Readonly<Record<EntryProblem, 'malformed' | 'unknown-author' | 'bad-signature'>> = {
  malformed: 'malformed',
  'unknown-author': 'unknown-author',
  'bad-signature': 'bad-signature',
};

/** Checks signatures, log ids and forks among the heads; returns the ones to compare with the file. */
function screenHeads(options: AuditVerifyOptions, operatorKey: Uint8Array, findings: FindingList): HeadToCheck[] {
  const all: HeadToCheck[] = [
    ...(options.since ?? []).map((head) => ({ head, since: true })),
    ...(options.heads ?? []).map((head) => ({ head, since: false })),
  ];
  const good: HeadToCheck[] = [];
  const id = options.federation.id;
  for (const h of all) {
    const what = `the ${h.since ? '--since' : 'published'} tree head of size ${String(h.head.size)}`;
    if (!verifyTreeHead(h.head, operatorKey))
      findings.add('head-signature', null, `${what} is malformed or not signed by the log operator`);
    else if (h.head.logId !== id)
      findings.add('head-other-log', null, `${what} names log ${h.head.logId}, not this federation (${id})`);
    else good.push(h);
  }
  for (let i = 0; i < good.length; i++) {
    for (let j = i + 1; j < good.length; j++) {
      const a = good[i]!.head;
      const b = good[j]!.head;
      if (a.size === b.size && !hashEquals(a.rootHash, b.rootHash)) {
        findings.add(
          'fork',
          null,
          `two different roots were signed for size ${a.size}: the operator showed different logs to different parties`,
        );
      }
    }
  }
  const maxSince = Math.max(-1, ...good.filter((h) => h.since).map((h) => h.head.size));
  for (const h of good) {
    if (!h.since && h.head.size < maxSince) {
      findings.add(
        'rollback',
        null,
        `the published tree head has ${h.head.size} entries, fewer than the ${maxSince} of a head you kept: the log was rolled back`,
      );
    }
  }
  return good.sort((a, b) => a.head.size - b.head.size);
}

/**
 * Audits the log at `file` (see the module comment). Throws FedstatError IO when the file cannot
 * be read and DATA_INVALID when it is not a fedstat transparency log; every other problem is a
 * finding in the report.
 */
export async function verifyAuditLog(file: string, options: AuditVerifyOptions): Promise<AuditReport> {
  const { federation } = options;
  const findings = new FindingList(options.maxFindings);
  const operatorKey = options.operatorKey ?? logOperator(federation).publicKey;
  const heads = screenHeads(options, operatorKey, findings);
  const policy = new AuditPolicyChecker(federation.policy, findings);
  // The scan's own tree, seen through onEntry (empty until the first record).
  let acc: MerkleTreeView = new MerkleAccumulator();
  let nextHead = 0;
  let signedSize: number | null = null;
  let headsVerified = 0;
  const checkHeads = (): void => {
    for (; nextHead < heads.length && heads[nextHead]!.head.size === acc.size; nextHead++) {
      const { head, since } = heads[nextHead]!;
      if (hashEquals(acc.root(), head.rootHash)) {
        headsVerified++;
        signedSize = Math.max(signedSize ?? 0, head.size);
      } else if (since) {
        findings.add(
          'inconsistent',
          null,
          `the first ${head.size} entries are not those of the tree head you kept: the log was rewritten since`,
        );
      } else {
        findings.add(
          'root-mismatch',
          null,
          `the first ${head.size} entries do not have the root the published tree head signed: entries were altered, removed, inserted or reordered`,
        );
      }
    }
  };
  const check = await verifyLogFile(file, {
    onEntry: (record, tree) => {
      acc = tree;
      checkHeads();
      let opened;
      try {
        opened = openEntry(record.entry, federation);
      } catch (e) {
        if (!isFedstatError(e, 'BAD_MESSAGE')) throw e;
        findings.add(ENTRY_FINDING[e.details['problem'] as EntryProblem] ?? 'malformed', record.index, e.message);
        return;
      }
      const why = authorProblem(opened.event, opened.author);
      if (why !== null) findings.add('wrong-author', record.index, why);
      else policy.check(record.index, opened.event);
    },
  });
  if (!check.ok) {
    if (check.problem === 'unreadable') throw new FedstatError('IO', `${check.message}; check the path`);
    if (check.problem === 'not-a-log')
      throw new FedstatError('DATA_INVALID', `${check.message}; pass the log file the log operator published`);
    findings.add('corrupt', check.record ?? acc.size, `${check.message}; entries from there on were not checked`);
  } else {
    checkHeads();
  }
  // Heads beyond the file: a head is signed only for durable entries, so a record it covers that
  // the file ends inside of was cut, not torn by a crash.
  const torn = check.ok ? check.tornBytes : 0;
  const tornCovered = check.ok && nextHead < heads.length;
  for (; check.ok && nextHead < heads.length; nextHead++) {
    const { head } = heads[nextHead]!;
    if (head.size > acc.size) {
      const partly = torn > 0 ? ` and ${torn} bytes of entry ${acc.size}` : '';
      findings.add(
        'truncated',
        null,
        `a tree head was signed for ${head.size} entries but the file has ${acc.size}${partly}: entries were removed from the end`,
      );
    }
  }
  policy.finish();
  const ledgers = (options.ledgers ?? []).map((l) => reconcileLedger(l, policy.loggedCharges(), findings));
  return Object.freeze({
    ok: findings.count === 0,
    file,
    logId: federation.id,
    size: acc.size,
    rootHash: toHex(acc.root()),
    tornBytes: tornCovered ? 0 : torn,
    signedSize,
    headsVerified,
    counts: policy.counts(),
    budgets: policy.budgets(),
    ledgers,
    findings: findings.items,
    findingCount: findings.count,
  });
}
