/**
 * Mutants of the DecryptRequest a coordinator sends the key authority, as wire bytes: byte-level
 * damage (focused around the big ciphertexts), genuine parts of two requests swapped, and edits
 * validly re-signed with the coordinator's key over a fresh query id and survivor set (a curious
 * or compromised coordinator): damaged or foreign ciphertexts, edited queries and sets, sets that
 * break the release policy, replays. Shared by the in-process and the over-gRPC fuzzers.
 */
import { sign } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/crypto/digest.js';
import { signDecryptionRequest, type DecryptionRequest } from '../../src/protocol/decryption.js';
import { newQueryId, queryDigest, type SignedQuery } from '../../src/protocol/query-envelope.js';
import { survivorSetDigest, type SignedSurvivorSet } from '../../src/protocol/survivor-set.js';
import type { DecryptRequestMessage } from '../../src/transport/proto.js';
import type { FuzzFederation, GenuineRound } from './fuzz-federation.js';
import { editJson, jsonBytes, parseJson } from './json-edit.js';
import { around, BYTE_MUTATIONS, flipBits, garbage, mutateBytes, pick, type Rand } from './mutate.js';
import { DECRYPT_REQUEST } from './wire.js';

/** First coefficient byte of a serialized ciphertext (src/he/ciphertext-layout.ts). */
const DATA = 113;

export interface DecryptMutant {
  readonly kind: string;
  readonly bytes: Uint8Array;
  /** Signed anew with the coordinator's key (else only a genuine request may be decrypted). */
  readonly resigned: boolean;
}

function coordinatorKey(f: FuzzFederation): Uint8Array {
  const s = f.secrets['coordinator'];
  if (s === undefined) throw new Error('no coordinator secrets');
  return s.signing.secretKey;
}

export function toWire(r: DecryptionRequest): DecryptRequestMessage {
  return {
    query: r.query.bytes,
    querySignature: r.query.signature,
    survivors: r.survivors.bytes,
    survivorsSignature: r.survivors.signature,
    ciphertexts: [...r.ciphertexts],
    signature: r.signature,
  };
}

function signedQuery(f: FuzzFederation, bytes: Uint8Array): SignedQuery {
  return { bytes, signature: sign(queryDigest(bytes), coordinatorKey(f)) };
}

function signedSet(f: FuzzFederation, bytes: Uint8Array): SignedSurvivorSet {
  return { bytes, signature: sign(survivorSetDigest(bytes), coordinatorKey(f)) };
}

/** `template`'s query and set under a fresh query id (edited by `editQuery` / `editSet`), all re-signed. */
function reissue(
  f: FuzzFederation,
  template: DecryptionRequest,
  ciphertexts: readonly Uint8Array[],
  editQuery = (q: Record<string, unknown>): unknown => q,
  editSet = (s: Record<string, unknown>): unknown => s,
): DecryptionRequest {
  const queryId = newQueryId();
  const query = signedQuery(
    f,
    jsonBytes(editQuery({ ...(parseJson(template.query.bytes) as Record<string, unknown>), queryId })),
  );
  const set = signedSet(
    f,
    jsonBytes(
      editSet({
        ...(parseJson(template.survivors.bytes) as Record<string, unknown>),
        queryId,
        queryDigest: toHex(queryDigest(query.bytes)),
      }),
    ),
  );
  return signDecryptionRequest(f.federation.id, query, set, ciphertexts, coordinatorKey(f));
}

const EDITS = [
  'ct-coefficients',
  'ct-header',
  'ct-truncate',
  'ct-extend',
  'ct-random',
  'ct-count',
  'ct-of-one-agency',
  'query-json',
  'set-json',
  'set-too-few',
  'set-partition',
  'threshold',
  'mode',
  'expired',
  'replay',
  'stale-set',
] as const;
type Edit = (typeof EDITS)[number];

function edited(f: FuzzFederation, edit: Edit, t: DecryptionRequest, round: GenuineRound, r: Rand): DecryptionRequest {
  const ct = t.ciphertexts[0] ?? new Uint8Array(0);
  const flipIn = (from: number, to: number, k: number): Uint8Array => {
    const out = ct.slice();
    for (let i = 0; i < k; i++) {
      const at = from + r(to - from);
      out[at] = (out[at] ?? 0) ^ (1 << r(8));
    }
    return out;
  };
  const now = Date.now();
  switch (edit) {
    case 'ct-coefficients':
      return reissue(f, t, [flipIn(DATA, ct.length, 1 + r(8))]);
    case 'ct-header':
      return reissue(f, t, [flipIn(0, DATA, 1 + r(4))]);
    case 'ct-truncate':
      return reissue(f, t, [ct.slice(0, r(ct.length))]);
    case 'ct-extend':
      return reissue(f, t, [new Uint8Array(Buffer.concat([ct, garbage(r, 1 + r(64))]))]);
    case 'ct-random':
      return reissue(f, t, [garbage(r, r(2) === 0 ? ct.length : r(4096))]);
    case 'ct-count':
      return reissue(f, t, pick(r, [[], [ct, ct], Array.from({ length: 33 }, () => ct)]));
    // A curious coordinator asking for one agency's (masked) contribution instead of the sum.
    case 'ct-of-one-agency':
      return reissue(f, t, round.contributions.get(pick(r, [...round.contributions.keys()]))?.payloads ?? []);
    case 'query-json':
      return reissue(f, t, t.ciphertexts, (q) => editJson(q, r));
    case 'set-json':
      return reissue(f, t, t.ciphertexts, undefined, (s) => editJson(s, r));
    case 'set-too-few':
      return reissue(f, t, t.ciphertexts, undefined, (s) => {
        const all = [...(s['survivors'] as string[]), ...(s['dropped'] as string[])].sort();
        const keep = all.slice(0, r(3));
        return { ...s, survivors: keep, dropped: all.filter((a) => !keep.includes(a)) };
      });
    case 'set-partition':
      return reissue(f, t, t.ciphertexts, undefined, (s) =>
        pick(r, [
          { ...s, dropped: [] },
          { ...s, dropped: [...(s['dropped'] as string[]), 'agency-9'] },
          { ...s, survivors: [...(s['survivors'] as string[])].reverse() },
          { ...s, survivors: [...(s['survivors'] as string[]), 'agency-9'] },
          { ...s, dropped: [...(s['dropped'] as string[]), ...(s['survivors'] as string[]).slice(0, 1)].sort() },
        ]),
      );
    case 'threshold': {
      const k = pick(r, [1, 2, 4, 5, 0]);
      return reissue(
        f,
        t,
        t.ciphertexts,
        (q) => ({ ...q, threshold: k }),
        (s) => (r(2) === 0 ? { ...s, threshold: k } : s),
      );
    }
    case 'mode':
      return reissue(f, t, t.ciphertexts, (q) => ({ ...q, mode: pick(r, ['encrypted-unmasked', 'plaintext', 'x']) }));
    case 'expired':
      return reissue(f, t, t.ciphertexts, (q) => ({
        ...q,
        ...pick(r, [{ expiresAt: now - 1 - r(1e6) }, { issuedAt: now + 3_600_000 }]),
      }));
    // The genuine request signed again: same query id as its template.
    case 'replay':
      return signDecryptionRequest(f.federation.id, t.query, t.survivors, t.ciphertexts, coordinatorKey(f));
    // A fresh query with the template's (old) survivor set.
    case 'stale-set': {
      const fresh = reissue(f, t, t.ciphertexts);
      return signDecryptionRequest(f.federation.id, fresh.query, t.survivors, t.ciphertexts, coordinatorKey(f));
    }
  }
}

/** A mutant of `t` (`other`: another genuine request; `round`: the genuine round behind `t`). */
export function decryptMutant(
  f: FuzzFederation,
  rand: Rand,
  t: DecryptionRequest,
  other: DecryptionRequest,
  round: GenuineRound,
): DecryptMutant {
  const family = rand(10);
  if (family < 5) {
    const kind = pick(rand, BYTE_MUTATIONS);
    const wire = DECRYPT_REQUEST.encode(toWire(t));
    return {
      kind,
      bytes: mutateBytes(kind, wire, DECRYPT_REQUEST.encode(toWire(other)), rand, around(wire, t.ciphertexts)),
      resigned: false,
    };
  }
  if (family < 9) {
    const edit = pick(rand, EDITS);
    return {
      kind: `re-signed ${edit}`,
      bytes: DECRYPT_REQUEST.encode(toWire(edited(f, edit, t, round, rand))),
      resigned: true,
    };
  }
  // Genuine parts of two requests, or a damaged signature: nothing the coordinator signed.
  const parts = toWire(t);
  const from = toWire(other);
  const field = pick(rand, [
    'query',
    'querySignature',
    'survivors',
    'survivorsSignature',
    'ciphertexts',
    'signature',
  ] as const);
  return {
    kind: 'unsigned swap',
    bytes: DECRYPT_REQUEST.encode(
      rand(4) === 0 ? { ...parts, signature: flipBits(parts.signature, rand) } : { ...parts, [field]: from[field] },
    ),
    resigned: false,
  };
}

/**
 * The largest requests, sent first during the warm-up so that buffers, HTTP/2 windows and the
 * SEAL worker's WASM memory reach their high-water marks before RSS is measured: 33 ciphertexts
 * (one above the limit) and 32, validly re-signed, which the key authority decrypts.
 */
export function largestMutants(f: FuzzFederation, t: DecryptionRequest): DecryptMutant[] {
  const ct = t.ciphertexts[0] ?? new Uint8Array(0);
  return [33, 32, 33, 32].map((n) => ({
    kind: `re-signed ${n} ciphertexts`,
    bytes: DECRYPT_REQUEST.encode(
      toWire(
        reissue(
          f,
          t,
          Array.from({ length: n }, () => ct),
        ),
      ),
    ),
    resigned: true,
  }));
}
