// Independent float references for the accounting tests (not imported by src): the Skellam pmf by
// direct convolution of two Poisson pmfs, in log space.

function logFactorials(n: number): Float64Array {
  const out = new Float64Array(n + 1);
  for (let i = 1; i <= n; i++) out[i] = out[i - 1]! + Math.log(i);
  return out;
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/** ln P(K = k) for K = Poisson(λ) − Poisson(λ), for |k| ≤ range, as a map k → value. */
export function skellamLogPmf(lambda: number, range: number): Map<number, number> {
  const jMax = Math.ceil(lambda + 40 * Math.sqrt(lambda) + 60);
  const lf = logFactorials(jMax + range + 1);
  const logPois = (j: number): number => -lambda + j * Math.log(lambda) - lf[j]!;
  const out = new Map<number, number>();
  for (let k = 0; k <= range; k++) {
    const terms: number[] = [];
    for (let j = 0; j <= jMax; j++) terms.push(logPois(j + k) + logPois(j));
    const v = logSumExp(terms);
    out.set(k, v);
    out.set(-k, v);
  }
  return out;
}

/** Rényi divergence D_α(S + shift ‖ S) for S ~ Skellam(λ), computed by summation. */
export function renyiShifted(lambda: number, shift: number, alpha: number, range: number): number {
  const lp = skellamLogPmf(lambda, range + shift);
  const terms: number[] = [];
  for (let k = -range; k <= range; k++) {
    const p = lp.get(k - shift)!;
    const q = lp.get(k)!;
    terms.push(alpha * p + (1 - alpha) * q);
  }
  return logSumExp(terms) / (alpha - 1);
}

/** Hockey-stick divergence sup_S P(S) − e^ε Q(S) between S + shift and S (both orders, the max). */
export function hockeyStickShifted(lambda: number, shift: number, epsilon: number, range: number): number {
  const lp = skellamLogPmf(lambda, range + shift);
  let a = 0;
  let b = 0;
  for (let k = -range; k <= range; k++) {
    const p = Math.exp(lp.get(k - shift)!);
    const q = Math.exp(lp.get(k)!);
    a += Math.max(0, p - Math.exp(epsilon) * q);
    b += Math.max(0, q - Math.exp(epsilon) * p);
  }
  return Math.max(a, b);
}
