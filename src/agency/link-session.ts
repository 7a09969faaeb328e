/**
 * What an agency keeps of one join query between its linkage phases: its side and role, its
 * per-id components in the (random) order it sends its elements, the hashed elements, its
 * candidate and side blinding keys, and, on the multiplying side, the positions and the summed
 * ciphertexts round 1 multiplies. A session lives until the query expires or round 1 consumes it;
 * every key is zeroed when it goes.
 */
import { FedstatError } from '../errors.js';
import type { JoinRoundPlan } from '../protocol/join-round.js';
import type { QueryEnvelope } from '../protocol/query-envelope.js';
import type { BlindingKey } from '../psi/blinding-key.js';
import type { JoinSideName } from '../query/join-plan.js';
import type { LinkInputs } from '../store/link-inputs.js';

/** The most join queries one agency links at the same time (each holds its ids' components in memory). */
const MAX_LINK_SESSIONS = 8;

export interface LinkSession {
  readonly env: QueryEnvelope;
  /** Digest of the signed query bytes: every later phase must carry the same query. */
  readonly queryDigest: string;
  readonly plan: JoinRoundPlan;
  readonly side: JoinSideName;
  readonly role: 'encrypting' | 'multiplying';
  /** The store's per-id components; element k is id `order[k]` of `inputs`. */
  readonly inputs: LinkInputs;
  readonly order: Uint32Array;
  /** The hashed elements, 32 bytes each, in element order. */
  readonly hashed: Uint8Array;
  readonly candidate: BlindingKey;
  sideKey: BlindingKey | null;
  /** Multiplying side: set by `load`. */
  loaded: { readonly positions: Uint32Array; readonly summed: readonly (readonly Uint8Array[])[] } | null;
  /** Encrypting side: set once `encrypt` answered (it answers once). */
  encrypted: boolean;
}

/** The sessions of one agency, by query id, bounded and swept by expiry. */
export class LinkSessions {
  readonly #sessions = new Map<string, LinkSession>();

  /** Stores a new session; REPLAY when the query already has one, UNAVAILABLE when too many are open. */
  open(session: LinkSession, now: number): void {
    this.sweep(now);
    const id = session.env.queryId;
    if (this.#sessions.has(id)) {
      dispose(session);
      throw new FedstatError('REPLAY', `query ${id} was already started here`);
    }
    if (this.#sessions.size >= MAX_LINK_SESSIONS) {
      dispose(session);
      throw new FedstatError('UNAVAILABLE', `${MAX_LINK_SESSIONS} join queries are already linking here; retry later`);
    }
    this.#sessions.set(id, session);
  }

  /** The session of `queryId` started with the same signed query; BAD_MESSAGE otherwise. */
  get(queryId: string, queryDigest: string, now: number): LinkSession {
    this.sweep(now);
    const s = this.#sessions.get(queryId);
    if (s === undefined || s.queryDigest !== queryDigest)
      throw new FedstatError('BAD_MESSAGE', `query ${queryId} was not started here (or has expired); run it again`);
    return s;
  }

  /** Removes a session (its round is over) and zeroes its keys. */
  close(queryId: string): void {
    const s = this.#sessions.get(queryId);
    if (s === undefined) return;
    this.#sessions.delete(queryId);
    dispose(s);
  }

  /** Drops every expired session. */
  sweep(now: number): void {
    for (const [id, s] of this.#sessions) if (s.env.expiresAt < now) this.close(id);
  }

  /** Drops every session (the agency closes). */
  clear(): void {
    for (const id of [...this.#sessions.keys()]) this.close(id);
  }
}

function dispose(s: LinkSession): void {
  s.candidate[Symbol.dispose]();
  s.sideKey?.[Symbol.dispose]();
}
