/**
 * Signed tree heads: the log operator's Ed25519 signature over (log id, size, root, time). A
 * head is the log's public commitment: agencies keep the last one they saw, the key authority
 * checks inclusion against one, auditors check that every head they were shown is consistent.
 *
 * The signed bytes are a fixed binary layout behind a domain tag, so a tree-head signature can
 * never be replayed as any other fedstat signature (which all sign canonical JSON) nor vice versa:
 *
 *   "fedstat/transparency/tree-head/v1\n"  (34 bytes, ASCII)
 *   u16 BE  byte length L of the log id (1..256), then L bytes of UTF-8
 *   u64 BE  size (≤ 2^53 − 1)
 *   32 B    root hash
 *   u64 BE  timestamp, milliseconds since the Unix epoch (≤ 2^53 − 1)
 *
 * The wire form is those bytes followed by the 64-byte signature. `verifyTreeHead` returns a
 * boolean and never throws; the decoders throw FedstatError BAD_MESSAGE for malformed input.
 * Transport-agnostic: no gRPC here; JSON helpers are for files and CLI flags.
 */
import { FedstatError } from '../errors.js';
import { sign, verify, SIGNATURE_BYTES } from '../crypto/ed25519.js';
import { HASH_BYTES } from './merkle-hash.js';

/** The unsigned content of a tree head. */
export interface TreeHead {
  /** The federation id the log belongs to. */
  readonly logId: string;
  /** Number of entries the root covers. */
  readonly size: number;
  /** RFC 9162 root of the first `size` entries (32 bytes). */
  readonly rootHash: Uint8Array;
  /** When the operator signed it, ms since the Unix epoch. */
  readonly timestamp: number;
}

/** A tree head with the log operator's signature: what parties keep and auditors check. */
export interface SignedTreeHead extends TreeHead {
  /** Ed25519 signature by the log operator over `encodeTreeHead(head)`. */
  readonly signature: Uint8Array;
}

const TREE_HEAD_DOMAIN = 'fedstat/transparency/tree-head/v1\n';
const MAX_LOG_ID_BYTES = 256;
const DOMAIN = Buffer.from(TREE_HEAD_DOMAIN, 'ascii');
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Why `head` cannot be encoded, or null. */
function problem(head: TreeHead): string | null {
  if (typeof head.logId !== 'string') return 'the log id is not a string';
  const id = utf8.encode(head.logId);
  if (id.length === 0 || id.length > MAX_LOG_ID_BYTES) return `the log id must have 1..${MAX_LOG_ID_BYTES} UTF-8 bytes`;
  if (strictUtf8.decode(id) !== head.logId) return 'the log id is not well-formed Unicode';
  if (!Number.isSafeInteger(head.size) || head.size < 0) return 'the size is not a non-negative safe integer';
  if (!(head.rootHash instanceof Uint8Array) || head.rootHash.length !== HASH_BYTES)
    return `the root hash is not ${HASH_BYTES} bytes`;
  if (!Number.isSafeInteger(head.timestamp) || head.timestamp < 0)
    return 'the timestamp is not a non-negative safe integer';
  return null;
}

/** The exact bytes a tree head's signature covers. Throws RangeError for an invalid head. */
export function encodeTreeHead(head: TreeHead): Uint8Array {
  const why = problem(head);
  if (why !== null) throw new RangeError(`cannot encode tree head: ${why}`);
  const id = utf8.encode(head.logId);
  const out = Buffer.alloc(DOMAIN.length + 2 + id.length + 8 + HASH_BYTES + 8);
  let off = DOMAIN.copy(out, 0);
  off = out.writeUInt16BE(id.length, off);
  out.set(id, off);
  off += id.length;
  off = out.writeBigUInt64BE(BigInt(head.size), off);
  out.set(head.rootHash, off);
  off += HASH_BYTES;
  out.writeBigUInt64BE(BigInt(head.timestamp), off);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Signs `head` with the operator's 64-byte Ed25519 secret key (see src/crypto/ed25519.ts). */
export function signTreeHead(head: TreeHead, secretKey: Uint8Array): SignedTreeHead {
  const message = encodeTreeHead(head);
  return Object.freeze({
    logId: head.logId,
    size: head.size,
    rootHash: Uint8Array.from(head.rootHash),
    timestamp: head.timestamp,
    signature: sign(message, secretKey),
  });
}

/** True when `head` is well-formed and signed by `publicKey`. Never throws. */
export function verifyTreeHead(head: SignedTreeHead, publicKey: Uint8Array): boolean {
  try {
    if (typeof head !== 'object' || head === null || problem(head) !== null) return false;
    if (!(head.signature instanceof Uint8Array) || head.signature.length !== SIGNATURE_BYTES) return false;
    return verify(encodeTreeHead(head), head.signature, publicKey);
  } catch {
    return false;
  }
}

/** The wire form: signed bytes ‖ signature. */
export function encodeSignedTreeHead(head: SignedTreeHead): Uint8Array {
  if (!(head.signature instanceof Uint8Array) || head.signature.length !== SIGNATURE_BYTES)
    throw new RangeError(`a signature has ${SIGNATURE_BYTES} bytes`);
  const body = encodeTreeHead(head);
  const out = new Uint8Array(body.length + SIGNATURE_BYTES);
  out.set(body);
  out.set(head.signature, body.length);
  return out;
}

const bad = (why: string): FedstatError =>
  new FedstatError('BAD_MESSAGE', `malformed signed tree head: ${why}; ask the log operator for a fresh one`);

/**
 * Parses the wire form (checks the layout, not the signature: call `verifyTreeHead`). Throws
 * FedstatError BAD_MESSAGE for a wrong domain tag, length, log id, or out-of-range number.
 */
export function decodeSignedTreeHead(bytes: Uint8Array): SignedTreeHead {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < DOMAIN.length + 2 || !b.subarray(0, DOMAIN.length).equals(DOMAIN))
    throw bad('not a fedstat tree head (domain tag)');
  const idLen = b.readUInt16BE(DOMAIN.length);
  const idStart = DOMAIN.length + 2;
  if (b.length !== idStart + idLen + 8 + HASH_BYTES + 8 + SIGNATURE_BYTES)
    throw bad(`${b.length} bytes do not match its log id length`);
  let logId: string;
  try {
    logId = strictUtf8.decode(b.subarray(idStart, idStart + idLen));
  } catch {
    throw bad('the log id is not UTF-8');
  }
  let off = idStart + idLen;
  const size = b.readBigUInt64BE(off);
  off += 8;
  const rootHash = Uint8Array.from(b.subarray(off, off + HASH_BYTES));
  off += HASH_BYTES;
  const timestamp = b.readBigUInt64BE(off);
  off += 8;
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (size > max || timestamp > max) throw bad('size or timestamp beyond 2^53 − 1');
  const head = {
    logId,
    size: Number(size),
    rootHash,
    timestamp: Number(timestamp),
    signature: Uint8Array.from(b.subarray(off)),
  };
  const why = problem(head);
  if (why !== null) throw bad(why);
  return Object.freeze(head);
}

/** A JSON-friendly form (hex root, base64 signature) for files and command lines. */
export interface TreeHeadJson {
  readonly logId: string;
  readonly size: number;
  readonly rootHash: string;
  readonly timestamp: number;
  readonly signature: string;
}

export function treeHeadToJson(head: SignedTreeHead): TreeHeadJson {
  return {
    logId: head.logId,
    size: head.size,
    rootHash: Buffer.from(head.rootHash).toString('hex'),
    timestamp: head.timestamp,
    signature: Buffer.from(head.signature).toString('base64'),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;
const B64SIG = /^[A-Za-z0-9+/]{86}==$/;

/** Parses `treeHeadToJson` output (exact spelling only). Throws FedstatError BAD_MESSAGE. */
export function treeHeadFromJson(value: unknown): SignedTreeHead {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('not a JSON object');
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).sort().join();
  if (keys !== 'logId,rootHash,signature,size,timestamp')
    throw bad('expected exactly logId, size, rootHash, timestamp, signature');
  if (typeof o.rootHash !== 'string' || !HEX64.test(o.rootHash)) throw bad('rootHash is not 64 lowercase hex digits');
  if (typeof o.signature !== 'string' || !B64SIG.test(o.signature)) throw bad('signature is not 64 bytes of base64');
  const head = {
    logId: o.logId as string,
    size: o.size as number,
    timestamp: o.timestamp as number,
    rootHash: new Uint8Array(Buffer.from(o.rootHash, 'hex')),
    signature: new Uint8Array(Buffer.from(o.signature, 'base64')),
  };
  const why = problem(head);
  if (Buffer.from(head.signature).toString('base64') !== o.signature) throw bad('signature is not canonical base64');
  if (why !== null) throw bad(why);
  return Object.freeze(head);
}
