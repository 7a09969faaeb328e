/**
 * Parsing of user-given privacy parameters into exact rationals: "0.1" is 1/10 exactly, not the
 * double 0.1000000000000000055… ρ has its own module (rho.ts: one grammar for `--rho`,
 * `--budget`, the library, the ledger and the log); δ, which only feeds the (ε, δ) display, is here.
 */
import { FedstatError, type ErrorCode } from '../errors.js';
import { parseDecimal } from './rational.js';

/** The exact value of a decimal literal (rational.ts), which δ and ρ share. */
export { parseDecimal } from './rational.js';
/** ρ's one parser (`parseRhoText` in rho.ts) under its earlier name. */
export { parseRhoText as parsePrivacyRho } from './rho.js';

export interface ParseOptions {
  /** Name used in messages, e.g. "delta" or "--delta". */
  readonly name?: string;
  /** Error code for bad input; QUERY_INVALID by default, CONFIG_INVALID for configuration. */
  readonly code?: ErrorCode;
}

/**
 * Parses δ for (ε, δ) display: a decimal strictly between 0 and 1 (e.g. "1e-6"). Returns a
 * number because δ only feeds the display conversion.
 */
export function parseDelta(text: string, options: ParseOptions = {}): number {
  const name = options.name ?? 'delta';
  const code = options.code ?? 'QUERY_INVALID';
  const value = parseDecimal(text);
  if (value === undefined) {
    throw new FedstatError(code, `${name} is not a decimal number; write it like ${name} = 1e-6`, {
      details: { name },
    });
  }
  if (value.num <= 0n || value.num >= value.den) {
    throw new FedstatError(code, `${name} must be strictly between 0 and 1; a usual choice is 1e-6`, {
      details: { name },
    });
  }
  const x = Number(value.num) / Number(value.den);
  if (!(x > 0)) {
    throw new FedstatError(code, `${name} is too small to represent; give a value of at least 1e-300`, {
      details: { name },
    });
  }
  return x;
}
