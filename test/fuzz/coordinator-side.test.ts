/**
 * Coordinator side of the wire: mutated round-1 contributions (AggregateResponse bytes) and
 * round-2 unmask answers (UnmaskResponse bytes) go through what the coordinator runs on them —
 * protobuf decode, contributionFromWire / unmaskAnswerFromWire, checkContribution /
 * checkUnmaskAnswer, the encrypted sum in an isolated SEAL worker and secure aggregation's
 * acceptRound1 / acceptRound2 / finalize. Mutants re-signed with the agency's own key (a
 * malicious agency) get past the signature and exercise the deeper checks.
 * Claims: every failure is a typed FedstatError; nothing unsigned is accepted unless it decodes
 * to the genuine message; an accepted round-2 answer never yields a wrong mask correction; RSS
 * stays flat; afterwards a real Coordinator still releases the exact plaintext result.
 */
import { expectStillServing } from './still-serving.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedstatError } from '../../src/errors.js';
import { sign } from '../../src/crypto/ed25519.js';
import { IsolatedHe } from '../../src/he/isolated/isolated-he.js';
import {
  checkContribution,
  contributionDigest,
  signContribution,
  type Contribution,
} from '../../src/protocol/contribution.js';
import { checkUnmaskAnswer, unmaskAnswerDigest, type UnmaskAnswer } from '../../src/protocol/unmask.js';
import {
  contributionFromWire,
  contributionToWire,
  unmaskAnswerFromWire,
  unmaskAnswerToWire,
} from '../../src/transport/agency-messages.js';
import type { UnmaskResponseMessage } from '../../src/transport/proto.js';
import { createFuzzFederation, type FuzzFederation, type GenuineRound } from './fuzz-federation.js';
import {
  around,
  BYTE_MUTATIONS,
  flipBits,
  fuzzSeed,
  garbage,
  mutateBytes,
  pick,
  prng,
  scaled,
  type Rand,
} from './mutate.js';
import { FuzzLog, MAX_RSS_GROWTH_BYTES } from './outcomes.js';
import { AGGREGATE_RESPONSE, sameBytes, UNMASK_RESPONSE } from './wire.js';

const CONTRIBUTIONS = scaled(3600);
const ANSWERS = scaled(1800);
const WARMUP = 600;
/** First coefficient byte of a serialized ciphertext (src/he/ciphertext-layout.ts). */
const DATA = 113;

const seed = fuzzSeed();
const rand = prng(seed);
const log = new FuzzLog('coordinator-side fuzz', seed);
let f: FuzzFederation;
let rounds: GenuineRound[];
let he: IsolatedHe;

beforeAll(async () => {
  f = await createFuzzFederation(rand);
  // Two complete rounds, and two where one agency dropped (round-2 answers then carry pairwise seeds).
  const [a1, a2, a3, a4] = f.ids as [string, string, string, string];
  rounds = [];
  for (const answering of [undefined, undefined, [a1, a2, a3], [a2, a3, a4]])
    rounds.push(await f.genuineRound(f.issue(), answering));
  he = await IsolatedHe.create(f.federation.he.preset);
}, 60_000);
afterAll(async () => {
  await he.close();
  await f.close();
});

interface Sample {
  round: GenuineRound;
  agency: string;
}

function key(agency: string): Uint8Array {
  return f.secrets[agency]!.signing.secretKey;
}

function publicKey(agency: string): Uint8Array {
  return f.federation.parties.find((p) => p.id === agency)!.signingKey;
}

// ---- round 1 -------------------------------------------------------------------------------

const CONTRIBUTION_EDITS = [
  'payload-coefficients',
  'payload-header',
  'payload-truncate',
  'payload-extend',
  'payload-count',
  'payload-swap',
  'share-field',
  'share-order',
  'share-count',
  'share-swap',
  'commitment',
  'pairwise',
  'ids',
  'mode',
] as const;
type ContributionEdit = (typeof CONTRIBUTION_EDITS)[number];

function editBytes(b: Uint8Array, r: Rand): Uint8Array {
  switch (r(4)) {
    case 0:
      return flipBits(b, r);
    case 1:
      return b.slice(0, r(Math.max(1, b.length)));
    case 2:
      return Uint8Array.from([...b, ...garbage(r, 1 + r(8))]);
    default:
      return garbage(r, r(2 * b.length + 2));
  }
}

/** A field-level mutation of `c` (other: another genuine contribution to take fields from). */
function editContribution(edit: ContributionEdit, c: Contribution, other: Contribution, r: Rand): Contribution {
  const m = c.masking!;
  const payload = c.payloads[0]!;
  const withPayloads = (payloads: Uint8Array[]): Contribution => ({ ...c, payloads });
  const withMasking = (o: Partial<typeof m>): Contribution => ({ ...c, masking: { ...m, ...o } });
  switch (edit) {
    case 'payload-coefficients': {
      const p = payload.slice();
      for (let i = 0, k = 1 + r(8); i < k; i++) p[DATA + r(p.length - DATA)]! ^= 1 << r(8);
      return withPayloads([p]);
    }
    case 'payload-header': {
      const p = payload.slice();
      for (let i = 0, k = 1 + r(4); i < k; i++) p[r(DATA)]! ^= 1 << r(8);
      return withPayloads([p]);
    }
    case 'payload-truncate':
      return withPayloads([payload.slice(0, r(payload.length))]);
    case 'payload-extend':
      return withPayloads([concat(payload, garbage(r, 1 + r(64)))]);
    case 'payload-count':
      return withPayloads(r(2) === 0 ? [] : [payload, payload]);
    case 'payload-swap':
      return withPayloads([...other.payloads]);
    case 'share-field': {
      const shares = [...m.shares];
      const k = r(shares.length);
      const s = shares[k]!;
      const ids = [...f.ids, 'coordinator', '', 'x'.repeat(1 + r(300))];
      const field = r(4);
      shares[k] =
        field === 0
          ? { ...s, from: pick(r, ids) }
          : field === 1
            ? { ...s, to: pick(r, ids) }
            : field === 2
              ? { ...s, nonce: editBytes(s.nonce, r) }
              : { ...s, box: editBytes(s.box, r) };
      return withMasking({ shares });
    }
    case 'share-order': {
      const shares = [...m.shares];
      const [i, j] = [r(shares.length), r(shares.length)];
      [shares[i], shares[j]] = [shares[j]!, shares[i]!];
      return withMasking({ shares });
    }
    case 'share-count': {
      const shares = [...m.shares];
      if (r(2) === 0) shares.splice(r(shares.length), 1);
      else shares.splice(r(shares.length), 0, shares[r(shares.length)]!);
      return withMasking({ shares });
    }
    case 'share-swap':
      return other.masking === null ? c : withMasking({ shares: other.masking.shares });
    case 'commitment':
      return withMasking({
        commitment: r(4) === 0 && other.masking !== null ? other.masking.commitment : editBytes(m.commitment, r),
      });
    case 'pairwise': {
      const list = [...m.pairwiseCommitments];
      const k = r(list.length);
      if (r(3) === 0) list.splice(k, 1);
      else list[k] = editBytes(list[k]!, r);
      return withMasking({ pairwiseCommitments: list });
    }
    case 'ids':
      return r(2) === 0
        ? { ...c, agencyId: pick(r, [other.agencyId, '', 'agency-9', c.agencyId.toUpperCase()]) }
        : { ...c, queryId: pick(r, [other.queryId, '', c.queryId.slice(1), `${c.queryId}0`]) };
    case 'mode':
      return { ...c, mode: pick(r, ['encrypted-unmasked', 'plaintext'] as const), masking: r(2) === 0 ? null : m };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

interface Mutant {
  kind: string;
  bytes: Uint8Array;
  resigned: boolean;
}

function contributionMutant(s: Sample, genuineWire: Uint8Array, other: Contribution, otherWire: Uint8Array): Mutant {
  const c = s.round.contributions.get(s.agency)!;
  const family = rand(10);
  if (family < 5) {
    const kind = pick(rand, BYTE_MUTATIONS);
    return {
      kind,
      bytes: mutateBytes(kind, genuineWire, otherWire, rand, around(genuineWire, c.payloads)),
      resigned: false,
    };
  }
  const edit = pick(rand, CONTRIBUTION_EDITS);
  const edited = editContribution(edit, c, other, rand);
  if (family < 9) {
    // A malicious agency signs its own malformed contribution: the signature holds, the rest must not.
    const q = s.round.query;
    const resigned = signContribution(
      f.federation.id,
      q.digest,
      edited.agencyId,
      edited.queryId,
      edited.mode,
      edited.payloads,
      edited.masking,
      key(s.agency),
    );
    return {
      kind: `re-signed ${edit}`,
      bytes: AGGREGATE_RESPONSE.encode(contributionToWire(resigned)),
      resigned: true,
    };
  }
  // Nothing the agency signed: edited content under its old signature, or its content under another signature.
  const unsigned =
    rand(2) === 0
      ? { kind: `unsigned ${edit}`, contribution: edited }
      : {
          kind: 'signature swap',
          contribution: { ...c, signature: rand(2) === 0 ? other.signature : flipBits(c.signature, rand) },
        };
  return {
    kind: unsigned.kind,
    bytes: AGGREGATE_RESPONSE.encode(contributionToWire(unsigned.contribution)),
    resigned: false,
  };
}

let addedToSum = 0;
/** Contributions that joined the sum and then failed acceptRound1: must stay 0 (they would poison the sum). */
let refusedAfterSum = 0;

async function contributionCase(
  i: number,
  acc: Awaited<ReturnType<IsolatedHe['accumulator']>>,
  samples: Sample[],
  wires: Map<Sample, Uint8Array>,
): Promise<void> {
  const s = pick(rand, samples);
  const o = pick(
    rand,
    samples.filter((x) => x !== s),
  );
  const genuine = s.round.contributions.get(s.agency)!;
  const m = contributionMutant(s, wires.get(s)!, o.round.contributions.get(o.agency)!, wires.get(o)!);
  let stage = 'transport';
  try {
    let decoded;
    try {
      decoded = AGGREGATE_RESPONSE.decode(m.bytes);
    } catch {
      log.count(`${m.kind}: rejected by transport`);
      return;
    }
    stage = 'contributionFromWire';
    const c = contributionFromWire(decoded, s.agency);
    stage = 'checkContribution';
    const q = s.round.query;
    checkContribution(
      c,
      {
        federationId: f.federation.id,
        queryDigest: q.digest,
        queryId: q.envelope.queryId,
        agencyId: s.agency,
        mode: q.envelope.mode,
        payloads: q.layout.ciphertextCount,
        participants: q.envelope.agencies,
      },
      publicKey(s.agency),
    );
    if (!m.resigned) {
      // Only the agency's key makes a signature: an unsigned mutant that verifies is the genuine content.
      const same = sameBytes(
        contributionDigest(f.federation.id, q.digest, c.agencyId, c.mode, c.payloads, c.masking),
        contributionDigest(
          f.federation.id,
          q.digest,
          genuine.agencyId,
          genuine.mode,
          genuine.payloads,
          genuine.masking,
        ),
      );
      if (!same)
        log.untyped.push(`case ${i} ${m.kind}: an unsigned mutant passed checkContribution with other content`);
    }
    // In the order of src/coordinator/gather.ts: secure-aggregation material checked, the
    // ciphertexts added to the sum, then the material recorded (which must never fail then).
    stage = 'checkRound1';
    const material = f.aggregation(q).checkRound1(s.agency, c.masking!);
    stage = 'sum';
    await acc.add(c.payloads);
    addedToSum++;
    stage = 'acceptRound1';
    try {
      f.aggregation(q).acceptRound1(s.agency, material);
    } catch (e) {
      if (e instanceof FedstatError) refusedAfterSum++;
      stage = 'acceptRound1 (after the sum took the ciphertext)';
      throw e;
    }
    log.count(
      `${m.kind}: accepted${m.resigned ? ' (a malicious agency lying about its own data)' : ' (decodes to the genuine contribution)'}`,
    );
  } catch (e) {
    log.rejected(m.kind, stage, e, i);
  }
}

// ---- round 2 -------------------------------------------------------------------------------

const ANSWER_EDITS = [
  'share-y',
  'share-x',
  'share-of',
  'share-count',
  'share-swap',
  'seed-bytes',
  'seed-with',
  'seed-count',
  'ids',
] as const;
type AnswerEdit = (typeof ANSWER_EDITS)[number];

function editAnswer(
  edit: AnswerEdit,
  a: UnmaskResponseMessage,
  other: UnmaskResponseMessage,
  r: Rand,
): UnmaskResponseMessage {
  const shares = a.selfMaskShares.map((s) => ({ ...s }));
  const seeds = a.pairwiseSeeds.map((s) => ({ ...s }));
  const k = r(Math.max(1, shares.length));
  const j = r(Math.max(1, seeds.length));
  const names = [...f.ids, '', 'coordinator'];
  switch (edit) {
    case 'share-y':
      if (shares[k] !== undefined) shares[k].y = r(3) === 0 ? editBytes(shares[k].y, r) : flipBits(shares[k].y, r);
      break;
    case 'share-x':
      if (shares[k] !== undefined) shares[k].x = pick(r, [0, shares[k].x + 1, shares[k].x - 1, 2 ** 32 - 1, 1 + r(5)]);
      break;
    case 'share-of':
      if (shares[k] !== undefined) shares[k].of = pick(r, names);
      break;
    case 'share-count':
      if (r(2) === 0) shares.splice(k, 1);
      else shares.push({ ...shares[k]! });
      break;
    case 'share-swap':
      return { ...a, selfMaskShares: other.selfMaskShares };
    case 'seed-bytes':
      if (seeds[j] !== undefined) seeds[j].seed = r(2) === 0 ? flipBits(seeds[j].seed, r) : editBytes(seeds[j].seed, r);
      else seeds.push({ with: pick(r, f.ids), seed: garbage(r, 32) });
      break;
    case 'seed-with':
      if (seeds[j] !== undefined) seeds[j].with = pick(r, names);
      else seeds.push({ with: pick(r, names), seed: garbage(r, 32) });
      break;
    case 'seed-count':
      if (seeds.length > 0 && r(2) === 0) seeds.splice(j, 1);
      else seeds.push({ with: pick(r, f.ids), seed: garbage(r, 32) });
      break;
    case 'ids':
      return r(2) === 0
        ? { ...a, agencyId: pick(r, names) }
        : { ...a, queryId: other.queryId === a.queryId ? `${a.queryId}0` : other.queryId };
  }
  return { ...a, selfMaskShares: shares, pairwiseSeeds: seeds };
}

/** The agency's signature over whatever the message says (y read leniently: any 256-bit value). */
function resignAnswer(m: UnmaskResponseMessage, s: Sample): UnmaskResponseMessage {
  const answer = {
    agencyId: m.agencyId,
    queryId: m.queryId,
    selfMaskShares: m.selfMaskShares.map((x) => ({
      of: x.of,
      x: x.x,
      y: BigInt(`0x0${Buffer.from(x.y).toString('hex')}`),
    })),
    pairwiseSeeds: m.pairwiseSeeds.map((x) => ({ with: x.with, seed: x.seed })),
  };
  const request = s.round.requests.get(s.agency)!;
  return {
    ...m,
    signature: sign(unmaskAnswerDigest(f.federation.id, request.query, request.survivors, answer), key(s.agency)),
  };
}

function answerDigest(s: Sample, a: Omit<UnmaskAnswer, 'signature'>): Uint8Array {
  const request = s.round.requests.get(s.agency)!;
  return unmaskAnswerDigest(f.federation.id, request.query, request.survivors, a);
}

function answerCase(i: number, samples: Sample[]): void {
  const s = pick(rand, samples);
  const o = pick(
    rand,
    samples.filter((x) => x !== s),
  );
  const genuine = s.round.answers.get(s.agency)!;
  const wire = unmaskAnswerToWire(genuine);
  const otherWire = unmaskAnswerToWire(o.round.answers.get(o.agency)!);
  const family = rand(10);
  let kind: string;
  let bytes: Uint8Array;
  let resigned = false;
  if (family < 5) {
    kind = pick(rand, BYTE_MUTATIONS);
    bytes = mutateBytes(
      kind as (typeof BYTE_MUTATIONS)[number],
      UNMASK_RESPONSE.encode(wire),
      UNMASK_RESPONSE.encode(otherWire),
      rand,
    );
  } else {
    const edit = pick(rand, ANSWER_EDITS);
    const edited = editAnswer(edit, wire, otherWire, rand);
    resigned = family < 9;
    kind = resigned ? `re-signed ${edit}` : `unsigned ${edit}`;
    bytes = UNMASK_RESPONSE.encode(resigned ? resignAnswer(edited, s) : edited);
  }
  let stage = 'transport';
  try {
    let decoded;
    try {
      decoded = UNMASK_RESPONSE.decode(bytes);
    } catch {
      log.count(`${kind}: rejected by transport`);
      return;
    }
    stage = 'unmaskAnswerFromWire';
    const answer = unmaskAnswerFromWire(decoded);
    stage = 'checkUnmaskAnswer';
    const request = s.round.requests.get(s.agency)!;
    checkUnmaskAnswer(
      answer,
      request,
      { federationId: f.federation.id, queryId: s.round.query.envelope.queryId, agencyId: s.agency },
      publicKey(s.agency),
    );
    if (!resigned) {
      if (!sameBytes(answerDigest(s, answer), answerDigest(s, genuine)))
        log.untyped.push(`case ${i} ${kind}: an unsigned mutant passed checkUnmaskAnswer with other content`);
    }
    // The coordinator's state at this point of the query: round 1 in, the set fixed, the other answers in.
    stage = 'acceptRound2';
    const secagg = f.aggregation(s.round.query);
    for (const [id, c] of s.round.contributions) secagg.acceptRound1(id, c.masking!);
    secagg.fixSurvivors();
    for (const [id, a] of s.round.answers) if (id !== s.agency) secagg.acceptRound2(id, a);
    secagg.acceptRound2(s.agency, answer);
    stage = 'finalize';
    const correction = secagg.finalize();
    if (correction.length !== s.round.correction.length || correction.some((v, k) => v !== s.round.correction[k])) {
      log.untyped.push(`case ${i} ${kind}: finalize returned a wrong mask correction`);
      log.count(`${kind}: WRONG CORRECTION`);
      return;
    }
    log.count(`${kind}: accepted, exact correction${resigned ? '' : ' (decodes to the genuine answer)'}`);
  } catch (e) {
    log.rejected(kind, stage, e, i);
  }
}

describe('coordinator-side wire fuzz', () => {
  it(`${CONTRIBUTIONS} contributions and ${ANSWERS} unmask answers: typed errors, no forgery, exact afterwards, flat RSS`, async () => {
    log.start();
    const samples: Sample[] = rounds.flatMap((round) =>
      [...round.contributions.keys()].map((agency) => ({ round, agency })),
    );
    const wires = new Map(
      samples.map((s) => [s, AGGREGATE_RESPONSE.encode(contributionToWire(s.round.contributions.get(s.agency)!))]),
    );
    const answerSamples: Sample[] = rounds.flatMap((round) =>
      [...round.answers.keys()].map((agency) => ({ round, agency })),
    );
    using acc = await he.accumulator(1);
    const total = CONTRIBUTIONS + ANSWERS;
    let [c, a] = [0, 0];
    for (let i = 0; i < total; i++) {
      log.tick(i, total, WARMUP);
      // Interleaved in the ratio of the two counts, so the warm-up covers both.
      if (a >= ANSWERS || (c < CONTRIBUTIONS && c * ANSWERS <= a * CONTRIBUTIONS))
        await contributionCase(c++, acc, samples, wires);
      else answerCase(a++, answerSamples);
    }
    const stats = await he.stats();
    console.log(
      log.report(total, [
        `  contributions added to the isolated sum: ${addedToSum}; refused by acceptRound1 after the sum had taken them: ${refusedAfterSum}`,
        `  SEAL worker: ${stats.restarts} restarts`,
      ]),
    );

    expect(log.untyped).toEqual([]);
    expect(acc.contributions).toBe(addedToSum);
    expect(refusedAfterSum).toBe(0);
    // Every class of damage was seen, and the deep checks were reached.
    expect(log.total()).toBe(total);
    expect(log.total('re-signed payload-coefficients: accepted')).toBeGreaterThan(0);
    expect(
      [...log.counts.keys()].some(
        (k) => k.startsWith('re-signed share-y: finalize BAD_MESSAGE') || k.startsWith('re-signed share-y: accepted'),
      ),
    ).toBe(true);
    expect(log.rssGrowth()).toBeLessThan(MAX_RSS_GROWTH_BYTES);

    // Still serving: a real coordinator (isolated SEAL worker, key authority) releases the exact result.
    await expectStillServing(f);
  }, 120_000);
});
