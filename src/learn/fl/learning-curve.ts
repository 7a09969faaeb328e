/**
 * The learning curve of a federated-averaging run: one record per query round, kept by the
 * coordinator and drawn by `fedstat train --plot` (src/cli/learning-curve-plot.ts).
 */

/** One round of a federated-averaging run, as the learning curve records it. */
export interface CurvePoint {
  readonly round: number; // query round number (1-based)
  readonly step: number; // global updates applied after this round
  readonly trainLoss: number | null; // mean training loss at the round's starting parameters
  readonly validationLoss: number | null;
  /** AUC (binary) or RMSE (regression) on the validation split; null without validation. */
  readonly metric: number | null;
  readonly metricName: 'auc' | 'rmse';
  /** ε spent so far at the run's δ (null without DP). */
  readonly epsilon: number | null;
  readonly agencies: readonly string[]; // who contributed to this round
}
