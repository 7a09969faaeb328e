/**
 * Statistics of a membership audit: exact Clopper–Pearson bounds on a binomial proportion, and
 * the empirical ε lower bound a threshold test on a statistic implies at a given δ.
 */

/** P(X ≤ x) for X ~ Binomial(n, p), by summing the pmf in log space. */
function binomialCdf(x: number, n: number, p: number): number {
  if (x < 0) return 0;
  if (x >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let logC = 0; // log C(n, 0)
  let sum = 0;
  for (let k = 0; k <= x; k++) {
    if (k > 0) logC += Math.log((n - k + 1) / k);
    sum += Math.exp(logC + k * lp + (n - k) * lq);
  }
  return Math.min(1, sum);
}

/** The p in (0, 1) where the decreasing `f(p)` crosses `target`, by bisection. */
function solve(f: (p: number) => number, target: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Two-sided (1 − α) Clopper–Pearson interval for x successes in n trials. */
export function clopperPearson(x: number, n: number, alpha = 0.05): { lower: number; upper: number } {
  const lower = x === 0 ? 0 : solve((p) => binomialCdf(x - 1, n, p), 1 - alpha / 2);
  const upper = x === n ? 1 : solve((p) => binomialCdf(x, n, p), alpha / 2);
  return { lower, upper };
}

/**
 * ε lower bound of the test "member when stat > t": with TPR and FPR bounded by Clopper–Pearson,
 * ε ≥ max(ln((TPR_lb − δ)/FPR_ub), ln((1 − FPR_ub − δ)/(1 − TPR_lb))); 0 when neither is positive.
 */
export function epsilonLowerBound(
  member: readonly number[],
  nonMember: readonly number[],
  t: number,
  delta: number,
): number {
  const tp = member.filter((s) => s > t).length;
  const fp = nonMember.filter((s) => s > t).length;
  const tpr = clopperPearson(tp, member.length);
  const fpr = clopperPearson(fp, nonMember.length);
  const a = Math.log(Math.max(0, tpr.lower - delta) / fpr.upper);
  const b = Math.log(Math.max(0, 1 - fpr.upper - delta) / (1 - tpr.lower));
  return Math.max(0, a, b);
}

/** The threshold among the statistics' values that gives the largest ε lower bound. */
export function bestThreshold(member: readonly number[], nonMember: readonly number[], delta: number): number {
  const candidates = [...member, ...nonMember].sort((x, y) => x - y);
  let best = candidates[0] ?? 0;
  let bestEps = -1;
  const step = Math.max(1, Math.floor(candidates.length / 200));
  for (let i = 0; i < candidates.length; i += step) {
    const t = candidates[i] as number;
    const e = epsilonLowerBound(member, nonMember, t, delta);
    if (e > bestEps) {
      bestEps = e;
      best = t;
    }
  }
  return best;
}
