/**
 * Linked-record queries under the default policy (differential privacy required, transparency
 * log required), every agency with its own budget ledger for its own dataset: reg at l0, l1 (the
 * multiplying side: they charge in round 1), ins at r0, r1 (the encrypting side: they charge when
 * they encrypt). Agencies run in this process behind in-process links; the coordinator operates a
 * real log file, which the auditor verifies and reconciles with every ledger.
 * - DP anti-join and inner join: one charge of ρ per query at every agency of both datasets, each
 *   charge's signed entry in the log, and the release equal to the plaintext join plus exactly the
 *   noise the multiplying agencies drew (seeded per query here, replayed at ρ/m²);
 * - an exact join is refused before anyone is asked or charged;
 * - an encrypting agency without a budget for its dataset refuses (signed, logged), is out of the
 *   join, and is charged nothing;
 * - the noise is sized for the join's sensitivity m: explain's sensitivity and noise bound are
 *   those of ρ/m², and the released stderr doubles when maxRowsPerId (so m) doubles.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgency, type Agency } from '../../src/agency/agency.js';
import { auditRows, type AuditRow } from '../../src/auditor/show.js';
import { verifyAuditLog, type AuditReport } from '../../src/auditor/verify.js';
import { Coordinator, type QueryResult } from '../../src/coordinator/coordinator.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { readLedgerCharges } from '../../src/dp/ledger-charges.js';
import type { RandomSource } from '../../src/dp/random.js';
import { skellamRho } from '../../src/dp/accountant.js';
import { compare, div, rational } from '../../src/dp/rational.js';
import { formatRho } from '../../src/dp/rho.js';
import { FedstatError } from '../../src/errors.js';
import { readHePublicKey, type Federation } from '../../src/federation/federation.js';
import { initFederation, type InitResult } from '../../src/federation/init.js';
import { loadKeyFile } from '../../src/federation/key-file.js';
import { parseSchema } from '../../src/federation/schema.js';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { joinCells, type JoinRoundPlan } from '../../src/protocol/join-round.js';
import type { AgencyLink } from '../../src/protocol/links.js';
import { drawCellNoise, parseQueryRho, privacyTerms, type PrivacyTerms } from '../../src/protocol/privacy-terms.js';
import { parseJoinQuery } from '../../src/query/parse-join.js';
import { csvRecord } from '../../src/seed/csv-writer.js';
import { openDuckDbStore } from '../../src/store/duckdb-store.js';
import { TransparencyLogSink } from '../../src/transparency/log-sink.js';
import { TransparencyLogStore } from '../../src/transparency/log-store.js';
import { readTreeHeadFile, treeHeadFileFor } from '../../src/transparency/tree-head-file.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const DISTRICTS = ['A', 'B', 'C'] as const;
const ID = { type: 'id', format: 'text' } as const;
const schema = parseSchema(
  {
    datasets: {
      reg: {
        maxRows: 1000,
        columns: {
          pid: ID,
          district: { type: 'category', values: [...DISTRICTS] },
          age: { type: 'integer', min: 0, max: 120 },
        },
      },
      ins: {
        maxRows: 1000,
        columns: {
          pid: ID,
          sector: { type: 'category', values: ['x', 'y'] },
          income: { type: 'integer', min: 0, max: 1000 },
        },
      },
    },
  },
  'join-privacy',
);

const LEFT = ['l0', 'l1'];
const RIGHT = ['r0', 'r1'];
const DATASET: Readonly<Record<string, 'reg' | 'ins'>> = { l0: 'reg', l1: 'reg', r0: 'ins', r1: 'ins' };

type Row = Readonly<Record<string, string | number>>;
/** reg: l0 holds p0–p179, l1 p120–p299 (p120–p179 at both); ins: r0 the even ids, r1 the multiples of 5. */
const DATA: Readonly<Record<string, readonly Row[]>> = {
  l0: Array.from({ length: 180 }, (_, i) => reg(i)),
  l1: Array.from({ length: 180 }, (_, i) => reg(i + 120)),
  r0: Array.from({ length: 150 }, (_, i) => ins(2 * i)),
  r1: Array.from({ length: 60 }, (_, i) => ins(5 * i)),
};
function reg(p: number): Row {
  return { pid: `p${p}`, district: DISTRICTS[p % 3] ?? 'A', age: (p * 7) % 91 };
}
function ins(p: number): Row {
  return { pid: `p${p}`, sector: p % 4 === 0 ? 'x' : 'y', income: (p * 37) % 1001 };
}

// Left has 3 groups × (COUNT, SUM(age)) components per id, right 1 × 2: left multiplies, right encrypts.
const INNER =
  'SELECT l.district, COUNT(*) AS n, SUM(l.age) AS age, SUM(r.income) AS inc FROM reg l JOIN ins r ON l.pid = r.pid GROUP BY l.district';
const ANTI =
  'SELECT l.district, COUNT(*) AS n, SUM(l.age) AS age FROM reg l WHERE NOT EXISTS (SELECT 1 FROM ins r WHERE r.pid = l.pid) GROUP BY l.district';
const RHO = '0.1';

/** The plaintext join over both left agencies and `rightAgencies`: per district, count and sums. */
function plaintext(
  kind: 'inner' | 'anti',
  rightAgencies: readonly string[],
): Map<string, { n: bigint; age: bigint; inc: bigint }> {
  const right = rightAgencies.flatMap((a) => DATA[a] ?? []);
  const out = new Map(DISTRICTS.map((d) => [d as string, { n: 0n, age: 0n, inc: 0n }]));
  for (const l of LEFT.flatMap((a) => DATA[a] ?? [])) {
    const t = out.get(String(l['district']));
    if (t === undefined) continue;
    const matches = right.filter((r) => r['pid'] === l['pid']);
    const pairs = kind === 'inner' ? matches : matches.length === 0 ? [{ income: 0 }] : [];
    for (const r of pairs) {
      t.n += 1n;
      t.age += BigInt(l['age'] ?? 0);
      t.inc += BigInt(r['income'] ?? 0);
    }
  }
  return out;
}

/** A RandomSource the test reseeds before each query, so it can replay an agency's draws for that query. */
class ReseededRandom implements RandomSource {
  #source = new SeededRandom('unset');
  reseed(seed: string): void {
    this.#source = new SeededRandom(seed);
  }
  uint32(): number {
    return this.#source.uint32();
  }
  belowNumber(n: number): number {
    return this.#source.belowNumber(n);
  }
  below(n: bigint): bigint {
    return this.#source.below(n);
  }
}

let dir: string;
let init: InitResult;
let federation: Federation;
let coordinator: Coordinator;
let logFile: string;
const live = new Map<string, Agency>();
const ledgers = new Map<string, string>();
const randoms = new Map<string, ReseededRandom>();

async function startAgency(id: string, budgets: Record<string, string>, ledgerFile: string): Promise<void> {
  const dataset = DATASET[id] ?? '';
  const ds = schema.datasets[dataset];
  if (ds === undefined) throw new Error(`no dataset for ${id}`);
  const csv = join(dir, `${id}.csv`);
  const columns = Object.keys(ds.columns);
  const rows = DATA[id] ?? [];
  writeFileSync(
    csv,
    [columns, ...rows.map((r) => columns.map((c) => String(r[c])))].map((f) => `${csvRecord(f)}\n`).join(''),
  );
  const store = await openDuckDbStore(':memory:');
  await store.loadCsv(dataset, ds, csv);
  const random = new ReseededRandom();
  randoms.set(id, random);
  live.set(
    id,
    await createAgency({
      federation,
      secrets: loadKeyFile(init.keyFiles[id] ?? '', federation),
      hePublicKey: readHePublicKey(federation),
      store,
      ledger: await BudgetLedger.open(ledgerFile, { budgets }),
      random,
    }),
  );
}

/** A link to whichever agency runs under `id` now (the test replaces one). */
function linkTo(id: string): AgencyLink {
  const a = (): Agency => {
    const agency = live.get(id);
    if (agency === undefined) throw new FedstatError('UNAVAILABLE', `agency ${id} is not running (test)`);
    return agency;
  };
  return {
    agencyId: id,
    describe: () => a().describe(),
    aggregate: (q, _deadline, proof) => a().answer(q, proof),
    unmask: (r) => a().unmask(r),
    linkage: {
      start: (r) => a().linkage.start(r),
      blind: (r) => a().linkage.blind(r),
      reblind: (r) => a().linkage.reblind(r),
      encrypt: (r) => a().linkage.encrypt(r),
      load: (r) => a().linkage.load(r),
    },
    close: () => undefined,
  };
}

/** Runs `sql` with the multiplying agencies' noise seeded by `label` (replayed by `expectReleased`). */
function query(label: string, sql: string, options: { maxRowsPerId?: number } = {}): Promise<QueryResult> {
  for (const [id, r] of randoms) r.reseed(`${id}/${label}`);
  return coordinator.query(sql, { privacy: { rho: RHO }, ...options });
}

/** The join's sensitivity as docs/threat-model.md states it, counted here from the sides. */
function sensitivity(kind: 'inner' | 'anti', left: number, right: number, maxRowsPerId: number): number {
  return maxRowsPerId * (kind === 'anti' ? left : Math.max(left, right));
}

/** The join round's plan over all four agencies (left multiplies in both queries). */
function roundPlan(sql: string, maxRowsPerId: number): JoinRoundPlan {
  return {
    kind: 'join-round',
    dataset: 'reg',
    join: parseJoinQuery(sql, federation.schema),
    multiplying: 'left',
    sides: { left: LEFT, right: RIGHT },
    maxRowsPerId,
  };
}

/** Privacy terms for ρ/m² on the join's virtual cells, as this test derives them. */
function termsFor(plan: JoinRoundPlan, m: number, threshold: number): PrivacyTerms {
  const cells = joinCells(plan, federation.schema);
  return privacyTerms(cells.cells, cells.schema, div(parseQueryRho(RHO), rational(BigInt(m * m))), threshold);
}

/**
 * Checks the release: the plaintext join plus exactly the draws of the multiplying agencies
 * (seeded by `label`) for ρ/m², m counted from the sides; every row with its uncertainty, and
 * within 8 reported stderr of the plaintext join.
 */
function expectReleased(
  label: string,
  kind: 'inner' | 'anti',
  result: QueryResult,
  maxRowsPerId: number,
  multiplying: readonly string[],
  rightAgencies: readonly string[] = RIGHT,
): void {
  const plan = roundPlan(kind === 'inner' ? INNER : ANTI, maxRowsPerId);
  const m = sensitivity(kind, LEFT.length, RIGHT.length, maxRowsPerId);
  const threshold = result.privacy?.threshold ?? 0;
  const terms = termsFor(plan, m, threshold);
  const cells = joinCells(plan, federation.schema).cells;
  const noise = new Array<bigint>(cells.groupCount * cells.measures.length).fill(0n);
  for (const id of multiplying)
    drawCellNoise(terms, cells.groupCount, new SeededRandom(`${id}/${label}`)).forEach((v, i) => {
      noise[i] = (noise[i] ?? 0n) + v;
    });
  const aliasOf = (column: string | null): string => (column === null ? 'n' : column === 'l.age' ? 'age' : 'inc');
  const exact = plaintext(kind, rightAgencies);
  expect(result.rows.map((r) => r['district'])).toEqual([...DISTRICTS]);
  expect(result.uncertainty).toHaveLength(DISTRICTS.length);
  result.rows.forEach((row, g) => {
    const e = exact.get(DISTRICTS[g] ?? '');
    cells.measures.forEach((measure, j) => {
      const alias = aliasOf(measure.column);
      const truth = e?.[alias as 'n' | 'age' | 'inc'] ?? 0n;
      expect(row[alias], `${label} ${alias} of ${DISTRICTS[g]}`).toBe(
        truth + (noise[g * cells.measures.length + j] ?? 0n),
      );
      const u = result.uncertainty?.[g]?.[alias];
      expect(u?.stderr).toBeGreaterThan(0);
      const off = Math.abs(Number((row[alias] as bigint) - truth));
      expect(off).toBeLessThanOrEqual(8 * (u?.stderr ?? 0));
      expect(Number(u?.ci95?.[0])).toBeLessThanOrEqual(Number(row[alias]));
      expect(Number(u?.ci95?.[1])).toBeGreaterThanOrEqual(Number(row[alias]));
    });
  });
  // The release reports the μ of those terms (the count's first).
  expect(result.privacy?.noise.map((x) => x.mu)).toEqual(terms.measures.map((x) => formatRho(x.mu)));
}

/** The auditor's verdict on the log, every given ledger reconciled (`fedstat audit verify --ledger`). */
async function audit(files: ReadonlyMap<string, string> = ledgers): Promise<AuditReport> {
  return verifyAuditLog(logFile, {
    federation,
    heads: await readTreeHeadFile(treeHeadFileFor(logFile)),
    ledgers: await Promise.all(
      [...files].map(async ([agency, file]) => ({ agency, file, charges: await readLedgerCharges(file) })),
    ),
  });
}

/** Every verified entry of the log (`fedstat audit show`). */
async function logRows(): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  for await (const row of auditRows(logFile, { federation })) out.push(row);
  return out;
}

/** Each agency's ledger charges for `queryId`: `${agency} ${dataset} ${rho}`. */
async function chargesOf(queryId: string, files: ReadonlyMap<string, string> = ledgers): Promise<string[]> {
  const out: string[] = [];
  for (const [agency, file] of files)
    for (const c of await readLedgerCharges(file))
      if (c.queryId === queryId) out.push(`${agency} ${c.dataset} ${c.rho}`);
  return out.sort();
}

const ALL_CHARGED = ['l0 reg 1/10', 'l1 reg 1/10', 'r0 ins 1/10', 'r1 ins 1/10'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-join-privacy-'));
  init = await initFederation({
    outDir: join(dir, 'federation'),
    schema,
    agencies: [...LEFT, ...RIGHT].map((id, i) => ({
      id,
      endpoint: `127.0.0.1:${7100 + i}`,
      datasets: [DATASET[id] ?? ''],
    })),
  });
  federation = init.federation;
  for (const id of [...LEFT, ...RIGHT]) {
    const file = join(dir, `${id}.ledger`);
    ledgers.set(id, file);
    await startAgency(id, { [DATASET[id] ?? '']: '1' }, file);
  }
  const secrets = loadKeyFile(init.keyFiles['coordinator'] ?? '', federation);
  logFile = join(dir, 'federation', 'transparency.log');
  const store = await TransparencyLogStore.open(logFile, {
    logId: federation.id,
    secretKey: secrets.signing.secretKey,
  });
  coordinator = await Coordinator.create({
    federation,
    secrets,
    keyAuthority: await InProcessKeyAuthority.create({
      federation,
      secrets: loadKeyFile(init.keyFiles['key-authority'] ?? '', federation),
    }),
    links: [...LEFT, ...RIGHT].map(linkTo),
    transparencyLog: new TransparencyLogSink(store, secrets.party, secrets.signing.secretKey),
    isolation: 'in-thread',
  });
}, 60_000);

afterAll(async () => {
  await coordinator?.close();
  for (const a of live.values()) await a.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('joins under differential privacy, budgets and the transparency log', () => {
  it('a DP anti-join and inner join: one charge of ρ at every agency of both datasets, logged; the release is the join plus the replayed noise', async () => {
    expect(federation.policy).toMatchObject({ exactRelease: false, transparencyLog: true }); // the defaults
    const anti = await query('anti', ANTI);
    expect(anti.linkage?.encrypting).toBe('right');
    expect(anti.linkage?.sides.left.linked).toEqual(LEFT);
    expect(anti.linkage?.sides.right.linked).toEqual(RIGHT);
    expect(anti.privacy).toMatchObject({ rho: RHO, survivors: 2 });
    expectReleased('anti', 'anti', anti, 1, LEFT);
    expect(await chargesOf(anti.queryId)).toEqual(ALL_CHARGED);

    const inner = await query('inner', INNER);
    expect(inner.linkage?.encrypting).toBe('right');
    expectReleased('inner', 'inner', inner, 1, LEFT);
    expect(await chargesOf(inner.queryId)).toEqual(ALL_CHARGED);

    // Every charge is a signed budget entry in the log, by its agency, reconciled with its ledger.
    const rows = await logRows();
    for (const q of [anti, inner]) {
      const budget = rows.filter((r) => r.kind === 'budget' && r.queryId === q.queryId);
      expect(budget.map((r) => r.who).sort()).toEqual([...LEFT, ...RIGHT]);
      expect(budget.every((r) => r.verified === true)).toBe(true);
    }
    const report = await audit();
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
    expect(
      report.ledgers.map((l) => [l.agency, l.ledgerCharges, l.matched, l.missingInLog, l.missingInLedger]),
    ).toEqual([...LEFT, ...RIGHT].map((id) => [id, 2, 2, 0, 0]));
    expect(report.budgets.map((b) => [b.agency, b.dataset, b.spent])).toEqual(
      [...LEFT, ...RIGHT].map((id) => [id, DATASET[id], '1/5']),
    );
  }, 60_000);

  it('an exact join is refused before any agency is asked or charged', async () => {
    const before = await Promise.all([...ledgers.values()].map(async (f) => (await readLedgerCharges(f)).length));
    const entries = (await logRows()).length;
    for (const sql of [INNER, ANTI]) {
      const e: unknown = await coordinator.query(sql).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(FedstatError);
      expect((e as FedstatError).code).toBe('POLICY_REFUSED');
      expect((e as FedstatError).message).toMatch(/--rho/);
    }
    expect(await Promise.all([...ledgers.values()].map(async (f) => (await readLedgerCharges(f)).length))).toEqual(
      before,
    );
    expect((await logRows()).length).toBe(entries);
  }, 30_000);

  it('the noise is sized for the join sensitivity: explain gives m and the ρ/m² noise bound; stderr doubles with maxRowsPerId', async () => {
    for (const [sql, kind] of [
      [INNER, 'inner'],
      [ANTI, 'anti'],
    ] as const) {
      for (const maxRowsPerId of [1, 2]) {
        const x = coordinator.explain(sql, { privacy: { rho: RHO }, maxRowsPerId });
        const m = sensitivity(kind, 2, 2, maxRowsPerId);
        expect(x.join?.sensitivity).toBe(m);
        // explain sizes for every agency the federation allows (2 on reg: threshold 2).
        expect(x.noiseBound).toBe(termsFor(roundPlan(sql, maxRowsPerId), m, 2).agencyNoiseBound);
      }
    }
    // Released at maxRowsPerId 1 and 2: each exactly the join plus the draws for its own m.
    const one = await query('inner-m1', INNER);
    const two = await query('inner-m2', INNER, { maxRowsPerId: 2 });
    expectReleased('inner-m1', 'inner', one, 1, LEFT);
    expectReleased('inner-m2', 'inner', two, 2, LEFT);
    const count = (r: QueryResult): { mu: string; cellStderr: number } | undefined =>
      r.privacy?.noise.find((n) => n.measure === 'count');
    // μ is the smallest integer meeting ρ/m² (Skellam's ρ is not exactly ∝ 1/μ): the stderr about doubles.
    const ratio = (count(two)?.cellStderr ?? 0) / (count(one)?.cellStderr ?? 1);
    expect(ratio).toBeGreaterThan(1.9);
    expect(ratio).toBeLessThan(2.05);
    // And the count's noise (2 survivors of threshold 2: Skellam(μ)) is ρ/3-zCDP at sensitivity m, the count's share.
    for (const [maxRowsPerId, m] of [
      [1, 2],
      [2, 4],
    ] as const) {
      const count0 = termsFor(roundPlan(INNER, maxRowsPerId), m, 2).measures[0];
      if (count0 === undefined) throw new Error('no count measure');
      const atM = { l1: BigInt(m) * count0.sensitivity.l1, l2Squared: BigInt(m * m) * count0.sensitivity.l2Squared };
      expect(compare(skellamRho(count0.mu, atM), div(parseQueryRho(RHO), rational(3n)))).toBeLessThanOrEqual(0);
    }
    expect(two.uncertainty?.[0]?.['n']?.stderr).toBe(count(two)?.cellStderr);
    expect(await chargesOf(two.queryId)).toEqual(ALL_CHARGED);
  }, 60_000);

  it('an encrypting agency without a budget for its dataset refuses, signed and logged; it is out of the join and charged nothing', async () => {
    // r1 restarts with a ledger that holds a budget for another dataset only.
    const before = (await readLedgerCharges(ledgers.get('r1') ?? '')).length;
    await live.get('r1')?.close();
    live.delete('r1');
    const bare = join(dir, 'r1-no-budget.ledger');
    await startAgency('r1', { reg: '1' }, bare);
    const result = await query('no-budget', INNER);
    expect(result.linkage?.sides.right.linked).toEqual(['r0']);
    expect(result.linkage?.sides.right.failed).toEqual([
      {
        id: 'r1',
        code: 'POLICY_REFUSED',
        reason: expect.stringMatching(/no privacy budget for dataset ins/) as unknown,
      },
    ]);
    // The release is the join without r1's records, its noise still sized for the two agencies of ins.
    expectReleased('no-budget', 'inner', result, 1, LEFT, ['r0']);
    expect(await readLedgerCharges(bare)).toEqual([]);
    expect(await chargesOf(result.queryId)).toEqual(['l0 reg 1/10', 'l1 reg 1/10', 'r0 ins 1/10']);
    const rows = (await logRows()).filter((r) => r.queryId === result.queryId);
    expect(
      rows
        .filter((r) => r.kind === 'budget')
        .map((r) => r.who)
        .sort(),
    ).toEqual(['l0', 'l1', 'r0']);
    const refusal = rows.filter((r) => r.kind === 'refusal');
    expect(refusal.map((r) => [r.who, r.verified])).toEqual([['r1', true]]);
    expect(refusal[0]?.what).toMatch(/no privacy budget for dataset ins/);
    // The auditor: no finding; r1's first ledger holds all its charges, its new one none.
    const report = await audit();
    expect(report.findings).toEqual([]);
    const r0 = (await readLedgerCharges(ledgers.get('r0') ?? '')).length;
    expect(report.ledgers.find((l) => l.agency === 'r1')).toMatchObject({ ledgerCharges: before, matched: before });
    expect(report.ledgers.find((l) => l.agency === 'r0')).toMatchObject({ ledgerCharges: r0, matched: r0 });
    expect(report.ledgers.every((l) => l.missingInLog === 0 && l.missingInLedger === 0 && l.mismatched === 0)).toBe(
      true,
    );
  }, 60_000);
});
