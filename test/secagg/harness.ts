/**
 * An in-memory federation for secure-aggregation tests: fixed X25519 keys for a pool of agencies
 * (ids chosen so that code-unit order differs from naive expectations), long-lived participants
 * (as in a real agency process, so their key caches are warm), and a driver for one query.
 */
import { randomBytes } from 'node:crypto';
import { x25519PublicKey } from '../../src/crypto/x25519.js';
import { isFedstatError } from '../../src/errors.js';
import { SecAggAggregation } from '../../src/secagg/aggregation.js';
import { addMaskInto } from '../../src/secagg/masks.js';
import { SecAggParticipant, type Round1Output } from '../../src/secagg/participant.js';
import type { SealedShare } from '../../src/secagg/sealed-share.js';
import type { SparseGraph } from '../../src/secagg/sparse-params.js';

export const FEDERATION = 'fed-川渝';
export const POOL: readonly string[] = [
  'A-psb',
  'B-hr',
  'Z-rental',
  'a-school',
  'b-health',
  'c-psb',
  'd-hr',
  'e-school',
  'f-health',
  'g-rental',
  'h-psb',
  'i-hr',
  'j',
  'k',
  'l',
  'm',
  'é-notary',
  '中-census',
  '川-psb',
  '渝-hr',
]
  .slice()
  .sort();

/** 96 more agencies for SecAgg+ runs, whose graphs need room (k ≤ n − 2, and sparse when k ≪ n). */
export const LARGE_POOL: readonly string[] = [
  ...POOL,
  ...Array.from({ length: 96 }, (_, i) => `p-${String(i).padStart(3, '0')}-区`),
].sort();

export const PRIMES: readonly bigint[] = [
  3n,
  97n,
  65537n,
  2n ** 31n - 1n,
  1152921504606830593n,
  2n ** 61n - 1n,
  2n ** 63n - 25n,
];

const secrets = new Map(LARGE_POOL.map((id) => [id, new Uint8Array(randomBytes(32))]));
/** A pool agency's X25519 secret key (tests that play an agency or check what it sealed). */
export const secretOf = (id: string): Uint8Array => secrets.get(id)!;
export const PUBLIC_KEYS: ReadonlyMap<string, Uint8Array> = new Map(
  LARGE_POOL.map((id) => [id, x25519PublicKey(secrets.get(id)!)]),
);

/** One participant per pool agency, reused across queries. */
export const PARTICIPANTS: ReadonlyMap<string, SecAggParticipant> = new Map(
  LARGE_POOL.map((id) => [
    id,
    new SecAggParticipant({
      federationId: FEDERATION,
      self: id,
      agreementSecret: secrets.get(id)!,
      peerKeys: PUBLIC_KEYS,
    }),
  ]),
);

let clock = 1_700_000_000_000;
let counter = 0;
/** A fresh query id and a time after every earlier query expired (so participants forget them). */
export function nextQuery(): { queryId: string; now: number; expiresAt: number } {
  clock += 10_000;
  return { queryId: `q-${++counter}`, now: clock, expiresAt: clock + 5_000 };
}

export interface QueryRun {
  readonly participants: readonly string[];
  readonly threshold: number;
  readonly modulus: bigint;
  /** Each participant's plain vector. */
  readonly values: ReadonlyMap<string, readonly bigint[]>;
  /** Whose round-1 message never reaches the coordinator (some of them did compute it). */
  readonly dropRound1: ReadonlySet<string>;
  /** Survivors whose round-2 answer never reaches the coordinator. */
  readonly dropRound2: ReadonlySet<string>;
  /** SecAgg+: the sparse graph; absent: dense. */
  readonly graph?: SparseGraph;
}

export type Outcome =
  | { readonly kind: 'sum'; readonly sum: bigint[]; readonly survivors: string[]; readonly dropped: string[] }
  | { readonly kind: 'unavailable'; readonly message: string; readonly survivors: string[] };

/** Runs one query end to end; only UNAVAILABLE is caught (any other error fails the test). */
export function runQuery(run: QueryRun): Outcome {
  const { queryId, now, expiresAt } = nextQuery();
  const length = run.values.get(run.participants[0]!)!.length;
  const aggregation = new SecAggAggregation({
    federationId: FEDERATION,
    queryId,
    participants: run.participants,
    threshold: run.threshold,
    length,
    modulus: run.modulus,
    agreementKeys: PUBLIC_KEYS,
    ...(run.graph === undefined ? {} : { graph: run.graph }),
  });
  const masked = new Map<string, BigUint64Array>();
  let survivors: string[] = [];
  try {
    run.participants.forEach((id, k) => {
      // Half of the agencies lost in round 1 did answer; their message is lost on the way.
      if (run.dropRound1.has(id) && k % 2 === 0) return;
      const r1: Round1Output = PARTICIPANTS.get(id)!.round1(
        {
          queryId,
          participants: run.participants,
          threshold: run.threshold,
          length,
          modulus: run.modulus,
          expiresAt,
          ...(run.graph === undefined ? {} : { graph: run.graph }),
        },
        now,
      );
      const vector = BigUint64Array.from(run.values.get(id)!);
      addMaskInto(vector, r1.mask, 1, run.modulus);
      if (run.dropRound1.has(id)) return;
      masked.set(id, vector);
      aggregation.acceptRound1(id, r1);
    });
    const set = aggregation.fixSurvivors();
    survivors = set.survivors;
    for (const id of set.survivors) {
      const answer = PARTICIPANTS.get(id)!.round2({ queryId, ...set }, aggregation.sharesFor(id), now);
      // An honest agency never reveals both secrets of one agency.
      const withs = new Set(answer.pairwiseSeeds.map((s) => s.with));
      if (answer.selfMaskShares.some((s) => withs.has(s.of))) throw new Error('revealed both secrets of one agency');
      if (!run.dropRound2.has(id)) aggregation.acceptRound2(id, answer);
    }
    const correction = aggregation.finalize();
    const total = new BigUint64Array(length);
    for (const id of set.survivors) addMaskInto(total, masked.get(id)!, 1, run.modulus);
    addMaskInto(total, correction, -1, run.modulus);
    return { kind: 'sum', sum: [...total], survivors: set.survivors, dropped: set.dropped };
  } catch (e) {
    if (isFedstatError(e, 'UNAVAILABLE')) return { kind: 'unavailable', message: e.message, survivors };
    throw e;
  }
}

/** Σ values over `ids` mod modulus: the plaintext reference. */
export function plainSum(run: QueryRun, ids: readonly string[]): bigint[] {
  const length = run.values.get(run.participants[0]!)!.length;
  return Array.from({ length }, (_, s) => ids.reduce((acc, id) => (acc + run.values.get(id)![s]!) % run.modulus, 0n));
}

export interface StartedQuery {
  readonly queryId: string;
  readonly now: number;
  readonly expiresAt: number;
  readonly participants: readonly string[];
  readonly threshold: number;
  readonly round1: ReadonlyMap<string, Round1Output>;
  /** Every participant's sealed share addressed to `to`, in the order of U. */
  sealedTo(to: string): SealedShare[];
}

/** Runs round 1 on every participant of a fresh query (length 2, modulus 97). */
export function startQuery(participants: readonly string[], threshold: number): StartedQuery {
  const { queryId, now, expiresAt } = nextQuery();
  const round1 = new Map(
    participants.map((id) => [
      id,
      PARTICIPANTS.get(id)!.round1({ queryId, participants, threshold, length: 2, modulus: 97n, expiresAt }, now),
    ]),
  );
  const k = (to: string): number => participants.indexOf(to);
  return {
    queryId,
    now,
    expiresAt,
    participants,
    threshold,
    round1,
    sealedTo: (to) => participants.map((id) => round1.get(id)!.shares[k(to)]!),
  };
}
