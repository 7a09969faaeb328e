/**
 * `fedstat/primitives` (advanced): the building blocks under fedstat's protocol, for researchers
 * re-using them: secure aggregation with dropouts, exact differential privacy, BFV slot packing,
 * RFC 9162 Merkle proofs and cell suppression. Applications use the other entry points; these
 * pieces carry no protocol checks of their own beyond their documented contracts.
 *
 * @packageDocumentation
 */
// Secure aggregation (Bonawitz et al., CCS 2017, double masking) as pure state machines.
export {
  SecAggParticipant,
  colludersTolerated,
  defaultThreshold,
  minimumThreshold,
  type SecAggParticipantOptions,
  type Round1Query,
  type Round1Output,
  type SurvivorSetRequest,
  type RevealedShare,
  type RevealedSeed,
  type Round2Output,
} from './secagg/participant.js';
export {
  SecAggAggregation,
  type SecAggAggregationOptions,
  type Round1Material,
  type Round2Answer,
  type SurvivorSet,
} from './secagg/aggregation.js';
export type { SecAggParams } from './secagg/params.js';
export { sparseGraphFor, type SparseAssumptions, type SparseGraph } from './secagg/sparse-params.js';
export { FIELD_PRIME, splitSecret, combineShares, type Share } from './secagg/shamir.js';
export type { SealedShare } from './secagg/sealed-share.js';
// Differential privacy: exact samplers from node:crypto, zCDP accounting in rationals.
export { rational, type Rational } from './dp/rational.js';
export { CryptoRandom, type RandomSource } from './dp/random.js';
export { skellam, skellamVector } from './dp/skellam.js';
export { skellamTailBound } from './dp/tail-bound.js';
export { composeRho, distributedRho, skellamRho, type Sensitivity } from './dp/accountant.js';
export { calibrateMu, perAgencyMu, type CalibrateOptions } from './dp/calibration.js';
export { rhoToDelta, rhoToEpsilon } from './dp/conversion.js';
export { interval95, noiseStddev, type Interval95 } from './dp/utility.js';
export { formatRho, parseRho, type Rho } from './dp/rho.js';
// BFV (node-seal) and the slot packing with its no-wrap proof.
export { HeParams } from './he/he-params.js';
export { HE_PRESETS, presetByName, type HePreset } from './he/presets.js';
export { generateHeKeys, type HeKeyPair } from './he/keys.js';
export { HeEncryptor } from './he/encryptor.js';
export { HeAccumulator, type HeAccumulatorOptions } from './he/accumulator.js';
export { HeDecryptor } from './he/decryptor.js';
export {
  packSlots,
  planSlotLayout,
  proveNoWrap,
  unpackSlots,
  type CellSlots,
  type SlotLayout,
  type SlotSpace,
} from './he/packing.js';
// RFC 9162 Merkle trees: hashes, proofs, signed tree heads.
export { hashChildren, hashLeaf } from './merkle/merkle-hash.js';
export { merkleRoot, type LeafHashSource } from './merkle/merkle-subtree.js';
export { MerkleAccumulator } from './merkle/merkle-accumulator.js';
export { inclusionProof, verifyInclusion } from './merkle/inclusion-proof.js';
export { consistencyProof, verifyConsistency } from './merkle/consistency-proof.js';
export { signTreeHead, verifyTreeHead, type SignedTreeHead, type TreeHead } from './merkle/tree-head.js';
// Statistical disclosure control on a released table.
export {
  planSuppression,
  type ReleasedCell,
  type SuppressionOptions,
  type SuppressionPlan,
  type WithheldCell,
} from './disclosure/complementary-suppression.js';
export { isRecomputable, recomputableCells } from './disclosure/recomputable.js';
export type { Cell, SuppressionTable } from './disclosure/table.js';
