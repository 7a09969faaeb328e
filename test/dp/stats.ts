/**
 * Statistical test helpers for the DP samplers: exact reference distributions (bigint fixed
 * point, 2^-256 resolution, converted to doubles only for the test statistic), Pearson's
 * chi-square with merged bins, and the Kolmogorov–Smirnov distance against the exact CDF, with
 * critical values for a false-alarm rate α.
 *
 * Critical values.
 * - KS: the Dvoretzky–Kiefer–Wolfowitz inequality with Massart's constant (Ann. Probab. 1990),
 *   P(sup_x |F_n(x) − F(x)| > ε) ≤ 2·exp(−2nε²), holds for every n (whenever the bound is ≤ 1/2),
 *   and for discontinuous F too (a discrete F only makes the statistic stochastically smaller).
 *   So ε = sqrt(ln(2/α)/(2n)) is a rigorous, non-asymptotic critical value: for α = 1e-6 and
 *   n = 120,000 it is 0.00778.
 * - Chi-square: the upper α quantile of χ²(df), df = merged bins − 1, computed here from the
 *   regularized incomplete gamma function (checked in samplers-reference.test.ts against the
 *   closed form for df = 2 and tabulated values). Bins are merged until each expects ≥ 5, the
 *   usual condition for Pearson's asymptotic χ² law.
 */

export const ALPHA = 1e-6;
const FIX = 256n;
const ONE = 1n << FIX;

/** A distribution on the integers: probs[i] = P(X = lo + i); `below`/`above` the tails outside. */
export interface Discrete {
  readonly lo: number;
  readonly probs: readonly number[];
  readonly below: number;
  readonly above: number;
}

/** A fixed-point bigint (scaled by 2^256) as a double. */
export function fixedToNumber(x: bigint): number {
  return Number(x >> (FIX - 64n)) / 2 ** 64;
}

/** e^(num/den) · 2^256 by the Taylor series (positive terms, so no cancellation). */
function expFixed(num: bigint, den: bigint): bigint {
  let term = ONE;
  let sum = 0n;
  for (let k = 1n; term > 0n; k++) {
    sum += term;
    term = (term * num) / (den * k);
  }
  return sum;
}

/** e^(−num/den) · 2^256. */
export function expNegFixed(num: bigint, den: bigint): bigint {
  return (ONE * ONE) / expFixed(num, den);
}

/** Poisson(num/den) probabilities P(X = k), k = 0..kmax, times 2^256. */
export function poissonPmfFixed(num: bigint, den: bigint, kmax: number): bigint[] {
  const p = [expNegFixed(num, den)];
  for (let k = 1; k <= kmax; k++) p.push(((p[k - 1] as bigint) * num) / (den * BigInt(k)));
  return p;
}

function fromFixed(lo: number, fixed: readonly bigint[], belowFixed: bigint): Discrete {
  const total = fixed.reduce((a, b) => a + b, 0n);
  const rest = ONE - total - belowFixed;
  return {
    lo,
    probs: fixed.map(fixedToNumber),
    below: fixedToNumber(belowFixed),
    above: fixedToNumber(rest > 0n ? rest : 0n),
  };
}

/**
 * Poisson(num/den) on m−w..m+w (m = ⌊λ⌋) for means whose e^−λ underflows 2^−256: weights
 * relative to the mode, w(k+1) = w(k)·λ/(k+1) and w(k−1) = w(k)·k/λ, normalised by their sum
 * (the mass outside ±w is below 1e-30 when w ≥ 12 standard deviations, and is ignored).
 */
export function poissonDistNearMode(num: bigint, den: bigint, w: number): Discrete {
  const m = Number(num / den);
  const lo = Math.max(0, m - w);
  const weights = new Map<number, bigint>([[m, ONE]]);
  for (let k = m; k < m + w; k++) weights.set(k + 1, (weights.get(k)! * num) / (den * BigInt(k + 1)));
  for (let k = m; k > lo; k--) weights.set(k - 1, (weights.get(k)! * BigInt(k) * den) / num);
  const fixed: bigint[] = [];
  for (let k = lo; k <= m + w; k++) fixed.push(weights.get(k)!);
  const sum = fixed.reduce((a, b) => a + b, 0n);
  return { lo, probs: fixed.map((x) => fixedToNumber((x * ONE) / sum)), below: 0, above: 0 };
}

/** Bernoulli(exp(−num/den)) as a distribution on {0, 1}. */
export function bernoulliExpNegDist(num: bigint, den: bigint): Discrete {
  const p = expNegFixed(num, den);
  return fromFixed(0, [ONE - p, p], 0n);
}

/** Poisson(num/den) on 0..kmax (choose kmax so the upper tail is negligible). */
export function poissonDist(num: bigint, den: bigint, kmax: number): Discrete {
  return fromFixed(0, poissonPmfFixed(num, den, kmax), 0n);
}

/**
 * Skellam(num/den) = Poisson − Poisson on −kmax..kmax, by exact convolution of the two Poisson
 * pmfs: P(D = d) = Σ_k P(X = k + d)·P(Y = k). Symmetric, so each tail gets half the rest.
 */
export function skellamDist(num: bigint, den: bigint, kmax: number): Discrete {
  const p = poissonPmfFixed(num, den, 2 * kmax);
  const fixed: bigint[] = [];
  for (let d = -kmax; d <= kmax; d++) {
    let s = 0n;
    for (let k = Math.max(0, -d); k + d <= 2 * kmax && k <= 2 * kmax; k++) s += (p[k + d] as bigint) * (p[k] as bigint);
    fixed.push(s >> FIX);
  }
  const total = fixed.reduce((a, b) => a + b, 0n);
  return fromFixed(-kmax, fixed, (ONE - total) / 2n);
}

/** Mean and variance of a Discrete (ignoring its negligible tails). */
export function moments(dist: Discrete): { mean: number; variance: number } {
  let m = 0;
  let m2 = 0;
  dist.probs.forEach((p, i) => {
    const x = dist.lo + i;
    m += p * x;
    m2 += p * x * x;
  });
  return { mean: m, variance: m2 - m * m };
}

function countCells(samples: ArrayLike<number>, dist: Discrete): number[] {
  const cells = new Array<number>(dist.probs.length + 2).fill(0);
  const hi = dist.lo + dist.probs.length - 1;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] as number;
    const j = v < dist.lo ? 0 : v > hi ? cells.length - 1 : v - dist.lo + 1;
    cells[j]!++;
  }
  return cells;
}

export interface TestResult {
  readonly statistic: number;
  readonly critical: number;
  readonly reject: boolean;
  readonly df?: number;
}

/** Pearson's chi-square goodness of fit with adjacent bins merged until each expects ≥ 5. */
export function chiSquareTest(samples: ArrayLike<number>, dist: Discrete, alpha = ALPHA): TestResult {
  const n = samples.length;
  const observed = countCells(samples, dist);
  const probs = [dist.below, ...dist.probs, dist.above];
  const bins: { o: number; e: number }[] = [];
  let o = 0;
  let e = 0;
  probs.forEach((p, i) => {
    o += observed[i]!;
    e += p * n;
    if (e >= 5) {
      bins.push({ o, e });
      o = 0;
      e = 0;
    }
  });
  const last = bins[bins.length - 1];
  if (last === undefined) throw new Error('too few samples for a chi-square test');
  last.o += o;
  last.e += e;
  if (bins.length < 2) throw new Error('chi-square needs at least two merged bins');
  const statistic = bins.reduce((s, b) => s + (b.o - b.e) ** 2 / b.e, 0);
  const df = bins.length - 1;
  const critical = chiSquareCritical(df, alpha);
  return { statistic, critical, reject: statistic > critical, df };
}

/** sup_x |F_n(x) − F(x)| against the exact CDF, with the DKW–Massart critical value. */
export function ksTest(samples: ArrayLike<number>, dist: Discrete, alpha = ALPHA): TestResult {
  const n = samples.length;
  const observed = countCells(samples, dist);
  const probs = [dist.below, ...dist.probs, dist.above];
  // Both CDFs are step functions jumping only at integers, so the sup is attained at a cell.
  let fn = 0;
  let f = 0;
  let statistic = 0;
  probs.forEach((p, i) => {
    fn += observed[i]! / n;
    f += p;
    statistic = Math.max(statistic, Math.abs(fn - f));
  });
  const critical = ksCritical(n, alpha);
  return { statistic, critical, reject: statistic > critical };
}

/** DKW–Massart: P(D_n > ε) ≤ 2·exp(−2nε²) ⇒ ε = sqrt(ln(2/α) / (2n)). */
export function ksCritical(n: number, alpha = ALPHA): number {
  return Math.sqrt(Math.log(2 / alpha) / (2 * n));
}

// Lanczos approximation of ln Γ (g = 7, n = 9), accurate to ~1e-15 for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = LANCZOS[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Upper regularized incomplete gamma Q(a, x) (series below a + 1, continued fraction above). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPre = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < 10_000 && Math.abs(del) > Math.abs(sum) * 1e-16; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
    }
    return 1 - sum * Math.exp(lnPre);
  }
  // Lentz's continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(lnPre) * h;
}

/** The x with P(χ²(df) > x) = alpha, by bisection on Q(df/2, x/2). */
export function chiSquareCritical(df: number, alpha = ALPHA): number {
  let lo = 0;
  let hi = df + 100 + 20 * Math.sqrt(df);
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (gammaQ(df / 2, mid / 2) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Draws `n` samples into a Float64Array (numbers, for counting). */
export function draw(n: number, sample: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = sample();
  return out;
}
