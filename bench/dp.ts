/**
 * Distributed differential privacy at an agency: what the DP machinery costs per query next to
 * encrypting the same query, and how useful the released counts are.
 *
 * Cost (per agency, per query), with the noise terms derived as the wiring derives them (ρ split
 * evenly over the plan's measures, each measure's own μ from the sensitivity of its cells, SUM
 * cells shifted by their offset as in cells.ts; privacyTerms, the same code the agencies run) for
 * threshold t ("calibrate") and one durable BudgetLedger.charge (a real file in a temp dir, fsync
 * included) are "accounting"; drawCellNoise (what an agency draws: Skellam per cell) is "noise".
 * The baseline, measured in the same run, is the agency's encryption of the same
 * query: planSlotLayout + packSlots + HeEncryptor.encrypt of every ciphertext under a freshly
 * generated key of the federation's default preset, once directly ("encrypt", the full cost) and
 * once from a precomputed pool of encryptions of zero ("online", what a query waits for when the
 * agency's pool is warm). Shapes: COUNT and COUNT+SUM(age) over 1…65,536 groups, 3 agencies t = 3
 * and 10 agencies t = 7.
 *
 * Utility: COUNT cells of true size 10…100,000 at ρ = 0.01, 0.1 (the default) and 1, released
 * through the distributed path (every surviving agency adds Skellam(μ/t), the sum is clamped at 0),
 * over --releases simulated releases: the exact noise stddev and 95 % half-width (utility.ts), the
 * empirical coverage of that interval, and the empirical median and 95th percentile of
 * |released − true| / true; last, the COUNT column of a COUNT+SUM(age) query, which gets ρ/2.
 * The ε each ρ gives at δ = 1e-6 (rhoToEpsilon, what fedstat displays) is shown next to the exact
 * ε of a COUNT with that μ (hockey-stick divergence from the exact Skellam pmf).
 *
 *   npm run bench -- dp [--json] [--reps N] [--releases N] [--sum-max B]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { progressBar } from '../src/cli/progress.js';
import { renderTable } from '../src/cli/table.js';
import type { Sensitivity } from '../src/dp/accountant.js';
import { BudgetLedger } from '../src/dp/budget-ledger.js';
import { calibrateMu, perAgencyMu } from '../src/dp/calibration.js';
import { rhoToEpsilon, simpleEpsilon } from '../src/dp/conversion.js';
import { CryptoRandom } from '../src/dp/random.js';
import { formatUp, rational, toNumberUp, type Rational } from '../src/dp/rational.js';
import { skellamVector } from '../src/dp/skellam.js';
import { drawCellNoise, privacyTerms, type PrivacyTerms } from '../src/protocol/privacy-terms.js';
import { interval95, skellamPmf } from '../src/dp/utility.js';
import { parseSchema, type DatasetSchema } from '../src/federation/schema.js';
import { HeEncryptor } from '../src/he/encryptor.js';
import { HeParams } from '../src/he/he-params.js';
import { generateHeKeys } from '../src/he/keys.js';
import { packSlots, planSlotLayout } from '../src/he/packing.js';
import { presetByName } from '../src/he/presets.js';
import { planCells, type PlanCells } from '../src/protocol/cells.js';
import { parseQuery } from '../src/query/parse.js';
import { median, positiveIntOption } from './shared/stats.js';

const DATASET = 'residents';
const PRESET = 'BFV_N8192_T60'; // what initFederation uses unless told otherwise
const QUERY_RHO = rational(1n, 10n);
const DELTA = 1e-6;
const GROUPINGS: readonly (readonly [number, string])[] = [
  [1, ''],
  [16, ' GROUP BY c16'],
  [256, ' GROUP BY c256'],
  [4096, ' GROUP BY c64a, c64b'],
  [65536, ' GROUP BY c256, c256b'],
];
const FEDERATIONS = [
  { agencies: 3, threshold: 3 },
  { agencies: 10, threshold: 7 },
] as const;
const UTILITY_RHOS = [rational(1n, 100n), QUERY_RHO, rational(1n)];
const TRUE_SIZES = [10, 100, 1_000, 10_000, 100_000];

/** A rational as "n" or "n/d", exactly. */
function exact(r: Rational): string {
  return r.den === 1n ? r.num.toString() : `${r.num}/${r.den}`;
}

/** The q-quantile of sorted values (the smallest v with at least q of them ≤ v). */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

function schemaFor(sumMax: number): DatasetSchema {
  const values = (n: number): string[] => Array.from({ length: n }, (_, i) => `v${i}`);
  const schema = parseSchema(
    {
      datasets: {
        [DATASET]: {
          maxRows: 1_000_000,
          columns: {
            c16: { type: 'category', values: values(16) },
            c64a: { type: 'category', values: values(64) },
            c64b: { type: 'category', values: values(64) },
            c256: { type: 'category', values: values(256) },
            c256b: { type: 'category', values: values(256) },
            age: { type: 'integer', min: 0, max: sumMax },
          },
        },
      },
    },
    'bench-dp-schema.json',
  );
  const ds = schema.datasets[DATASET];
  if (ds === undefined) throw new Error('schema lost its dataset');
  return ds;
}

/** A query shape; its cells (planCells) are computed once, as the agency does for packing anyway. */
interface Shape {
  readonly name: string;
  readonly groups: number;
  readonly cells: PlanCells;
  readonly cellBounds: readonly bigint[];
}

interface CostRow {
  readonly shape: string;
  readonly groups: number;
  readonly agencies: number;
  readonly threshold: number;
  readonly cells: number;
  readonly ciphertexts: number;
  readonly l1: string;
  readonly l2Squared: string;
  readonly mu: string;
  readonly perAgencyMu: string;
  readonly noiseMs: number;
  /** Sensitivity from the plan + calibrateMu + ledger charge. */
  readonly accountingMs: number;
  /** The part of accountingMs before the ledger: sensitivities + calibrateMu + perAgencyMu. */
  readonly calibrateMs: number;
  readonly encryptMs: number;
  readonly onlineMs: number;
  /** (noise + accounting) / encrypt. */
  readonly ratio: number;
  /** (noise + accounting) / online encrypt. */
  readonly ratioOnline: number;
}

async function measureCost(
  shapes: readonly Shape[],
  ds: DatasetSchema,
  reps: number,
  json: boolean,
): Promise<CostRow[]> {
  const rng = new CryptoRandom();
  using params = await HeParams.create(presetByName(PRESET));
  const keys = generateHeKeys(params);
  using encryptor = new HeEncryptor(params, keys.publicKey);
  const dir = mkdtempSync(join(tmpdir(), 'fedstat-bench-dp-'));
  const rows: CostRow[] = [];
  const bar = progressBar('dp: cost per query', { json });
  let done = 0;
  let query = 0;
  try {
    for (const fed of FEDERATIONS) {
      await using ledger = await BudgetLedger.open(join(dir, `budget-${fed.agencies}.ledger`), {
        budgets: { [DATASET]: '1000000' },
      });
      const samples = shapes.map(() => ({
        noise: [] as number[],
        accounting: [] as number[],
        calibrate: [] as number[],
        encrypt: [] as number[],
        online: [] as number[],
      }));
      let last: { terms: PrivacyTerms; ciphertexts: number }[] = [];
      // Repetition 0 warms up (JIT, SEAL) and is dropped; repetitions are outermost so drift on a
      // shared machine hits every shape alike.
      for (let r = 0; r <= reps; r++) {
        last = [];
        for (const [i, shape] of shapes.entries()) {
          const t0 = performance.now();
          const terms = privacyTerms(shape.cells, ds, QUERY_RHO, fed.threshold);
          const tc = performance.now();
          await ledger.charge({ dataset: DATASET, queryId: `q${++query}`, rho: QUERY_RHO });
          const t1 = performance.now();
          const noise = drawCellNoise(terms, shape.groups, rng);
          const t2 = performance.now();
          const layout = planSlotLayout(shape.cellBounds, fed.agencies, params);
          const values = shape.cellBounds.map((_, j) => BigInt(j % 97));
          for (const s of packSlots(layout, values)) encryptor.encrypt(s);
          const t3 = performance.now();
          encryptor.precompute(layout.ciphertextCount); // offline, untimed
          const t4 = performance.now();
          for (const s of packSlots(layout, values)) encryptor.encrypt(s);
          const t5 = performance.now();
          if (noise.length !== shape.cellBounds.length) throw new Error('noise vector has the wrong length');
          last.push({ terms, ciphertexts: layout.ciphertextCount });
          if (r === 0) continue;
          const s = samples[i];
          s?.accounting.push(t1 - t0);
          s?.calibrate.push(tc - t0);
          s?.noise.push(t2 - t1);
          s?.encrypt.push(t3 - t2);
          s?.online.push(t5 - t4);
          bar.update(++done, FEDERATIONS.length * shapes.length * reps, `${fed.agencies} agencies, ${shape.name}`);
        }
      }
      for (const [i, shape] of shapes.entries()) {
        const s = samples[i];
        const l = last[i];
        if (s === undefined || l === undefined) continue;
        const noiseMs = median(s.noise);
        const accountingMs = median(s.accounting);
        const calibrateMs = median(s.calibrate);
        const encryptMs = median(s.encrypt);
        const onlineMs = median(s.online);
        rows.push({
          shape: shape.name,
          groups: shape.groups,
          agencies: fed.agencies,
          threshold: fed.threshold,
          cells: shape.cellBounds.length,
          ciphertexts: l.ciphertexts,
          l1: l.terms.measures.map((t) => t.sensitivity.l1.toString()).join('; '),
          l2Squared: l.terms.measures.map((t) => t.sensitivity.l2Squared.toString()).join('; '),
          mu: l.terms.measures.map((t) => exact(t.mu)).join('; '),
          perAgencyMu: l.terms.measures.map((t) => exact(t.agencyMu)).join('; '),
          noiseMs,
          accountingMs,
          calibrateMs,
          encryptMs,
          onlineMs,
          ratio: (noiseMs + accountingMs) / encryptMs,
          ratioOnline: (noiseMs + accountingMs) / onlineMs,
        });
      }
    }
  } finally {
    bar.done();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

interface UtilityRow {
  /** 'COUNT' (μ for a COUNT alone) or 'COUNT+SUM' (the COUNT cells of a COUNT+SUM query, joint μ). */
  readonly query: string;
  readonly rho: string;
  readonly agencies: number;
  readonly threshold: number;
  readonly survivors: number;
  readonly mu: string;
  readonly trueCount: number;
  readonly stderr: number;
  readonly halfWidth: number;
  readonly coverage: number;
  readonly medianRelError: number;
  readonly p95RelError: number;
  readonly clampedShare: number;
}

interface UtilityCase {
  readonly query: string;
  /** The query's ρ. */
  readonly rho: Rational;
  /** The COUNT's share of it. */
  readonly countRho: Rational;
  readonly agencies: number;
  readonly threshold: number;
  readonly survivors: number;
}

/**
 * Released counts through the distributed path: survivors × Skellam(μ/t), summed, clamped at 0.
 * 3 of 3 agencies is the least noise a release carries; 10 of 10 with t = 7 is a full turnout,
 * which adds 10/7 of the variance. The last case is the COUNT column of a COUNT+SUM(age) query,
 * which gets half of ρ.
 */
function utility(releases: number, json: boolean): UtilityRow[] {
  const rng = new CryptoRandom();
  const count: Sensitivity = { l1: 1n, l2Squared: 1n };
  const cases: UtilityCase[] = [];
  for (const rho of UTILITY_RHOS) {
    cases.push({ query: 'COUNT', rho, countRho: rho, agencies: 3, threshold: 3, survivors: 3 });
    cases.push({ query: 'COUNT', rho, countRho: rho, agencies: 10, threshold: 7, survivors: 10 });
  }
  const half = rational(QUERY_RHO.num, 2n * QUERY_RHO.den);
  cases.push({ query: 'COUNT+SUM', rho: QUERY_RHO, countRho: half, agencies: 3, threshold: 3, survivors: 3 });
  const rows: UtilityRow[] = [];
  const bar = progressBar('dp: utility', { json });
  for (const c of cases) {
    const mu = calibrateMu(c.countRho, count);
    const per = perAgencyMu(mu, c.threshold);
    const { stderr, halfWidth } = interval95(mu, c.threshold, c.survivors);
    for (const size of TRUE_SIZES) {
      const noise = new Float64Array(releases);
      for (let a = 0; a < c.survivors; a++) {
        const z = skellamVector(per, releases, rng);
        for (let i = 0; i < releases; i++) noise[i] = (noise[i] ?? 0) + Number(z[i] ?? 0n);
      }
      const rel = new Float64Array(releases);
      let covered = 0;
      let clamped = 0;
      for (let i = 0; i < releases; i++) {
        const raw = size + (noise[i] ?? 0);
        if (Math.abs(noise[i] ?? 0) <= halfWidth) covered++;
        if (raw < 0) clamped++;
        rel[i] = Math.abs(Math.max(0, raw) - size) / size;
      }
      rel.sort();
      rows.push({
        query: c.query,
        rho: formatUp(c.rho, 6),
        agencies: c.agencies,
        threshold: c.threshold,
        survivors: c.survivors,
        mu: exact(mu),
        trueCount: size,
        stderr,
        halfWidth,
        coverage: covered / releases,
        medianRelError: quantile(rel, 0.5),
        p95RelError: quantile(rel, 0.95),
        clampedShare: clamped / releases,
      });
      bar.update(rows.length, cases.length * TRUE_SIZES.length);
    }
  }
  bar.done();
  return rows;
}

/** The exact hockey-stick divergence of a COUNT (shift 1) under Skellam(λ), both orders are equal. */
function countHockeyStick(lambda: number, eps: number): number {
  const pmf = skellamPmf(lambda);
  const at = (k: number): number => (Math.abs(k) < pmf.length ? (pmf[Math.abs(k)] ?? 0) : 0);
  const e = Math.exp(eps);
  let s = 0;
  for (let y = -pmf.length; y <= pmf.length + 1; y++) s += Math.max(0, at(y - 1) - e * at(y));
  return s;
}

interface EpsilonRow {
  readonly rho: string;
  readonly mu: string;
  readonly displayed: number;
  readonly simple: number;
  readonly exactCount: number;
}

/** ε at δ = 1e-6: the displayed CKS conversion, Bun–Steinke's, and the exact one of a COUNT with that μ. */
function epsilons(): EpsilonRow[] {
  return UTILITY_RHOS.map((rho) => {
    const mu = calibrateMu(rho, { l1: 1n, l2Squared: 1n });
    const displayed = rhoToEpsilon(rho, DELTA);
    let lo = 0;
    let hi = displayed;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (countHockeyStick(toNumberUp(mu), mid) <= DELTA) hi = mid;
      else lo = mid;
    }
    return { rho: formatUp(rho, 6), mu: exact(mu), displayed, simple: simpleEpsilon(rho, DELTA), exactCount: hi };
  });
}

const ms = (x: number): string =>
  x < 0.1 ? `${(x * 1000).toFixed(0)} µs` : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(0)} ms`;
const ratio = (x: number): string => (x < 0.01 ? x.toExponential(1) : x.toFixed(3));
const pct = (x: number): string =>
  x === 0 ? '0' : x < 0.0001 ? `${(100 * x).toExponential(1)} %` : `${(100 * x).toFixed(2)} %`;

export async function run(args: readonly string[], json: boolean): Promise<void> {
  const reps = positiveIntOption(args, '--reps', 5);
  const releases = positiveIntOption(args, '--releases', 10_000);
  const sumMax = positiveIntOption(args, '--sum-max', 120);
  if (releases < 2000)
    throw new RangeError('--releases needs at least 2000 (the 95th percentile needs ≥ 100 beyond it)');
  const ds = schemaFor(sumMax);
  const schema = { datasets: { [DATASET]: ds } };
  const shapes: Shape[] = [];
  for (const measures of ['COUNT(*)', 'COUNT(*), SUM(age)']) {
    for (const [groups, groupBy] of GROUPINGS) {
      const plan = parseQuery(`SELECT ${measures} FROM ${DATASET}${groupBy}`, schema);
      const cells = planCells(plan, ds);
      shapes.push({
        name: measures.includes('SUM') ? 'COUNT+SUM' : 'COUNT',
        groups,
        cells,
        cellBounds: cells.cellBounds,
      });
    }
  }
  const cost = await measureCost(shapes, ds, reps, json);
  const util = utility(releases, json);
  const eps = epsilons();
  const worst = cost.reduce((a, b) => (b.ratio > a.ratio ? b : a));
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        benchmark: 'dp',
        ratio: worst.ratio,
        ratioMeaning: '(noise + accounting) / encrypt, worst shape',
        rho: formatUp(QUERY_RHO, 6),
        delta: DELTA,
        preset: PRESET,
        reps,
        releases,
        sumMax,
        cost,
        utility: util,
        epsilon: eps,
      })}\n`,
    );
    return;
  }
  process.stdout.write(
    `cost per query at one agency, ρ = ${formatUp(QUERY_RHO, 6)} split evenly over the measures (Δ and μ per measure, COUNT; SUM), SUM over age 0..${sumMax}, ${PRESET}; median of ${reps}:\n`,
  );
  process.stdout.write(
    `${renderTable(
      [
        'shape',
        'groups',
        'agencies',
        'cells',
        'Δ1',
        'Δ2²',
        'μ',
        'μ/agency',
        'noise',
        'accounting (calibrate)',
        'encrypt',
        'online',
        '(noise+acct)/encrypt',
        '/online',
      ],
      cost.map((r) => [
        r.shape,
        r.groups.toLocaleString('en-US'),
        `${r.agencies} (t=${r.threshold})`,
        r.cells.toLocaleString('en-US'),
        r.l1,
        r.l2Squared,
        r.mu,
        r.perAgencyMu,
        ms(r.noiseMs),
        `${ms(r.accountingMs)} (${ms(r.calibrateMs)})`,
        `${ms(r.encryptMs)} (${r.ciphertexts} ct)`,
        ms(r.onlineMs),
        ratio(r.ratio),
        ratio(r.ratioOnline),
      ]),
      [
        'left',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
        'right',
      ],
    )}\n`,
  );
  process.stdout.write(
    `\nε at δ = ${DELTA} for each ρ (fedstat displays the CKS value; "exact COUNT" is the true ε of a COUNT with that μ from the exact Skellam pmf):\n`,
  );
  process.stdout.write(
    `${renderTable(
      ['ρ', 'μ (COUNT)', 'ε displayed (CKS)', 'ε Bun–Steinke', 'ε exact COUNT'],
      eps.map((e) => [e.rho, e.mu, e.displayed.toFixed(3), e.simple.toFixed(3), e.exactCount.toFixed(3)]),
      ['right', 'right', 'right', 'right', 'right'],
    )}\n`,
  );
  process.stdout.write(
    `\nutility of COUNT cells, ${releases.toLocaleString('en-US')} releases each through the distributed path (clamped at 0):\n`,
  );
  process.stdout.write(
    `${renderTable(
      [
        'query',
        'ρ',
        'agencies',
        'μ',
        'true count',
        'stddev',
        '95% ±',
        'coverage',
        'median |err|/true',
        'p95 |err|/true',
        'clamped to 0',
      ],
      util.map((u) => [
        u.query,
        u.rho,
        `${u.survivors} of ${u.agencies} (t=${u.threshold})`,
        u.mu,
        u.trueCount.toLocaleString('en-US'),
        u.stderr.toFixed(2),
        String(u.halfWidth),
        pct(u.coverage),
        pct(u.medianRelError),
        pct(u.p95RelError),
        pct(u.clampedShare),
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    )}\n`,
  );
  process.stdout.write(
    `\nheadline: (noise + accounting) / encrypt, worst shape (${worst.shape}, ${worst.groups.toLocaleString('en-US')} groups, ${worst.agencies} agencies) = ${ratio(worst.ratio)}; shared 2-core machine, timings are noisy\n`,
  );
}
