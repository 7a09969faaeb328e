/**
 * The agency side of secure aggregation (Bonawitz et al., CCS 2017, double masking): one
 * instance per agency, remembering per query what it did until the query expires.
 *
 * Round 1 masks the agency's vector x_i as x_i + PRG(b_i) + Σ_{j∈N(i)} ±PRG(s_ij) (+ when i comes
 * before j in U, − after), Shamir-shares the fresh secret b_i among i and N(i), seals each share
 * to its recipient, and commits to b_i and to every pairwise seed s_ij. N(i) is every other
 * participant (dense) or i's k neighbours in the query's SecAgg+ graph (graph.ts).
 *
 * Round 2 reveals, for one survivor set S and its complement D, shares of b_j for j ∈ S and the
 * pairwise seeds s_id for d ∈ D: never both kinds for one agency, and never for a second set —
 * otherwise the coordinator could strip both masks from one agency's input.
 *
 * Pure: no I/O, no clock (the caller passes `now`), randomness from node:crypto.
 */
import { x25519PublicKey, x25519SharedSecret } from '../crypto/x25519.js';
import { FedstatError } from '../errors.js';
import { isRecord } from '../util/is-record.js';
import {
  addMaskInto,
  expandMask,
  expandMaskInto,
  pairwiseCommitment,
  pairwiseSeed,
  selfMaskCommitment,
  selfMaskSeed,
} from './masks.js';
import { checkParams, graphOf, indexOf, isValidId, shareThreshold, type SecAggParams } from './params.js';
import { openShare, sealShare, type SealedShare } from './sealed-share.js';
import { randomFieldElement, splitSecretAt } from './shamir.js';
import type { SparseGraph } from './sparse-params.js';

export { colludersTolerated, defaultThreshold, minimumThreshold } from './params.js';

/** An agency's identity and keys, fixed for the life of a `SecAggParticipant`. */
export interface SecAggParticipantOptions {
  /** The federation's id (at most 256 UTF-8 bytes), bound into every seed, box and commitment. */
  readonly federationId: string;
  /** This agency's party id. */
  readonly self: string;
  /** This agency's long-term X25519 secret key (32 bytes). */
  readonly agreementSecret: Uint8Array;
  /** The X25519 public keys of the federation's agencies (may include this one). */
  readonly peerKeys: ReadonlyMap<string, Uint8Array>;
  /** Queries remembered at once; more is UNAVAILABLE (default 10,000). */
  readonly capacity?: number;
}

/** What round 1 of a query asks of an agency (from the coordinator, checked by `round1`). */
export interface Round1Query {
  /** The query's id (at most 256 UTF-8 bytes); a second round 1 with the same id is REPLAY. */
  readonly queryId: string;
  /** U: the query's agencies, sorted (default JS sort) and unique. */
  readonly participants: readonly string[];
  /** t: how many survivors the unmasking needs, at least `minimumThreshold(n)` and at most n. */
  readonly threshold: number;
  /** Entries of the vector to mask, 1 to 262,144. */
  readonly length: number;
  /** The prime modulus m (`2 < m < 2^63`) of the vector and the mask. */
  readonly modulus: bigint;
  /** Milliseconds since the epoch; the query is refused from then on and forgotten. */
  readonly expiresAt: number;
  /** SecAgg+: the query's sparse graph (degree, per-neighbourhood threshold); absent: dense. */
  readonly graph?: SparseGraph;
}

/** An agency's round-1 answer: the mask it adds itself and the material for the coordinator. */
export interface Round1Output {
  /** To ADD to the agency's flat slot vector, mod the modulus. */
  readonly mask: BigUint64Array;
  /** One per holder of b_i: every participant (dense) or this agency and its neighbours (sparse), in the order of U. */
  readonly shares: SealedShare[];
  /** 32-byte commitment to b_i, bound to federation, query and agency. */
  readonly commitment: Uint8Array;
  /** 32-byte commitments to the pairwise seeds with every neighbour (dense: every other participant), in the order of U. */
  readonly pairwiseCommitments: Uint8Array[];
}

/** The survivor set the coordinator fixed for a query, as round 2 receives it. */
export interface SurvivorSetRequest {
  /** The query's id, as in round 1. */
  readonly queryId: string;
  /** S: the agencies whose round-1 material arrived; at least the threshold, this agency among them. */
  readonly survivors: readonly string[];
  /** D: the other participants. */
  readonly dropped: readonly string[];
}

/** This agency's share (at its own x) of survivor `of`'s self-mask secret. */
export interface RevealedShare {
  /** The survivor whose secret the share is of. */
  readonly of: string;
  /** The revealing agency's Shamir x: its position in U plus one. */
  readonly x: number;
  /** The share's value, a field element below `FIELD_PRIME`. */
  readonly y: bigint;
}

/** This agency's pairwise seed with dropped agency `with`. */
export interface RevealedSeed {
  /** The dropped agency the seed is shared with. */
  readonly with: string;
  /** The 32-byte pairwise seed. */
  readonly seed: Uint8Array;
}

/** An agency's round-2 answer, in the order of U. */
export interface Round2Output {
  /** This agency's shares of the survivors' self-mask secrets (those that opened). */
  readonly selfMaskShares: RevealedShare[];
  /** This agency's pairwise seeds with each dropped agency. */
  readonly pairwiseSeeds: RevealedSeed[];
}

interface QueryState {
  readonly params: SecAggParams;
  readonly expiresAt: number;
  answered?: { readonly key: string; readonly output: Round2Output };
}

/**
 * An agency's side of secure aggregation: masks its vector in round 1 and, in round 2, reveals
 * what one survivor set needs and nothing for another. Remembers each query until it expires.
 */
export class SecAggParticipant {
  private readonly federationId: string;
  private readonly self: string;
  private readonly secret: Uint8Array;
  private readonly peerKeys: ReadonlyMap<string, Uint8Array>;
  private readonly capacity: number;
  private readonly queries = new Map<string, QueryState>();
  private readonly sharedSecrets = new Map<string, Uint8Array>();

  constructor(options: SecAggParticipantOptions) {
    if (!(options.agreementSecret instanceof Uint8Array) || options.agreementSecret.length !== 32)
      throw new TypeError('agreementSecret is a 32-byte X25519 secret key');
    if (!isValidId(options.federationId) || !isValidId(options.self))
      throw new TypeError('federationId and self must be valid ids');
    this.federationId = options.federationId;
    this.self = options.self;
    this.secret = Uint8Array.from(options.agreementSecret);
    const own = x25519PublicKey(this.secret);
    const listed = options.peerKeys.get(options.self);
    if (listed !== undefined && Buffer.compare(listed, own) !== 0) {
      throw new FedstatError(
        'KEY_INVALID',
        `agency ${options.self}: the agreement secret does not match the agreement key the federation lists for it; use this agency's own key file`,
      );
    }
    this.peerKeys = new Map([...options.peerKeys, [options.self, own]]);
    this.capacity = options.capacity ?? 10_000;
  }

  /** Round 1: the mask to add, the sealed shares of b_i and the commitments. */
  round1(q: Round1Query, now: number): Round1Output {
    this.forgetExpired(now);
    if (!isRecord(q)) throw new FedstatError('BAD_MESSAGE', 'secure aggregation: round 1 needs a query object');
    const refuse = (m: string): FedstatError =>
      new FedstatError('POLICY_REFUSED', `agency ${this.self} refuses round 1 of query ${String(q.queryId)}: ${m}`);
    if (!Number.isSafeInteger(q.expiresAt) || q.expiresAt < 0)
      throw new FedstatError('BAD_MESSAGE', 'secure aggregation: expiresAt must be a non-negative integer');
    if (q.expiresAt <= now)
      throw new FedstatError(
        'REPLAY',
        `query ${String(q.queryId)} has expired; the coordinator must issue a new query`,
      );
    const params = checkParams({
      federationId: this.federationId,
      queryId: q.queryId,
      participants: q.participants,
      threshold: q.threshold,
      length: q.length,
      modulus: q.modulus,
      ...(q.graph === undefined ? {} : { graph: q.graph }),
    });
    const u = params.participants;
    const index = indexOf(u);
    const me = index.get(this.self);
    if (me === undefined) throw refuse("it is not among the query's participants");
    const unknown = u.find((id) => !this.peerKeys.has(id));
    if (unknown !== undefined) throw refuse(`participant ${unknown} is not an agency of the federation`);
    if (this.queries.has(params.queryId))
      throw new FedstatError(
        'REPLAY',
        `query ${params.queryId} was answered here before; a coordinator never reuses a query id`,
      );
    if (this.queries.size >= this.capacity)
      throw new FedstatError('UNAVAILABLE', `agency ${this.self} has too many open queries; retry later`);

    const { federationId, queryId, modulus, length } = params;
    const graph = graphOf(params);
    const b = randomFieldElement();
    const mask = expandMask(selfMaskSeed(b, { federationId, queryId, party: this.self }), length, modulus);
    const scratch = new BigUint64Array(length);
    const pairwiseCommitments: Uint8Array[] = [];
    for (const j of graph.neighbours(me)) {
      const peer = u[j] ?? '';
      const seed = this.pairSeed(params, q.expiresAt, peer);
      pairwiseCommitments.push(pairwiseCommitment(seed, { federationId, queryId, a: this.self, b: peer }));
      expandMaskInto(scratch, seed, modulus);
      addMaskInto(mask, scratch, me < j ? 1 : -1, modulus);
    }
    const holders = graph.holders(me);
    const xs = holders.map((k) => k + 1);
    const shares = splitSecretAt(b, xs, shareThreshold(params)).map((share, h) => {
      const to = u[holders[h] ?? 0] ?? '';
      return sealShare(
        share,
        { federationId, queryId, expiresAt: q.expiresAt, from: this.self, to },
        this.secret,
        this.key(to),
      );
    });
    const commitment = selfMaskCommitment(b, { federationId, queryId, party: this.self });
    this.queries.set(queryId, { params, expiresAt: q.expiresAt });
    return { mask, shares, commitment, pairwiseCommitments };
  }

  /**
   * Round 2: checks the survivor set (POLICY_REFUSED with the reason otherwise), then reveals
   * shares of the survivors' b and the pairwise seeds with the dropped. `sealed` are the shares
   * addressed to this agency; any not from a survivor, not to this agency, or repeated is
   * ignored. A share that fails to open is left out rather than failing the whole answer: the
   * coordinator sees it missing and can still finish with the other survivors' shares, which a
   * refusal here would take away too. The identical set asked again gets the identical answer.
   */
  round2(r: SurvivorSetRequest, sealed: readonly SealedShare[], now: number): Round2Output {
    this.forgetExpired(now);
    if (!isRecord(r)) throw new FedstatError('BAD_MESSAGE', 'secure aggregation: round 2 needs a survivor-set object');
    const queryId = String(r.queryId);
    const refuse = (m: string): FedstatError =>
      new FedstatError('POLICY_REFUSED', `agency ${this.self} refuses round 2 of query ${queryId}: ${m}`);
    const state = this.queries.get(queryId);
    if (state === undefined) throw refuse('it has no round 1 of this query (never run here, or expired)');
    const { params, expiresAt } = state;
    const survivors = this.memberList(r.survivors, 'survivors', refuse);
    const dropped = this.memberList(r.dropped, 'dropped', refuse);
    const both = [...survivors].find((id) => dropped.has(id));
    if (both !== undefined) throw refuse(`agency ${both} is listed both as survivor and as dropped`);
    if (!survivors.has(this.self)) throw refuse('it is not in the survivor set');
    const participants = new Set(params.participants);
    const stranger = [...survivors, ...dropped].find((id) => !participants.has(id));
    if (stranger !== undefined) throw refuse(`agency ${stranger} is not a participant of the query`);
    const omitted = params.participants.find((id) => !survivors.has(id) && !dropped.has(id));
    if (omitted !== undefined) throw refuse(`participant ${omitted} is neither survivor nor dropped`);
    if (survivors.size < params.threshold)
      throw refuse(`${survivors.size} survivors are fewer than the threshold ${params.threshold}`);
    const index = indexOf(params.participants);
    const me = index.get(this.self) ?? 0;
    const graph = graphOf(params);
    if (!graph.dense) {
      // SecAgg+: the equivocation argument of minimumThreshold, inside this agency's neighbourhood.
      const holding = graph.holders(me).filter((k) => survivors.has(params.participants[k] ?? '')).length;
      const t = shareThreshold(params);
      if (holding < t) throw refuse(`${holding} of its share holders survive, fewer than the threshold ${t}`);
    }
    const key = [...survivors].sort().join('\n'); // survivors determine dropped (checked above)
    if (state.answered !== undefined) {
      if (state.answered.key !== key) throw refuse('it already answered a different survivor set for this query');
      return copyOutput(state.answered.output);
    }
    if (!Array.isArray(sealed))
      throw new FedstatError('BAD_MESSAGE', 'secure aggregation: the sealed shares must be a list');

    const x = me + 1;
    const { federationId } = params;
    const neighbours = new Set(graph.neighbours(me).map((k) => params.participants[k] ?? ''));
    const opened = new Map<string, RevealedShare>();
    for (const item of sealed as readonly unknown[]) {
      if (!isRecord(item)) continue;
      const { from, to, nonce, box } = item;
      if (to !== this.self || typeof from !== 'string' || !survivors.has(from) || opened.has(from)) continue;
      if (from !== this.self && !neighbours.has(from)) continue;
      if (!(nonce instanceof Uint8Array) || !(box instanceof Uint8Array)) continue;
      try {
        const share = openShare(
          { from, to, nonce, box },
          { federationId, queryId, expiresAt, from, to, x },
          this.secret,
          this.key(from),
        );
        opened.set(from, { of: from, x, y: share.y });
      } catch (e) {
        if (!(e instanceof FedstatError)) throw e;
      }
    }
    const inOrder = (ids: ReadonlySet<string>): string[] =>
      [...ids].sort((a, b) => (index.get(a) ?? 0) - (index.get(b) ?? 0));
    const output: Round2Output = {
      selfMaskShares: inOrder(survivors).flatMap((id) => opened.get(id) ?? []),
      pairwiseSeeds: inOrder(dropped)
        .filter((id) => neighbours.has(id))
        .map((id) => ({ with: id, seed: this.pairSeed(params, expiresAt, id) })),
    };
    state.answered = { key, output };
    return copyOutput(output);
  }

  /** Queries currently remembered (for tests and monitoring). */
  get openQueries(): number {
    return this.queries.size;
  }

  private memberList(list: unknown, what: string, refuse: (m: string) => FedstatError): Set<string> {
    if (!Array.isArray(list) || !list.every((id) => typeof id === 'string'))
      throw refuse(`the ${what} list is malformed`);
    const ids = new Set(list);
    if (ids.size !== list.length) throw refuse(`the ${what} list names an agency twice`);
    return ids;
  }

  private key(peer: string): Uint8Array {
    const key = this.peerKeys.get(peer);
    if (key === undefined)
      throw new FedstatError('POLICY_REFUSED', `agency ${peer} is not an agency of the federation`);
    return key;
  }

  private pairSeed(params: SecAggParams, expiresAt: number, peer: string): Uint8Array {
    let shared = this.sharedSecrets.get(peer);
    if (shared === undefined) {
      // Long-term keys: the X25519 result per peer never changes, so compute it once.
      shared = x25519SharedSecret(this.secret, this.key(peer));
      this.sharedSecrets.set(peer, shared);
    }
    return pairwiseSeed(shared, {
      federationId: params.federationId,
      queryId: params.queryId,
      expiresAt,
      a: this.self,
      b: peer,
    });
  }

  private forgetExpired(now: number): void {
    if (!Number.isFinite(now)) throw new TypeError('now must be a finite number of milliseconds');
    for (const [id, q] of this.queries) if (q.expiresAt <= now) this.queries.delete(id);
  }
}

function copyOutput(o: Round2Output): Round2Output {
  return {
    selfMaskShares: o.selfMaskShares.map((s) => ({ ...s })),
    pairwiseSeeds: o.pairwiseSeeds.map((s) => ({ with: s.with, seed: Uint8Array.from(s.seed) })),
  };
}
