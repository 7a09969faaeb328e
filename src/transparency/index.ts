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
