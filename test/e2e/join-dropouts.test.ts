/**
 * Linked-record queries when agencies go away or send tampered bytes. One federation: reg at four
 * agencies (l0–l3, the multiplying side: secure aggregation's default threshold for four is three,
 * for three it is all three, so four survive one dropout) and ins at two (r0, r1, the encrypting
 * side). An agency that fails any linkage phase is out of the
 * join, whichever side it is on: an encrypting agency that fails is not in the sum the multiplying
 * side receives; a re-blinder that fails has its chunks re-blinded by another agency of its side
 * and is dropped itself; a multiplying agency that fails linkage or round 1 is a secure-aggregation
 * dropout. The release then equals the plaintext join over the surviving agencies' rows.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Agency } from '../../src/agency/agency.js';
import { FedstatError, isFedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { BlindedChunk, LinkBlindRequest } from '../../src/protocol/link-messages.js';
import type { AgencyLinkage } from '../../src/protocol/links.js';
import { inProcessJoinFederation, type InProcessJoinFederation } from '../helpers/in-process-join.js';
import type { Row } from '../helpers/in-process-federation.js';

const schema = parseSchema(
  {
    datasets: {
      reg: {
        maxRows: 100,
        columns: {
          pid: { type: 'id', format: 'text' },
          district: { type: 'category', values: ['A', 'B', 'C'] },
          age: { type: 'integer', min: 0, max: 120 },
        },
      },
      ins: {
        maxRows: 100,
        columns: {
          pid: { type: 'id', format: 'text' },
          sector: { type: 'category', values: ['x', 'y'] },
          income: { type: 'integer', min: -100, max: 1000 },
        },
      },
    },
  },
  'join-dropouts',
);

const reg = (pid: string, district: string, age: number): Row => ({ pid, district, age });
const ins = (pid: string, sector: string, income: number): Row => ({ pid, sector, income });

/** p1 is at three agencies of reg and both of ins; p3 twice at l0 (maxRowsPerId 2). */
const DATA: Readonly<Record<string, readonly Row[]>> = {
  l0: [reg('p1', 'A', 30), reg('p2', 'B', 40), reg('p3', 'A', 50), reg('p3', 'A', 51), reg('p10', 'C', 22)],
  l1: [reg('p1', 'C', 20), reg('p4', 'A', 60), reg('p5', 'B', 70), reg('p11', 'B', 33)],
  l2: [reg('p2', 'A', 25), reg('p6', 'C', 45), reg('p7', 'A', 35), reg('p12', 'C', 18)],
  l3: [reg('p8', 'B', 55), reg('p9', 'C', 65), reg('p1', 'A', 44)],
  r0: [ins('p1', 'x', 100), ins('p3', 'y', -50), ins('p6', 'x', 300), ins('p8', 'y', 7)],
  r1: [ins('p2', 'y', 200), ins('p4', 'x', -100), ins('p7', 'x', 1000), ins('p1', 'y', 5), ins('p9', 'x', 1)],
};
const LEFT = ['l0', 'l1', 'l2', 'l3'];
const RIGHT = ['r0', 'r1'];

// Left has 3 groups × (COUNT, SUM) components per id, right 1 × 2: the left side multiplies.
const INNER =
  'SELECT l.district, COUNT(*) AS n, SUM(l.age) AS age, SUM(r.income) AS inc FROM reg l JOIN ins r ON l.pid = r.pid GROUP BY l.district';
const ANTI =
  'SELECT l.district, COUNT(*) AS n, SUM(l.age) AS age FROM reg l WHERE NOT EXISTS (SELECT 1 FROM ins r WHERE r.pid = l.pid) GROUP BY l.district';

interface Totals {
  n: bigint;
  age: bigint;
  inc: bigint;
}

/** The plaintext answer of INNER (or ANTI) over the rows of `agencies`, as released rows. */
function expected(kind: 'inner' | 'anti', agencies: readonly string[]): Record<string, string | bigint>[] {
  const rows = (side: readonly string[]): Row[] =>
    side.filter((a) => agencies.includes(a)).flatMap((a) => DATA[a] ?? []);
  const right = rows(RIGHT);
  const groups = new Map<string, Totals>();
  const add = (district: string, age: number, inc: number): void => {
    const t = groups.get(district) ?? { n: 0n, age: 0n, inc: 0n };
    groups.set(district, { n: t.n + 1n, age: t.age + BigInt(age), inc: t.inc + BigInt(inc) });
  };
  for (const l of rows(LEFT)) {
    const matches = right.filter((r) => r['pid'] === l['pid']);
    if (kind === 'inner') for (const r of matches) add(String(l['district']), Number(l['age']), Number(r['income']));
    else if (matches.length === 0) add(String(l['district']), Number(l['age']), 0);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([district, t]) => (kind === 'inner' ? { district, ...t } : { district, n: t.n, age: t.age }));
}

const sorted = (rows: readonly Readonly<Record<string, unknown>>[]): Readonly<Record<string, unknown>>[] =>
  [...rows].sort((a, b) => String(a['district']).localeCompare(String(b['district'])));

type Phase = keyof AgencyLinkage | 'aggregate';

let fed: InProcessJoinFederation;
const restore: (() => void)[] = [];

function agency(id: string): Agency {
  const a = fed.agencies.find((x) => x.id === id);
  if (a === undefined) throw new Error(`no agency ${id}`);
  return a;
}

/** Until the test ends, `id` answers `phase` with UNAVAILABLE, as an agency that went away. */
function breakPhase(id: string, phase: Phase): void {
  const a = agency(id) as { -readonly [K in keyof Agency]: Agency[K] };
  const gone = (): Promise<never> => Promise.reject(new FedstatError('UNAVAILABLE', `agency ${id} went away (test)`));
  if (phase === 'aggregate') {
    const answer = a.answer;
    a.answer = gone;
    restore.push(() => (a.answer = answer));
    return;
  }
  const phases = a.linkage as Record<Phase, unknown>;
  const original = phases[phase];
  phases[phase] = gone;
  restore.push(() => (phases[phase] = original));
}

/** Until the test ends, `id`'s blinded chunks are changed by `change` after it signed them. */
function tamperBlind(id: string, change: (elements: Uint8Array) => Uint8Array): void {
  // Read as a property, not a method: the agency's phases are closures that use no `this`.
  const phases = agency(id).linkage as { blind: (r: LinkBlindRequest) => Promise<readonly BlindedChunk[]> };
  const blind = phases.blind;
  phases.blind = async (r) => {
    const chunks = await blind(r);
    return chunks.map((c, i) => (i === 0 ? { ...c, elements: change(c.elements) } : c));
  };
  restore.push(() => (phases.blind = blind));
}

const failedIds = (list: readonly { id: string }[] | undefined): string[] => (list ?? []).map((f) => f.id).sort();

/** Runs `sql`; checks the release against the plaintext join over every agency but `out`. */
async function releasedWithout(
  kind: 'inner' | 'anti',
  out: readonly string[],
  options: { maxRowsPerId?: number } = { maxRowsPerId: 2 },
): Promise<Awaited<ReturnType<InProcessJoinFederation['coordinator']['query']>>> {
  const result = await fed.coordinator.query(kind === 'inner' ? INNER : ANTI, options);
  const surviving = [...LEFT, ...RIGHT].filter((a) => !out.includes(a));
  expect(sorted(result.rows)).toEqual(expected(kind, surviving));
  return result;
}

beforeAll(async () => {
  fed = await inProcessJoinFederation(
    schema,
    [
      { dataset: 'reg', prefix: 'l', agencies: LEFT.map((a) => DATA[a] ?? []) },
      { dataset: 'ins', prefix: 'r', agencies: RIGHT.map((a) => DATA[a] ?? []) },
    ],
    { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false },
  );
}, 60_000);
afterAll(async () => {
  await fed[Symbol.asyncDispose]();
});

describe('join queries with dropouts and tampering', () => {
  afterEach(() => {
    for (const r of restore.splice(0).reverse()) r();
  });

  it('with every agency, releases the whole join; the left side multiplies', async () => {
    const r = await releasedWithout('inner', []);
    expect(r.linkage?.encrypting).toBe('right');
    expect(r.linkage?.sides.left.linked).toEqual(LEFT);
    expect(r.linkage?.sides.right.linked).toEqual(RIGHT);
    expect(r.agencies.answered).toEqual(LEFT);
  }, 60_000);

  it('an agency of each side failing at start is out of the join', async () => {
    breakPhase('l1', 'start');
    breakPhase('r1', 'start');
    const r = await releasedWithout('inner', ['l1', 'r1']);
    expect(failedIds(r.linkage?.sides.left.failed)).toEqual(['l1']);
    expect(failedIds(r.linkage?.sides.right.failed)).toEqual(['r1']);
    // l1 took no part in linkage, so it has nothing to contribute in round 1 either.
    expect(failedIds(r.agencies.failed)).toEqual(['l1']);
  }, 60_000);

  it('an agency of each side failing at blind is out of the join', async () => {
    breakPhase('l2', 'blind');
    breakPhase('r1', 'blind');
    const r = await releasedWithout('inner', ['l2', 'r1']);
    expect(failedIds(r.linkage?.sides.left.failed)).toEqual(['l2']);
    expect(failedIds(r.linkage?.sides.right.failed)).toEqual(['r1']);
    expect(failedIds(r.agencies.failed)).toEqual(['l2']);
  }, 60_000);

  it('a re-blinder of each side that fails is dropped; its chunks are re-blinded by another', async () => {
    // The first agency of a side takes the first re-blind tasks, so l0 and r0 are asked.
    breakPhase('l0', 'reblind');
    breakPhase('r0', 'reblind');
    const r = await releasedWithout('inner', ['l0', 'r0']);
    expect(failedIds(r.linkage?.sides.left.failed)).toEqual(['l0']);
    expect(failedIds(r.linkage?.sides.right.failed)).toEqual(['r0']);
    expect(r.linkage?.sides.left.linked).toEqual(['l1', 'l2', 'l3']);
    expect(r.linkage?.sides.right.linked).toEqual(['r1']);
  }, 60_000);

  it('an encrypting agency failing at encrypt and a multiplying one at load are out of the join', async () => {
    breakPhase('r1', 'encrypt');
    breakPhase('l1', 'load');
    const r = await releasedWithout('inner', ['l1', 'r1']);
    expect(failedIds(r.linkage?.sides.right.failed)).toEqual(['r1']);
    expect(failedIds(r.linkage?.sides.left.failed)).toEqual(['l1']);
    expect(failedIds(r.agencies.failed)).toEqual(['l1']);
  }, 60_000);

  it('anti-join: an encrypting agency lost makes its ids unmatched; a round-1 dropout is left out', async () => {
    breakPhase('r0', 'encrypt');
    breakPhase('l1', 'aggregate');
    const r = await releasedWithout('anti', ['l1', 'r0']);
    expect(failedIds(r.linkage?.sides.right.failed)).toEqual(['r0']);
    // l1 linked (its positions were loaded), then went away in round 1.
    expect(failedIds(r.linkage?.sides.left.failed)).toEqual([]);
    expect(failedIds(r.agencies.failed)).toEqual(['l1']);
    expect(r.secureAggregation?.dropped).toEqual(['l1']);
  }, 60_000);

  it('a whole side failing fails the query UNAVAILABLE naming the dataset', async () => {
    breakPhase('r0', 'start');
    breakPhase('r1', 'blind');
    const e: unknown = await fed.coordinator.query(INNER, { maxRowsPerId: 2 }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isFedstatError(e, 'UNAVAILABLE'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/no agency of ins is left to link/);
    expect(failedIds((e as FedstatError).details['failed'] as { id: string }[])).toEqual(['r0', 'r1']);
  }, 60_000);

  it('a blinded chunk with a flipped byte, or truncated, is refused and its agency named', async () => {
    tamperBlind('r0', (e) => {
      const flipped = e.slice();
      flipped[5] = (flipped[5] ?? 0) ^ 1;
      return flipped;
    });
    tamperBlind('l2', (e) => e.subarray(0, e.length - 1));
    const r = await releasedWithout('inner', ['l2', 'r0']);
    const right = r.linkage?.sides.right.failed ?? [];
    const left = r.linkage?.sides.left.failed ?? [];
    expect(right).toEqual([
      { id: 'r0', code: 'BAD_MESSAGE', reason: 'blinded chunk from agency r0 does not verify (tampered in transit?)' },
    ]);
    expect(left).toEqual([
      { id: 'l2', code: 'BAD_MESSAGE', reason: 'blinded chunk from agency l2 is truncated or too long' },
    ]);
  }, 60_000);

  it('an agency holding an id more often than maxRowsPerId refuses and is named; the others answer', async () => {
    // l0 holds p3 twice: at maxRowsPerId 1 it refuses with DATA_INVALID.
    const r = await releasedWithout('inner', ['l0'], {});
    expect(r.linkage?.sides.left.failed).toEqual([
      {
        id: 'l0',
        code: 'DATA_INVALID',
        reason: expect.stringContaining('1 id has more than 1 rows in reg') as unknown,
      },
    ]);
  }, 60_000);
});
