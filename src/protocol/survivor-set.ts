/**
 * The survivor set of one query (secure aggregation, round 2): which of the agencies the query
 * named contributed in round 1 (survivors) and which did not (dropped). The coordinator signs it
 * once per query; survivors check it before revealing anything, and the key authority decrypts
 * only a sum that comes with it. Like the query, it travels as canonical JSON bytes with a
 * signature over a tagged digest of exactly those bytes.
 */
import { FedstatError } from '../errors.js';
import { taggedDigest, toHex } from '../crypto/digest.js';
import { sign, verify } from '../crypto/ed25519.js';
import { partyOfRole, type Federation } from '../federation/federation.js';
import { canonicalBytes } from '../util/canonical-json.js';
import { isRecord } from '../util/is-record.js';

export interface SurvivorSet {
  readonly v: 1;
  readonly round: 2;
  readonly queryId: string;
  readonly federationId: string;
  /** Hex digest of the signed query bytes this set belongs to. */
  readonly queryDigest: string;
  /** Sorted; survivors ∪ dropped = the query's agencies, survivors ∩ dropped = ∅. */
  readonly survivors: readonly string[];
  readonly dropped: readonly string[];
  /** Shares needed to reconstruct a self-mask; fixed by the query. */
  readonly threshold: number;
}

export interface SignedSurvivorSet {
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

export const MAX_SET_BYTES = 256 * 1024;

export function survivorSetDigest(bytes: Uint8Array): Uint8Array {
  return taggedDigest('fedstat/v1/survivor-set', bytes);
}

export function signSurvivorSet(set: SurvivorSet, coordinatorSecretKey: Uint8Array): SignedSurvivorSet {
  const bytes = canonicalBytes(set);
  return { bytes, signature: sign(survivorSetDigest(bytes), coordinatorSecretKey) };
}

function bad(message: string): FedstatError {
  return new FedstatError('BAD_MESSAGE', `survivor set: ${message}`);
}

function sortedUnique(list: unknown, what: string): string[] {
  if (!Array.isArray(list) || list.length > 4096 || !list.every((a) => typeof a === 'string'))
    throw bad(`${what} is malformed`);
  const names = list;
  for (let i = 1; i < names.length; i++) {
    if ((names[i - 1] ?? '') >= (names[i] ?? '')) throw bad(`${what} is not sorted and unique`);
  }
  return names;
}

/**
 * Verifies the coordinator's signature, then checks the set belongs to `expected` (query id,
 * query digest, federation) and partitions exactly the query's agencies.
 */
export function openSurvivorSet(
  signed: SignedSurvivorSet,
  federation: Federation,
  expected: { readonly queryId: string; readonly queryDigest: Uint8Array; readonly agencies: readonly string[] },
): SurvivorSet {
  if (signed.bytes.length > MAX_SET_BYTES)
    throw new FedstatError(
      'MESSAGE_TOO_LARGE',
      `survivor set of ${signed.bytes.length} bytes exceeds ${MAX_SET_BYTES}`,
    );
  const coordinator = partyOfRole(federation, 'coordinator');
  if (!verify(survivorSetDigest(signed.bytes), signed.signature, coordinator.signingKey)) {
    throw bad("signature does not verify against the federation's coordinator key");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(signed.bytes));
  } catch {
    throw bad('not UTF-8 JSON');
  }
  if (!isRecord(raw) || raw['v'] !== 1 || raw['round'] !== 2) throw bad('unknown version or round');
  if (raw['queryId'] !== expected.queryId) throw bad('belongs to another query');
  if (raw['federationId'] !== federation.id) throw bad('belongs to another federation');
  if (raw['queryDigest'] !== toHex(expected.queryDigest)) throw bad('belongs to other query bytes');
  const survivors = sortedUnique(raw['survivors'], 'survivor list');
  const dropped = sortedUnique(raw['dropped'], 'dropped list');
  const threshold = raw['threshold'];
  if (typeof threshold !== 'number' || !Number.isSafeInteger(threshold) || threshold < 1)
    throw bad('threshold is malformed');
  const union = [...survivors, ...dropped].sort();
  if (union.length !== expected.agencies.length || union.some((a, i) => a !== expected.agencies[i])) {
    throw bad('survivors and dropped must partition the agencies the query named, each exactly once');
  }
  return Object.freeze({
    v: 1,
    round: 2,
    queryId: expected.queryId,
    federationId: federation.id,
    queryDigest: toHex(expected.queryDigest),
    survivors: Object.freeze(survivors),
    dropped: Object.freeze(dropped),
    threshold,
  });
}
