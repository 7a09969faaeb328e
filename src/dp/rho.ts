/**
 * ρ, the zCDP privacy parameter: the one module for its value, its grammar and its text forms.
 * `--rho`, `--budget`, the library's `PrivacyOptions.rho` and ledger budgets, the query envelope's
 * `privacy.rho`, the ledger and the log all read and write ρ through these functions.
 *
 * Value: a non-negative rational held as a reduced bigint fraction (`Rho`, the same type as
 * `Rational`), never a float: budgets decide a privacy guarantee, so 0.1 + 0.2 must be exactly 0.3
 * and a ledger must never drift by rounding (Mironov 2012 for why floats and privacy do not mix).
 *
 * Grammar of ρ as people write it (`parseRhoText`; spaces around it ignored, at most 64 characters):
 *
 *     rho      = decimal | fraction                        an optional leading "+"
 *     decimal  = digits ["." [digits]] [exponent]          "0.05", "1", "5e-2"
 *              | "." digits [exponent]                     ".5"
 *     exponent = ("e" | "E") ["+" | "-"] 1 to 4 digits
 *     fraction = digits "/" digits                         "1/40" (denominator not 0)
 *
 * A query's ρ (`QUERY_RHO`) must also be a multiple of 10^-12 (a decimal with at most 12 places,
 * or a fraction whose reduced denominator divides 10^12: then a ledger's sums never grow their
 * denominators) within [10^-12, 100]; a budget (`BUDGET_RHO`) may be any non-negative value.
 * `rhoFrom` applies the same checks to an exact value given by a library caller. `parseRho` reads
 * only the plain forms (no sign, exponent, spaces or trailing point: what fedstat prints).
 *
 * Text forms written:
 *  - canonical, `rhoToString`: the reduced fraction "n/d", even for integers ("1/1"): the one
 *    spelling of the wire, the ledger and the log, read back only by `parseCanonicalRho`;
 *  - display, `formatRho`: the exact decimal when it terminates ("0.05"), else the fraction
 *    ("1/3"); `displayCanonicalRho` does the same for canonical text from a ledger or the log.
 */
import { FedstatError, type ErrorCode } from '../errors.js';
import { add, compare, parseDecimal, rational, sub, type Rational } from './rational.js';

/** A non-negative rational ρ = num / den, reduced, with den ≥ 1. Frozen. */
export type Rho = Rational;

/** Builds a reduced ρ from a fraction. RangeError for a negative value or a zero denominator. */
export function rho(num: bigint, den = 1n): Rho {
  if (den <= 0n) throw new RangeError(`ρ denominator must be positive, got ${den}`);
  if (num < 0n) throw new RangeError('ρ must not be negative');
  return rational(num, den);
}

export const RHO_ZERO: Rho = rho(0n);

/** Largest per-query or budget ρ accepted by default: beyond it zCDP protects next to nothing. */
export const MAX_RHO: Rho = rho(100n);

/**
 * Smallest ρ a query may spend (1e-12): below it the calibrated μ (≈ Δ2²/(4ρ)) is beyond any
 * sampler's range, and a tiny value from a typo should not send calibration into huge bigints.
 */
export const MIN_RHO: Rho = rho(1n, 10n ** 12n);

/** A query's ρ is a multiple of 1/RHO_GRID (at most 12 decimal places). */
export const RHO_GRID = 10n ** 12n;

/** Longest accepted text form: bounds the bigint work a policy file or peer can cause. */
const MAX_TEXT = 64;
const PLAIN_DECIMAL = /^(\d*)(?:\.(\d*))?$/;
const FRACTION = /^(\d+)\/(\d+)$/;
const SIGNED_FRACTION = /^([+-]?)(\d+)\/(\d+)$/;

/** What `parseRhoText` and `rhoFrom` accept, and how their messages name the value. */
export interface RhoTextOptions {
  /** How messages name the value: "rho" (the default), "--rho", "the budget for dataset residents". */
  readonly name?: string;
  /** How a value is written where this one came from, for the fix in a message; default `${name} = ${value}`. */
  readonly spell?: (value: string) => string;
  /** FedstatError code for a bad value: QUERY_INVALID unless told (CONFIG_INVALID for configuration). */
  readonly code?: ErrorCode;
  /** Inclusive lower bound, MIN_RHO unless told; RHO_ZERO admits 0. */
  readonly min?: Rho;
  /** Inclusive upper bound, MAX_RHO unless told; null for none. */
  readonly max?: Rho | null;
  /** Require a multiple of 10^-12 (at most 12 decimal places). */
  readonly grid?: boolean;
}

/** The rules for the ρ a query spends: within [10^-12, 100], at most 12 decimal places; QUERY_INVALID. */
export const QUERY_RHO: RhoTextOptions = Object.freeze({ grid: true });

/** The rules for a budget: any non-negative ρ; CONFIG_INVALID. */
export const BUDGET_RHO: RhoTextOptions = Object.freeze({ min: RHO_ZERO, max: null, code: 'CONFIG_INVALID' });

/**
 * Parses ρ as people write it (the grammar above) into an exact value, checked against
 * `options` (by default a query's range, [10^-12, 100]). Throws FedstatError (QUERY_INVALID unless
 * told) naming what is wrong with the text and how to write it.
 */
export function parseRhoText(text: string, options: RhoTextOptions = {}): Rho {
  const name = options.name ?? 'rho';
  const spell = options.spell ?? ((v: string): string => `${name} = ${v}`);
  const fail = (message: string): never => {
    throw new FedstatError(options.code ?? 'QUERY_INVALID', message, { details: { name } });
  };
  const t = text.trim();
  if (t.length === 0) return fail(`${name} is empty; write it like ${spell('0.05')}`);
  if (t.length > MAX_TEXT) {
    return fail(
      `${name} is not a decimal number or fraction of at most ${MAX_TEXT} characters; write it like ${spell('0.05')}`,
    );
  }
  const f = SIGNED_FRACTION.exec(t);
  if (f !== null) {
    const den = BigInt(f[3]!);
    if (den === 0n) return fail(`${name} has a zero denominator; write a fraction like ${spell('1/40')}`);
    return checkValue(rational((f[1] === '-' ? -1n : 1n) * BigInt(f[2]!), den), options);
  }
  if (t.includes('/')) return fail(`${name} is not a fraction of two whole numbers; write it like ${spell('1/40')}`);
  const d = parseDecimal(t);
  if (d === undefined) return fail(`${name} is not a decimal number; write it like ${spell('0.05')}`);
  return checkValue(d, options);
}

/**
 * A ρ given as text (parsed by `parseRhoText`) or as an exact value (reduced, then checked the
 * same way). TypeError for anything else: a float such as 0.05 is not exact.
 */
export function rhoFrom(value: string | Rational, options: RhoTextOptions = {}): Rho {
  if (typeof value === 'string') return parseRhoText(value, options);
  const v: unknown = value;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof value.num !== 'bigint' ||
    typeof value.den !== 'bigint' ||
    value.den === 0n
  ) {
    throw new TypeError(
      `${options.name ?? 'rho'} must be text such as "0.05" or "1/40", or an exact { num, den } of bigints with den ≠ 0`,
    );
  }
  return checkValue(rational(value.num, value.den), options);
}

/** The bounds as messages quote them: an integer, or the exact fraction. */
const bound = (r: Rho): string => (r.den === 1n ? r.num.toString() : rhoToString(r));

function checkValue(value: Rho, options: RhoTextOptions): Rho {
  const name = options.name ?? 'rho';
  const spell = options.spell ?? ((v: string): string => `${name} = ${v}`);
  const min = options.min ?? MIN_RHO;
  const max = options.max === undefined ? MAX_RHO : options.max;
  const fail = (message: string): never => {
    throw new FedstatError(options.code ?? 'QUERY_INVALID', message, { details: { name } });
  };
  if (value.num < 0n && min.num === 0n)
    return fail(`${name} must not be negative; give 0 or a positive value such as 0.05`);
  if (value.num <= 0n && min.num > 0n)
    return fail(`${name} must be greater than 0; give a positive value such as 0.05`);
  if (compare(value, min) < 0) return fail(`${name} is below the minimum ${bound(min)}; give a larger value`);
  if (max !== null && compare(value, max) > 0)
    return fail(`${name} is above the maximum ${bound(max)}; give a smaller value`);
  if (options.grid === true && RHO_GRID % value.den !== 0n) {
    if (formatRho(value).includes('/')) {
      return fail(
        `${name} ${rhoToString(value)} is not a decimal of at most 12 places; give a fraction whose denominator divides 10^12, such as ${spell('1/40')}`,
      );
    }
    return fail(`${name} has more than 12 decimal places; round it to at most 12`);
  }
  return value;
}

/**
 * Parses only the plain forms, a decimal without sign or exponent ("0.05", ".5") or a fraction
 * ("1/3"), exactly as given (no spaces), into any non-negative value; `null` for anything else.
 * Reads back what `formatRho` and `rhoToString` print; user input goes through `parseRhoText`.
 */
export function parseRho(text: string): Rho | null {
  if (text.length === 0 || text.length > MAX_TEXT) return null;
  const f = FRACTION.exec(text);
  if (f !== null) {
    const den = BigInt(f[2]!);
    return den === 0n ? null : rho(BigInt(f[1]!), den);
  }
  const d = PLAIN_DECIMAL.exec(text);
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

/** The canonical form "n/d" of the wire, the ledger and the log (always a fraction, even for integers: one spelling only). */
export function rhoToString(a: Rho): string {
  return `${a.num}/${a.den}`;
}

/** Parses only the canonical "n/d" form written by `rhoToString` (reduced, den ≥ 1); `null` otherwise. */
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
  while (d % 2n === 0n) {
    d /= 2n;
    twos++;
  }
  while (d % 5n === 0n) {
    d /= 5n;
    fives++;
  }
  if (d !== 1n) return rhoToString(a);
  const digits = twos > fives ? twos : fives;
  const scaled = (a.num * 10n ** digits) / a.den; // exact: den divides 10^digits
  if (digits === 0n) return scaled.toString();
  const s = scaled.toString().padStart(Number(digits) + 1, '0');
  return `${s.slice(0, -Number(digits))}.${s.slice(-Number(digits))}`;
}

/**
 * The human form (`formatRho`) of a canonical "n/d" from a ledger, a log entry or a peer's
 * message; text that is not canonical is shown as it is, never as a made-up value.
 */
export function displayCanonicalRho(canonical: string): string {
  const r = parseCanonicalRho(canonical);
  return r === null ? canonical : formatRho(r);
}
