/**
 * Exact zCDP budgets. A ρ is a non-negative rational held as a reduced bigint fraction, never a
 * float: budgets decide a privacy guarantee, so 0.1 + 0.2 must be exactly 0.3 and a ledger must
 * never drift by rounding (Mironov 2012 for why floats and privacy do not mix).
 *
 * Text forms: decimals ("0.05", "1", ".5") and fractions ("1/3") are accepted; the canonical
 * stored form is the reduced fraction "n/d" (`rhoToString`); `formatRho` prints a terminating
 * decimal exactly and anything else as its fraction.
 */
import { add, compare, rational, sub, type Rational } from './rational.js';

/** A non-negative rational ρ = num / den, reduced, with den ≥ 1. Frozen. */
export type Rho = Rational;

/** Longest accepted text form: bounds the bigint work a policy file or peer can cause. */
const MAX_TEXT = 64;
const DECIMAL = /^(\d*)(?:\.(\d*))?$/;
const FRACTION = /^(\d+)\/(\d+)$/;

/** Builds a reduced ρ from a fraction. RangeError for a negative value or a zero denominator. */
export function rho(num: bigint, den = 1n): Rho {
  if (den <= 0n) throw new RangeError(`ρ denominator must be positive, got ${den}`);
  if (num < 0n) throw new RangeError('ρ must not be negative');
  return rational(num, den);
}

export const RHO_ZERO: Rho = rho(0n);

/**
 * Parses a decimal ("0.05") or fraction ("1/3") exactly, or returns `null` for anything else
 * (signs, exponents, spaces, more than 64 characters, a zero denominator).
 */
export function parseRho(text: string): Rho | null {
  if (text.length === 0 || text.length > MAX_TEXT) return null;
  const f = FRACTION.exec(text);
  if (f !== null) {
    const den = BigInt(f[2]!);
    return den === 0n ? null : rho(BigInt(f[1]!), den);
  }
  const d = DECIMAL.exec(text);
  if (d === null) return null;
  const whole = d[1]!;
  const frac = d[2] ?? '';
  if (whole.length + frac.length === 0) return null; // "." or ""
  if (d[2] !== undefined && frac.length === 0) return null; // "1." is a typo, not a number
  return rho(BigInt((whole || '0') + frac), 10n ** BigInt(frac.length));
}

export function rhoAdd(a: Rho, b: Rho): Rho {
  return add(a, b);
}

/** a − b, clamped at zero (a budget lowered below what was spent leaves nothing, not less). */
export function rhoSubClamped(a: Rho, b: Rho): Rho {
  return compare(a, b) <= 0 ? RHO_ZERO : sub(a, b);
}

/** −1, 0 or 1 as a is below, equal to or above b. */
export function rhoCompare(a: Rho, b: Rho): -1 | 0 | 1 {
  return compare(a, b);
}

/** The canonical stored form "n/d" (always a fraction, even for integers: one spelling only). */
export function rhoToString(a: Rho): string {
  return `${a.num}/${a.den}`;
}

/** Parses only the canonical "n/d" form written by `rhoToString` (reduced, den ≥ 1). */
export function parseCanonicalRho(text: string): Rho | null {
  const f = text.length <= MAX_TEXT * 2 ? FRACTION.exec(text) : null;
  if (f === null) return null;
  const num = BigInt(f[1]!);
  const den = BigInt(f[2]!);
  if (den === 0n) return null;
  const r = rho(num, den);
  return rhoToString(r) === text ? r : null;
}

/**
 * Human form: the exact decimal when the denominator is 2^a·5^b ("0.05", "1"), otherwise the
 * fraction ("1/3"). Never rounds, so an error message quotes the ledger's numbers exactly.
 */
export function formatRho(a: Rho): string {
  let d = a.den;
  let twos = 0n;
  let fives = 0n;
  while (d % 2n === 0n) { d /= 2n; twos++; }
  while (d % 5n === 0n) { d /= 5n; fives++; }
  if (d !== 1n) return rhoToString(a);
  const digits = twos > fives ? twos : fives;
  const scaled = (a.num * 10n ** digits) / a.den; // exact: den divides 10^digits
  if (digits === 0n) return scaled.toString();
  const s = scaled.toString().padStart(Number(digits) + 1, '0');
  return `${s.slice(0, -Number(digits))}.${s.slice(-Number(digits))}`;
}
