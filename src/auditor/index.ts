/**
 * `fedstat/audit`: the auditor's tools over a federation's transparency log, offline: verify the
 * whole log and its policy (`verifyAuditLog`), list its entries (`auditRows`), prove one entry to a
 * third party (`proveEntry`, `checkEntryProof`), and check the structure of a log file
 * (`verifyLogFile`). Usable without the rest of the package.
 *
 * @packageDocumentation
 */
export { verifyAuditLog, type AuditReport, type AuditVerifyOptions } from './verify.js';
export { auditRows, describeEvent, type AuditRow, type AuditShowOptions } from './show.js';
export { checkEntryProof, proveEntry, type EntryProofJson } from './prove.js';
export {
  verifyLogFile,
  type LogCheck,
  type LogProblem,
  type MerkleTreeView,
  type VerifyLogOptions,
} from './log-file-check.js';
export type { ScannedRecord } from '../transparency/log-scan.js';
export type { AuditEvent } from '../transparency/events.js';
export type { EntryKind } from '../transparency/entry-shape.js';
export type { Finding, FindingKind } from './findings.js';
export type { BudgetSummary } from './policy-checker.js';
export type { LedgerReconciliation, LedgerToReconcile } from './ledger-reconcile.js';
