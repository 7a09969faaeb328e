/**
 * The join round's plan (src/protocol/join-round.ts): which encrypting and multiplying components
 * meet in each released cell (hand-computed), the sensitivity the noise is sized for, the
 * one-limb slot layout and its refusals, and openJoinRoundPlan's refusals of every plan the
 * coordinator could not have signed for this federation.
 */
import { describe, expect, it } from 'vitest';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import type { Federation, Party } from '../../src/federation/federation.js';
import { parseSchema } from '../../src/federation/schema.js';
import {
  chooseMultiplying,
  joinCells,
  joinSensitivity,
  joinSlotLayout,
  JOIN_ROUND_KIND,
  MAX_ROWS_PER_ID,
  openJoinRoundPlan,
  type JoinRoundPlan,
} from '../../src/protocol/join-round.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

/** The 60-bit batching prime of BFV_N8192_T60. */
const T60 = 1152921504606830593n;

const schema = parseSchema(
  {
    datasets: {
      homes: {
        maxRows: 500,
        columns: {
          pid: { type: 'id', format: 'text' },
          kind: { type: 'category', values: ['own', 'rent'] },
          rooms: { type: 'integer', min: 0, max: 9 },
        },
      },
      jobs: {
        maxRows: 300,
        columns: {
          pid: { type: 'id', format: 'text' },
          sector: { type: 'category', values: ['a', 'b', 'c'] },
          pay: { type: 'integer', min: -20, max: 100 },
        },
      },
      wide: {
        maxRows: 100,
        columns: {
          pid: { type: 'id', format: 'text' },
          g6: { type: 'category', values: ['1', '2', '3', '4', '5', '6'] },
        },
      },
      wide2: {
        maxRows: 100,
        columns: {
          pid: { type: 'id', format: 'text' },
          h6: { type: 'category', values: ['1', '2', '3', '4', '5', '6'] },
        },
      },
      huge: {
        maxRows: 1_000_000_000,
        columns: {
          pid: { type: 'id', format: 'text' },
          amount: { type: 'integer', min: 0, max: 1_000_000_000 },
        },
      },
    },
  },
  'join-round-schema.json',
);

function partyOf(id: string, role: Party['role'], seed: number, datasets: readonly string[] | null): Party {
  const signingKey = signingKeyPairFromSeed(new Uint8Array(32).fill(seed)).publicKey;
  return { id, role, endpoint: null, signingKey, agreementKey: new Uint8Array(32).fill(seed), datasets };
}

const federation: Federation = {
  name: 'join-round-test',
  id: '34'.repeat(32),
  file: '/nonexistent/federation.json',
  schema,
  policy: { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false },
  he: { preset: 'BFV_N8192_T60', publicKeyFile: 'he.pub', publicKeySha256: '00'.repeat(32) },
  tls: null,
  parties: [
    partyOf('h1', 'agency', 10, ['homes']),
    partyOf('h2', 'agency', 11, ['homes']),
    partyOf('j1', 'agency', 12, ['jobs']),
    partyOf('j2', 'agency', 13, ['jobs']),
    partyOf('j3', 'agency', 14, ['jobs']),
    partyOf('any', 'agency', 15, null),
    partyOf('coordinator', 'coordinator', 20, null),
    partyOf('key-authority', 'key-authority', 21, null),
  ],
};

/** 2 × 3 groups, a measure on each side: homes has 2 × 2 components per id, jobs 3 × 2, so jobs multiplies. */
const GROUPED = parseJoinQuery(
  'SELECT h.kind, j.sector, COUNT(*) AS n, SUM(h.rooms) AS rooms, SUM(j.pay) AS pay FROM homes h JOIN jobs j ON h.pid = j.pid GROUP BY h.kind, j.sector',
  schema,
);

function roundPlan(overrides: Partial<Record<keyof JoinRoundPlan, unknown>> = {}): Record<string, unknown> {
  return {
    kind: JOIN_ROUND_KIND,
    dataset: 'jobs',
    join: GROUPED,
    multiplying: 'right',
    sides: { left: ['h1', 'h2'], right: ['j1', 'j2', 'j3'] },
    maxRowsPerId: 2,
    ...overrides,
  };
}

describe('joinCells', () => {
  const plan = {
    join: GROUPED,
    multiplying: 'right' as const,
    sides: { left: ['h1', 'h2'], right: ['j1', 'j2', 'j3'] },
    maxRowsPerId: 2,
  };

  it('picks the side with more components per id to multiply', () => {
    expect(chooseMultiplying(GROUPED, schema)).toBe('right');
  });

  it('maps each cell to the encrypting and multiplying components it multiplies (hand-computed)', () => {
    const cells = joinCells(plan, schema);
    expect(cells.widths).toEqual({ left: 4, right: 6 });
    expect(cells.plan.groupBy).toEqual(['h.kind', 'j.sector']);
    expect(cells.cells.measures).toEqual([
      { kind: 'count', column: null },
      { kind: 'sum', column: 'h.rooms' },
      { kind: 'sum', column: 'j.pay' },
    ]);
    // Group g = kind·3 + sector. Encrypting (homes) per id: kind × (count, rooms) → kind·2 + k;
    // multiplying (jobs): sector × (count, pay) → sector·2 + k. COUNT meets count and count;
    // SUM(h.rooms) the encrypted rooms and the count; SUM(j.pay) the encrypted count and the pay.
    const e = (eComponent: number, mComponent: number): { eComponent: number; mComponent: number } => ({
      eComponent,
      mComponent,
    });
    expect(cells.outputs).toEqual([
      ...[e(0, 0), e(1, 0), e(0, 1)], // own, a
      ...[e(0, 2), e(1, 2), e(0, 3)], // own, b
      ...[e(0, 4), e(1, 4), e(0, 5)], // own, c
      ...[e(2, 0), e(3, 0), e(2, 1)], // rent, a
      ...[e(2, 2), e(3, 2), e(2, 3)], // rent, b
      ...[e(2, 4), e(3, 4), e(2, 5)], // rent, c
    ]);
    expect(cells.offsets).toEqual({ left: [0n], right: [-20n] });
    // One jobs agency's joined records: its rows × maxRowsPerId × the two homes agencies.
    expect(cells.schema.maxRows).toBe(300 * 2 * 2);
    expect(cells.cells.cellBounds.slice(0, 3)).toEqual([1200n, 1200n * 9n, 1200n * 120n]);
  });

  it('GROUP BY order sets the group index; the sides keep their own component order', () => {
    const swapped = parseJoinQuery(
      'SELECT j.sector, h.kind, COUNT(*) AS n FROM homes h JOIN jobs j ON h.pid = j.pid GROUP BY j.sector, h.kind',
      schema,
    );
    // homes: 2 × 1 components, jobs: 3 × 1: jobs multiplies; g = sector·2 + kind.
    const cells = joinCells({ ...plan, join: swapped, multiplying: chooseMultiplying(swapped, schema) }, schema);
    expect(cells.outputs.map((o) => [o.eComponent, o.mComponent])).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 2],
      [1, 2],
    ]);
  });

  it('an anti-join reads one encrypted component (absence) for every cell', () => {
    const anti = parseJoinQuery(
      'SELECT h.kind, COUNT(*) AS n, SUM(h.rooms) AS r FROM homes h WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.pid = h.pid) GROUP BY h.kind',
      schema,
    );
    expect(chooseMultiplying(anti, schema)).toBe('left');
    const cells = joinCells({ ...plan, join: anti, multiplying: 'left' }, schema);
    expect(cells.outputs.map((o) => [o.eComponent, o.mComponent])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
    ]);
    // Each homes record is counted at most once: no factor for maxRowsPerId or the jobs agencies.
    expect(cells.schema.maxRows).toBe(500);
  });
});

describe('joinSensitivity', () => {
  it('is maxRowsPerId times the widest side of an inner join, the left side of an anti-join', () => {
    const sides = { left: ['h1', 'h2'], right: ['j1', 'j2', 'j3'] };
    expect(joinSensitivity({ join: GROUPED, sides, maxRowsPerId: 1 })).toBe(3);
    expect(joinSensitivity({ join: GROUPED, sides, maxRowsPerId: 4 })).toBe(12);
    const anti = parseJoinQuery(
      'SELECT COUNT(*) AS n FROM homes h WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.pid = h.pid)',
      schema,
    );
    expect(joinSensitivity({ join: anti, sides, maxRowsPerId: 4 })).toBe(8);
    expect(joinSensitivity({ join: GROUPED, sides: { left: [], right: [] }, maxRowsPerId: 2 })).toBe(2);
  });
});

describe('joinSlotLayout', () => {
  it('puts one cell per ciphertext, one limb each', () => {
    const cells = joinCells(roundPlan() as unknown as JoinRoundPlan, schema);
    const layout = joinSlotLayout(cells, 3, T60, 0n);
    expect(layout.ciphertextCount).toBe(18);
    expect(layout.cells.every((c) => c.limbs === 1)).toBe(true);
  });

  it('refuses more than 32 released numbers', () => {
    const join = parseJoinQuery(
      'SELECT a.g6, b.h6, COUNT(*) AS n FROM wide a JOIN wide2 b ON a.pid = b.pid GROUP BY a.g6, b.h6',
      schema,
    );
    const cells = joinCells(
      { join, multiplying: 'left', sides: { left: ['x'], right: ['y'] }, maxRowsPerId: 1 },
      schema,
    );
    const e = fedstatErrorOf(() => joinSlotLayout(cells, 1, T60, 0n));
    expect(e.code).toBe('PLAN_UNSAFE');
    expect(e.message).toContain('at most 32 numbers');
    expect(e.message).toContain('this one 36');
  });

  it('refuses a cell whose bound needs two limbs', () => {
    const join = parseJoinQuery('SELECT SUM(a.amount) AS s FROM huge a JOIN jobs b ON a.pid = b.pid', schema);
    // 10^9 rows × 64 × 3 agencies × 10^9: about 2^67, beyond a 60-bit plain modulus.
    const cells = joinCells(
      { join, multiplying: 'left', sides: { left: ['x'], right: ['y', 'z', 'w'] }, maxRowsPerId: MAX_ROWS_PER_ID },
      schema,
    );
    const e = fedstatErrorOf(() => joinSlotLayout(cells, 2, T60, 0n));
    expect(e.code).toBe('PLAN_UNSAFE');
    expect(e.message).toContain('could reach the plain modulus');
  });
});

describe('openJoinRoundPlan', () => {
  const agencies = ['j1', 'j2', 'j3'];

  it('opens the plan the coordinator makes, frozen', () => {
    const opened = openJoinRoundPlan(roundPlan(), federation, agencies);
    expect(opened.multiplying).toBe('right');
    expect(opened.sides).toEqual({ left: ['h1', 'h2'], right: ['j1', 'j2', 'j3'] });
    expect(Object.isFrozen(opened)).toBe(true);
    // An agency allowed every dataset may serve either side.
    expect(
      openJoinRoundPlan(roundPlan({ sides: { left: ['any', 'h1'], right: agencies } }), federation, agencies).sides
        .left,
    ).toEqual(['any', 'h1']);
  });

  const refusals: [string, Record<string, unknown>, string[], RegExp][] = [
    ['an extra key', { ...roundPlan(), extra: 1 }, agencies, /unexpected keys/],
    ['a missing key', (({ maxRowsPerId: _, ...rest }) => rest)(roundPlan()), agencies, /unexpected keys/],
    [
      'the multiplying side not the rule’s',
      roundPlan({ multiplying: 'left', dataset: 'homes' }),
      ['h1', 'h2'],
      /not the one the rule picks/,
    ],
    [
      'a dataset not the multiplying side’s',
      roundPlan({ dataset: 'homes' }),
      agencies,
      /dataset is not the multiplying side/,
    ],
    ['maxRowsPerId 0', roundPlan({ maxRowsPerId: 0 }), agencies, /maxRowsPerId must be an integer from 1 to 64/],
    ['maxRowsPerId 65', roundPlan({ maxRowsPerId: 65 }), agencies, /maxRowsPerId must be an integer from 1 to 64/],
    ['maxRowsPerId 1.5', roundPlan({ maxRowsPerId: 1.5 }), agencies, /maxRowsPerId/],
    ['sides without right', roundPlan({ sides: { left: ['h1'] } }), agencies, /sides must name left and right/],
    [
      'unsorted agencies',
      roundPlan({ sides: { left: ['h2', 'h1'], right: agencies } }),
      agencies,
      /not sorted and unique/,
    ],
    ['an empty side', roundPlan({ sides: { left: [], right: agencies } }), agencies, /left agency list is malformed/],
    [
      'an agency on both sides',
      roundPlan({ sides: { left: ['any', 'h1'], right: ['any', 'j1'] } }),
      ['any', 'j1'],
      /named on both sides/,
    ],
    [
      'an agency not allowed the dataset',
      roundPlan({ sides: { left: ['h1', 'j1'], right: ['j2', 'j3'] } }),
      ['j2', 'j3'],
      /left side names an agency that may not serve homes/,
    ],
    [
      'a key authority on a side',
      roundPlan({ sides: { left: ['h1', 'key-authority'], right: agencies } }),
      agencies,
      /may not serve homes/,
    ],
    [
      'envelope agencies ≠ multiplying side',
      roundPlan(),
      ['j1', 'j2'],
      /envelope's agencies are not the multiplying side/,
    ],
    [
      'envelope agencies of the other side',
      roundPlan(),
      ['h1', 'h2'],
      /envelope's agencies are not the multiplying side/,
    ],
    ['not an object', null as unknown as Record<string, unknown>, agencies, /not an object/],
  ];

  it.each(refusals)('refuses %s with BAD_MESSAGE', (_, raw, envelopeAgencies, message) => {
    const e = fedstatErrorOf(() => openJoinRoundPlan(raw, federation, envelopeAgencies));
    expect(e.code).toBe('BAD_MESSAGE');
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it('refuses a join plan the schema does not validate', () => {
    const e = fedstatErrorOf(() =>
      openJoinRoundPlan(
        roundPlan({ join: { ...GROUPED, left: { ...GROUPED.left, dataset: 'nope' } } }),
        federation,
        agencies,
      ),
    );
    expect(['BAD_MESSAGE', 'NOT_FOUND', 'QUERY_INVALID']).toContain(e.code);
  });
});
