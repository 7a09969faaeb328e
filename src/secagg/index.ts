/**
 * fedstat/secagg — secure aggregation with dropouts (Bonawitz et al., CCS 2017, double masking),
 * as pure state machines: `SecAggParticipant` on each agency, `SecAggAggregation` on the
 * coordinator. Transport, signing and encoding of the messages live in fedstat/protocol.
 */
export {
  SecAggParticipant, colludersTolerated, defaultThreshold, minimumThreshold,
  type SecAggParticipantOptions, type Round1Query, type Round1Output, type SurvivorSetRequest,
  type RevealedShare, type RevealedSeed, type Round2Output,
} from './participant.js';
export {
  SecAggAggregation, type SecAggAggregationOptions, type Round1Material, type Round2Answer, type SurvivorSet,
} from './aggregation.js';
export {
  sealShare, openShare, sealedBoxLength, encodeSharePlaintext, NONCE_BYTES, type SealedShare, type ShareBinding,
} from './sealed-share.js';
export {
  pairwiseSeed, selfMaskSeed, pairwiseCommitment, selfMaskCommitment, expandMask, expandMaskInto, addMaskInto, SEED_BYTES,
  type PairwiseContext,
} from './masks.js';
export {
  checkParams, isValidModulus, MAX_ID_BYTES, MAX_PARTICIPANTS, MAX_VECTOR_LENGTH, type SecAggParams,
} from './params.js';
export {
  FIELD_PRIME, FIELD_BYTES, MAX_SHARES, randomFieldElement, randomFieldElements, splitSecret, combineShares, checkShares, lagrangeAtZero,
  interpolateAtZero, fieldToBytes, fieldFromBytes, type Share,
} from './shamir.js';
