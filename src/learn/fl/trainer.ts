/**
 * What federated averaging needs from a model, and nothing more: a starting point, a local update
 * from the global parameters over an agency's own batches, and an evaluation. Parameters travel as
 * one flat Float64Array so the coordinator can quantize, mask and sum them without knowing the
 * model; the built-in logistic and MLP trainers (mlp.ts) implement this, and a developer can plug in
 * a model of their own.
 */

/** A batch of coded records: `x` is rows × d row-major (design rows, |x_j| ≤ 1), `y` one per row. */
export interface Batch {
  /** rows × d design values, row-major. */
  readonly x: Float64Array;
  /** The response of each row (0/1 for a binary model). */
  readonly y: Float64Array;
  /** The number of rows. */
  readonly rows: number;
}

/** Hyper-parameters of one local update. */
export interface LocalUpdateOptions {
  /** Learning rate of the local SGD steps (above 0). */
  readonly lr: number;
  /** Bound on each example's gradient L2 norm (above 0): one record's influence on a step is ≤ lr·clip/rows. */
  readonly clip: number;
  /** Passes over the batches (a whole number ≥ 1); the batches must be re-iterable for more than one. */
  readonly epochs: number;
  /** FedProx's proximal weight μ ≥ 0 (0 or absent: plain FedAvg). */
  readonly mu?: number;
}

/** The result of a local update. */
export interface LocalUpdateResult {
  /** The parameters after the local steps (a fresh array; the global ones are not modified). */
  readonly params: Float64Array;
  /** Examples in one pass over the batches: the weight of this update in the average. */
  readonly examples: number;
}

/** Mean loss over a batch and the model's prediction for each row (probability or mean). */
export interface Evaluation {
  /** The mean loss. */
  readonly loss: number;
  /** One prediction per row: a probability (binary) or a mean (regression). */
  readonly predictions: Float64Array;
}

/** A model federated averaging can train (see the file comment). */
export interface Trainer {
  /** Number of parameters. */
  readonly size: number;
  /** Deterministic initial parameters: the same seed gives the same array bit for bit. */
  initialParameters(seed: number): Float64Array;
  /** Trains locally from `global` on `batches`; never modifies `global`. */
  localUpdate(global: Float64Array, batches: Iterable<Batch>, options: LocalUpdateOptions): LocalUpdateResult;
  /** Evaluates `params` on `batch`. */
  evaluate(params: Float64Array, batch: Batch): Evaluation;
  /**
   * Calls `visit(row, gradient)` with each row's loss gradient at `params`, unclipped, in row order
   * (`gradient` is one buffer, reused between rows). Record-level DP needs it: the agency clips and
   * rounds every record's gradient itself, so the guarantee never rests on the trainer.
   */
  exampleGradients(params: Float64Array, batch: Batch, visit: (row: number, gradient: Float64Array) => void): void;
}

/** Validates local-update options once; throws RangeError naming the bad option. */
export function checkLocalUpdateOptions(options: LocalUpdateOptions): void {
  const { lr, clip, epochs, mu = 0 } = options;
  if (!(Number.isFinite(lr) && lr > 0)) throw new RangeError('lr must be a finite number > 0');
  if (!(Number.isFinite(clip) && clip > 0)) throw new RangeError('clip must be a finite number > 0');
  if (!(Number.isSafeInteger(epochs) && epochs >= 1)) throw new RangeError('epochs must be a whole number ≥ 1');
  if (!(Number.isFinite(mu) && mu >= 0)) throw new RangeError('mu must be a finite number ≥ 0');
}

/** Checks that `batch` is consistent with `d` inputs; throws RangeError. */
export function checkBatch(batch: Batch, d: number): void {
  if (!Number.isSafeInteger(batch.rows) || batch.rows < 0)
    throw new RangeError('batch.rows must be a whole number ≥ 0');
  if (batch.x.length !== batch.rows * d)
    throw new RangeError(`batch.x must hold rows × ${d} values; build it from design rows of this model`);
  if (batch.y.length !== batch.rows) throw new RangeError('batch.y must hold one value per row');
}
