/**
 * Log entries: one audit event, signed by the party that vouches for it, in one canonical byte
 * encoding (the bytes the Merkle tree hashes, so there must be exactly one per entry):
 *
 *   "fedstat/transparency/entry/v1\n"                         (30 bytes, ASCII: the domain tag)
 *   canonical JSON {"author": party id, "body": event without "type", "kind": event type}
 *   64 bytes: Ed25519 signature by the author over everything before it
 *
 * The domain tag keeps an entry signature from ever being replayed as another fedstat signature
 * (those sign canonical JSON, which starts with "{", or the tree-head tag) and vice versa. The
 * signature covers the stored bytes as they are, so checking it needs no re-encoding; decoding
 * still insists the JSON is canonical, so nobody but the author can produce a second encoding.
 *
 * Entries do not name the federation: they are bound to it through the tree heads, which sign
 * the federation id as the log id over the root of every entry (and each party's key belongs
 * to one federation).
 */
import type { AuditEvent } from './events.js';
import { sign, verify, SIGNATURE_BYTES } from '../crypto/ed25519.js';
import { FedstatError } from '../errors.js';
import type { Federation, Party, PartyRole } from '../federation/federation.js';
import { canonicalJson } from '../util/canonical-json.js';
import { isRecord } from '../util/is-record.js';
import { bodyProblem, eventProblem, isEntryKind, type EntryKind } from './entry-shape.js';

export const ENTRY_DOMAIN = 'fedstat/transparency/entry/v1\n';
const DOMAIN = Buffer.from(ENTRY_DOMAIN, 'ascii');
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Which roles may author each kind. Agencies vouch for what they did (contribution, budget spend,
 * unmask, refusal), the coordinator for what it asked, fixed and released, the key authority for
 * what it decrypted; the key authority also refuses (a refusal's agencyId is then its own id).
 */
const ENTRY_AUTHOR_ROLES: Readonly<Record<EntryKind, readonly PartyRole[]>> = Object.freeze({
  query: ['coordinator'],
  contribution: ['agency'],
  refusal: ['agency', 'key-authority'],
  survivors: ['coordinator'],
  unmask: ['agency'],
  decryption: ['key-authority'],
  budget: ['agency'],
  release: ['coordinator'],
});

/** An entry decoded without checking its signature (see `openEntry` for that). */
export interface DecodedEntry {
  readonly event: AuditEvent;
  /** The author's party id, as the entry claims it. */
  readonly author: string;
  /** The bytes the signature covers (a view into the entry). */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

/** Why an entry is refused: `details.problem` of the BAD_MESSAGE `openEntry` throws. */
export type EntryProblem = 'malformed' | 'unknown-author' | 'bad-signature';

const refuse = (problem: EntryProblem, why: string): FedstatError =>
  new FedstatError(
    'BAD_MESSAGE',
    `log entry refused: ${why}; the log is damaged or forged, report it to the federation`,
    { details: { problem } },
  );

/**
 * Encodes and signs `event` as a log entry by party `author` with its 64-byte Ed25519 secret
 * key (seed ‖ public key, as in key files). RangeError for an event that is not a well-formed
 * AuditEvent (a caller's bug: the system only emits well-formed ones).
 */
export function entryFromEvent(event: AuditEvent, author: string, secretKey: Uint8Array): Uint8Array {
  const why = eventProblem(event);
  if (why !== null) throw new RangeError(`cannot log this event: ${why}`);
  if (typeof author !== 'string' || author.length === 0) throw new RangeError("an entry needs its author's party id");
  const { type, ...body } = event;
  const json = utf8.encode(canonicalJson({ author, body, kind: type }));
  const out = new Uint8Array(DOMAIN.length + json.length + SIGNATURE_BYTES);
  out.set(DOMAIN);
  out.set(json, DOMAIN.length);
  const signed = out.subarray(0, DOMAIN.length + json.length);
  out.set(sign(signed, secretKey), signed.length);
  return out;
}

/**
 * Parses an entry's layout and event shape, not its signature. Throws FedstatError BAD_MESSAGE
 * (details.problem 'malformed') for a wrong domain tag, non-canonical or ill-typed JSON, or an
 * event that is not exactly its kind's shape.
 */
export function decodeEntry(bytes: Uint8Array): DecodedEntry {
  if (!(bytes instanceof Uint8Array) || bytes.length < DOMAIN.length + 2 + SIGNATURE_BYTES)
    throw refuse('malformed', 'too short to be a log entry');
  for (let i = 0; i < DOMAIN.length; i++)
    if (bytes[i] !== DOMAIN[i]) throw refuse('malformed', 'not a fedstat log entry (domain tag)');
  const end = bytes.length - SIGNATURE_BYTES;
  let text: string;
  let doc: unknown;
  try {
    text = strictUtf8.decode(bytes.subarray(DOMAIN.length, end));
    doc = JSON.parse(text);
  } catch {
    throw refuse('malformed', 'the entry is not UTF-8 JSON');
  }
  if (!isRecord(doc)) throw refuse('malformed', 'the entry is not a JSON object');
  const { author, body, kind } = doc;
  if (Object.keys(doc).length !== 3 || typeof author !== 'string' || author.length === 0)
    throw refuse('malformed', 'the entry must have exactly author, body and kind');
  if (!isEntryKind(kind)) throw refuse('malformed', `unknown entry kind ${JSON.stringify(kind)}`);
  const why = bodyProblem(kind, body);
  if (why !== null) throw refuse('malformed', why);
  if (canonicalJson(doc) !== text) throw refuse('malformed', 'the entry is not in canonical JSON');
  return Object.freeze({
    event: Object.freeze({ type: kind, ...(body as object) }) as AuditEvent,
    author,
    signed: bytes.subarray(0, end),
    signature: bytes.subarray(end),
  });
}

/**
 * Decodes an entry and checks its signature against its author's key in `federation`. Returns
 * the event and the author party; does not check that the author's role may log this kind (see
 * `authorProblem`). Throws FedstatError BAD_MESSAGE with details.problem 'malformed',
 * 'unknown-author' or 'bad-signature'.
 */
export function openEntry(bytes: Uint8Array, federation: Federation): { event: AuditEvent; author: Party } {
  const d = decodeEntry(bytes);
  const author = federation.parties.find((p) => p.id === d.author);
  if (author === undefined)
    throw refuse('unknown-author', `its author ${JSON.stringify(d.author)} is not a party of the federation`);
  if (!verify(d.signed, d.signature, author.signingKey))
    throw refuse('bad-signature', `its signature does not verify under ${author.id}'s key`);
  return { event: d.event, author };
}

/**
 * Why `author` may not vouch for `event`, or null: its role may not log this kind, or an agency
 * (or the key authority refusing) logs in another party's name (agencyId ≠ author).
 */
export function authorProblem(event: AuditEvent, author: Party): string | null {
  const roles = ENTRY_AUTHOR_ROLES[event.type];
  if (!roles.includes(author.role)) {
    return `a ${event.type} entry must be signed by the ${roles.join(' or the ')}, but ${author.id} is the ${author.role}`;
  }
  if ('agencyId' in event && event.agencyId !== author.id) {
    return `${author.id} signed a ${event.type} entry in the name of ${event.agencyId}`;
  }
  return null;
}
