/**
 * The messages of record linkage (private set intersection and the encrypted join), between the
 * coordinator and the agencies of both sides of a join round (join-round.ts). Every request
 * carries the signed query, so an agency verifies the coordinator before it does anything; every
 * answer that carries data is signed by the agency that made it, over a tagged digest of the query,
 * the phase and every payload, so the coordinator and the agencies that re-blind a set can name the
 * agency whose bytes were tampered with or truncated. See docs/protocol.md ("Linked records").
 *
 * Phases: `start` (admission, the agency's distinct ids hashed to the group, sealed copies of its
 * candidate side key), `blind` (its elements raised to its side's key, in chunks), `reblind` (a
 * chunk of the other side raised to this side's key), `encrypt` (encrypting side: components at the
 * positions the coordinator drew, under BFV), `load` (multiplying side: the summed ciphertexts and
 * its positions, before round 1).
 */
import { sha256, taggedDigest } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import { FedstatError } from '../errors.js';
import { queryDigest, type SignedQuery } from './query-envelope.js';
import type { SealedSideKey } from './side-key.js';
import type { QueryLogProof } from '../transparency/query-log-proof.js';

/** Elements per chunk of a blinded set: 32 bytes each, 1 MiB a chunk. */
export const LINK_CHUNK_ELEMENTS = 32_768;
/**
 * The most ciphertexts the encrypting side sends per agency (components × blocks): about 2.1 GB,
 * what a multiplying agency holds at once at most.
 */
export const MAX_LINK_CIPHERTEXTS = 4096;
/** The most elements (distinct ids) one agency may link in one query. */
export const MAX_LINK_ELEMENTS = 64 * 1024 * 1024;

export interface LinkStartRequest {
  readonly query: SignedQuery;
  readonly logProof?: QueryLogProof;
}

export interface LinkStartAnswer {
  readonly agencyId: string;
  readonly queryId: string;
  /** Distinct ids the agency links (public to the coordinator: it sees that many blinded values). */
  readonly elements: number;
  /** A sealed copy of the agency's candidate side key for each other agency of its side. */
  readonly sideKeys: readonly SealedSideKey[];
  /** The agency's signed log entries for this phase (a refusal is thrown, not answered). */
  readonly logEntries: readonly Uint8Array[];
}

export interface LinkBlindRequest {
  readonly query: SignedQuery;
  /** The side's leader; the agency itself when it leads. */
  readonly leader: string;
  /** The leader's candidate key sealed to this agency; null when the agency leads. */
  readonly sideKey: SealedSideKey | null;
}

/** A chunk of blinded elements, signed by the agency that made it. */
export interface BlindedChunk {
  /** The agency whose ids these are. */
  readonly origin: string;
  /** `blind`: raised to the origin side's key; `reblind`: then to the other side's key. */
  readonly phase: 'blind' | 'reblind';
  /** The chunk's index in the origin's set (0-based). */
  readonly index: number;
  /** Chunks in the origin's set. */
  readonly chunks: number;
  /** Packed 32-byte elements. */
  readonly elements: Uint8Array;
  /** The agency that blinded (the origin for `blind`, an agency of the other side for `reblind`). */
  readonly by: string;
  readonly signature: Uint8Array;
}

export interface LinkReblindRequest {
  readonly query: SignedQuery;
  /** A `blind` chunk of an agency of the other side. */
  readonly chunk: BlindedChunk;
}

export interface LinkEncryptRequest {
  readonly query: SignedQuery;
  /** Positions available: every agency's positions are below it (the elements of all agencies). */
  readonly positionCount: number;
  /** The position of each of this agency's elements, in the order it sent them. */
  readonly positions: Uint32Array;
}

export interface LinkEncryptAnswer {
  readonly agencyId: string;
  readonly queryId: string;
  /** Serialized BFV ciphertexts, component-major: index = component · blocks + block. */
  readonly ciphertexts: readonly Uint8Array[];
  readonly components: number;
  readonly blocks: number;
  /** The agency's signed log entries (its budget charge). */
  readonly logEntries: readonly Uint8Array[];
  readonly signature: Uint8Array;
}

export interface LinkLoadRequest {
  readonly query: SignedQuery;
  readonly positionCount: number;
  readonly positions: Uint32Array;
  /** The encrypting side's components summed over its agencies, component-major. */
  readonly ciphertexts: readonly Uint8Array[];
  readonly components: number;
  readonly blocks: number;
}

/** The slots of one ciphertext block (N coefficients at N = 8192). */
export function blocksFor(positionCount: number, slotCount: number): number {
  return Math.max(1, Math.ceil(positionCount / slotCount));
}

function chunkDigest(queryBytes: Uint8Array, c: Omit<BlindedChunk, 'signature'>): Uint8Array {
  return taggedDigest(
    'fedstat/v1/link/chunk',
    queryDigest(queryBytes),
    c.origin,
    c.phase,
    c.index,
    c.chunks,
    c.by,
    sha256(c.elements),
  );
}

/** Signs a chunk as the agency `c.by`. */
export function signChunk(query: SignedQuery, c: Omit<BlindedChunk, 'signature'>, secretKey: Uint8Array): BlindedChunk {
  return { ...c, signature: sign(chunkDigest(query.bytes, c), secretKey) };
}

/** BAD_MESSAGE naming `c.by` unless its signature verifies and its elements are whole. */
export function checkChunk(query: SignedQuery, c: BlindedChunk, signerKey: Uint8Array): void {
  if (c.elements.length % 32 !== 0 || c.elements.length > LINK_CHUNK_ELEMENTS * 32)
    throw new FedstatError('BAD_MESSAGE', `blinded chunk from agency ${c.by} is truncated or too long`);
  if (!verify(chunkDigest(query.bytes, c), c.signature, signerKey))
    throw new FedstatError('BAD_MESSAGE', `blinded chunk from agency ${c.by} does not verify (tampered in transit?)`);
}

function encryptDigest(queryBytes: Uint8Array, a: Omit<LinkEncryptAnswer, 'signature' | 'logEntries'>): Uint8Array {
  return taggedDigest(
    'fedstat/v1/link/encrypt',
    queryDigest(queryBytes),
    a.agencyId,
    a.queryId,
    a.components,
    a.blocks,
    ...a.ciphertexts.map((c) => sha256(c)),
  );
}

export function signEncryptAnswer(
  query: SignedQuery,
  a: Omit<LinkEncryptAnswer, 'signature'>,
  secretKey: Uint8Array,
): LinkEncryptAnswer {
  return { ...a, signature: sign(encryptDigest(query.bytes, a), secretKey) };
}

export function checkEncryptAnswer(query: SignedQuery, a: LinkEncryptAnswer, signerKey: Uint8Array): void {
  if (a.ciphertexts.length !== a.components * a.blocks)
    throw new FedstatError(
      'BAD_MESSAGE',
      `agency ${a.agencyId} sent ${a.ciphertexts.length} ciphertexts, not components × blocks`,
    );
  if (!verify(encryptDigest(query.bytes, a), a.signature, signerKey))
    throw new FedstatError(
      'BAD_MESSAGE',
      `encrypted components from agency ${a.agencyId} do not verify (tampered in transit?)`,
    );
}

/** Splits packed elements into chunks of at most LINK_CHUNK_ELEMENTS. */
export function chunkElements(elements: Uint8Array): Uint8Array[] {
  const size = LINK_CHUNK_ELEMENTS * 32;
  const out: Uint8Array[] = [];
  for (let at = 0; at < elements.length; at += size)
    out.push(elements.subarray(at, Math.min(elements.length, at + size)));
  if (out.length === 0) out.push(new Uint8Array(0));
  return out;
}
