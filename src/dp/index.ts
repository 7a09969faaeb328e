/**
 * fedstat/dp: exact differential-privacy building blocks (no floating point decides anything):
 * Skellam noise from node:crypto, zCDP accounting and calibration in rationals, (ε, δ) display,
 * utility (stderr and exact 95 % intervals), and the agency's durable budget ledger.
 */
export { rational, type Rational } from './rational.js';
export { CryptoRandom, type RandomSource } from './random.js';
export { skellam, skellamVector } from './skellam.js';
export { drawNoise } from './noise-vector.js';
export { skellamTailBound } from './tail-bound.js';
export { composeRho, distributedRho, fitsBudget, remaining, skellamRho, type Sensitivity } from './accountant.js';
export { calibrateMu, perAgencyMu } from './calibration.js';
export { jointSensitivity, measureSensitivity, querySensitivity, type Measure } from './sensitivity.js';
export { rhoToDelta, rhoToEpsilon } from './conversion.js';
export { interval95, noiseStddev, skellamHalfWidth, type Interval95 } from './utility.js';
export { parseDelta } from './privacy-parameters.js';
export { BUDGET_RHO, formatRho, MAX_RHO, MIN_RHO, parseRho, parseRhoText, QUERY_RHO, type Rho, type RhoTextOptions } from './rho.js';
export { BudgetLedger, type BudgetLedgerOptions, type Charge, type ChargeRequest } from './budget-ledger.js';
