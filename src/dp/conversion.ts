/**
 * ρ-zCDP → (ε, δ)-DP, for DISPLAY only (no decision reads these floats; budgets are checked in ρ).
 *
 * Canonne, Kamath, Steinke 2020 (Prop. 12 / Cor. 13): a mechanism with D_α ≤ αρ is (ε, δ)-DP for
 * every α > 1 with
 *   ε(α) = αρ + ( ln(1/δ) + (α−1)·ln(1 − 1/α) − ln α ) / (α − 1),
 * so ε = inf_α ε(α). Every α gives a valid bound, so an inexact minimiser only errs on the safe
 * side; float evaluation error is covered by rounding the result up by a relative 1e-12 margin.
 * The classic ε = ρ + 2√(ρ ln(1/δ)) (Bun & Steinke Prop. 1.3) is never smaller, and we return the
 * minimum of both (each is a valid guarantee).
 */
import { toNumberUp, type Rational } from './rational.js';

function rhoNumber(rho: Rational | number): number {
  const r = typeof rho === 'number' ? rho : toNumberUp(rho);
  if (!(r >= 0) || !Number.isFinite(r)) throw new RangeError('ρ must be a finite non-negative number');
  return r;
}

function checkDelta(delta: number): void {
  if (!(delta > 0 && delta < 1)) throw new RangeError('δ must be in (0, 1)');
}

/** CKS ε at one order α > 1. */
export function cksEpsilonAt(alpha: number, rho: number, delta: number): number {
  const am1 = alpha - 1;
  return alpha * rho + (-Math.log(delta) + am1 * Math.log1p(-1 / alpha) - Math.log(alpha)) / am1;
}

/** ε = ρ + 2√(ρ ln(1/δ)), the simple Bun–Steinke conversion (an upper bound on the CKS one). */
export function simpleEpsilon(rho: Rational | number, delta: number): number {
  const r = rhoNumber(rho);
  checkDelta(delta);
  const e = r + 2 * Math.sqrt(r * -Math.log(delta));
  return e * (1 + 1e-12);
}

/** Minimises f(α) over α = 1 + e^t: grid, then golden section around the best grid point. */
function minimiseOverAlpha(fAlpha: (alpha: number) => number): number {
  const f = (t: number): number => fAlpha(1 + Math.exp(t));
  let bestT = -20;
  let best = Infinity;
  for (let t = -20; t <= 40; t += 0.25) {
    const v = f(t);
    if (v < best) {
      best = v;
      bestT = t;
    }
  }
  let a = bestT - 0.25;
  let b = bestT + 0.25;
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < 80; i++) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return Math.min(best, fc, fd);
}

/**
 * The ε at which ρ-zCDP implies (ε, δ)-DP, by Canonne–Kamath–Steinke, rounded up.
 * ρ = 0 gives 0.
 */
export function rhoToEpsilon(rho: Rational | number, delta: number): number {
  const r = rhoNumber(rho);
  checkDelta(delta);
  if (r === 0) return 0;
  const cks =
    Math.max(
      0,
      minimiseOverAlpha((a) => cksEpsilonAt(a, r, delta)),
    ) *
    (1 + 1e-12);
  return Math.min(cks, simpleEpsilon(r, delta));
}

/**
 * The δ at which ρ-zCDP implies (ε, δ)-DP: inf over α of
 * exp((α−1)(αρ − ε)) / (α−1) · (1 − 1/α)^α (CKS Prop. 12), rounded up; capped at 1.
 */
export function rhoToDelta(rho: Rational | number, epsilon: number): number {
  const r = rhoNumber(rho);
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new RangeError('ε must be finite and ≥ 0');
  if (r === 0) return 0;
  const logDelta = (alpha: number): number =>
    (alpha - 1) * (alpha * r - epsilon) - Math.log(alpha - 1) + alpha * Math.log1p(-1 / alpha);
  return Math.min(1, Math.exp(minimiseOverAlpha(logDelta)) * (1 + 1e-9));
}
