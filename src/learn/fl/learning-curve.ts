/**
 * The learning curve of a federated-averaging run: one record per query round, kept by the
 * coordinator and drawn by `fedstat train --plot` (src/cli/learning-curve-plot.ts).
 */

/** One round of a federated-averaging run, as the learning curve records it. */
export interface CurvePoint {
  /** The query round number (1 first). */
  readonly round: number;
  /** Global updates applied after this round. */
  readonly step: number;
  /** Mean training loss at the parameters the round started from (null without training records). */
  readonly trainLoss: number | null;
  /** Mean loss of the held-out records at those parameters (null without validation). */
  readonly validationLoss: number | null;
  /** AUC (binary) or RMSE (regression) on the validation split; null without validation. */
  readonly metric: number | null;
  /** Which metric `metric` is. */
  readonly metricName: 'auc' | 'rmse';
  /** ε spent so far at the run's δ (null without DP). */
  readonly epsilon: number | null;
  /** The agencies whose contributions the round's total holds, sorted. */
  readonly agencies: readonly string[];
}
