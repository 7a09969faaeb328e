/**
 * The transparency log's foundations (RFC 9162 Merkle tree, proofs, signed tree heads,
 * crash-safe storage, streaming verification). Verifiers return booleans or a result object and
 * never throw for bad input; decoders of peer bytes throw FedstatError BAD_MESSAGE.
 */
export { emptyRoot, hashChildren, hashEquals, hashLeaf, HASH_BYTES, splitPoint } from './merkle-hash.js';
export { MerkleAccumulator } from './merkle-accumulator.js';
export { leafHashAt, merkleRoot, SubtreeCache, subtreeRoot, type LeafHashSource } from './merkle-subtree.js';
export { inclusionProof, verifyInclusion } from './inclusion-proof.js';
export { consistencyProof, verifyConsistency } from './consistency-proof.js';
export {
  decodeSignedTreeHead, encodeSignedTreeHead, encodeTreeHead, MAX_LOG_ID_BYTES, signTreeHead, treeHeadFromJson, treeHeadToJson,
  TREE_HEAD_DOMAIN, verifyTreeHead, type SignedTreeHead, type TreeHead, type TreeHeadJson,
} from './tree-head.js';
export { checkConsistentHeads, checkInclusion, headCheckError, TreeHeadWitness, type HeadCheck, type HeadProblem } from './head-checks.js';
export { MAX_ENTRY_BYTES } from './log-record.js';
export { type ScannedRecord } from './log-scan.js';
export { TransparencyLogStore, type AppendResult, type LogStoreOptions, type OpenReport } from './log-store.js';
export { verifyLogFile, type LogCheck, type LogProblem, type VerifyLogOptions } from './log-verify.js';
export { ENTRY_KINDS, eventProblem, isEntryKind, type EntryKind } from './entry-shape.js';
export { authorProblem, decodeEntry, ENTRY_AUTHOR_ROLES, ENTRY_DOMAIN, entryFromEvent, openEntry, type DecodedEntry, type EntryProblem } from './log-entry.js';
export { logOperator, type LogOperator } from './log-operator.js';
export { readTreeHeadFile, treeHeadFileFor, writeTreeHeadFile } from './tree-head-file.js';
export { DEFAULT_MAX_FINDINGS, FindingList, type Finding, type FindingKind } from './audit-findings.js';
export { AuditPolicyChecker, type BudgetSummary, type LoggedCharge } from './audit-policy.js';
export { reconcileLedger, type LedgerReconciliation, type LedgerToReconcile } from './ledger-reconcile.js';
export { verifyAuditLog, type AuditReport, type AuditVerifyOptions } from './audit-verify.js';
export { auditRows, describeEvent, type AuditRow, type AuditShowOptions } from './audit-show.js';
export { checkEntryProof, proveEntry, type EntryProofJson } from './audit-prove.js';
export { SignedEntrySink, TransparencyLogSink } from './log-sink.js';
