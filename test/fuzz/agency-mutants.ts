/**
 * Mutants of what a coordinator sends an agency, as wire bytes: AggregateRequest (round 1) and
 * UnmaskRequest (round 2). Half are byte-level damage to a genuine message; the rest edit its
 * content — query envelopes and survivor sets edited and validly re-signed with the coordinator's
 * key, sealed shares damaged (they are not signed: the agency must cope), parts swapped between
 * two genuine requests, a request sent to the wrong agency. Shared by the in-process and the
 * over-gRPC fuzzers.
 */
import { sign } from '../../src/crypto/ed25519.js';
import { toHex } from '../../src/crypto/digest.js';
import { newQueryId, queryDigest, type SignedQuery } from '../../src/protocol/query-envelope.js';
import { survivorSetDigest } from '../../src/protocol/survivor-set.js';
import type { UnmaskRequest } from '../../src/protocol/unmask.js';
import type { SealedShare } from '../../src/secagg/sealed-share.js';
import { unmaskRequestToWire } from '../../src/transport/agency-messages.js';
import type { FuzzFederation, IssuedQuery, PendingRound } from './fuzz-federation.js';
import { editJson, editJsonText, jsonBytes, parseJson } from './json-edit.js';
import { BYTE_MUTATIONS, flipBits, garbage, mutateBytes, pick, type Rand } from './mutate.js';
import { AGGREGATE_REQUEST, UNMASK_REQUEST } from './wire.js';

export interface MutantContext {
  readonly f: FuzzFederation;
  readonly rand: Rand;
}

export interface AgencyMutant {
  readonly kind: string;
  readonly bytes: Uint8Array;
  /** Signed anew with the coordinator's key (else only the genuine content may be accepted). */
  readonly resigned: boolean;
  /** The agency it is sent to. */
  readonly to: string;
}

function coordinatorKey(f: FuzzFederation): Uint8Array {
  const s = f.secrets['coordinator'];
  if (s === undefined) throw new Error('no coordinator secrets');
  return s.signing.secretKey;
}

export function signQueryBytes(f: FuzzFederation, bytes: Uint8Array): SignedQuery {
  return { bytes, signature: sign(queryDigest(bytes), coordinatorKey(f)) };
}

const QUERY_EDITS = [
  'json',
  'json',
  'json',
  'text',
  'fresh-id',
  'agencies',
  'threshold',
  'times',
  'mode',
  'other-federation',
] as const;

function editEnvelope(edit: (typeof QUERY_EDITS)[number], f: FuzzFederation, q: IssuedQuery, r: Rand): Uint8Array {
  const env = parseJson(q.signed.bytes) as Record<string, unknown>;
  const now = Date.now();
  switch (edit) {
    case 'json':
      return jsonBytes(editJson(env, r));
    case 'text':
      return editJsonText(q.signed.bytes, r);
    case 'fresh-id':
      return jsonBytes({ ...env, queryId: newQueryId() }); // a valid new query: answered
    case 'agencies': {
      const ids = [...f.ids];
      const options = [
        ids.slice(1),
        ids.slice(0, 2),
        [...ids].reverse(),
        [...ids, 'agency-9'].sort(),
        [...ids, ids[0] ?? ''],
        [],
        ids.map((a) => a.toUpperCase()),
      ];
      return jsonBytes({ ...env, queryId: newQueryId(), agencies: pick(r, options) });
    }
    case 'threshold':
      return jsonBytes({ ...env, queryId: newQueryId(), threshold: pick(r, [0, 1, 2, 3, 4, 5, -1, 2.5, '3', null]) });
    case 'times':
      return jsonBytes({
        ...env,
        queryId: newQueryId(),
        ...pick(r, [
          { expiresAt: now - 1 },
          { issuedAt: now + 3_600_000 },
          { expiresAt: now + 1e12 },
          { issuedAt: 1.5 },
          { expiresAt: '9' },
          { issuedAt: -1 },
        ]),
      });
    case 'mode':
      return jsonBytes({
        ...env,
        queryId: newQueryId(),
        mode: pick(r, ['plaintext', 'encrypted-unmasked', 'ENCRYPTED', '']),
      });
    case 'other-federation':
      return jsonBytes({
        ...env,
        queryId: newQueryId(),
        ...pick(r, [{ federationId: toHex(garbage(r, 32)) }, { paramsId: 'x' }, { v: 2 }]),
      });
  }
}

/** A mutant of the round-1 request carrying `q` (`o`: another genuine query to splice or swap with). */
export function queryMutant({ f, rand }: MutantContext, q: IssuedQuery, o: IssuedQuery, to: string): AgencyMutant {
  const wire = AGGREGATE_REQUEST.encode({ query: q.signed.bytes, signature: q.signed.signature });
  const family = rand(10);
  if (family < 6) {
    const kind = pick(rand, BYTE_MUTATIONS);
    return {
      kind,
      bytes: mutateBytes(
        kind,
        wire,
        AGGREGATE_REQUEST.encode({ query: o.signed.bytes, signature: o.signed.signature }),
        rand,
      ),
      resigned: false,
      to,
    };
  }
  if (family < 9) {
    const edit = pick(rand, QUERY_EDITS);
    let query: Uint8Array;
    try {
      query = editEnvelope(edit, f, q, rand);
    } catch {
      query = flipBits(q.signed.bytes, rand); // the text edit that re-encodes needs parseable JSON
    }
    const s = signQueryBytes(f, query);
    return {
      kind: `re-signed ${edit}`,
      bytes: AGGREGATE_REQUEST.encode({ query: s.bytes, signature: s.signature }),
      resigned: true,
      to,
    };
  }
  const swap = rand(2) === 0;
  return {
    kind: swap ? 'swapped signature' : 'unsigned edit',
    bytes: AGGREGATE_REQUEST.encode(
      swap
        ? { query: q.signed.bytes, signature: o.signed.signature }
        : { query: jsonBytes(editJson(parseJson(q.signed.bytes), rand)), signature: q.signed.signature },
    ),
    resigned: false,
    to,
  };
}

const UNMASK_EDITS = [
  'share-field',
  'share-list',
  'share-swap',
  'set-json',
  'set-move',
  'set-other-query',
  'query-json',
  'query-swap',
  'misrouted',
] as const;

function editShares(f: FuzzFederation, shares: readonly SealedShare[], r: Rand): SealedShare[] {
  const out = [...shares];
  const k = r(Math.max(1, out.length));
  const s = out[k];
  if (s === undefined)
    return [{ from: pick(r, f.ids), to: pick(r, f.ids), nonce: garbage(r, 24), box: garbage(r, 80) }];
  switch (r(6)) {
    case 0:
      out[k] = { ...s, nonce: flipBits(s.nonce, r) };
      break;
    case 1:
      out[k] = { ...s, box: r(2) === 0 ? flipBits(s.box, r) : s.box.slice(0, r(s.box.length)) };
      break;
    case 2:
      out[k] = { ...s, from: pick(r, [...f.ids, '', 'coordinator']) };
      break;
    case 3:
      out[k] = { ...s, to: pick(r, [...f.ids, '']) };
      break;
    case 4:
      out.splice(k, 1);
      break;
    default:
      out.push(s, s);
  }
  return out;
}

function editSet(
  round: PendingRound,
  others: readonly PendingRound[],
  edit: 'set-json' | 'set-move' | 'set-other-query',
  r: Rand,
): Uint8Array {
  const set = parseJson(round.survivors.bytes) as { survivors: string[]; dropped: string[] };
  if (edit === 'set-json') return jsonBytes(editJson(set, r));
  if (edit === 'set-other-query') {
    const other = pick(
      r,
      others.filter((o) => o !== round),
    ).query;
    return jsonBytes({
      ...set,
      ...pick(r, [{ queryId: other.envelope.queryId }, { queryDigest: toHex(other.digest) }]),
    });
  }
  // Move one agency across the partition, or list it on both sides: the sets a curious coordinator would try.
  const all = [...set.survivors, ...set.dropped].sort();
  const moved = pick(r, all);
  const survivors = set.survivors.includes(moved)
    ? set.survivors.filter((a) => a !== moved)
    : [...set.survivors, moved].sort();
  const dropped = r(3) === 0 ? [...set.dropped, moved].sort() : all.filter((a) => !survivors.includes(a));
  return jsonBytes({ ...set, survivors, dropped });
}

/** A mutant of the round-2 request of `round` addressed to `target` (`others`: rounds to swap parts with). */
export function unmaskMutant(
  { f, rand }: MutantContext,
  round: PendingRound,
  target: string,
  others: readonly PendingRound[],
): AgencyMutant {
  const request = round.requests.get(target);
  if (request === undefined) throw new Error(`${target} is not a survivor of the round`);
  const wire = unmaskRequestToWire(request);
  const other = pick(
    rand,
    others.flatMap((p) => [...p.requests.values()]),
  );
  const family = rand(10);
  if (family < 5) {
    const kind = pick(rand, BYTE_MUTATIONS);
    return {
      kind,
      bytes: mutateBytes(kind, UNMASK_REQUEST.encode(wire), UNMASK_REQUEST.encode(unmaskRequestToWire(other)), rand),
      resigned: false,
      to: target,
    };
  }
  const edit = pick(rand, UNMASK_EDITS);
  let edited: UnmaskRequest = request;
  let resigned = false;
  switch (edit) {
    case 'share-field':
    case 'share-list':
      edited = { ...request, shares: editShares(f, request.shares, rand) };
      break;
    case 'share-swap':
      edited = { ...request, shares: other.shares };
      break;
    case 'set-json':
    case 'set-move':
    case 'set-other-query': {
      const bytes = editSet(round, others, edit, rand);
      edited = { ...request, survivors: { bytes, signature: sign(survivorSetDigest(bytes), coordinatorKey(f)) } };
      resigned = true;
      break;
    }
    case 'query-json': {
      let bytes: Uint8Array;
      try {
        bytes =
          rand(2) === 0
            ? jsonBytes(editJson(parseJson(request.query.bytes), rand))
            : editJsonText(request.query.bytes, rand);
      } catch {
        bytes = flipBits(request.query.bytes, rand);
      }
      edited = { ...request, query: signQueryBytes(f, bytes) };
      resigned = true;
      break;
    }
    case 'query-swap':
      edited = rand(2) === 0 ? { ...request, query: other.query } : { ...request, survivors: other.survivors };
      break;
    case 'misrouted':
      return {
        kind: edit,
        bytes: UNMASK_REQUEST.encode(wire),
        resigned: false,
        to: pick(
          rand,
          f.ids.filter((a) => a !== target),
        ),
      };
  }
  return {
    kind: resigned ? `re-signed ${edit}` : edit,
    bytes: UNMASK_REQUEST.encode(unmaskRequestToWire(edited)),
    resigned,
    to: target,
  };
}
