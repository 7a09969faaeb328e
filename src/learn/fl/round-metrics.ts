/**
 * What the coordinator reads off a round's decoded total (fl-encoding.ts `FlTotals`): the mean
 * update the strategy applies, and the learning curve's losses, AUC or RMSE. In a DP round every
 * total carries noise, so counts are floored at 1 and histogram bins at 0 before they divide.
 */
import { FedstatError } from '../../errors.js';
import type { FlTotals } from './fl-encoding.js';

/** The round's losses and metric at the parameters it started from. */
export interface RoundMetrics {
  readonly trainLoss: number | null;
  readonly validationLoss: number | null;
  /** AUC (binary) or RMSE on the response's scale (regression); null without held-out records. */
  readonly metric: number | null;
}

/**
 * The AUC of the binned scores: P(score of a positive > score of a negative) with ties in a bin
 * counted ½ (the trapezoid rule over the bins' ROC points). null when a class is empty.
 */
export function aucFromHistogram(positives: Float64Array, negatives: Float64Array): number | null {
  let pos = 0;
  let neg = 0;
  for (let b = 0; b < positives.length; b++) {
    pos += Math.max(0, positives[b] as number);
    neg += Math.max(0, negatives[b] as number);
  }
  if (!(pos > 0 && neg > 0)) return null;
  let below = 0; // negatives in lower bins
  let wins = 0;
  for (let b = 0; b < positives.length; b++) {
    const p = Math.max(0, positives[b] as number);
    const n = Math.max(0, negatives[b] as number);
    wins += p * (below + n / 2);
    below += n;
  }
  return wins / (pos * neg);
}

/** The metrics of a round (see the file comment). */
export function roundMetrics(totals: FlTotals, output: 'binary' | 'regression', responseScale: number): RoundMetrics {
  const trainLoss = totals.examples >= 1 ? totals.loss / totals.examples : null;
  const held = totals.validationCount;
  if (!(held >= 1)) return { trainLoss, validationLoss: null, metric: null };
  const validationLoss = Math.max(0, totals.validationLoss) / held;
  const metric =
    output === 'binary'
      ? aucFromHistogram(totals.positives, totals.negatives)
      : responseScale * Math.sqrt(2 * validationLoss); // the loss is ½(p − y)² on y / scale
  return { trainLoss, validationLoss, metric };
}

/**
 * The mean update of the agencies that answered: Σn·Δ / Σn in an exact round; in a DP round one
 * DP-SGD step, −lr·(Σ clipped gradients)/n̂ with n̂ the noisy count floored at 1.
 */
export function meanUpdate(totals: FlTotals, dp: boolean, lr: number): Float64Array {
  const n = totals.examples;
  if (!dp && !(n >= 1))
    throw new FedstatError(
      'DATA_INVALID',
      'no agency holds a training record for this run; check the WHERE condition and the validation fraction',
    );
  const scale = dp ? -lr / Math.max(1, n) : 1 / n;
  return totals.update.map((v) => v * scale);
}
