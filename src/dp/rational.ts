/**
 * Exact non-negative-denominator rationals over bigint, for privacy accounting: every decision that
 * lets a query run (ρ ≤ budget, μ meets a target) is taken on these, never on floats (Mironov 2012
 * is about noise, but a float budget check rounded the wrong way leaks just the same).
 */
export interface Rational {
  /** Numerator; carries the sign. */
  readonly num: bigint;
  /** Always positive; the fraction is kept in lowest terms. */
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** `num / den` in lowest terms. Throws RangeError on a zero denominator (programmer misuse). */
export function rational(num: bigint | number, den: bigint | number = 1n): Rational {
  let n = BigInt(num);
  let d = BigInt(den);
  if (d === 0n) throw new RangeError('rational: zero denominator');
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const g = gcd(n, d);
  return Object.freeze(g > 1n ? { num: n / g, den: d / g } : { num: n, den: d });
}

/**
 * Checks that `r` is a well-formed non-negative rational, as a noise sampler's parameter must be
 * (a scale from a policy file is validated into a FedstatError before it gets here).
 */
export function checkNonNegative(r: Rational, what: string): void {
  if (typeof r !== 'object' || r === null || typeof r.num !== 'bigint' || typeof r.den !== 'bigint') {
    throw new TypeError(`${what} must be a Rational { num: bigint, den: bigint }`);
  }
  if (r.num < 0n || r.den < 1n) throw new RangeError(`${what} must be a non-negative rational with den ≥ 1`);
}

export const ZERO: Rational = rational(0n);

export function add(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den + b.num * a.den, a.den * b.den);
}
export function sub(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den - b.num * a.den, a.den * b.den);
}
export function mul(a: Rational, b: Rational): Rational {
  return rational(a.num * b.num, a.den * b.den);
}
export function div(a: Rational, b: Rational): Rational {
  if (b.num === 0n) throw new RangeError('rational: division by zero');
  return rational(a.num * b.den, a.den * b.num);
}
/** -1, 0 or 1 as `a` is below, equal to or above `b`. Exact. */
export function compare(a: Rational, b: Rational): -1 | 0 | 1 {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}
export function min(a: Rational, b: Rational): Rational {
  return compare(a, b) <= 0 ? a : b;
}

/** Longest decimal literal `parseDecimal` reads: bounds the bigint work a text can cause. */
const MAX_DECIMAL_TEXT = 64;
const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$|^([+-]?)\.(\d+)(?:[eE]([+-]?\d{1,4}))?$/;

/**
 * Exact value of a decimal literal ("0.05", "-3.5", ".5", "5e-2", "1.25E+2"; surrounding spaces
 * ignored; at most 64 characters, exponents of at most 4 digits), or undefined if it is not one.
 */
export function parseDecimal(text: string): Rational | undefined {
  if (text.length > MAX_DECIMAL_TEXT) return undefined;
  const m = DECIMAL.exec(text.trim());
  if (m === null) return undefined;
  const sign = (m[1] ?? m[5] ?? '') === '-' ? -1n : 1n;
  const int = m[2] ?? '0';
  const frac = m[3] ?? m[6] ?? '';
  const exp = Number(m[4] ?? m[7] ?? '0');
  const digits = BigInt(int + frac);
  const scale = exp - frac.length;
  return scale >= 0 ? rational(sign * digits * 10n ** BigInt(scale)) : rational(sign * digits, 10n ** BigInt(-scale));
}

/** The exact value of a finite double as a rational (every double is a dyadic rational). */
export function fromDouble(x: number): Rational {
  if (!Number.isFinite(x)) throw new RangeError('fromDouble: not finite');
  if (x === 0) return ZERO;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const sign = bits >> 63n === 1n ? -1n : 1n;
  const exp = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & 0xfffffffffffffn;
  const mant = exp === 0 ? frac : frac | (1n << 52n);
  const e = (exp === 0 ? 1 : exp) - 1075; // value = mant * 2^e
  return e >= 0 ? rational(sign * mant * (1n << BigInt(e))) : rational(sign * mant, 1n << BigInt(-e));
}

/** The next double above / below `x` (for directed rounding without relying on the FPU mode). */
function nextAfter(x: number, up: boolean): number {
  if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 === up ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

/** The nearest double at or above `r` (exact directed rounding: checked against `r`). */
export function toNumberUp(r: Rational): number {
  let x = Number(r.num) / Number(r.den);
  if (!Number.isFinite(x)) x = Math.exp(bigLog(r.num) - bigLog(r.den));
  while (compare(fromDouble(x), r) < 0) x = nextAfter(x, true);
  while (x !== 0 && compare(fromDouble(nextAfter(x, false)), r) >= 0) x = nextAfter(x, false);
  return x;
}

/** The nearest double at or below `r`. */
export function toNumberDown(r: Rational): number {
  return -toNumberUp(rational(-r.num, r.den));
}

function bigLog(n: bigint): number {
  const a = n < 0n ? -n : n;
  const s = a.toString(10);
  const head = Number(s.slice(0, 17));
  return Math.log(head) + (s.length - Math.min(17, s.length)) * Math.LN10;
}

/** Plain decimal text with up to `digits` fractional digits, rounded toward +∞ (for display). */
export function formatUp(r: Rational, digits = 6): string {
  const scale = 10n ** BigInt(digits);
  let q = (r.num * scale) / r.den;
  if (q * r.den < r.num * scale) q += 1n; // ceil for positives; bigint division truncates
  const neg = q < 0n;
  const a = neg ? -q : q;
  const int = a / scale;
  const frac = (a % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${int}${frac === '' ? '' : `.${frac}`}`;
}
