/**
 * The plan of one Newton round of a federated GLM fit (issue 13): a query envelope
 * (query-envelope.ts) whose `plan` is a `GlmRoundPlan` asks every agency for its round sums at β.
 * It is signed, logged, admitted, charged, masked, encrypted and decrypted like any query; only
 * what the agency computes differs. The agency re-checks everything it can derive itself: the model
 * coding against the federation schema, β, the WHERE predicate, and the fixed-point encoding plan
 * (fixed-point.ts), which it re-derives from the plan's inputs and refuses unless its digest is the
 * one the coordinator signed.
 *
 * A round's query id is not random: it is derived from the fit id and the round number. An agency
 * (its replay guard, and in a DP fit its budget ledger, which charges a query id once) therefore
 * answers one round of one fit at most once, whatever a coordinator that restarts or misbehaves
 * sends: a resumed fit goes on with the next round number and never spends a round twice.
 */
import { randomBytes } from 'node:crypto';
import { taggedDigest, toHex } from '../crypto/digest.js';
import { FedstatError } from '../errors.js';
import type { Rational } from '../dp/rational.js';
import type { Federation } from '../federation/federation.js';
import { datasetParties } from '../federation/federation.js';
import { MAX_CIPHERTEXTS, type SlotLayout } from '../he/packing.js';
import { presetByName } from '../he/presets.js';
import { checkModelCoding, type ModelCoding } from '../learn/design.js';
import { planGlmEncoding, type GlmEncodingPlan } from '../learn/fixed-point.js';
import { recordBounds } from '../learn/record-bounds.js';
import type { Predicate } from '../query/plan.js';
import { validatePredicate } from '../query/validate-plan.js';
import { canonicalBytes } from '../util/canonical-json.js';

/** The `kind` that tells a GLM round's plan from a SQL query's. */
export const GLM_ROUND_KIND = 'glm-round';
/** The most Newton rounds one fit may number. */
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

/** One round of a fit, as the `plan` of a query envelope. */
export interface GlmRoundPlan {
  readonly kind: typeof GLM_ROUND_KIND;
  readonly dataset: string;
  /** 32 hex digits, the same for every round of one fit. */
  readonly fitId: string;
  /** 1 for the first round of a fit. */
  readonly round: number;
  readonly coding: ModelCoding;
  /** β on the internal (scaled) scale, one per coefficient. */
  readonly beta: readonly number[];
  /** Only the rows this holds for are fitted; null: all rows. */
  readonly where: Predicate | null;
  readonly encoding: GlmRoundEncoding;
}

/** The HE parameters a party runs with. */
export interface GlmRoundHe {
  readonly paramsId: string;
  readonly plainModulus: bigint;
}

/** What the envelope around a round fixes, which the round's plan depends on. */
export interface GlmRoundEnvelope {
  readonly queryId: string;
  readonly agencies: readonly string[];
  readonly threshold: number;
  /** ρ of the round (null: exact sums). */
  readonly rho: Rational | null;
}

/** Whether a query's plan is a GLM round's. */
export function isGlmRoundPlan<P extends object>(plan: P | GlmRoundPlan): plan is GlmRoundPlan {
  return (plan as { kind?: unknown }).kind === GLM_ROUND_KIND;
}

/** A fresh fit id (32 hex digits). */
export function newFitId(): string {
  return randomBytes(16).toString('hex');
}

/** The query id of round `round` of fit `fitId`: 32 hex digits of a tagged digest. */
export function glmRoundQueryId(fitId: string, round: number): string {
  return toHex(taggedDigest('fedstat/glm-round-id/v1', fitId, round)).slice(0, 32);
}

/** hex SHA-256 over a tagged canonical encoding of the plan. */
export function glmPlanDigest(plan: GlmEncodingPlan): string {
  return toHex(taggedDigest('fedstat/glm-encoding-plan/v1', canonicalBytes(plan)));
}

/**
 * The encoding plan of a round, as every party derives it: against every agency the federation
 * lets serve the dataset (like a query's slot layout), at the round's β, for the preset's slot
 * count, with room for the noise of a DP round.
 */
export function glmRoundPlan(
  federation: Federation,
  round: Pick<GlmRoundPlan, 'dataset' | 'coding' | 'beta'> & {
    readonly encoding: Omit<GlmRoundEncoding, 'planSha256' | 'paramsId'>;
  },
  privacy: { readonly rho: Rational; readonly threshold: number } | null = null,
): GlmEncodingPlan {
  const e = round.encoding;
  return planGlmEncoding(
    round.coding,
    recordBounds(round.coding, round.beta),
    e.maxRows,
    datasetParties(federation, round.dataset).length,
    BigInt(e.plainModulus),
    {
      slotsPerCiphertext: presetByName(e.preset).polyModulusDegree,
      maxCiphertexts: e.maxCiphertexts,
      ...(privacy === null ? {} : { privacy }),
    },
  );
}

/**
 * The slots of a round's contribution as secure aggregation and the encrypted sum see them: the
 * encoding's ciphertexts, its used slots masked. Its no-wrap proof is the encoding plan's (`proof`),
 * so the layout has no cells of its own.
 */
export function glmSlotLayout(plan: GlmEncodingPlan): SlotLayout {
  return Object.freeze({
    limbBase: plan.limbBase,
    parties: plan.agencies,
    noiseBound: 0n,
    slotCount: plan.slotsPerCiphertext,
    plainModulus: plan.plainModulus,
    cells: [],
    slotsUsed: plan.slotsUsed,
    ciphertextCount: plan.ciphertextCount,
  });
}

function bad(message: string): FedstatError {
  return new FedstatError('BAD_MESSAGE', message);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const HEX32 = /^[0-9a-f]{32}$/;
const ENCODING_FIELDS = ['preset', 'paramsId', 'plainModulus', 'maxRows', 'maxCiphertexts', 'planSha256'];
const PLAN_FIELDS = ['kind', 'dataset', 'fitId', 'round', 'coding', 'beta', 'where', 'encoding'];

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

function openCoding(raw: unknown, federation: Federation, dataset: string): ModelCoding {
  try {
    return checkModelCoding(raw, federation.schema.datasets[dataset]!, dataset);
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
}

/**
 * Checks an untrusted round plan (from a verified envelope) for this federation and these HE
 * parameters: shape, dataset, the query id derived from fit and round, coding, β, WHERE, that every
 * agency asked may serve the dataset, and the encoding plan's digest. BAD_MESSAGE otherwise.
 */
export function openGlmRoundPlan(
  raw: unknown,
  federation: Federation,
  he: GlmRoundHe,
  envelope: GlmRoundEnvelope,
): GlmRoundPlan {
  if (!isObject(raw) || raw['kind'] !== GLM_ROUND_KIND) throw bad('GLM round plan is malformed');
  const extra = Object.keys(raw).find((k) => !PLAN_FIELDS.includes(k));
  if (extra !== undefined || Object.keys(raw).length !== PLAN_FIELDS.length)
    throw bad('GLM round plan has missing or unknown fields');
  const { dataset, fitId, round, beta } = raw;
  if (typeof dataset !== 'string' || !Object.hasOwn(federation.schema.datasets, dataset))
    throw bad('GLM round names a dataset this federation does not have');
  if (typeof fitId !== 'string' || !HEX32.test(fitId)) throw bad('GLM fit id must be 32 hex digits');
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 1 || round > MAX_GLM_ROUNDS)
    throw bad(`GLM round number must be an integer from 1 to ${MAX_GLM_ROUNDS}`);
  if (envelope.queryId !== glmRoundQueryId(fitId, round))
    throw bad("GLM round's query id is not the one its fit id and round number derive");
  const coding = openCoding(raw['coding'], federation, dataset);
  const d = coding.columns.length;
  if (!Array.isArray(beta) || beta.length !== d)
    throw bad(`GLM round beta must have ${d} entries, one per coefficient`);
  if (!beta.every((b) => typeof b === 'number' && Number.isFinite(b)))
    throw bad('GLM round beta must be finite numbers');
  const where = raw['where'] === null ? null : validatePredicate(raw['where'], dataset, federation.schema);
  const serving = new Set(datasetParties(federation, dataset).map((p) => p.id));
  if (!envelope.agencies.every((a) => serving.has(a)))
    throw bad('GLM round asks a party that is not a federation agency allowed to serve the dataset');
  const encoding = openEncoding(raw['encoding'], federation, he, federation.schema.datasets[dataset]!.maxRows);
  const privacy = envelope.rho === null ? null : { rho: envelope.rho, threshold: envelope.threshold };
  let plan: GlmEncodingPlan;
  try {
    plan = glmRoundPlan(federation, { dataset, coding, beta: beta as number[], encoding }, privacy);
  } catch (e) {
    throw new FedstatError(
      'BAD_MESSAGE',
      `GLM round encoding cannot be planned: ${e instanceof FedstatError ? e.message : 'invalid inputs'}`,
      { cause: e },
    );
  }
  if (glmPlanDigest(plan) !== encoding.planSha256)
    throw bad('GLM round encoding plan differs from the one this agency derives from its inputs');
  return Object.freeze({
    kind: GLM_ROUND_KIND,
    dataset,
    fitId,
    round,
    coding,
    beta: Object.freeze([...(beta as number[])]),
    where,
    encoding,
  });
}

function openEncoding(raw: unknown, federation: Federation, he: GlmRoundHe, maxRows: number): GlmRoundEncoding {
  if (!isObject(raw)) throw bad('GLM round encoding is malformed');
  if (Object.keys(raw).length !== ENCODING_FIELDS.length || !ENCODING_FIELDS.every((k) => Object.hasOwn(raw, k)))
    throw bad('GLM round encoding has missing or unknown fields');
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
