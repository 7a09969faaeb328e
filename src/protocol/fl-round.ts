/**
 * The plan of one federated-averaging round (issue 14): a query envelope (query-envelope.ts) whose
 * `plan` is an `FlRoundPlan` asks every agency named for its training contribution at the global
 * parameters. Like a GLM round (glm-round.ts) it is signed, logged, admitted, charged, masked,
 * encrypted and decrypted like any query; the agency re-derives the encoding plan (learn/fl/
 * fl-encoding.ts) from the plan's inputs and refuses it unless its digest is the one signed.
 *
 * The global parameters travel in the plan (float64, little-endian, base64) and the log keeps only
 * their SHA-256 (`flRoundLogView`): the envelope's digest, which the log entry holds, binds them.
 * The query id derives from the run id and the round number, so an agency answers (and charges)
 * one round of one run at most once, whatever a restarted coordinator sends.
 */
import { randomBytes } from 'node:crypto';
import { taggedDigest, toHex, sha256 } from '../crypto/digest.js';
import type { Rational } from '../dp/rational.js';
import { FedstatError } from '../errors.js';
import type { Federation } from '../federation/federation.js';
import { datasetParties } from '../federation/federation.js';
import { MAX_CIPHERTEXTS, type SlotLayout } from '../he/packing.js';
import { presetByName } from '../he/presets.js';
import { checkModelCoding, type ModelCoding } from '../learn/design.js';
import { planFlEncoding, type FlEncodingPlan } from '../learn/fl/fl-encoding.js';
import { decodeParameters, encodeParameters, parametersDigest } from '../learn/fl/parameters.js';
import { flOutput, flTrainer } from '../learn/fl/fl-model.js';
import { checkNetworkModelSpec, type NetworkModelSpec } from '../learn/fl/trainer-registry.js';
import type { Predicate } from '../query/plan.js';
import { validatePredicate } from '../query/validate-plan.js';
import { canonicalBytes } from '../util/canonical-json.js';
import type { GlmRoundHe } from './glm-round.js';

/** The `kind` that tells a federated-averaging round's plan from others. */
export const FL_ROUND_KIND = 'fl-round';
/** The most rounds one run may number. */
export const MAX_FL_ROUNDS = 10_000;
/** The most local epochs of an exact round. */
const MAX_LOCAL_EPOCHS = 100;
/** The most parameters a model may have (a 2 MiB query holds about 190,000 of them). */
const MAX_FL_PARAMETERS = 1 << 20;
/** The largest validation fraction. */
const MAX_VALIDATION = 0.5;

/** The local work's hyper-parameters. */
export interface FlHyper {
  readonly lr: number;
  /** Per-example gradient L2 bound. */
  readonly clip: number;
  /** Local epochs (1 in a DP round: one DP-SGD step). */
  readonly epochs: number;
  readonly batch: number;
  /** FedProx's proximal weight (0: FedAvg). */
  readonly mu: number;
}

/** What the agency re-derives the encoding from, and the digest of the coordinator's plan. */
export interface FlRoundEncoding {
  readonly preset: string;
  readonly paramsId: string;
  readonly plainModulus: string;
  readonly maxRows: number;
  readonly maxCiphertexts: number;
  /** P: the model's parameter count (the agency checks its trainer's against it). */
  readonly parameters: number;
  /** Exact rounds: U, the L2 bound of one agency's local − global (the agency clips to it). */
  readonly updateBound: number;
  readonly planSha256: string;
}

/** One round of a run, as the `plan` of a query envelope. */
export interface FlRoundPlan {
  readonly kind: typeof FL_ROUND_KIND;
  readonly dataset: string;
  /** 32 hex digits, the same for every round of one run. */
  readonly runId: string;
  /** The query's round number, 1 first; a lost round's number is never asked again. */
  readonly round: number;
  /** Global updates applied before this round (seeds the local shuffle: a resumed run repeats it). */
  readonly step: number;
  /** false: an evaluation round (metrics only, no update). */
  readonly train: boolean;
  /**
   * The run's seed: keys the held-out split and, in exact rounds, the local shuffle and rounding, so
   * two runs with one seed over the same agencies and records train the same model bit for bit.
   */
  readonly seed: number;
  readonly coding: ModelCoding;
  /** The built-in MLP, or a trainer registered under a name (trainer-registry.ts). */
  readonly model: NetworkModelSpec;
  /** The global parameters: float64 little-endian, base64. */
  readonly parameters: string;
  readonly hyper: FlHyper;
  /** Fraction of each agency's records held out for validation. */
  readonly validation: number;
  readonly where: Predicate | null;
  readonly encoding: FlRoundEncoding;
}

/** What the envelope around a round fixes. */
export interface FlRoundEnvelope {
  readonly queryId: string;
  readonly agencies: readonly string[];
  readonly threshold: number;
  readonly rho: Rational | null;
}

/** Whether a query's plan is a federated-averaging round's. */
export function isFlRoundPlan<P extends object>(plan: P | FlRoundPlan): plan is FlRoundPlan {
  return (plan as { kind?: unknown }).kind === FL_ROUND_KIND;
}

/** A fresh run id (32 hex digits). */
export function newRunId(): string {
  return randomBytes(16).toString('hex');
}

/** The query id of round `round` of run `runId`. */
export function flRoundQueryId(runId: string, round: number): string {
  return toHex(taggedDigest('fedstat/fl-round-id/v1', runId, round)).slice(0, 32);
}

/** hex SHA-256 over a tagged canonical encoding of the encoding plan. */
export function flPlanDigest(plan: FlEncodingPlan): string {
  return toHex(taggedDigest('fedstat/fl-encoding-plan/v1', canonicalBytes(plan)));
}

// The plan carries the parameters as learn/fl/parameters.ts writes them (MODEL.json does too).
export { decodeParameters, encodeParameters, parametersDigest };

/** The plan as the transparency log keeps it: the parameters replaced by their SHA-256. */
export function flRoundLogView(plan: FlRoundPlan): Omit<FlRoundPlan, 'parameters'> & { parametersSha256: string } {
  const { parameters, ...rest } = plan;
  return { ...rest, parametersSha256: toHex(sha256(Buffer.from(parameters, 'base64'))) };
}

/** The encoding plan of a round as every party derives it. */
export function flRoundEncoding(
  federation: Federation,
  round: Pick<FlRoundPlan, 'dataset' | 'coding' | 'model' | 'validation'> & {
    readonly encoding: Omit<FlRoundEncoding, 'planSha256' | 'paramsId'>;
    readonly clip: number;
  },
  privacy: { readonly rho: Rational; readonly threshold: number } | null,
): FlEncodingPlan {
  const e = round.encoding;
  return planFlEncoding({
    parameters: e.parameters,
    output: flOutput(round.coding),
    validation: round.validation > 0,
    updateBound: privacy === null ? e.updateBound : round.clip,
    maxRows: e.maxRows,
    agencies: datasetParties(federation, round.dataset).length,
    plainModulus: BigInt(e.plainModulus),
    slotsPerCiphertext: presetByName(e.preset).polyModulusDegree,
    maxCiphertexts: e.maxCiphertexts,
    privacy,
  });
}

/**
 * The slots of a round's contribution as secure aggregation and the encrypted sum see them: one
 * slot per entry. Its no-wrap proof is the encoding plan's, so the layout has no cells of its own.
 */
export function flSlotLayout(plan: FlEncodingPlan): SlotLayout {
  return Object.freeze({
    limbBase: plan.inputs.plainModulus / 2n / BigInt(plan.inputs.agencies),
    parties: plan.inputs.agencies,
    noiseBound: 0n,
    slotCount: plan.inputs.slotsPerCiphertext,
    plainModulus: plan.inputs.plainModulus,
    cells: [],
    slotsUsed: plan.entries,
    ciphertextCount: plan.ciphertextCount,
  });
}

function bad(message: string): FedstatError {
  return new FedstatError('BAD_MESSAGE', message);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function exactKeys(o: Record<string, unknown>, keys: readonly string[]): boolean {
  return Object.keys(o).length === keys.length && keys.every((k) => Object.hasOwn(o, k));
}

const HEX32 = /^[0-9a-f]{32}$/;
const PLAN_FIELDS = [
  'kind',
  'dataset',
  'runId',
  'round',
  'step',
  'train',
  'seed',
  'coding',
  'model',
  'parameters',
  'hyper',
  'validation',
  'where',
  'encoding',
];
const HYPER_FIELDS = ['lr', 'clip', 'epochs', 'batch', 'mu'];
const ENCODING_FIELDS = [
  'preset',
  'paramsId',
  'plainModulus',
  'maxRows',
  'maxCiphertexts',
  'parameters',
  'updateBound',
  'planSha256',
];

function positive(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0;
}

function openHyper(raw: unknown, maxRows: number, dp: boolean): FlHyper {
  if (!isObject(raw) || !exactKeys(raw, HYPER_FIELDS))
    throw bad('FL round hyper-parameters have missing or unknown fields');
  const { lr, clip, epochs, batch, mu } = raw;
  if (!positive(lr) || !positive(clip)) throw bad('FL round lr and clip must be finite and > 0');
  if (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 1 || epochs > MAX_LOCAL_EPOCHS)
    throw bad(`FL round local epochs must be a whole number from 1 to ${MAX_LOCAL_EPOCHS}`);
  if (dp && epochs !== 1) throw bad('a DP FL round takes one local step (epochs 1)');
  if (typeof batch !== 'number' || !Number.isSafeInteger(batch) || batch < 1 || batch > maxRows)
    throw bad("FL round batch must be a whole number from 1 to the schema's maxRows");
  if (typeof mu !== 'number' || !Number.isFinite(mu) || mu < 0) throw bad('FL round mu must be finite and ≥ 0');
  return Object.freeze({ lr, clip, epochs, batch, mu });
}

function openCoding(raw: unknown, federation: Federation, dataset: string): ModelCoding {
  try {
    const coding = checkModelCoding(raw, federation.schema.datasets[dataset]!, dataset);
    flOutput(coding);
    return coding;
  } catch (e) {
    throw new FedstatError('BAD_MESSAGE', 'FL round model coding does not match its formula and the dataset schema', {
      cause: e,
    });
  }
}

function openEncoding(raw: unknown, federation: Federation, he: GlmRoundHe, maxRows: number): FlRoundEncoding {
  if (!isObject(raw) || !exactKeys(raw, ENCODING_FIELDS)) throw bad('FL round encoding has missing or unknown fields');
  const { preset, paramsId, plainModulus, maxRows: rows, maxCiphertexts, parameters, updateBound, planSha256 } = raw;
  if (preset !== federation.he.preset) throw bad("FL round encoding names another HE preset than the federation's");
  if (paramsId !== he.paramsId) throw bad('FL round uses other HE parameters than this agency');
  if (plainModulus !== he.plainModulus.toString()) throw bad("FL round names another plain modulus than this agency's");
  if (rows !== maxRows) throw bad("FL round encoding's maxRows differs from the dataset schema's");
  if (
    typeof maxCiphertexts !== 'number' ||
    !Number.isSafeInteger(maxCiphertexts) ||
    maxCiphertexts < 1 ||
    maxCiphertexts > MAX_CIPHERTEXTS
  )
    throw bad(`FL round maxCiphertexts must be a whole number from 1 to ${MAX_CIPHERTEXTS}`);
  if (
    typeof parameters !== 'number' ||
    !Number.isSafeInteger(parameters) ||
    parameters < 1 ||
    parameters > MAX_FL_PARAMETERS
  )
    throw bad(`FL round parameter count must be a whole number from 1 to ${MAX_FL_PARAMETERS}`);
  if (!positive(updateBound)) throw bad('FL round update bound must be finite and > 0');
  if (typeof planSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(planSha256))
    throw bad("FL round encoding's plan digest must be 64 hex digits");
  return Object.freeze({
    preset,
    paramsId,
    plainModulus,
    maxRows,
    maxCiphertexts,
    parameters,
    updateBound,
    planSha256,
  });
}

/**
 * Checks an untrusted round plan (from a verified envelope) for this federation and these HE
 * parameters: shape, dataset, the query id from run and round, coding, model, parameters,
 * hyper-parameters, WHERE, the agencies, and the encoding plan's digest. BAD_MESSAGE otherwise.
 */
export function openFlRoundPlan(
  raw: unknown,
  federation: Federation,
  he: GlmRoundHe,
  envelope: FlRoundEnvelope,
): FlRoundPlan {
  if (!isObject(raw) || raw['kind'] !== FL_ROUND_KIND || !exactKeys(raw, PLAN_FIELDS))
    throw bad('FL round plan has missing or unknown fields');
  const { dataset, runId, round, step, train, seed, validation, parameters } = raw;
  if (typeof dataset !== 'string' || !Object.hasOwn(federation.schema.datasets, dataset))
    throw bad('FL round names a dataset this federation does not have');
  if (typeof runId !== 'string' || !HEX32.test(runId)) throw bad('FL run id must be 32 hex digits');
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 1 || round > MAX_FL_ROUNDS)
    throw bad(`FL round number must be a whole number from 1 to ${MAX_FL_ROUNDS}`);
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0 || step >= round)
    throw bad('FL round step must be a whole number below the round number');
  if (typeof train !== 'boolean') throw bad('FL round train must be true or false');
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw bad('FL round seed must be a whole number');
  if (envelope.queryId !== flRoundQueryId(runId, round))
    throw bad("FL round's query id is not the one its run id and round number derive");
  if (typeof validation !== 'number' || !(validation >= 0 && validation <= MAX_VALIDATION))
    throw bad(`FL round validation must be a fraction from 0 to ${MAX_VALIDATION}`);
  const schema = federation.schema.datasets[dataset]!;
  const coding = openCoding(raw['coding'], federation, dataset);
  const encoding = openEncoding(raw['encoding'], federation, he, schema.maxRows);
  let model: NetworkModelSpec;
  try {
    model = checkNetworkModelSpec(raw['model']);
    if (model.kind === 'mlp' && flTrainer(model, coding).size !== encoding.parameters)
      throw new RangeError("the parameter count is not the MLP's");
    if (typeof parameters !== 'string') throw new RangeError('the parameters must be base64 text');
    decodeParameters(parameters, encoding.parameters);
  } catch (e) {
    throw bad(`FL round model is malformed: ${e instanceof RangeError ? e.message : 'invalid'}`);
  }
  const hyper = openHyper(raw['hyper'], schema.maxRows, envelope.rho !== null);
  const where = raw['where'] === null ? null : validatePredicate(raw['where'], dataset, federation.schema);
  const serving = new Set(datasetParties(federation, dataset).map((p) => p.id));
  if (!envelope.agencies.every((a) => serving.has(a)))
    throw bad('FL round asks a party that is not a federation agency allowed to serve the dataset');
  const privacy = envelope.rho === null ? null : { rho: envelope.rho, threshold: envelope.threshold };
  let plan: FlEncodingPlan;
  try {
    plan = flRoundEncoding(federation, { dataset, coding, model, validation, encoding, clip: hyper.clip }, privacy);
  } catch (e) {
    throw bad(`FL round encoding cannot be planned: ${e instanceof FedstatError ? e.message : 'invalid inputs'}`);
  }
  if (flPlanDigest(plan) !== encoding.planSha256)
    throw bad('FL round encoding plan differs from the one this agency derives from its inputs');
  return Object.freeze({
    kind: FL_ROUND_KIND,
    dataset,
    runId,
    round,
    step,
    train,
    seed,
    coding,
    model,
    parameters: parameters,
    hyper,
    validation,
    where,
    encoding,
  });
}
