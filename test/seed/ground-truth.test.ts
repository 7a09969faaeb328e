/**
 * The scenario's labels follow the ground truth scenario.json documents (docs/cli.md, "fedstat
 * seed"): `insured` the logistic model of groundTruth.insured, the registrations per district and
 * arrival month the Poisson model of groundTruth.arrivals. A Newton (IRLS) fit written here, on the
 * sample test/vectors/seed-truth/fit_truth.py fitted with statsmodels, must reproduce that fit to
 * 1e-6 of a standard error (the known answer) and contain the truth; the observed label rates per
 * group must match the rates the model predicts for those rows.
 *
 * The truth is read from scenario.json as plain JSON and evaluated here with Math.exp, not with the
 * generator's code, so the check is independent of the implementation it checks.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateScenario } from '../../src/seed/generate.js';
import type { ScenarioManifest } from '../../src/seed/generate.js';
import { seedsDirectory } from '../../src/seed/scenario-registry.js';
import { parseCsvObjects } from './csv-parse.js';

type Row = Record<string, string>;
interface Term {
  term: string;
  truth: number;
  estimate: number;
  stderr: number;
}
interface Fit {
  family: string;
  n: number;
  deviance: number;
  terms: Term[];
}
interface Vectors {
  sample: { scenario: string; rows: number; seed: string };
  insured: Fit;
  arrivals: Fit;
}
interface RawModel {
  intercept: number;
  age: number;
  monthly_income: number;
  months_resident: number;
  sex: Record<string, number>;
  sector: Record<string, number>;
  district: Record<string, number>;
}
interface RawScenario {
  cities: { migrantShare: number; districts: { name: string; weight: number }[] }[];
  groundTruth: { insured: RawModel; arrivals: { trendPerMonth: number; districtEffects: Record<string, number> } };
}

const dir = join(seedsDirectory(), 'sichuan');
const scenario = JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')) as RawScenario;
const schema = JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8')) as {
  datasets: Record<string, { columns: Record<string, { values?: string[]; max?: number }> }>;
};
const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'vectors', 'seed-truth', 'fit.json'), 'utf8'),
) as Vectors;
const levels = (dataset: string, column: string): string[] => schema.datasets[dataset]!.columns[column]!.values!;
/** Months in the arrivals window: arrival_month runs over 0 … MONTHS − 1. */
const MONTHS = schema.datasets['residence_registrations']!.columns['arrival_month']!.max! + 1;
/** A coefficient this many standard errors from the truth fails (the 33 + 23 of them all pass at 4.5 with probability > 0.999). */
const Z = 4.5;

let root = '';
let manifest: ScenarioManifest;
const data = new Map<string, Row[]>();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fedstat-truth-'));
  const { rows, seed } = vectors.sample;
  manifest = await generateScenario({ scenario: 'sichuan', outDir: root, rows, seed });
  for (const a of manifest.agencies) {
    for (const [dataset, f] of Object.entries(a.datasets)) {
      data.set(dataset, [
        ...(data.get(dataset) ?? []),
        ...parseCsvObjects(await readFile(join(root, f.file), 'utf8')).rows,
      ]);
    }
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Columns of a treatment-coded design matrix, named like R's glm: `sex女`, `district青羊区`. */
interface Design {
  names: string[];
  truth: number[];
  x: Float64Array;
  n: number;
  d: number;
}

function design(
  rows: readonly Row[],
  terms: readonly (readonly [string, 'integer' | string[], number | Record<string, number>])[],
  intercept: number,
): Design {
  const names = ['(Intercept)'];
  const truth = [intercept];
  const columns: ((r: Row) => number)[] = [() => 1];
  for (const [col, kind, coef] of terms) {
    if (kind === 'integer') {
      names.push(col);
      truth.push(coef as number);
      columns.push((r) => Number(r[col]));
    } else {
      for (const level of kind.slice(1)) {
        names.push(`${col}${level}`);
        truth.push((coef as Record<string, number>)[level]!);
        columns.push((r) => (r[col] === level ? 1 : 0));
      }
    }
  }
  const d = names.length;
  const x = new Float64Array(rows.length * d);
  rows.forEach((r, i) => columns.forEach((f, j) => (x[i * d + j] = f(r))));
  return { names, truth, x, n: rows.length, d };
}

/** Solves A·v = b for a symmetric positive definite A (Cholesky); also returns A⁻¹ when asked. */
function cholesky(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error(`information matrix not positive definite at ${i}`);
        l[i * d + i] = Math.sqrt(s);
      } else l[i * d + j] = s / l[j * d + j]!;
    }
  }
  return l;
}
function solve(l: Float64Array, d: number, b: Float64Array): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * d + k]! * y[k]!;
    y[i] = s / l[i * d + i]!;
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < d; k++) s -= l[k * d + i]! * y[k]!;
    y[i] = s / l[i * d + i]!;
  }
  return y;
}

/**
 * Maximum likelihood by Newton's method (for these canonical links the same as IRLS), on columns
 * scaled to at most 1 in absolute value for conditioning and reported on their original scale.
 */
function newtonGlm(
  des: Design,
  y: Float64Array,
  family: 'binomial' | 'poisson',
): { beta: number[]; se: number[]; deviance: number } {
  const { n, d, x } = des;
  const scale = new Float64Array(d).fill(1);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) scale[j] = Math.max(scale[j]!, Math.abs(x[i * d + j]!));
  const xs = x.map((v, k) => v / scale[k % d]!);
  const beta = new Float64Array(d);
  if (family === 'poisson') beta[0] = Math.log(y.reduce((a, b) => a + b, 0) / n);
  const mean = (eta: number) => (family === 'binomial' ? 1 / (1 + Math.exp(-eta)) : Math.exp(eta));
  const deviance = (b: Float64Array): number => {
    let dev = 0;
    for (let i = 0; i < n; i++) {
      let eta = 0;
      for (let j = 0; j < d; j++) eta += xs[i * d + j]! * b[j]!;
      const mu = mean(eta);
      const yi = y[i]!;
      dev +=
        family === 'binomial'
          ? -2 * (yi * Math.log(mu) + (1 - yi) * Math.log(1 - mu))
          : 2 * ((yi > 0 ? yi * Math.log(yi / mu) : 0) - (yi - mu));
    }
    return dev;
  };
  let l: Float64Array = new Float64Array(0);
  let dev = deviance(beta);
  for (let iter = 0; iter < 100; iter++) {
    const info = new Float64Array(d * d);
    const grad = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const row = i * d;
      let eta = 0;
      for (let j = 0; j < d; j++) eta += xs[row + j]! * beta[j]!;
      const mu = mean(eta);
      const w = family === 'binomial' ? mu * (1 - mu) : mu;
      const r = y[i]! - mu;
      for (let j = 0; j < d; j++) {
        const xj = xs[row + j]!;
        if (xj === 0) continue;
        grad[j] = grad[j]! + xj * r;
        const wx = w * xj;
        for (let k = 0; k <= j; k++) info[j * d + k] = info[j * d + k]! + wx * xs[row + k]!;
      }
    }
    for (let j = 0; j < d; j++) for (let k = 0; k < j; k++) info[k * d + j] = info[j * d + k]!;
    l = cholesky(info, d);
    const step = solve(l, d, grad);
    // Step halving keeps the deviance falling (Poisson from a flat start can overshoot).
    let t = 1;
    let next = beta.map((b, j) => b + step[j]!);
    let nextDev = deviance(next);
    while (nextDev > dev && t > 1e-6) {
      t /= 2;
      next = beta.map((b, j) => b + t * step[j]!);
      nextDev = deviance(next);
    }
    beta.set(next);
    const done = Math.abs(dev - nextDev) < 1e-10 * (Math.abs(nextDev) + 1) && step.every((s) => Math.abs(s) < 1e-9);
    dev = nextDev;
    if (done) break;
  }
  const unit = new Float64Array(d);
  const se = Array.from({ length: d }, (_, j) => {
    unit.fill(0);
    unit[j] = 1;
    return Math.sqrt(solve(l, d, unit)[j]!) / scale[j]!;
  });
  return { beta: Array.from(beta, (b, j) => b / scale[j]!), se, deviance: dev };
}

/** The fit beside the truth and beside statsmodels' fit of the same sample. */
function checkFit(des: Design, fit: ReturnType<typeof newtonGlm>, known: Fit): void {
  expect(known.terms.map((t) => t.term)).toEqual(des.names);
  expect(known.n).toBe(des.n);
  const off: string[] = [];
  let wald = 0;
  des.names.forEach((name, j) => {
    const k = known.terms[j]!;
    // The truth in the vectors file is scenario.json's (re-run fit_truth.py when the scenario changes).
    expect(k.truth, name).toBeCloseTo(des.truth[j]!, 3);
    // The same maximum as statsmodels, to a millionth of a standard error.
    expect(Math.abs(fit.beta[j]! - k.estimate) / k.stderr, name).toBeLessThan(1e-6);
    expect(Math.abs(fit.se[j]! / k.stderr - 1), name).toBeLessThan(1e-6);
    const z = (fit.beta[j]! - des.truth[j]!) / fit.se[j]!;
    wald += z * z;
    if (Math.abs(z) > Z) off.push(`${name}: ${fit.beta[j]} vs ${des.truth[j]} (z ${z.toFixed(2)})`);
  });
  expect(Math.abs(fit.deviance / known.deviance - 1)).toBeLessThan(1e-9);
  expect(off).toEqual([]);
  // Jointly too, on the diagonal: Σz² ≈ χ²(d), far below d + 6·√(2d).
  expect(wald).toBeLessThan(des.d + 6 * Math.sqrt(2 * des.d));
}

describe('insured follows groundTruth.insured', () => {
  const m = scenario.groundTruth.insured;
  const terms = [
    ['age', 'integer', m.age],
    ['sex', levels('social_insurance', 'sex'), m.sex],
    ['sector', levels('social_insurance', 'sector'), m.sector],
    ['district', levels('social_insurance', 'district'), m.district],
    ['monthly_income', 'integer', m.monthly_income],
    ['months_resident', 'integer', m.months_resident],
  ] as const;
  const insured = (r: Row) => (r['insured'] === '是' ? 1 : 0);
  const probability = (r: Row): number => {
    const eta =
      m.intercept +
      m.age * Number(r['age']) +
      m.sex[r['sex']!]! +
      m.sector[r['sector']!]! +
      m.district[r['district']!]! +
      m.monthly_income * Number(r['monthly_income']) +
      m.months_resident * Number(r['months_resident']);
    return 1 / (1 + Math.exp(-eta));
  };

  it("a logistic fit of the generated records recovers the coefficients (and equals statsmodels' fit)", () => {
    const rows = data.get('social_insurance')!;
    const des = design(rows, terms, m.intercept);
    const fit = newtonGlm(des, Float64Array.from(rows, insured), 'binomial');
    checkFit(des, fit, vectors.insured);
  });

  it('in every group of workers, the insured count is the one the model predicts for them', () => {
    const rows = data.get('social_insurance')!;
    const sorted = (col: string) => rows.map((r) => Number(r[col])).sort((a, b) => a - b);
    const quintiles = (col: string) => {
      const s = sorted(col);
      return [1, 2, 3, 4].map((k) => s[Math.floor((k * s.length) / 5)]!);
    };
    const band = (cuts: number[], v: number) => cuts.filter((c) => v >= c).length;
    const incomeCuts = quintiles('monthly_income');
    const monthCuts = quintiles('months_resident');
    const groupings: [string, (r: Row) => string][] = [
      ['sex', (r) => r['sex']!],
      ['sector', (r) => r['sector']!],
      ['district', (r) => r['district']!],
      ['age band', (r) => String(band([25, 35, 45, 55, 65], Number(r['age'])))],
      ['income quintile', (r) => String(band(incomeCuts, Number(r['monthly_income'])))],
      ['months quintile', (r) => String(band(monthCuts, Number(r['months_resident'])))],
    ];
    const bad: string[] = [];
    for (const [what, key] of groupings) {
      const groups = new Map<string, { observed: number; expected: number; variance: number; n: number }>();
      for (const r of rows) {
        const p = probability(r);
        const g = groups.get(key(r)) ?? { observed: 0, expected: 0, variance: 0, n: 0 };
        g.observed += insured(r);
        g.expected += p;
        g.variance += p * (1 - p);
        g.n++;
        groups.set(key(r), g);
      }
      for (const [value, g] of groups) {
        // Given the covariates the labels are independent Bernoulli draws: the count's variance is Σp(1−p).
        const z = (g.observed - g.expected) / Math.sqrt(g.variance);
        if (Math.abs(z) > Z)
          bad.push(
            `${what} ${value}: ${g.observed} insured of ${g.n}, model ${g.expected.toFixed(1)} (z ${z.toFixed(2)})`,
          );
      }
    }
    expect(bad).toEqual([]);
    // The labels carry signal: the rates differ widely between groups, as the coefficients say.
    const rate = (pred: (r: Row) => boolean) =>
      rows.filter(pred).reduce((a, r) => a + insured(r), 0) / rows.filter(pred).length;
    expect(rate((r) => r['sector'] === '信息技术') - rate((r) => r['sector'] === '建筑业')).toBeGreaterThan(0.4);
  });

  it('contribution months no longer give the label away (newly insured have none, lapsed workers some)', () => {
    const rows = data.get('social_insurance')!;
    const si = JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')).socialInsurance as {
      newlyInsuredPerMille: number;
      lapsedPerMille: number;
    };
    const share = (rs: Row[], pred: (r: Row) => boolean) => rs.filter(pred).length / rs.length;
    const tol = (p: number, n: number) => Z * Math.sqrt((p * (1 - p)) / n);
    const yes = rows.filter((r) => r['insured'] === '是');
    const no = rows.filter((r) => r['insured'] === '否');
    const none = (r: Row) => r['contribution_months'] === '0';
    expect(Math.abs(share(yes, none) - si.newlyInsuredPerMille / 1000)).toBeLessThan(
      tol(si.newlyInsuredPerMille / 1000, yes.length),
    );
    expect(Math.abs(share(no, (r) => !none(r)) - si.lapsedPerMille / 1000)).toBeLessThan(
      tol(si.lapsedPerMille / 1000, no.length),
    );
  });
});

describe('arrivals follow groundTruth.arrivals', () => {
  const a = scenario.groundTruth.arrivals;
  const districts = levels('residence_registrations', 'district');
  /** Registrations per city in this run (the Poisson model holds given these totals). */
  const cityPersons = () =>
    manifest.agencies.filter((x) => x.department === 'public-security').map((x) => Object.values(x.datasets)[0]!.rows);
  /** Expected registrations of a district in month t: its city's persons × its weight share × the month's share. */
  const expectedCount = () => {
    const persons = cityPersons();
    const monthTotal = Array.from({ length: MONTHS }, (_, t) => Math.exp(a.trendPerMonth * t)).reduce(
      (x, y) => x + y,
      0,
    );
    const rate = new Map<string, number>();
    scenario.cities.forEach((c, i) => {
      const w = c.districts.reduce((t, d) => t + d.weight, 0);
      for (const d of c.districts) rate.set(d.name, (persons[i]! * d.weight) / w / monthTotal);
    });
    return (district: string, t: number) => rate.get(district)! * Math.exp(a.trendPerMonth * t);
  };

  it('a Poisson fit of registrations per district and month recovers the district effects and the trend', () => {
    const counts = new Map<string, number>();
    for (const r of data.get('residence_registrations')!) {
      const k = `${r['district']}|${r['arrival_month']}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const cells: Row[] = districts.flatMap((d) =>
      Array.from({ length: MONTHS }, (_, t) => ({ district: d, arrival_month: String(t) })),
    );
    const mu = expectedCount();
    const effects = districts.map((d) => Math.log(mu(d, 0) / mu(districts[0]!, 0)));
    // The scenario file writes the effects the weights imply, rounded to 4 decimals.
    districts.forEach((d, i) => expect(a.districtEffects[d], d).toBeCloseTo(effects[i]!, 3));
    const exact = Object.fromEntries(districts.map((d, i) => [d, effects[i]!]));
    const des = design(
      cells,
      [
        ['district', districts, exact],
        ['arrival_month', 'integer', a.trendPerMonth],
      ],
      Math.log(mu(districts[0]!, 0)),
    );
    const fit = newtonGlm(
      des,
      Float64Array.from(cells, (c) => counts.get(`${c['district']}|${c['arrival_month']}`) ?? 0),
      'poisson',
    );
    checkFit(des, fit, vectors.arrivals);
  });

  it('registrations per arrival year match the trend', () => {
    const rows = data.get('residence_registrations')!;
    const mu = expectedCount();
    const bad: string[] = [];
    for (let y = 0; y * 12 < MONTHS; y++) {
      const inYear = (t: number) => t >= 12 * y && t < 12 * y + 12;
      const observed = rows.filter((r) => inYear(Number(r['arrival_month']))).length;
      let expected = 0;
      for (let t = 12 * y; t < Math.min(MONTHS, 12 * y + 12); t++) for (const d of districts) expected += mu(d, t);
      const z = (observed - expected) / Math.sqrt(expected);
      if (Math.abs(z) > Z) bad.push(`year ${y}: ${observed} vs ${expected.toFixed(1)}`);
    }
    expect(bad).toEqual([]);
  });
});
