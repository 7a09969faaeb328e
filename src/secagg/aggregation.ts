/**
 * The coordinator side of secure aggregation: one instance per query. It relays sealed shares,
 * fixes the survivor set S once, collects the round-2 answers and computes the correction C with
 * Σ_{i∈S} masked_i − C ≡ Σ_{i∈S} x_i (mod modulus):
 *
 *   C = Σ_{i∈S} PRG(b_i) + Σ_{i∈S, d∈D∩N(i)} sign(i, d)·PRG(s_id),  sign = + if i precedes d in U, else −
 *
 * (pairwise masks between two survivors cancel in the sum; those with dropped agencies do not).
 * N(i) is every other participant (dense) or i's neighbours in the query's SecAgg+ graph, whose
 * shares i's holders ({i} ∪ N(i)) keep; the coordinator holds n·|N(i) + 1| sealed shares.
 * Every reconstructed b_i is checked against i's round-1 commitment and every revealed seed
 * against the revealer's, so a corrupted share or seed is caught, never folded into a wrong
 * correction; when something is missing, finalize throws UNAVAILABLE naming it.
 */
import { constantTimeEqual } from '../crypto/ed25519.js';
import { FedstatError } from '../errors.js';
import { isRecord } from '../util/is-record.js';
import { addMaskInto, expandMaskInto, pairwiseCommitment, selfMaskCommitment, selfMaskSeed } from './masks.js';
import type { Neighbourhoods } from './graph.js';
import { checkParams, graphOf, indexOf, shareThreshold, type SecAggParams } from './params.js';
import type { RevealedSeed, RevealedShare } from './participant.js';
import { NONCE_BYTES, sealedBoxLength, type SealedShare } from './sealed-share.js';
import { FIELD_PRIME, interpolateAtZero, lagrangeAtZero, type Share } from './shamir.js';

/** The query's parameters (checked as `checkParams` does) and the keys of its agencies. */
export interface SecAggAggregationOptions extends SecAggParams {
  /** The agencies' X25519 public keys: every participant must have one. */
  readonly agreementKeys: ReadonlyMap<string, Uint8Array>;
}

/** An agency's round-1 secure-aggregation material (see SecAggParticipant.round1). */
export interface Round1Material {
  /** One sealed share of the agency's b_i per participant, in the order of U. */
  readonly shares: readonly SealedShare[];
  /** 32-byte commitment to b_i. */
  readonly commitment: Uint8Array;
  /** 32-byte commitments to the agency's pairwise seeds, in the order of U without the agency itself. */
  readonly pairwiseCommitments: readonly Uint8Array[];
}

/** An agency's round-2 answer (see SecAggParticipant.round2). */
export interface Round2Answer {
  /** The agency's shares of the survivors' b_j. */
  readonly selfMaskShares: readonly RevealedShare[];
  /** The agency's pairwise seeds with every dropped agency. */
  readonly pairwiseSeeds: readonly RevealedSeed[];
}

/** The fixed outcome of round 1: S and D partition the participants, each in the order of U. */
export interface SurvivorSet {
  /** S: the agencies whose round-1 material arrived. */
  readonly survivors: string[];
  /** D: the other participants. */
  readonly dropped: string[];
}

/** Commitment mismatches trigger a search over t-subsets of the shares; this bounds it. */
const MAX_SUBSETS_TRIED = 2048;

/**
 * The coordinator's side of one secure aggregation: collects round-1 material, fixes the
 * survivor set, checks the round-2 answers and computes the correction that removes the masks
 * the survivors' sum still carries. Holds no secret of its own.
 */
export class SecAggAggregation {
  /** The validated, frozen parameters of the query. */
  readonly params: SecAggParams;
  private readonly index: ReadonlyMap<string, number>;
  private readonly graph: Neighbourhoods;
  private readonly shareThreshold: number;
  private readonly round1 = new Map<string, Round1Material>();
  private readonly round2 = new Map<string, Round2Answer>();
  private fixed: SurvivorSet | undefined;
  private survivorSet: ReadonlySet<string> = new Set();
  private droppedSet: ReadonlySet<string> = new Set();
  private result: BigUint64Array | undefined;

  constructor(o: SecAggAggregationOptions) {
    this.params = checkParams(o);
    const keyless = this.params.participants.find((id) => o.agreementKeys.get(id)?.length !== 32);
    if (keyless !== undefined)
      throw new FedstatError(
        'CONFIG_INVALID',
        `agency ${keyless} has no X25519 agreement key in the federation file; add it`,
      );
    this.index = indexOf(this.params.participants);
    this.graph = graphOf(this.params);
    this.shareThreshold = shareThreshold(this.params);
  }

  /** Who holds `agency`'s self-mask shares, in the order its round-1 material must list them. */
  shareHolders(agency: string): string[] {
    const i = this.index.get(agency);
    if (i === undefined) return [];
    return this.graph.holders(i).map((k) => this.params.participants[k] ?? '');
  }

  /** Records an agency's round-1 material; BAD_MESSAGE if malformed, REPLAY if it came before. */
  acceptRound1(agency: string, m: Round1Material): void {
    this.round1.set(agency, this.checkRound1(agency, m));
  }

  /**
   * Validates round-1 material exactly as `acceptRound1` does, without recording it: a caller
   * that must do something else all-or-nothing (add the ciphertexts to the sum) checks first,
   * then records, so material is never half-accepted.
   */
  checkRound1(agency: string, m: Round1Material): Round1Material {
    const bad = this.badFrom(agency, 1);
    if (!this.index.has(agency)) throw bad('not a participant of the query');
    if (this.fixed !== undefined)
      throw new FedstatError(
        'POLICY_REFUSED',
        `round 1 of query ${this.params.queryId} is closed; ${agency} answered after the survivor set was fixed and counts as dropped`,
      );
    if (this.round1.has(agency))
      throw new FedstatError('REPLAY', `agency ${agency} already answered round 1 of query ${this.params.queryId}`);
    const { federationId, queryId, participants } = this.params;
    const raw: unknown = m;
    const me = this.index.get(agency) ?? 0;
    const holders = this.graph.holders(me);
    const neighbours = this.graph.neighbours(me).length;
    const sharesIn: unknown = isRecord(raw) ? raw['shares'] : undefined;
    if (!Array.isArray(sharesIn) || sharesIn.length !== holders.length) {
      throw bad(`must carry one sealed share for each of its ${holders.length} share holders`);
    }
    const shares = (sharesIn as unknown[]).map((item, k): SealedShare => {
      const to = participants[holders[k] ?? 0] ?? '';
      const s = isRecord(item) ? item : {};
      const [from, sTo, nonce, box] = [s['from'], s['to'], s['nonce'], s['box']];
      if (from !== agency || sTo !== to) throw bad(`share ${k} must go from ${agency} to ${to}`);
      if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) throw bad(`share ${k} has a malformed nonce`);
      if (!(box instanceof Uint8Array) || box.length !== sealedBoxLength({ federationId, queryId, from: agency, to }))
        throw bad(`share ${k} has a malformed box`);
      return { from: agency, to, nonce, box };
    });
    const commitment: unknown = isRecord(raw) ? raw['commitment'] : undefined;
    if (!is32(commitment)) throw bad('the self-mask commitment must have 32 bytes');
    const pairwise: unknown = isRecord(raw) ? raw['pairwiseCommitments'] : undefined;
    if (!Array.isArray(pairwise) || pairwise.length !== neighbours || !(pairwise as unknown[]).every(is32)) {
      throw bad(`must carry ${neighbours} pairwise commitments of 32 bytes`);
    }
    return { shares, commitment, pairwiseCommitments: [...(pairwise as Uint8Array[])] };
  }

  /**
   * Closes round 1: S = the agencies whose material arrived, D = the rest. Idempotent.
   * UNAVAILABLE when S has fewer than `threshold` agencies; BAD_MESSAGE when two survivors
   * derived different pairwise seeds (an agreement key in someone's federation file is stale),
   * because their masks would not cancel and the sum would be wrong.
   */
  fixSurvivors(): SurvivorSet {
    if (this.fixed !== undefined) return { survivors: [...this.fixed.survivors], dropped: [...this.fixed.dropped] };
    const { participants, threshold, queryId } = this.params;
    const survivors = participants.filter((id) => this.round1.has(id));
    const dropped = participants.filter((id) => !this.round1.has(id));
    if (survivors.length < threshold) {
      throw new FedstatError(
        'UNAVAILABLE',
        `query ${queryId}: only ${survivors.length} of ${participants.length} agencies answered round 1, fewer than the threshold ${threshold} (missing: ${dropped.join(', ')}); retry the query when more agencies are reachable`,
      );
    }
    for (const i of survivors) {
      for (const k of this.graph.neighbours(this.index.get(i) ?? 0)) {
        const j = participants[k] ?? '';
        if (j <= i || !this.round1.has(j)) continue;
        if (!constantTimeEqual(this.pairCommitment(i, j), this.pairCommitment(j, i))) {
          throw new FedstatError(
            'BAD_MESSAGE',
            `query ${queryId}: agencies ${i} and ${j} derived different pairwise masks; one of them has a stale agreement key for the other, fix the federation file and retry`,
          );
        }
      }
    }
    this.checkHolders(survivors);
    this.fixed = { survivors, dropped };
    this.survivorSet = new Set(survivors);
    this.droppedSet = new Set(dropped);
    return { survivors: [...survivors], dropped: [...dropped] };
  }

  /** SecAgg+: UNAVAILABLE, naming who is missing, when a survivor kept fewer than t share holders. */
  private checkHolders(survivors: readonly string[]): void {
    if (this.graph.dense) return; // the global threshold check covers it
    const { participants, queryId } = this.params;
    const problems: string[] = [];
    for (const id of survivors) {
      const holders = this.graph.holders(this.index.get(id) ?? 0).map((k) => participants[k] ?? '');
      const missing = holders.filter((h) => !this.round1.has(h));
      if (holders.length - missing.length < this.shareThreshold)
        problems.push(
          `${id} kept ${holders.length - missing.length} of the ${this.shareThreshold} share holders it needs (missing: ${listSome(missing)})`,
        );
    }
    if (problems.length > 0)
      throw new FedstatError(
        'UNAVAILABLE',
        `query ${queryId}: too many neighbours dropped out in round 1: ${listSome(problems, '; ')}; retry the query when more agencies are reachable`,
      );
  }

  /** The survivors' sealed shares addressed to `agency` (a survivor), in the order of U. */
  sharesFor(agency: string): SealedShare[] {
    this.mustBeFixed();
    if (!this.survivorSet.has(agency))
      throw new FedstatError('POLICY_REFUSED', `agency ${agency} is not a survivor of query ${this.params.queryId}`);
    const a = this.index.get(agency) ?? 0;
    // The graph is symmetric: a holds j's shares exactly when j is among a's holders.
    return this.graph.holders(a).flatMap((j) => {
      const material = this.round1.get(this.params.participants[j] ?? '');
      return material?.shares[this.graph.holderPosition(j, a)] ?? [];
    });
  }

  /**
   * Records a survivor's round-2 answer after checking it against the fixed set: shares only of
   * survivors and at the agency's own x, seeds with exactly the dropped agencies, each matching
   * the agency's round-1 commitment. BAD_MESSAGE otherwise (the answer is then not used).
   */
  acceptRound2(agency: string, answer: Round2Answer): void {
    this.mustBeFixed();
    const bad = this.badFrom(agency, 2);
    if (!this.survivorSet.has(agency)) throw bad('not a survivor');
    if (this.round2.has(agency))
      throw new FedstatError('REPLAY', `agency ${agency} already answered round 2 of query ${this.params.queryId}`);
    const raw: unknown = answer;
    const sharesIn: unknown = isRecord(raw) ? raw['selfMaskShares'] : undefined;
    const seedsIn: unknown = isRecord(raw) ? raw['pairwiseSeeds'] : undefined;
    if (!Array.isArray(sharesIn) || !Array.isArray(seedsIn)) throw bad('malformed answer');
    const me = this.index.get(agency) ?? 0;
    const x = me + 1;
    const neighbours = new Set(this.graph.neighbours(me).map((k) => this.params.participants[k] ?? ''));
    const shares = new Map<string, RevealedShare>();
    for (const item of sharesIn as unknown[]) {
      const s = isRecord(item) ? item : {};
      const [of, sx, y] = [s['of'], s['x'], s['y']];
      if (typeof of !== 'string' || !this.survivorSet.has(of))
        throw bad('reveals a share of an agency that is not a survivor');
      if (of !== agency && !neighbours.has(of)) throw bad(`reveals a share of ${of}, which is not its neighbour`);
      if (shares.has(of)) throw bad(`reveals two shares of ${of}`);
      if (sx !== x) throw bad(`a share must be at its own x-coordinate ${x}`);
      if (typeof y !== 'bigint' || y < 0n || y >= FIELD_PRIME) throw bad(`the share of ${of} is not a field element`);
      shares.set(of, { of, x, y });
    }
    const seeds = new Map<string, RevealedSeed>();
    const { federationId, queryId } = this.params;
    for (const item of seedsIn as unknown[]) {
      const s = isRecord(item) ? item : {};
      const [peer, seed] = [s['with'], s['seed']];
      if (typeof peer !== 'string' || !this.droppedSet.has(peer))
        throw bad('reveals a pairwise seed with an agency that is not dropped');
      if (!neighbours.has(peer)) throw bad(`reveals a pairwise seed with ${peer}, which is not its neighbour`);
      if (seeds.has(peer)) throw bad(`reveals two seeds with ${peer}`);
      if (!is32(seed)) throw bad(`the seed with ${peer} must have 32 bytes`);
      if (
        !constantTimeEqual(
          pairwiseCommitment(seed, { federationId, queryId, a: agency, b: peer }),
          this.pairCommitment(agency, peer),
        )
      ) {
        throw bad(`the seed with ${peer} does not match its round-1 commitment`);
      }
      seeds.set(peer, { with: peer, seed: Uint8Array.from(seed) });
    }
    const droppedNeighbours = [...neighbours].filter((id) => this.droppedSet.has(id)).length;
    if (seeds.size !== droppedNeighbours)
      throw bad(`must reveal its pairwise seeds with all ${droppedNeighbours} dropped neighbours`);
    this.round2.set(agency, { selfMaskShares: [...shares.values()], pairwiseSeeds: [...seeds.values()] });
  }

  /** Survivors whose round-2 answer has not been accepted (yet). */
  missingRound2(): string[] {
    return this.mustBeFixed().survivors.filter((id) => !this.round2.has(id));
  }

  /**
   * The correction C (a fresh copy each call). UNAVAILABLE, naming what is missing, when some b_i
   * has fewer than threshold shares, or when agencies were dropped and a survivor's pairwise
   * seeds are missing; BAD_MESSAGE when no threshold-subset of b_i's shares matches its
   * commitment. Never a wrong correction.
   */
  finalize(): BigUint64Array {
    if (this.result !== undefined) return this.result.slice();
    const { survivors, dropped } = this.mustBeFixed();
    const { federationId, queryId, length, modulus, participants } = this.params;
    const threshold = this.shareThreshold;
    const problems: string[] = [];
    const sharesOf = new Map<string, Share[]>(survivors.map((id) => [id, []]));
    for (const answer of this.round2.values()) {
      for (const s of answer.selfMaskShares) sharesOf.get(s.of)?.push({ x: s.x, y: s.y });
    }
    for (const [id, shares] of sharesOf) {
      if (shares.length >= threshold) continue;
      const gave = new Set(shares.map((s) => s.x - 1));
      const silentHolders = this.graph
        .holders(this.index.get(id) ?? 0)
        .filter((k) => !gave.has(k) && this.survivorSet.has(participants[k] ?? ''))
        .map((k) => participants[k] ?? '');
      problems.push(
        `only ${shares.length} of the ${threshold} shares needed for ${id}'s self-mask arrived (none from ${listSome(silentHolders)})`,
      );
    }
    const silent = this.missingRound2();
    if (this.graph.dense && dropped.length > 0 && silent.length > 0) {
      problems.push(
        `survivors ${silent.join(', ')} did not reveal their pairwise seeds with the dropped ${dropped.join(', ')}`,
      );
    }
    for (const id of this.graph.dense ? [] : silent) {
      const lost = this.graph
        .neighbours(this.index.get(id) ?? 0)
        .map((k) => participants[k] ?? '')
        .filter((d) => this.droppedSet.has(d));
      if (lost.length > 0)
        problems.push(`survivor ${id} did not reveal its pairwise seeds with the dropped ${listSome(lost)}`);
    }
    if (problems.length > 0) {
      throw new FedstatError(
        'UNAVAILABLE',
        `query ${queryId} cannot be unmasked: ${problems.join('; ')}; retry the query`,
      );
    }
    const correction = new BigUint64Array(length);
    const scratch = new BigUint64Array(length);
    const lambdas = new Map<string, bigint[]>();
    for (const id of survivors) {
      const b = this.reconstruct(
        id,
        (sharesOf.get(id) ?? []).sort((p, q) => p.x - q.x),
        lambdas,
      );
      expandMaskInto(scratch, selfMaskSeed(b, { federationId, queryId, party: id }), modulus);
      addMaskInto(correction, scratch, 1, modulus);
      if (dropped.length === 0) continue;
      for (const { with: d, seed } of this.round2.get(id)?.pairwiseSeeds ?? []) {
        expandMaskInto(scratch, seed, modulus);
        addMaskInto(correction, scratch, (this.index.get(id) ?? 0) < (this.index.get(d) ?? 0) ? 1 : -1, modulus);
      }
    }
    this.result = correction;
    return correction.slice();
  }

  /** b_id from its shares: the first t, else the first t-subset (bounded search) matching the commitment. */
  private reconstruct(id: string, shares: readonly Share[], lambdas: Map<string, bigint[]>): bigint {
    const { federationId, queryId } = this.params;
    const threshold = this.shareThreshold;
    const expected = this.round1.get(id)?.commitment ?? new Uint8Array(32);
    const pick = new Array<number>(threshold).fill(0).map((_, i) => i);
    for (let tried = 0; tried < MAX_SUBSETS_TRIED; tried++) {
      const subset = pick.map((i) => shares[i] ?? { x: 0, y: 0n });
      const key = subset.map((s) => s.x).join(',');
      let lambda = lambdas.get(key);
      if (lambda === undefined) {
        lambda = lagrangeAtZero(subset.map((s) => s.x));
        lambdas.set(key, lambda);
      }
      const b = interpolateAtZero(
        subset.map((s) => s.y),
        lambda,
      );
      if (constantTimeEqual(selfMaskCommitment(b, { federationId, queryId, party: id }), expected)) return b;
      if (!nextCombination(pick, shares.length)) break;
    }
    throw new FedstatError(
      'BAD_MESSAGE',
      `query ${queryId}: the shares of ${id}'s self-mask do not match its commitment (some survivor revealed a corrupted share); retry the query`,
    );
  }

  private pairCommitment(of: string, peer: string): Uint8Array {
    const own = this.index.get(of) ?? 0;
    const k = this.index.get(peer) ?? 0;
    const at = this.graph.holderPosition(own, k); // holders = neighbours and `of` itself, which the list skips
    if (at < 0) return new Uint8Array(0);
    return this.round1.get(of)?.pairwiseCommitments[k < own ? at : at - 1] ?? new Uint8Array(0);
  }

  private mustBeFixed(): SurvivorSet {
    if (this.fixed === undefined) throw new RangeError('fix the survivor set first (fixSurvivors)');
    return this.fixed;
  }

  private badFrom(agency: string, round: 1 | 2): (m: string) => FedstatError {
    return (m) =>
      new FedstatError('BAD_MESSAGE', `round ${round} of query ${this.params.queryId} from ${agency}: ${m}`);
  }
}

/** The first few items of a list and how many more: messages stay one readable line at 1,000 agencies. */
function listSome(items: readonly string[], separator = ', '): string {
  const shown = items.slice(0, 8).join(separator);
  return items.length > 8 ? `${shown}${separator}and ${items.length - 8} more` : shown;
}

function is32(b: unknown): b is Uint8Array {
  return b instanceof Uint8Array && b.length === 32;
}

/** Advances `pick` (sorted indices into 0..n−1) to the next combination; false after the last. */
function nextCombination(pick: number[], n: number): boolean {
  const t = pick.length;
  let i = t - 1;
  while (i >= 0 && (pick[i] ?? 0) === n - t + i) i--;
  if (i < 0) return false;
  pick[i] = (pick[i] ?? 0) + 1;
  for (let j = i + 1; j < t; j++) pick[j] = (pick[j - 1] ?? 0) + 1;
  return true;
}
