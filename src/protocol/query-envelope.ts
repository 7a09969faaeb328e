/**
 * The signed query: what the coordinator asks every agency. It is sent as canonical JSON bytes
 * with the coordinator's signature over a tagged digest of exactly those bytes, so an agency
 * verifies before it parses anything, and a signature can never be re-bound to other bytes.
 */
import { randomBytes } from 'node:crypto';
import { FedstatError } from '../errors.js';
import { taggedDigest } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import type { Federation } from '../federation/federation.js';
import { partyOfRole } from '../federation/federation.js';
import type { QueryPlan } from '../query/plan.js';
import { validatePlan } from '../query/validate-plan.js';
import { canonicalBytes } from '../util/canonical-json.js';
import { isFlRoundPlan, openFlRoundPlan, type FlRoundPlan } from './fl-round.js';
import { isGlmRoundPlan, openGlmRoundPlan, type GlmRoundHe, type GlmRoundPlan } from './glm-round.js';
import { isJoinRoundPlan, openJoinRoundPlan, type JoinRoundPlan } from './join-round.js';
import { openQueryRho } from './privacy-terms.js';
import type { SparseGraph } from '../secagg/sparse-params.js';

/**
 * `encrypted`: masked for secure aggregation, then encrypted (the only mode for real use).
 * `encrypted-unmasked` and `plaintext` exist only so benchmarks can measure what masking and HE
 * cost; agencies refuse them unless they opted in, because they reveal one agency's aggregate.
 */
export type AnswerMode = 'encrypted' | 'encrypted-unmasked' | 'plaintext';
export const ANSWER_MODES: readonly AnswerMode[] = ['encrypted', 'encrypted-unmasked', 'plaintext'];

export interface QueryEnvelope {
  readonly v: 1;
  readonly queryId: string;
  readonly federationId: string;
  readonly paramsId: string;
  readonly mode: AnswerMode;
  /** A SQL query's plan, one Newton round of a GLM fit (glm-round.ts), a federated-averaging round, or a join (join-round.ts). */
  readonly plan: QueryPlan | GlmRoundPlan | FlRoundPlan | JoinRoundPlan;
  /** Agencies asked to contribute, sorted: the participants of secure aggregation. */
  readonly agencies: readonly string[];
  /** Secure aggregation: survivors needed to reconstruct a self-mask (Shamir threshold). */
  readonly threshold: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /**
   * Differential privacy: every agency charges ρ (canonical "n/d", see privacy-terms.ts) to its
   * own budget and adds Skellam noise sized for the threshold. Absent: an exact release, which
   * agencies answer only where the federation policy allows it.
   */
  readonly privacy?: QueryPrivacy;
  /**
   * SecAgg+: every agency masks with and shares among `degree` neighbours of the graph derived
   * from this query (secagg/graph.ts), `shareThreshold` of the k + 1 holders rebuilding a
   * self-mask. Absent: the dense protocol, everyone with everyone.
   */
  readonly secaggGraph?: SparseGraph;
}

interface QueryPrivacy {
  readonly rho: string;
}

export interface SignedQuery {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * The largest signed query. A federated-averaging round carries the global parameters (8 bytes
 * each, base64): 2 MiB holds a model of about 190,000 parameters with room for its coding.
 */
export const MAX_QUERY_BYTES = 2 * 1024 * 1024;
/** The most agencies one query may name (bounds every per-participant list in a message). */
export const MAX_QUERY_AGENCIES = 1024;
/** Tolerated clock difference between coordinator and agency. */
const CLOCK_SKEW_MS = 120_000;

export function newQueryId(): string {
  return randomBytes(16).toString('hex');
}

export function queryDigest(bytes: Uint8Array): Uint8Array {
  return taggedDigest('fedstat/v1/query', bytes);
}

export function signQuery(envelope: QueryEnvelope, coordinatorSecretKey: Uint8Array): SignedQuery {
  const bytes = canonicalBytes(envelope);
  return { bytes, signature: sign(queryDigest(bytes), coordinatorSecretKey) };
}

function bad(message: string): FedstatError {
  return new FedstatError('BAD_MESSAGE', message);
}

/**
 * Verifies and parses a signed query for this federation and these HE parameters: coordinator
 * signature first, then shape, federation, parameters and time window, then the plan against the
 * schema (a GLM round's against the rest of the envelope too).
 */
export function openQuery(signed: SignedQuery, federation: Federation, he: GlmRoundHe, now: number): QueryEnvelope {
  const { paramsId } = he;
  if (signed.bytes.length > MAX_QUERY_BYTES) {
    throw new FedstatError('MESSAGE_TOO_LARGE', `query of ${signed.bytes.length} bytes exceeds ${MAX_QUERY_BYTES}`);
  }
  const coordinator = partyOfRole(federation, 'coordinator');
  if (!verify(queryDigest(signed.bytes), signed.signature, coordinator.signingKey)) {
    throw bad("query signature does not verify against the federation's coordinator key");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signed.bytes));
  } catch {
    throw bad('query is not UTF-8 JSON');
  }
  const e = raw as Record<string, unknown> | null;
  if (typeof e !== 'object' || e === null || e['v'] !== 1) throw bad('query envelope has an unknown version');
  const { queryId, federationId, mode, agencies, threshold, issuedAt, expiresAt } = e;
  if (typeof queryId !== 'string' || !/^[0-9a-f]{32}$/.test(queryId)) throw bad('query id must be 32 hex digits');
  if (federationId !== federation.id)
    throw bad('query was made for another federation (federation ids differ); check --federation');
  if (e['paramsId'] !== paramsId) throw bad('query uses other HE parameters than this agency');
  if (!ANSWER_MODES.includes(mode as AnswerMode)) throw bad(`query mode must be one of ${ANSWER_MODES.join(', ')}`);
  if (
    !Array.isArray(agencies) ||
    !agencies.every((a) => typeof a === 'string') ||
    agencies.length > MAX_QUERY_AGENCIES
  ) {
    throw bad('query agency list is malformed');
  }
  for (let i = 1; i < agencies.length; i++) {
    if ((agencies[i - 1] as string) >= (agencies[i] as string)) throw bad('query agency list is not sorted and unique');
  }
  if (
    typeof threshold !== 'number' ||
    !Number.isSafeInteger(threshold) ||
    threshold < 1 ||
    threshold > agencies.length
  ) {
    throw bad('query threshold must be an integer from 1 to the number of agencies');
  }
  if (
    typeof issuedAt !== 'number' ||
    typeof expiresAt !== 'number' ||
    !Number.isSafeInteger(issuedAt) ||
    !Number.isSafeInteger(expiresAt)
  ) {
    throw bad('query times are malformed');
  }
  if (issuedAt > now + CLOCK_SKEW_MS)
    throw bad('query is issued in the future; check the clocks of coordinator and agency');
  if (expiresAt < now) throw new FedstatError('REPLAY', `query ${queryId} expired ${now - expiresAt} ms ago`);
  const privacy = openPrivacy(e['privacy']);
  const secaggGraph = openSecAggGraph(e['secaggGraph']);
  const rawPlan = e['plan'];
  const round = { queryId, agencies, threshold, rho: privacy === undefined ? null : openQueryRho(privacy.rho) };
  const isObject = typeof rawPlan === 'object' && rawPlan !== null;
  const plan =
    isObject && isGlmRoundPlan(rawPlan)
      ? openGlmRoundPlan(rawPlan, federation, he, round)
      : isObject && isFlRoundPlan(rawPlan)
        ? openFlRoundPlan(rawPlan, federation, he, round)
        : isObject && isJoinRoundPlan(rawPlan)
          ? openJoinRoundPlan(rawPlan, federation, agencies)
          : validatePlan(rawPlan, federation.schema);
  return Object.freeze({
    v: 1,
    queryId,
    federationId,
    paramsId,
    mode: mode as AnswerMode,
    plan,
    threshold,
    issuedAt,
    expiresAt,
    agencies: Object.freeze([...agencies]),
    ...(privacy === undefined ? {} : { privacy }),
    ...(secaggGraph === undefined ? {} : { secaggGraph }),
  });
}

/** The graph's shape; whether it is safe for the query is the participant's check (secagg/params.ts). */
function openSecAggGraph(raw: unknown): SparseGraph | undefined {
  if (raw === undefined) return undefined;
  const g = raw as Record<string, unknown> | null;
  if (
    typeof g !== 'object' ||
    g === null ||
    Array.isArray(g) ||
    Object.keys(g).length !== 2 ||
    !Number.isSafeInteger(g['degree']) ||
    !Number.isSafeInteger(g['shareThreshold'])
  )
    throw bad('query secaggGraph must be {"degree": k, "shareThreshold": t}');
  return Object.freeze({ degree: g['degree'] as number, shareThreshold: g['shareThreshold'] as number });
}

function openPrivacy(raw: unknown): QueryPrivacy | undefined {
  if (raw === undefined) return undefined;
  const p = raw as Record<string, unknown> | null;
  if (typeof p !== 'object' || p === null || Array.isArray(p) || Object.keys(p).length !== 1)
    throw bad('query privacy must be {"rho": "n/d"}');
  openQueryRho(p['rho']);
  return Object.freeze({ rho: p['rho'] as string });
}
