/**
 * Agency side of the wire: mutated round-1 queries (AggregateRequest bytes, and query envelopes
 * edited then validly re-signed with the coordinator's key) and mutated round-2 UnmaskRequest
 * bytes (shares, survivor sets and queries edited, swapped between genuine requests, re-signed)
 * reach real agencies through the path the gRPC handler takes: protobuf decode, the wire
 * conversion, `agency.answer` / `agency.unmask`.
 * Claims: every failure is a typed FedstatError; a query the agency answers gets a contribution
 * the coordinator's checks accept for that query; across everything an agency ever revealed for
 * one query, it never revealed both a self-mask share of an agency and its pairwise seed with it;
 * RSS stays flat; afterwards the agencies answer a genuine query exactly.
 */
import { expectStillServing } from './still-serving.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../../src/agency/agency.js';
import { checkUnmaskAnswer } from '../../src/protocol/unmask.js';
import { bytesField, unmaskRequestFromWire } from '../../src/transport/agency-messages.js';
import { queryMutant, unmaskMutant } from './agency-mutants.js';
import {
  createFuzzFederation,
  SQL,
  type FuzzFederation,
  type IssuedQuery,
  type PendingRound,
} from './fuzz-federation.js';
import { parseJson } from './json-edit.js';
import { fuzzSeed, pick, prng, scaled } from './mutate.js';
import { FuzzLog, MAX_RSS_GROWTH_BYTES, RevealLedger } from './outcomes.js';
import { AGGREGATE_REQUEST, sameBytes, UNMASK_REQUEST } from './wire.js';

const QUERIES = scaled(2400);
const UNMASKS = scaled(1600);
const WARMUP = 500;
const SQLS = [
  SQL,
  'SELECT COUNT(*) AS n FROM residents',
  "SELECT district, sex, COUNT(*) AS n, AVG(age) AS mean FROM residents WHERE age BETWEEN 18 AND 60 AND sex IN ('男', '女') GROUP BY district, sex",
  "SELECT sex, SUM(age) AS years FROM residents WHERE NOT (district = '锦江区' OR age < 3) GROUP BY sex",
];

const seed = fuzzSeed();
const rand = prng(seed);
const log = new FuzzLog('agency-side fuzz', seed);
let f: FuzzFederation;
let pending: PendingRound[];

beforeAll(async () => {
  f = await createFuzzFederation(rand);
  // Round 1 done, round 2 not yet asked: three complete rounds and three with one agency dropped.
  const [a1, a2, a3, a4] = f.ids as [string, string, string, string];
  pending = [];
  for (const answering of [undefined, undefined, undefined, [a1, a2, a3], [a2, a3, a4], [a1, a3, a4]])
    pending.push(await f.round1(f.issue(), answering));
}, 60_000);
afterAll(async () => {
  await f.close();
});

function agency(id: string): Agency {
  return f.agencies.get(id)!;
}

// ---- round 1 -------------------------------------------------------------------------------

/** Genuine queries no agency has seen: mutants of them are sent, the genuine bytes never are. */
const fresh: IssuedQuery[] = [];
function genuineQuery(): IssuedQuery {
  if (fresh.length === 0 || rand(8) === 0) fresh.push(f.issue({ sql: pick(rand, SQLS) }));
  return pick(rand, fresh);
}

let answered = 0;

async function queryCase(i: number): Promise<void> {
  const q = genuineQuery();
  const o = pick(
    rand,
    [...fresh, ...pending.map((p) => p.query)].filter((x) => x !== q),
  );
  const { kind, bytes, resigned, to: target } = queryMutant({ f, rand }, q, o, pick(rand, f.ids));
  let stage = 'transport';
  try {
    let decoded;
    try {
      decoded = AGGREGATE_REQUEST.decode(bytes);
    } catch {
      log.count(`${kind}: rejected by transport`);
      return;
    }
    stage = 'wire';
    const query = { bytes: bytesField(decoded.query, 'query'), signature: bytesField(decoded.signature, 'signature') };
    stage = 'answer';
    const c = await agency(target).answer(query);
    answered++;
    stage = 'coordinator check of the answer';
    f.checkAnswer(query.bytes, target, c);
    // Unsigned damage is answered only when it decodes to a genuine query (e.g. garbage that
    // protobuf skips as unknown fields); anything else would be a forged query.
    if (
      !resigned &&
      ![q, o].some((g) => sameBytes(g.signed.bytes, query.bytes) && sameBytes(g.signed.signature, query.signature))
    ) {
      log.untyped.push(`case ${i} ${kind}: answered a query that is not the genuine one`);
    }
    log.count(`${kind}: answered${resigned ? '' : ' (decodes to the genuine query)'}`);
  } catch (e) {
    log.rejected(kind, stage, e, i);
  }
}

// ---- round 2 -------------------------------------------------------------------------------

const ledger = new RevealLedger();
let unmasked = 0;

async function unmaskCase(i: number): Promise<void> {
  const round = pick(rand, pending);
  const m = unmaskMutant({ f, rand }, round, pick(rand, round.survivorIds), pending);
  let stage = 'transport';
  try {
    let decoded;
    try {
      decoded = UNMASK_REQUEST.decode(m.bytes);
    } catch {
      log.count(`${m.kind}: rejected by transport`);
      return;
    }
    stage = 'unmaskRequestFromWire';
    const request = unmaskRequestFromWire(decoded);
    stage = 'unmask';
    const answer = await agency(m.to).unmask(request);
    unmasked++;
    stage = 'coordinator check of the answer';
    const queryId = (parseJson(request.query.bytes) as { queryId: string }).queryId;
    checkUnmaskAnswer(
      answer,
      request,
      { federationId: f.federation.id, queryId, agencyId: m.to },
      f.federation.parties.find((p) => p.id === m.to)!.signingKey,
    );
    const both = ledger.note(m.to, queryId, answer);
    if (both.length > 0) log.untyped.push(`case ${i} ${m.kind}: ${m.to} revealed both secrets of ${both.join(', ')}`);
    log.count(`${m.kind}: answered`);
  } catch (e) {
    log.rejected(m.kind, stage, e, i);
  }
}

describe('agency-side wire fuzz', () => {
  it(`${QUERIES} round-1 queries and ${UNMASKS} round-2 requests: typed errors, never both secrets, exact afterwards, flat RSS`, async () => {
    log.start();
    const total = QUERIES + UNMASKS;
    let [q, u] = [0, 0];
    for (let i = 0; i < total; i++) {
      log.tick(i, total, WARMUP);
      if (u >= UNMASKS || (q < QUERIES && q * UNMASKS <= u * QUERIES)) await queryCase(q++);
      else await unmaskCase(u++);
    }
    // The genuine round-2 requests now: answered, or refused because a re-signed set was answered first.
    let genuineAnswered = 0;
    let genuineRefused = 0;
    for (const round of pending) {
      for (const [id, request] of round.requests) {
        try {
          const answer = await agency(id).unmask(request);
          checkUnmaskAnswer(
            answer,
            request,
            { federationId: f.federation.id, queryId: round.query.envelope.queryId, agencyId: id },
            f.federation.parties.find((p) => p.id === id)!.signingKey,
          );
          const both = ledger.note(id, round.query.envelope.queryId, answer);
          if (both.length > 0) log.untyped.push(`genuine request: ${id} revealed both secrets of ${both.join(', ')}`);
          genuineAnswered++;
        } catch (e) {
          log.rejected('genuine round-2 request', 'unmask', e, -1);
          if (!(e instanceof Error && e.message.includes('already answered a different survivor set')))
            log.untyped.push(`genuine request to ${id} refused: ${String(e)}`);
          genuineRefused++;
        }
      }
    }
    console.log(
      log.report(total, [
        `  round-1 queries answered: ${answered}; round-2 requests answered: ${unmasked}`,
        `  genuine round-2 requests afterwards: ${genuineAnswered} answered, ${genuineRefused} refused (the agency had answered another signed set)`,
      ]),
    );

    expect(log.untyped).toEqual([]);
    expect(log.total()).toBe(total + genuineRefused);
    expect(answered).toBeGreaterThan(0);
    expect(unmasked).toBeGreaterThan(0);
    expect(log.rssGrowth()).toBeLessThan(MAX_RSS_GROWTH_BYTES);

    // Still serving: a real coordinator gets the exact result from the same agencies.
    await expectStillServing(f);
  }, 120_000);
});
