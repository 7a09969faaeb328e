"""Exact Rényi divergences of fedstat's federated-averaging DP rounds, for test/learn/fl/fl-accounting.test.ts.

For each round plan below, the noise plan of every kind is recomputed here from the formulas of
src/learn/fl/fl-encoding.ts (units, sensitivities, ρ shares by weight, and the least integer μ
with ρ(μ) ≤ share, in exact fractions; the TS test checks planFlEncoding agrees). Then, with
Sk(μ) = Poisson(μ) − Poisson(μ), pmf e^{-2μ} I_|k|(2μ), it computes by summation

    D_α(Sk(μ) + s ‖ Sk(μ)) = log Σ_k p(k−s)^α p(k)^{1−α} / (α − 1)

for integer shifts s, and for a vector shift the sum over coordinates (independent noise).
The reverse divergence D_α(Sk ‖ Sk + s) equals the forward one because Sk is symmetric (k → −k);
it is computed anyway for the single-coordinate shape as a check.

The log pmf comes from the backward recurrence of r_k = I_{k+1}(z)/I_k(z), r_{k−1} = 1/(2k/z + r_k)
(stable for I, the minimal solution), cumulated in long double and normalized; scipy's ive loses
digits at large z (4e-14 at z = 2e4, worse beyond), the recurrence stays near 1e-15 at moderate
z (self-check below); at the largest μ here (~1e11) its accumulated error is ~1e-9 in log p,
far below what the tests compare (they allow a relative 1e-6).

Shapes of a vector kind (entries E, Δ1, Δ2²): every integer vector with ≤ E non-zero coordinates,
‖s‖₁ ≤ Δ1, ‖s‖₂² ≤ Δ2² is allowed; we evaluate the corners: all mass in one coordinate (then the
leftover L2 budget greedily in further coordinates), and m coordinates of value v for v on a
grid from 1 to ⌊Δ2⌋ (m as large as E, Δ1 and Δ2² allow; leftover filled greedily). A scalar kind
is worst at |s| = Δ (the divergence grows with |s|); s = Δ and ⌈Δ/2⌉ are recorded.

The composed ε over T rounds (δ = 1e-9) from the exact per-round RDP curve (the max over the two
groups, training and validation, of the sum of the group's kinds' worst divergences) is reported
with the standard conversion ε = T·D_α + log(1/δ)/(α−1) and the Canonne–Kamath–Steinke one,
each minimised over a fixed α grid up to 512 (every α gives a valid bound; the TS test compares
with fedstat's conversion on the same grid and with its own minimiser). For scalar kinds with
μ ≥ 1e8 only |s| = Δ and the reverse divergence at α = 2 are summed (each sum takes seconds).

Run: python3 test/vectors/fl-dp/make_vectors.py > test/vectors/fl-dp/vectors.json
"""
import json
import math
import sys
from fractions import Fraction

import numpy as np
import scipy.special as sp

LD = np.longdouble
AUC_BINS = 64
LOSS_CAP = 16
ROUNDING_RATIO = 8
DP_LOSS_BITS = 8
CLIP_SLACK = 1 + 2.0**-40
WEIGHTS = {"update": 16, "examples": 1, "loss": 1, "validationCount": 1, "validationLoss": 1, "histogram": 2}
TRAINING = ["update", "examples", "loss"]
VALIDATION = ["validationCount", "validationLoss", "histogram"]
RDP_ALPHAS = [1.25, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
DELTA = 1e-9
ROUNDS = [1, 100]

CASES = [
    {"name": "P97-clip1-rho0.02-t3", "parameters": 97, "clip": 1.0, "rho": [1, 50], "threshold": 3, "output": "binary", "validation": True},
    {"name": "P561-clip0.5-rho0.5-t2", "parameters": 561, "clip": 0.5, "rho": [1, 2], "threshold": 2, "output": "binary", "validation": True},
    {"name": "P561-clip4-rho1e-3-t5", "parameters": 561, "clip": 4.0, "rho": [1, 1000], "threshold": 5, "output": "regression", "validation": True},
    {"name": "P10001-clip1-rho0.02-t3", "parameters": 10001, "clip": 1.0, "rho": [1, 50], "threshold": 3, "output": "binary", "validation": True},
    {"name": "P97-clip4-rho0.5-t4", "parameters": 97, "clip": 4.0, "rho": [1, 2], "threshold": 4, "output": "binary", "validation": False},
    {"name": "P10001-clip0.5-rho1e-3-t2", "parameters": 10001, "clip": 0.5, "rho": [1, 1000], "threshold": 2, "output": "binary", "validation": True},
]


def ceil_sqrt(n):
    r = math.isqrt(n)
    return r if r * r == n else r + 1


def entries_of(case, kind):
    if kind == "update":
        return case["parameters"]
    if kind in ("examples", "loss"):
        return 1
    if not case["validation"]:
        return 0
    if kind == "histogram":
        return 2 * AUC_BINS if case["output"] == "binary" else 0
    return 1


def sensitivity(case, kind):
    """(Δ1, Δ2²) in integer units, as fl-encoding.ts states them."""
    if kind == "update":
        clip, p = case["clip"], case["parameters"]
        f = 0
        while 2.0**f * clip < ROUNDING_RATIO * math.sqrt(p):
            f += 1
        c = math.ceil(clip * 2.0**f * CLIP_SLACK)
        root = ceil_sqrt(p)
        return root * c + p, (c + root) ** 2
    if kind in ("loss", "validationLoss"):
        cap = LOSS_CAP << DP_LOSS_BITS
        return cap, cap * cap
    return 1, 1


def skellam_rho(mu, l1, l2sq):
    """ρ(μ) = Δ2²/(4μ) + (Δ2² + 3Δ1)/(8μ²), the bound fedstat accounts in."""
    mu = Fraction(mu)
    return Fraction(l2sq) / (4 * mu) + Fraction(l2sq + 3 * l1) / (8 * mu * mu)


def calibrate_mu(target, l1, l2sq):
    hi = 1
    while skellam_rho(hi, l1, l2sq) > target:
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if skellam_rho(mid, l1, l2sq) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def noise_plan(case):
    rho = Fraction(*case["rho"])
    out = {}
    for group in (TRAINING, VALIDATION):
        kinds = [k for k in group if entries_of(case, k) > 0]
        total = sum(WEIGHTS[k] for k in kinds)
        for k in kinds:
            share = rho * WEIGHTS[k] / total
            l1, l2sq = sensitivity(case, k)
            out[k] = {"entries": entries_of(case, k), "l1": l1, "l2Squared": l2sq, "rhoShare": share, "mu": calibrate_mu(share, l1, l2sq)}
    return out


class LogPmf:
    """log Sk(μ) pmf at k = 0..kmax (symmetric), by the backward ratio recurrence in long double."""

    def __init__(self, mu):
        self.mu = mu
        self.sigma = math.sqrt(2 * mu)
        self.kmax = -1
        self.lp = None

    def upto(self, kmax):
        if kmax <= self.kmax:
            return self.lp
        kmax = max(kmax, int(1.5 * self.kmax))
        z = 2.0 * self.mu
        big = kmax + int(math.ceil(math.sqrt(60 * 2 * self.mu))) + 60
        r = 0.0
        for k in range(big, kmax, -1):
            r = 1 / (2 * k / z + r)
        ratios = [0.0] * kmax
        for k in range(kmax, 0, -1):
            r = 1 / (2 * k / z + r)
            ratios[k - 1] = r
        logr = np.log(np.array(ratios, dtype=LD))
        cum = np.concatenate([np.zeros(1, dtype=LD), np.cumsum(logr)])
        w = np.exp(cum)
        norm = w[0] + 2 * w[1:].sum()
        self.lp, self.kmax = (cum - np.log(norm)).astype(np.float64), kmax
        return self.lp

    def at(self, ks):
        return self.upto(int(np.abs(ks).max()))[np.abs(ks)]


def log_sum_exp(x):
    m = x.max()
    return m + np.log(np.exp(x - m).sum())


def divergence(pmf, s, alpha, reverse=False):
    """D_α(Sk + s ‖ Sk), or D_α(Sk ‖ Sk + s) when reverse, by summation over a window holding all mass."""
    if s == 0:
        return 0.0
    centre = alpha * s if not reverse else -(alpha - 1) * s
    half = int(12 * pmf.sigma + 60)
    while True:
        ks = np.arange(int(centre) - half, int(centre) + half + 1)
        a, b = pmf.at(ks - s), pmf.at(ks)
        p, q = (a, b) if not reverse else (b, a)
        terms = q + alpha * (p - q)
        top = terms.max()
        # the window must hold every term above e^-72 ≈ 5e-32 of the largest
        if terms[0] < top - 72 and terms[-1] < top - 72:
            return math.log(np.exp(terms - top).sum()) / (alpha - 1) + top / (alpha - 1)
        half *= 2


def self_check():
    """The recurrence against scipy's ive where ive is accurate (small z), and the pmf sums to 1."""
    for mu in (3, 40, 500):
        pmf = LogPmf(mu)
        ks = np.arange(0, int(10 * pmf.sigma) + 20)
        ref = np.log(sp.ive(ks, 2.0 * mu))
        got = pmf.at(ks).astype(float)
        assert np.max(np.abs(got - ref)) < 1e-12, mu
    # Gaussian limit: D_α ≈ α s²/(4μ) for large μ
    pmf = LogPmf(10**6)
    d = divergence(pmf, 10, 2.0)
    assert abs(d / (2 * 100 / 4e6) - 1) < 1e-3, d


def shapes(entries, l1, l2sq):
    """Corner shift vectors as (name, {value: count})."""
    def fill(counts, coords, b1, b2):
        while coords > 0 and b2 > 0 and b1 > 0:
            v = min(math.isqrt(b2), b1)
            counts[v] = counts.get(v, 0) + 1
            coords, b1, b2 = coords - 1, b1 - v, b2 - v * v
        return counts

    out = [("one coordinate", fill({}, entries, l1, l2sq))]
    if entries > 1:
        top = math.isqrt(l2sq)
        grid = sorted({v for v in [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024] if v <= top} | {max(1, top // 2), max(1, top // 3)})
        for v in grid:
            m = min(entries, l2sq // (v * v), l1 // v)
            if m < 1:
                continue
            counts = fill({v: m}, entries - m, l1 - m * v, l2sq - m * v * v)
            out.append((f"{m} coordinates of {v}", counts))
    return out


def kind_vectors(kind, plan, pmf_cache):
    mu, l1, l2sq, entries = plan["mu"], plan["l1"], plan["l2Squared"], plan["entries"]
    pmf = pmf_cache.setdefault(mu, LogPmf(mu))
    if entries == 1:
        delta = math.isqrt(l2sq)
        cand = [(f"shift {delta}", {delta: 1})]
        if mu < 10**8:
            cand.append((f"shift {(delta + 1) // 2}", {(delta + 1) // 2: 1}))
    else:
        cand = shapes(entries, l1, l2sq)
    f = {}

    def fv(v, a):
        if (v, a) not in f:
            f[(v, a)] = divergence(pmf, v, a)
        return f[(v, a)]

    rows = []
    for name, counts in cand:
        assert sum(counts.values()) <= entries and sum(v * c for v, c in counts.items()) <= l1
        assert sum(v * v * c for v, c in counts.items()) <= l2sq
        rows.append({"shape": name, "values": [[v, c] for v, c in sorted(counts.items(), reverse=True)],
                     "divergence": [sum(c * fv(v, a) for v, c in counts.items()) for a in RDP_ALPHAS]})
    single = cand[0][1]
    rev = [sum(c * divergence(pmf, v, a, reverse=True) for v, c in single.items()) if a == 2 or mu < 10**8 else None
           for a in RDP_ALPHAS]
    worst = [max(r["divergence"][i] for r in rows) for i in range(len(RDP_ALPHAS))]
    worst_shape = max(cand, key=lambda sc: sum(c * fv(v, RDP_ALPHAS[len(RDP_ALPHAS) // 2]) for v, c in sc[1].items()))[1]
    return rows, rev, worst, worst_shape, fv


def frac(x):
    return [str(x.numerator), str(x.denominator)]


EPSILON_ALPHAS = RDP_ALPHAS + [96, 128, 192, 256, 384, 512]


def composed(case, kinds, curves):
    """ε(T) from the exact RDP curve, minimised over EPSILON_ALPHAS (every α gives a valid bound)."""
    per_round = [max(sum(curves[k](a) for k in g if k in kinds) for g in (TRAINING, VALIDATION)) for a in EPSILON_ALPHAS]
    out = []
    for rounds in ROUNDS:
        std = min(rounds * d + math.log(1 / DELTA) / (a - 1) for a, d in zip(EPSILON_ALPHAS, per_round))
        cks = min(rounds * d + (math.log(1 / DELTA) + (a - 1) * math.log1p(-1 / a) - math.log(a)) / (a - 1)
                  for a, d in zip(EPSILON_ALPHAS, per_round))
        out.append({"rounds": rounds, "epsilonStandard": std, "epsilonCks": cks})
    return out, per_round


def main():
    self_check()
    cache = {}
    cases = []
    for case in CASES:
        plan = noise_plan(case)
        kinds, curves = {}, {}
        for kind, kp in plan.items():
            print(f"{case['name']} {kind} mu={kp['mu']}", file=sys.stderr)
            rows, rev, worst, worst_shape, fv = kind_vectors(kind, kp, cache)
            kinds[kind] = {"entries": kp["entries"], "l1": str(kp["l1"]), "l2Squared": str(kp["l2Squared"]),
                           "rhoShare": frac(kp["rhoShare"]), "mu": str(kp["mu"]), "shapes": rows,
                           "reverseOneCoordinate": rev, "worst": worst}
            curves[kind] = (lambda ws, fv: lambda a: sum(c * fv(v, a) for v, c in ws.items()))(worst_shape, fv)
        comp, per_round = composed(case, kinds, curves)
        cases.append({"name": case["name"], "inputs": {k: case[k] for k in ("parameters", "clip", "threshold", "output", "validation")},
                      "rho": [str(case["rho"][0]), str(case["rho"][1])], "kinds": kinds,
                      "composition": comp, "epsilonAlphas": EPSILON_ALPHAS, "exactRoundRdp": per_round})
    json.dump({"generator": "test/vectors/fl-dp/make_vectors.py", "alphas": RDP_ALPHAS, "delta": DELTA,
               "maxRows": 100000, "agencies": 6, "cases": cases}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
