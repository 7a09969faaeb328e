/**
 * Linked-record queries end to end, as one claim: over random rows at 1–3 agencies per dataset
 * (overlapping, one-sided and disjoint id pools, ids repeated within and across agencies), random
 * inner joins and NOT EXISTS anti-joins with GROUP BY on either side, WHERE on each side and
 * COUNT/SUM/AVG of either side (one summed column has a negative minimum), every row fedstat
 * releases equals DuckDB's answer to the same SQL text over the pooled CSVs, and no other group
 * is released. The agencies link by ECDH-PSI and multiply under BFV; DuckDB joins plain rows.
 *
 * Each run builds a federation with fresh SEAL keys and asks it two queries; FEDSTAT_LONG=1 runs 30.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedstatError, type FedstatError } from '../../src/errors.js';
import { parseSchema } from '../../src/federation/schema.js';
import type { ResultRow } from '../../src/coordinator/release.js';
import { inProcessJoinFederation, type InProcessJoinFederation } from '../helpers/in-process-join.js';
import type { Row } from '../helpers/in-process-federation.js';

const LONG = process.env['FEDSTAT_LONG'] === '1';

const schema = parseSchema(
  {
    datasets: {
      reg: {
        maxRows: 1000,
        columns: {
          pid: { type: 'id', format: 'text' },
          district: { type: 'category', values: ['A', 'B', 'C'] },
          kind: { type: 'category', values: ['u', 'v'] },
          age: { type: 'integer', min: 0, max: 120 },
          delta: { type: 'integer', min: -50, max: 50 },
        },
      },
      ins: {
        maxRows: 1000,
        columns: {
          pid: { type: 'id', format: 'text' },
          sector: { type: 'category', values: ['x', 'y', 'z'] },
          band: { type: 'category', values: ['p', 'q'] },
          income: { type: 'integer', min: -100, max: 1000 },
        },
      },
    },
  },
  'join-property',
);

/** Columns the queries use, qualified by the aliases l (reg) and r (ins). */
const GROUPS = { left: ['l.district', 'l.kind'], right: ['r.sector', 'r.band'] } as const;
const AGGREGATES = {
  left: ['SUM(l.age)', 'SUM(l.delta)', 'AVG(l.delta)', 'AVG(l.age)'],
  right: ['SUM(r.income)', 'AVG(r.income)'],
} as const;
const CONDITIONS = {
  left: ["l.district = 'A'", "l.district <> 'C'", "l.kind = 'v'", 'l.age >= 40', 'l.delta < 0', 'l.delta >= -10'],
  right: ["r.sector = 'x'", "r.band <> 'q'", 'r.income > 0', 'r.income <= 300'],
} as const;

const idArb = (offset: number): fc.Arbitrary<string> =>
  fc.integer({ min: offset, max: offset + 11 }).map((n) => `p${n}`);

const regRow = (offset: number): fc.Arbitrary<Row> =>
  fc.record({
    pid: idArb(offset),
    district: fc.constantFrom('A', 'B', 'C'),
    kind: fc.constantFrom('u', 'v'),
    age: fc.oneof(fc.integer({ min: 0, max: 120 }), fc.constantFrom(0, 120)),
    delta: fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constantFrom(-50, 50)),
  });

const insRow = (offset: number): fc.Arbitrary<Row> =>
  fc.record({
    pid: idArb(offset),
    sector: fc.constantFrom('x', 'y', 'z'),
    band: fc.constantFrom('p', 'q'),
    income: fc.oneof(fc.integer({ min: -100, max: 1000 }), fc.constantFrom(-100, 1000)),
  });

/** An agency's rows: mostly 8–40 (so that ids repeat and groups fill), sometimes none at all. */
const agencyRows = (row: fc.Arbitrary<Row>): fc.Arbitrary<Row[]> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant<Row[]>([]) },
    { weight: 6, arbitrary: fc.array(row, { minLength: 8, maxLength: 40 }) },
  );

/** A query: its SQL text, with COUNT(*) AS n_ added for the reference to know each group's size. */
interface JoinQuery {
  readonly sql: string;
  readonly reference: string;
  readonly groups: readonly string[];
  readonly aggregates: readonly { alias: string; fn: 'count' | 'sum' | 'avg' }[];
}

function querySql(
  kind: 'inner' | 'anti',
  groupBy: readonly string[],
  aggs: readonly string[],
  where: { left: readonly string[]; right: readonly string[] },
): JoinQuery {
  const items = aggs.map((a, i) => `${a} AS a${i}`);
  const select = (extra: string[]): string => [...groupBy, ...items, ...extra].join(', ');
  const from =
    kind === 'inner'
      ? 'FROM reg l JOIN ins r ON l.pid = r.pid'
      : 'FROM reg l WHERE NOT EXISTS (SELECT 1 FROM ins r WHERE r.pid = l.pid)';
  const conds = [...where.left, ...where.right];
  const whereSql =
    conds.length === 0 ? '' : kind === 'inner' ? ` WHERE ${conds.join(' AND ')}` : ` AND ${conds.join(' AND ')}`;
  const group = groupBy.length === 0 ? '' : ` GROUP BY ${groupBy.join(', ')}`;
  const text = (extra: string[]): string => `SELECT ${select(extra)} ${from}${whereSql}${group}`;
  return {
    sql: text([]),
    reference: text(['COUNT(*) AS n_']),
    groups: groupBy.map((g) => g.slice(2)),
    aggregates: aggs.map((a, i) => ({
      alias: `a${i}`,
      fn: a.startsWith('COUNT') ? 'count' : a.startsWith('SUM') ? 'sum' : 'avg',
    })),
  };
}

const queryArb = (kind: 'inner' | 'anti'): fc.Arbitrary<JoinQuery> => {
  const sides = kind === 'inner' ? (['left', 'right'] as const) : (['left'] as const);
  const groups = sides.flatMap((s) => GROUPS[s]);
  const aggs = ['COUNT(*)', ...sides.flatMap((s) => AGGREGATES[s])];
  return fc
    .record({
      groupBy: fc.subarray(groups, { maxLength: 2 }),
      aggs: fc.subarray(aggs, { minLength: 1, maxLength: 3 }),
      left: fc.subarray([...CONDITIONS.left], { maxLength: 2 }),
      right: kind === 'inner' ? fc.subarray([...CONDITIONS.right], { maxLength: 2 }) : fc.constant([]),
    })
    .chain((q) => fc.shuffledSubarray(q.groupBy, { minLength: q.groupBy.length }).map((g) => ({ ...q, groupBy: g })))
    .map((q) => querySql(kind, q.groupBy, q.aggs, { left: q.left, right: q.right }));
};

const caseArb = fc
  .record({
    // 0: the pools overlap entirely, 6: in part, 20: not at all.
    rightOffset: fc.constantFrom(0, 6, 20),
    leftCount: fc.integer({ min: 1, max: 3 }),
    rightCount: fc.integer({ min: 1, max: 3 }),
    minGroupSize: fc.constantFrom(1, 1, 2),
    slack: fc.constantFrom(0, 0, 1),
  })
  .chain((c) =>
    fc.record({
      shape: fc.constant(c),
      left: fc.array(agencyRows(regRow(0)), { minLength: c.leftCount, maxLength: c.leftCount }),
      right: fc.array(agencyRows(insRow(c.rightOffset)), { minLength: c.rightCount, maxLength: c.rightCount }),
      inner: queryArb('inner'),
      anti: queryArb('anti'),
    }),
  );

type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

/** The most rows one id has at one agency. */
function maxMultiplicity(agencies: readonly (readonly Row[])[]): number {
  let most = 1;
  for (const rows of agencies) {
    const n = new Map<string, number>();
    for (const r of rows) n.set(String(r['pid']), (n.get(String(r['pid'])) ?? 0) + 1);
    for (const v of n.values()) most = Math.max(most, v);
  }
  return most;
}

let db: DuckDBInstance;
let conn: DuckDBConnection;
beforeAll(async () => {
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
});
afterAll(() => {
  conn.closeSync();
  db.closeSync();
});

const COLUMN_TYPES = {
  reg: "{'pid': 'VARCHAR', 'district': 'VARCHAR', 'kind': 'VARCHAR', 'age': 'BIGINT', 'delta': 'BIGINT'}",
  ins: "{'pid': 'VARCHAR', 'sector': 'VARCHAR', 'band': 'VARCHAR', 'income': 'BIGINT'}",
};

/** reg and ins as the UNION ALL of their agencies' CSV files. */
async function loadPooled(fed: InProcessJoinFederation, c: Case): Promise<void> {
  for (const [table, prefix, count] of [
    ['reg', 'l', c.left.length],
    ['ins', 'r', c.right.length],
  ] as const) {
    const reads = Array.from({ length: count }, (_, i) => {
      const file = fed.files.get(`${prefix}${i}`) ?? '';
      return `SELECT * FROM read_csv('${file.replaceAll("'", "''")}', header = true, columns = ${COLUMN_TYPES[table]})`;
    });
    await conn.run(`CREATE OR REPLACE TABLE ${table} AS ${reads.join(' UNION ALL ')}`);
  }
}

const key = (groups: readonly string[], row: Readonly<Record<string, unknown>>): string =>
  JSON.stringify(groups.map((g) => row[g] ?? null));

/** The released rows against DuckDB's: same groups, counts and sums exact, AVG as the release computes it. */
async function expectMatches(q: JoinQuery, rows: readonly ResultRow[], suppressed: number, min: number): Promise<void> {
  const reference = (await conn.runAndReadAll(q.reference)).getRowObjectsJS();
  const kept = reference.filter((r) => BigInt(r['n_'] as bigint) >= BigInt(min));
  expect(suppressed, q.sql).toBe(reference.length - kept.length);
  const released = new Map(rows.map((r) => [key(q.groups, r), r]));
  expect([...released.keys()].sort(), q.sql).toEqual(kept.map((r) => key(q.groups, r)).sort());
  for (const ref of kept) {
    const got = released.get(key(q.groups, ref));
    for (const a of q.aggregates) {
      const want = ref[a.alias];
      const value = got?.[a.alias];
      if (a.fn === 'avg') {
        expect(typeof value, q.sql).toBe('number');
        // The release divides exact bigints; DuckDB averages in doubles.
        expect(Math.abs((value as number) - Number(want)), q.sql).toBeLessThanOrEqual(
          1e-9 * Math.max(1, Math.abs(Number(want))),
        );
      } else expect(value, `${q.sql}: ${a.alias}`).toBe(BigInt(want as bigint));
    }
  }
}

async function holds(c: Case): Promise<void> {
  await using fed = await inProcessJoinFederation(
    schema,
    [
      { dataset: 'reg', prefix: 'l', agencies: c.left },
      { dataset: 'ins', prefix: 'r', agencies: c.right },
    ],
    { minAgencies: 1, minGroupSize: c.shape.minGroupSize, exactRelease: true, transparencyLog: false },
  );
  await loadPooled(fed, c);
  const maxRowsPerId = Math.max(maxMultiplicity(c.left), maxMultiplicity(c.right)) + c.shape.slack;
  for (const q of [c.inner, c.anti]) {
    const result = await fed.coordinator.query(q.sql, { maxRowsPerId });
    expect(result.linkage?.sides.left.failed, q.sql).toEqual([]);
    expect(result.linkage?.sides.right.failed, q.sql).toEqual([]);
    expect(result.agencies.failed, q.sql).toEqual([]);
    await expectMatches(q, result.rows, result.suppressed, c.shape.minGroupSize);
  }
}

describe('linked-record queries = DuckDB over the pooled rows (property)', () => {
  it(
    'inner joins and anti-joins release exactly the pooled answer',
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, (c) => holds(c)),
        { numRuns: LONG ? 30 : 4 },
      );
    },
    LONG ? 3_600_000 : 240_000,
  );

  it('refuses when an id has more rows at one agency than maxRowsPerId, naming the bound', async () => {
    const rows = (ids: readonly string[]): Row[] =>
      ids.map((pid, i) => ({ pid, district: 'A', kind: 'u', age: 30 + i, delta: -i }));
    await using fed = await inProcessJoinFederation(
      schema,
      [
        { dataset: 'reg', prefix: 'l', agencies: [rows(['p1', 'p1', 'p2', 'p3', 'p3', 'p3'])] },
        {
          dataset: 'ins',
          prefix: 'r',
          agencies: [[{ pid: 'p1', sector: 'x', band: 'p', income: 5 }]],
        },
      ],
      { minAgencies: 1, minGroupSize: 1, exactRelease: true, transparencyLog: false },
    );
    const sql = 'SELECT COUNT(*) AS n FROM reg l JOIN ins r ON l.pid = r.pid';
    for (const maxRowsPerId of [undefined, 2]) {
      const e: unknown = await fed.coordinator.query(sql, maxRowsPerId === undefined ? {} : { maxRowsPerId }).then(
        () => null,
        (err: unknown) => err,
      );
      const bound = maxRowsPerId ?? 1;
      const ids = bound === 1 ? '2 ids have' : '1 id has';
      // The agency refuses with DATA_INVALID and is out of the join (as in any query); with no
      // other agency of reg left the query fails UNAVAILABLE, naming the agency's reason.
      expect(isFedstatError(e, 'UNAVAILABLE'), String(e)).toBe(true);
      const err = e as FedstatError;
      expect(err.message).toContain(`no agency of reg is left to link`);
      expect(err.message).toContain(`${ids} more than ${bound} rows in reg`);
      expect(err.details['failed']).toEqual([
        { id: 'l0', code: 'DATA_INVALID', reason: expect.stringContaining(`more than ${bound} rows`) as unknown },
      ]);
    }
    const ok = await fed.coordinator.query(sql, { maxRowsPerId: 3 });
    expect(ok.rows).toEqual([{ n: 2n }]);
  }, 60_000);
});
