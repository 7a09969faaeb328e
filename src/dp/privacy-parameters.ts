/**
 * Parsing of user-given privacy parameters (`WITH PRIVACY (rho = 0.05)`, `--rho`, policy budgets)
 * into exact rationals: "0.1" is 1/10 exactly, not the double 0.1000000000000000055…
 */
import { FedstatError, type ErrorCode } from '../errors.js';
import { compare, rational, type Rational } from './rational.js';

/** Largest per-query or budget ρ accepted by default: beyond it zCDP protects next to nothing. */
export const MAX_RHO: Rational = rational(100n);

/**
 * Smallest ρ accepted by default (1e-12): below it the calibrated μ (≈ Δ2²/(4ρ)) is beyond any
 * sampler's range, and a tiny value from a typo should not send calibration into huge bigints.
 */
export const MIN_RHO: Rational = rational(1n, 10n ** 12n);

/** Longest accepted literal: bounds the bigint work a query text can cause. */
const MAX_TEXT = 64;

export interface ParseOptions {
  /** Name used in messages, e.g. "rho" or "budget.rho". */
  readonly name?: string;
  /** Error code for bad input; QUERY_INVALID by default, CONFIG_INVALID for policy files. */
  readonly code?: ErrorCode;
  /** Inclusive upper bound; default MAX_RHO. */
  readonly max?: Rational;
  /** Inclusive lower bound (> 0); default MIN_RHO. */
  readonly min?: Rational;
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$|^([+-]?)\.(\d+)(?:[eE]([+-]?\d{1,4}))?$/;

function show(r: Rational): string {
  return r.den === 1n ? `${r.num}` : `${r.num}/${r.den}`;
}

/** Exact value of a decimal literal ("0.05", "5e-2", ".5"), or undefined if it is not one. */
export function parseDecimal(text: string): Rational | undefined {
  if (text.length > MAX_TEXT) return undefined;
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

/**
 * Parses ρ: a decimal in [min, max] (default [1e-12, 100]). Throws FedstatError (QUERY_INVALID
 * unless told) naming the parameter and the accepted range.
 */
export function parsePrivacyRho(text: string, options: ParseOptions = {}): Rational {
  const name = options.name ?? 'rho';
  const code = options.code ?? 'QUERY_INVALID';
  const max = options.max ?? MAX_RHO;
  const min = options.min ?? MIN_RHO;
  const value = parseDecimal(text);
  if (value === undefined) {
    throw new FedstatError(code, `${name} is not a decimal number; write it like ${name} = 0.05`, { details: { name } });
  }
  if (value.num <= 0n) {
    throw new FedstatError(code, `${name} must be greater than 0; give a positive value such as 0.05`, { details: { name } });
  }
  if (compare(value, min) < 0) {
    throw new FedstatError(code, `${name} is below the minimum ${show(min)}; give a larger value`, { details: { name } });
  }
  if (compare(value, max) > 0) {
    throw new FedstatError(code, `${name} is above the maximum ${show(max)}; give a smaller value`, {
      details: { name },
    });
  }
  return value;
}

/**
 * Parses δ for (ε, δ) display: a decimal strictly between 0 and 1 (e.g. "1e-6"). Returns a
 * number because δ only feeds the display conversion.
 */
export function parseDelta(text: string, options: Omit<ParseOptions, 'max' | 'min'> = {}): number {
  const name = options.name ?? 'delta';
  const code = options.code ?? 'QUERY_INVALID';
  const value = parseDecimal(text);
  if (value === undefined) {
    throw new FedstatError(code, `${name} is not a decimal number; write it like ${name} = 1e-6`, { details: { name } });
  }
  if (value.num <= 0n || value.num >= value.den) {
    throw new FedstatError(code, `${name} must be strictly between 0 and 1; a usual choice is 1e-6`, { details: { name } });
  }
  const x = Number(value.num) / Number(value.den);
  if (!(x > 0)) {
    throw new FedstatError(code, `${name} is too small to represent; give a value of at least 1e-300`, { details: { name } });
  }
  return x;
}
