/**
 * Record-linkage wire messages ↔ protocol types, for the unary parts of the five phases: signed
 * queries, sealed side keys, the LinkStart answer and blinded chunks (link-streams-wire.ts splits
 * and reassembles the streamed positions and ciphertexts). protobufjs decodes whatever arrives;
 * here every field is checked (types, exact byte lengths, bounded strings and lists, consistent
 * counts) before a protocol type exists, and each failure is one BAD_MESSAGE naming the peer.
 * Counts a peer declares are only compared, never used to allocate.
 */
import { FedstatError } from '../errors.js';
import {
  LINK_CHUNK_ELEMENTS,
  MAX_LINK_ELEMENTS,
  type BlindedChunk,
  type LinkBlindRequest,
  type LinkReblindRequest,
  type LinkStartAnswer,
  type LinkStartRequest,
} from '../protocol/link-messages.js';
import { MAX_QUERY_AGENCIES, MAX_QUERY_BYTES, type SignedQuery } from '../protocol/query-envelope.js';
import type { SealedSideKey } from '../protocol/side-key.js';
import { MAX_LINK_LOG_ENTRIES, MAX_LINK_LOG_ENTRY_BYTES } from './limits.js';
import { logProofFromWire, logProofToWire } from './log-proof-messages.js';
import type {
  BlindedChunkMessage,
  LinkBlindRequestMessage,
  LinkReblindRequestMessage,
  LinkStartRequestMessage,
  LinkStartResponseMessage,
  SealedSideKeyMessage,
} from './proto.js';

/** Bytes of one blinded element (a Curve25519 u-coordinate, src/psi/group.ts). */
const ELEMENT_BYTES = 32;
/** The most chunks one agency's blinded set may have (MAX_LINK_ELEMENTS / LINK_CHUNK_ELEMENTS). */
const MAX_LINK_CHUNKS = Math.ceil(MAX_LINK_ELEMENTS / LINK_CHUNK_ELEMENTS);
const SIGNATURE_BYTES = 64;
const NONCE_BYTES = 24;
const BOX_BYTES = 48;
/** Party ids as the federation file allows them (federation.ts). */
const PARTY_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const QUERY_ID = /^[0-9a-f]{32}$/;

/** One BAD_MESSAGE naming the peer and what it sent wrong. */
export function badLink(peer: string, what: string): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `${peer} sent a linkage message whose ${what}; check that both run one fedstat version`,
  );
}

/** A bytes field as a view (no copy), or BAD_MESSAGE. */
export function wireBytes(v: unknown, peer: string, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw badLink(peer, `${what} is missing`);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function exactBytes(v: unknown, length: number, peer: string, what: string): Uint8Array {
  const b = wireBytes(v, peer, what);
  if (b.length !== length) throw badLink(peer, `${what} is not ${length} bytes`);
  return b;
}

function partyId(v: unknown, peer: string, what: string): string {
  if (typeof v !== 'string' || !PARTY_ID.test(v)) throw badLink(peer, `${what} is not a party id`);
  return v;
}

/** A uint32 field at most `max`, or BAD_MESSAGE. */
export function wireCount(v: unknown, max: number, peer: string, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max)
    throw badLink(peer, `${what} is not a count from 0 to ${max}`);
  return v;
}

/** The signed query a request carries, bounded like any signed query. */
export function signedQueryFromWire(query: unknown, signature: unknown, peer: string): SignedQuery {
  const bytes = wireBytes(query, peer, 'query');
  if (bytes.length === 0 || bytes.length > MAX_QUERY_BYTES) throw badLink(peer, 'query is empty or too long');
  return { bytes, signature: exactBytes(signature, SIGNATURE_BYTES, peer, 'query signature') };
}

/** Signed log entries of an answer: at most MAX_LINK_LOG_ENTRIES, each non-empty and bounded. */
export function logEntriesFromWire(v: unknown, peer: string): Uint8Array[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > MAX_LINK_LOG_ENTRIES)
    throw badLink(peer, `log entries are not a list of at most ${MAX_LINK_LOG_ENTRIES}`);
  return v.map((e: unknown) => {
    const b = wireBytes(e, peer, 'log entry');
    if (b.length === 0 || b.length > MAX_LINK_LOG_ENTRY_BYTES) throw badLink(peer, 'log entry is empty or too long');
    return Uint8Array.from(b);
  });
}

/** An agency's party id and a 32-hex query id, as answers carry them. */
export function answerIdsFromWire(
  agencyId: unknown,
  queryId: unknown,
  peer: string,
): { agencyId: string; queryId: string } {
  if (typeof queryId !== 'string' || !QUERY_ID.test(queryId)) throw badLink(peer, 'query id is not 32 hex digits');
  return { agencyId: partyId(agencyId, peer, 'agency id'), queryId };
}

function sealedSideKeyToWire(k: SealedSideKey): SealedSideKeyMessage {
  return { from: k.from, to: k.to, nonce: k.nonce, box: k.box };
}

/** A sealed side key: party ids, a 24-byte nonce and a 48-byte box (what it opens to is checked later). */
function sealedSideKeyFromWire(m: unknown, peer: string): SealedSideKey {
  if (m === null || typeof m !== 'object') throw badLink(peer, 'side key is missing');
  const r = m as Partial<SealedSideKeyMessage>;
  return {
    from: partyId(r.from, peer, 'side key sender'),
    to: partyId(r.to, peer, 'side key recipient'),
    nonce: Uint8Array.from(exactBytes(r.nonce, NONCE_BYTES, peer, 'side key nonce')),
    box: Uint8Array.from(exactBytes(r.box, BOX_BYTES, peer, 'side key box')),
  };
}

export function linkStartRequestToWire(r: LinkStartRequest): LinkStartRequestMessage {
  return {
    query: r.query.bytes,
    signature: r.query.signature,
    ...(r.logProof === undefined ? {} : { logProof: logProofToWire(r.logProof) }),
  };
}

export function linkStartRequestFromWire(m: LinkStartRequestMessage, peer: string): LinkStartRequest {
  const query = signedQueryFromWire(m.query, m.signature, peer);
  const logProof = logProofFromWire(m.logProof, peer);
  return logProof === undefined ? { query } : { query, logProof };
}

export function linkStartAnswerToWire(a: LinkStartAnswer): LinkStartResponseMessage {
  return {
    agencyId: a.agencyId,
    queryId: a.queryId,
    elements: a.elements,
    sideKeys: a.sideKeys.map(sealedSideKeyToWire),
    logEntries: [...a.logEntries],
  };
}

export function linkStartAnswerFromWire(m: LinkStartResponseMessage, peer: string): LinkStartAnswer {
  const ids = answerIdsFromWire(m.agencyId, m.queryId, peer);
  if (!Array.isArray(m.sideKeys) || m.sideKeys.length > MAX_QUERY_AGENCIES)
    throw badLink(peer, `side keys are not a list of at most ${MAX_QUERY_AGENCIES}`);
  return {
    ...ids,
    elements: wireCount(m.elements, MAX_LINK_ELEMENTS, peer, 'element count'),
    sideKeys: m.sideKeys.map((k) => sealedSideKeyFromWire(k, peer)),
    logEntries: logEntriesFromWire(m.logEntries, peer),
  };
}

export function linkBlindRequestToWire(r: LinkBlindRequest): LinkBlindRequestMessage {
  return {
    query: r.query.bytes,
    signature: r.query.signature,
    leader: r.leader,
    ...(r.sideKey === null ? {} : { sideKey: sealedSideKeyToWire(r.sideKey) }),
  };
}

export function linkBlindRequestFromWire(m: LinkBlindRequestMessage, peer: string): LinkBlindRequest {
  return {
    query: signedQueryFromWire(m.query, m.signature, peer),
    leader: partyId(m.leader, peer, 'leader'),
    sideKey: m.sideKey === undefined || m.sideKey === null ? null : sealedSideKeyFromWire(m.sideKey, peer),
  };
}

export function blindedChunkToWire(c: BlindedChunk): BlindedChunkMessage {
  return {
    origin: c.origin,
    phase: c.phase,
    index: c.index,
    chunks: c.chunks,
    elements: c.elements,
    by: c.by,
    signature: c.signature,
  };
}

/**
 * A blinded chunk: whole 32-byte elements (at most LINK_CHUNK_ELEMENTS), an index below its chunk
 * count, at most MAX_LINK_CHUNKS chunks, a 64-byte signature (verified by the recipient). The
 * elements stay a view of the received message (up to 1 MiB, not copied).
 */
export function blindedChunkFromWire(m: unknown, peer: string): BlindedChunk {
  if (m === null || typeof m !== 'object') throw badLink(peer, 'blinded chunk is missing');
  const r = m as Partial<BlindedChunkMessage>;
  if (r.phase !== 'blind' && r.phase !== 'reblind') throw badLink(peer, 'chunk phase is neither blind nor reblind');
  const chunks = wireCount(r.chunks, MAX_LINK_CHUNKS, peer, 'chunk count');
  const index = wireCount(r.index, MAX_LINK_CHUNKS, peer, 'chunk index');
  if (chunks < 1 || index >= chunks) throw badLink(peer, 'chunk index is not below its chunk count');
  const elements = wireBytes(r.elements, peer, 'chunk elements');
  if (elements.length % ELEMENT_BYTES !== 0)
    throw badLink(peer, `chunk elements are truncated (not a multiple of ${ELEMENT_BYTES} bytes)`);
  if (elements.length > LINK_CHUNK_ELEMENTS * ELEMENT_BYTES)
    throw badLink(peer, `chunk has more than ${LINK_CHUNK_ELEMENTS} elements`);
  return {
    origin: partyId(r.origin, peer, 'chunk origin'),
    phase: r.phase,
    index,
    chunks,
    elements,
    by: partyId(r.by, peer, 'chunk signer'),
    signature: Uint8Array.from(exactBytes(r.signature, SIGNATURE_BYTES, peer, 'chunk signature')),
  };
}

export function linkReblindRequestToWire(r: LinkReblindRequest): LinkReblindRequestMessage {
  return { query: r.query.bytes, signature: r.query.signature, chunk: blindedChunkToWire(r.chunk) };
}

export function linkReblindRequestFromWire(m: LinkReblindRequestMessage, peer: string): LinkReblindRequest {
  return { query: signedQueryFromWire(m.query, m.signature, peer), chunk: blindedChunkFromWire(m.chunk, peer) };
}
