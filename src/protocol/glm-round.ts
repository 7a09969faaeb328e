/**
 * The signed plan of one Newton round of a federated GLM fit (issue 13): the coordinator asks
 * every agency for its round sums at β. Like the query envelope (query-envelope.ts) it is sent as
 * canonical JSON bytes with the coordinator's signature over a tagged digest of exactly those
 * bytes, so an agency verifies before it parses anything. The agency then re-checks everything it
 * can derive itself: the model coding against the federation schema, β, the agencies, and the
 * fixed-point encoding plan (fixed-point.ts), which it re-derives from the plan's inputs and
 * refuses unless its digest is the one the coordinator signed.
 *
 * No privacy terms: the query envelope's `privacy` ({rho}) is calibrated by privacy-terms.ts from a
 * query's COUNT/SUM cells, which do not apply to round sums; DP for GLM rounds needs its own terms.
 */
import { randomBytes } from 'node:crypto';
import { taggedDigest, toHex } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import { FedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import { datasetParties, partyOfRole } from '../federation/federation.js';
import { MAX_CIPHERTEXTS } from '../he/packing.js';
import { presetByName } from '../he/presets.js';
import { checkModelCoding, type ModelCoding } from '../learn/design.js';
import { planGlmEncoding, type GlmEncodingPlan } from '../learn/fixed-point.js';
import { recordBounds } from '../learn/record-bounds.js';
import { canonicalBytes } from '../util/canonical-json.js';
import { MAX_QUERY_AGENCIES, MAX_QUERY_BYTES } from './query-envelope.js';

/** Tolerated clock difference between coordinator and agency (as for queries). */
const CLOCK_SKEW_MS = 120_000;
/** The most Newton rounds one fit may ask for. */
const MAX_GLM_ROUNDS = 1000;

/** What the agency re-derives the encoding plan from, and the digest of the plan the coordinator made. */
export interface GlmRoundEncoding {
  /** The federation's HE preset (its N is the slots per ciphertext). */
  readonly preset: string;
  /** `HeParams.paramsId` of the preset's parameters. */
  readonly paramsId: string;
  /** The plain modulus t, in decimal. */
  readonly plainModulus: string;
  /** The dataset schema's maxRows: no agency contributes more rows. */
  readonly maxRows: number;
  /** The most ciphertexts one agency's sums may take. */
  readonly maxCiphertexts: number;
  /** hex SHA-256 of the canonical plan (`glmPlanDigest`). */
  readonly planSha256: string;
}

export interface GlmRound {
  readonly v: 1;
  /** 32 hex digits, fresh for every round. */
  readonly roundId: string;
  readonly federationId: string;
  /** 32 hex digits, the same for every round of one fit. */
  readonly fitId: string;
  /** 1 for the first round of a fit. */
  readonly round: number;
  readonly dataset: string;
  readonly coding: ModelCoding;
  /** β on the internal (scaled) scale, one per coefficient. */
  readonly beta: readonly number[];
  /** Agencies asked to contribute, sorted: the participants of secure aggregation. */
  readonly agencies: readonly string[];
  readonly encoding: GlmRoundEncoding;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface SignedGlmRound {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** The HE parameters the agency runs with. */
export interface GlmRoundHe {
  readonly paramsId: string;
  readonly plainModulus: bigint;
}

export function newGlmRoundId(): string {
  return randomBytes(16).toString('hex');
}

function glmRoundDigest(bytes: Uint8Array): Uint8Array {
  return taggedDigest('fedstat/glm-round/v1', bytes);
}

/** hex SHA-256 over a tagged canonical encoding of the plan. */
export function glmPlanDigest(plan: GlmEncodingPlan): string {
  return toHex(taggedDigest('fedstat/glm-encoding-plan/v1', canonicalBytes(plan)));
}

/**
 * The encoding plan of a round, as both sides derive it: against every agency the federation lets
 * serve the dataset (like a query's slot layout), at the round's β, for the preset's slot count.
 */
export function glmRoundPlan(
  federation: Federation,
  round: Pick<GlmRound, 'dataset' | 'coding' | 'beta'> & {
    readonly encoding: Omit<GlmRoundEncoding, 'planSha256' | 'paramsId'>;
  },
): GlmEncodingPlan {
  const e = round.encoding;
  return planGlmEncoding(
    round.coding,
    recordBounds(round.coding, round.beta),
    e.maxRows,
    datasetParties(federation, round.dataset).length,
    BigInt(e.plainModulus),
    { slotsPerCiphertext: presetByName(e.preset).polyModulusDegree, maxCiphertexts: e.maxCiphertexts },
  );
}

export function signGlmRound(round: GlmRound, coordinatorSecretKey: Uint8Array): SignedGlmRound {
  const bytes = canonicalBytes(round);
  return { bytes, signature: sign(glmRoundDigest(bytes), coordinatorSecretKey) };
}

function bad(message: string): FedstatError {
  return new FedstatError('BAD_MESSAGE', message);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const HEX32 = /^[0-9a-f]{32}$/;

/** The fields of a ModelCoding, which a refusal may name. */
const CODING_FIELDS: ReadonlySet<string> = new Set([
  'version',
  'dataset',
  'formula',
  'family',
  'link',
  'response',
  'intercept',
  'offset',
  'terms',
  'columns',
  'coefficients',
  'referenceLevels',
  'eta',
]);

/**
 * Verifies and parses a signed round for this federation and these HE parameters: coordinator
 * signature first, then shape, federation, time window, coding, β, agencies and encoding plan,
 * and last that the bytes are the canonical encoding of what was read.
 */
export function openGlmRound(signed: SignedGlmRound, federation: Federation, he: GlmRoundHe, now: number): GlmRound {
  if (signed.bytes.length > MAX_QUERY_BYTES) {
    throw new FedstatError('MESSAGE_TOO_LARGE', `GLM round of ${signed.bytes.length} bytes exceeds ${MAX_QUERY_BYTES}`);
  }
  const coordinator = partyOfRole(federation, 'coordinator');
  if (!verify(glmRoundDigest(signed.bytes), signed.signature, coordinator.signingKey)) {
    throw bad("GLM round signature does not verify against the federation's coordinator key");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signed.bytes));
  } catch {
    throw bad('GLM round is not UTF-8 JSON');
  }
  if (!isObject(raw) || raw['v'] !== 1) throw bad('GLM round has an unknown version');
  const { roundId, federationId, fitId, round, dataset, beta, agencies, encoding, issuedAt, expiresAt } = raw;
  if (typeof roundId !== 'string' || !HEX32.test(roundId)) throw bad('GLM round id must be 32 hex digits');
  if (federationId !== federation.id)
    throw bad('GLM round was made for another federation (federation ids differ); check --federation');
  if (typeof fitId !== 'string' || !HEX32.test(fitId)) throw bad('GLM fit id must be 32 hex digits');
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 1 || round > MAX_GLM_ROUNDS)
    throw bad(`GLM round number must be an integer from 1 to ${MAX_GLM_ROUNDS}`);
  if (
    typeof issuedAt !== 'number' ||
    typeof expiresAt !== 'number' ||
    !Number.isSafeInteger(issuedAt) ||
    !Number.isSafeInteger(expiresAt) ||
    expiresAt < issuedAt
  ) {
    throw bad('GLM round times are malformed');
  }
  if (issuedAt > now + CLOCK_SKEW_MS)
    throw bad('GLM round is issued in the future; check the clocks of coordinator and agency');
  if (expiresAt < now) throw new FedstatError('REPLAY', `GLM round ${roundId} expired ${now - expiresAt} ms ago`);
  if (typeof dataset !== 'string' || !Object.hasOwn(federation.schema.datasets, dataset))
    throw bad('GLM round names a dataset this federation does not have');
  const schema = federation.schema.datasets[dataset]!;
  let coding: ModelCoding;
  try {
    coding = checkModelCoding(raw['coding'], schema, dataset);
  } catch (e) {
    // The coding's own message may quote text from the message: name only a known field.
    const field = e instanceof FedstatError ? e.details['field'] : undefined;
    const where = typeof field === 'string' && CODING_FIELDS.has(field) ? ` (field "${field}")` : '';
    throw new FedstatError(
      'BAD_MESSAGE',
      `GLM round model coding does not match its formula and the schema of the dataset${where}`,
      { cause: e },
    );
  }
  const d = coding.columns.length;
  if (!Array.isArray(beta) || beta.length !== d)
    throw bad(`GLM round beta must have ${d} entries, one per coefficient`);
  if (!beta.every((b) => typeof b === 'number' && Number.isFinite(b)))
    throw bad('GLM round beta must be finite numbers');
  if (
    !Array.isArray(agencies) ||
    agencies.length < 1 ||
    agencies.length > MAX_QUERY_AGENCIES ||
    !agencies.every((a) => typeof a === 'string')
  ) {
    throw bad('GLM round agency list is malformed');
  }
  for (let i = 1; i < agencies.length; i++) {
    if ((agencies[i - 1] as string) >= (agencies[i] as string))
      throw bad('GLM round agency list is not sorted and unique');
  }
  const serving = new Set(datasetParties(federation, dataset).map((p) => p.id));
  if (!agencies.every((a) => serving.has(a)))
    throw bad('GLM round asks a party that is not a federation agency allowed to serve the dataset');
  const enc = openEncoding(encoding, federation, he, schema.maxRows);
  let plan: GlmEncodingPlan;
  try {
    plan = glmRoundPlan(federation, { dataset, coding, beta: beta as number[], encoding: enc });
  } catch (e) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `GLM round encoding cannot be planned: ${e instanceof FedstatError ? e.message : 'invalid inputs'}`,
      { cause: e },
    );
  }
  if (glmPlanDigest(plan) !== enc.planSha256)
    throw bad('GLM round encoding plan differs from the one this agency derives from its inputs');
  const opened: GlmRound = Object.freeze({
    v: 1,
    roundId,
    federationId,
    fitId,
    round,
    dataset,
    coding,
    beta: Object.freeze([...(beta as number[])]),
    agencies: Object.freeze([...agencies]),
    encoding: enc,
    issuedAt,
    expiresAt,
  });
  const again = canonicalBytes(opened);
  if (again.length !== signed.bytes.length || !again.every((b, i) => b === signed.bytes[i]))
    throw bad('GLM round is not canonically encoded (extra fields, spacing or number forms)');
  return opened;
}

function openEncoding(raw: unknown, federation: Federation, he: GlmRoundHe, maxRows: number): GlmRoundEncoding {
  if (!isObject(raw)) throw bad('GLM round encoding is malformed');
  const { preset, paramsId, plainModulus, maxRows: rows, maxCiphertexts, planSha256 } = raw;
  if (preset !== federation.he.preset) throw bad("GLM round encoding names another HE preset than the federation's");
  if (paramsId !== he.paramsId) throw bad('GLM round uses other HE parameters than this agency');
  if (typeof plainModulus !== 'string' || plainModulus !== he.plainModulus.toString())
    throw bad("GLM round encoding names another plain modulus than this agency's parameters");
  if (rows !== maxRows) throw bad("GLM round encoding's maxRows differs from the dataset schema's");
  if (
    typeof maxCiphertexts !== 'number' ||
    !Number.isSafeInteger(maxCiphertexts) ||
    maxCiphertexts < 1 ||
    maxCiphertexts > MAX_CIPHERTEXTS
  )
    throw bad(`GLM round encoding's maxCiphertexts must be an integer from 1 to ${MAX_CIPHERTEXTS}`);
  if (typeof planSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(planSha256))
    throw bad("GLM round encoding's plan digest must be 64 hex digits");
  return Object.freeze({ preset, paramsId, plainModulus, maxRows, maxCiphertexts, planSha256 });
}
