/**
 * The built-in MLP trainer (hidden = [] is logistic or linear regression), trained by DP-SGD-style
 * local steps: every example's gradient is clipped to L2 ≤ clip before the batch average, which
 * bounds one record's influence on a step by lr·clip/rows whatever the record holds.
 *
 * Parameter layout (one flat Float64Array): for each layer ℓ = 0..L-1 from a = sizes[ℓ] inputs to
 * b = sizes[ℓ+1] outputs, the weights W_ℓ (b × a row-major: W[j·a + i] maps input i to output j),
 * then its biases (b values). sizes = [inputs, ...hidden, 1].
 *
 * The output is one unit: sigmoid with cross-entropy for 'binary', identity with ½·squared error for
 * 'regression'; in both cases ∂loss/∂z = prediction − y, which keeps backpropagation one loop.
 */
import { FedstatError } from '../../errors.js';
import type { Batch, Evaluation, LocalUpdateOptions, LocalUpdateResult, Trainer } from './trainer.js';
import { checkBatch, checkLocalUpdateOptions } from './trainer.js';

/** The shape of an MLP. */
export interface MlpOptions {
  /** Design columns d (the inputs). */
  readonly inputs: number;
  /** Hidden layer widths, e.g. [32, 16]; [] for a GLM-shaped model. */
  readonly hidden: readonly number[];
  /** Hidden activation (default 'tanh'). */
  readonly activation?: 'tanh' | 'relu';
  /** 'binary' (sigmoid, cross-entropy) or 'regression' (identity, ½ squared error). */
  readonly output: 'binary' | 'regression';
}

/** A validated, frozen MLP shape with its layer sizes and parameter count. */
export interface MlpShape {
  /** Units per layer: inputs, the hidden widths, 1 output. */
  readonly sizes: readonly number[];
  /** The hidden activation. */
  readonly activation: 'tanh' | 'relu';
  /** The output unit and loss. */
  readonly output: 'binary' | 'regression';
  /** The parameter count. */
  readonly size: number;
  /** Start of each layer's weights in the flat parameters (see the file comment). */
  readonly offsets: readonly number[];
}

/** Buffers reused across examples (activations and deltas per layer), so a step allocates once. */
export interface MlpWorkspace {
  readonly acts: Float64Array[];
  readonly deltas: Float64Array[];
}

/** Validates `options` into a frozen shape; throws RangeError naming the bad option. */
export function mlpShape(options: MlpOptions): MlpShape {
  const { inputs, hidden, activation = 'tanh', output } = options;
  const whole = (n: number): boolean => Number.isSafeInteger(n) && n >= 1 && n <= 1 << 16;
  if (!whole(inputs)) throw new RangeError('inputs must be a whole number in 1..65536');
  if (!hidden.every(whole)) throw new RangeError('hidden widths must be whole numbers in 1..65536');
  if (activation !== 'tanh' && activation !== 'relu') throw new RangeError("activation must be 'tanh' or 'relu'");
  if (output !== 'binary' && output !== 'regression') throw new RangeError("output must be 'binary' or 'regression'");
  const sizes = Object.freeze([inputs, ...hidden, 1]);
  const offsets = layerOffsets(sizes);
  const size = offsets.pop() as number;
  return Object.freeze({ sizes, activation, output, size, offsets: Object.freeze(offsets) });
}

/** Start of layer ℓ's weights in the flat array (its biases follow at + a·b); the last entry is the size. */
function layerOffsets(sizes: readonly number[]): number[] {
  const at = [0];
  for (let l = 0; l + 1 < sizes.length; l++)
    at.push((at[l] as number) + ((sizes[l] as number) + 1) * (sizes[l + 1] as number));
  return at;
}

/**
 * Deterministic Glorot-uniform weights and zero biases from a 32-bit seed. The generator is
 * mulberry32: initialisation is not privacy randomness (the model is public), it only has to be
 * reproducible, so a seeded PRNG is right here and node:crypto would be wrong.
 */
export function initialMlpParameters(shape: MlpShape, seed: number): Float64Array {
  if (!Number.isSafeInteger(seed)) throw new RangeError('seed must be a whole number');
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const p = new Float64Array(shape.size);
  const at = shape.offsets;
  for (let l = 0; l + 1 < shape.sizes.length; l++) {
    const a = shape.sizes[l] as number;
    const b = shape.sizes[l + 1] as number;
    const limit = Math.sqrt(6 / (a + b));
    for (let k = 0; k < a * b; k++) p[(at[l] as number) + k] = (2 * next() - 1) * limit;
  }
  return p;
}

function newWorkspace(shape: MlpShape): MlpWorkspace {
  return {
    acts: shape.sizes.map((n) => new Float64Array(n)),
    deltas: shape.sizes.map((n) => new Float64Array(n)),
  };
}

/** Forward pass of one row `x`; returns the output's pre-activation z (hidden activations in ws). */
function forward(shape: MlpShape, p: Float64Array, x: Float64Array, ws: MlpWorkspace): number {
  const { sizes } = shape;
  const at = shape.offsets;
  (ws.acts[0] as Float64Array).set(x);
  const last = sizes.length - 2;
  for (let l = 0; l <= last; l++) {
    const a = sizes[l] as number;
    const b = sizes[l + 1] as number;
    const inp = ws.acts[l] as Float64Array;
    const out = ws.acts[l + 1] as Float64Array;
    const w = at[l] as number;
    for (let j = 0; j < b; j++) {
      let z = p[w + a * b + j] as number;
      for (let i = 0; i < a; i++) z += (p[w + j * a + i] as number) * (inp[i] as number);
      out[j] = l === last ? z : shape.activation === 'tanh' ? Math.tanh(z) : Math.max(0, z);
    }
  }
  return (ws.acts[sizes.length - 1] as Float64Array)[0] as number;
}

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** The prediction (probability or mean) and loss at output pre-activation z for response y. */
function outputOf(shape: MlpShape, z: number, y: number): { prediction: number; loss: number } {
  if (shape.output === 'regression') return { prediction: z, loss: 0.5 * (z - y) * (z - y) };
  return { prediction: 1 / (1 + Math.exp(-z)), loss: softplus(z) - y * z };
}

/**
 * One row's output pre-activation z and prediction (probability or mean) at `params`: the forward
 * pass and output that training and `evaluate` use, so a score equals evaluate's bit for bit.
 */
export function predictOne(shape: MlpShape, params: Float64Array, x: Float64Array): { z: number; prediction: number } {
  if (params.length !== shape.size || x.length !== shape.sizes[0])
    throw new RangeError(`predictOne: expected ${shape.size} parameters and ${shape.sizes[0]} inputs`);
  const z = forward(shape, params, x, newWorkspace(shape));
  return { z, prediction: outputOf(shape, z, 0).prediction };
}

/** Backpropagates ∂loss/∂z = `delta` from the output into `grad` (overwritten). */
function backward(shape: MlpShape, p: Float64Array, delta: number, ws: MlpWorkspace, grad: Float64Array): void {
  const { sizes } = shape;
  const at = shape.offsets;
  (ws.deltas[sizes.length - 1] as Float64Array)[0] = delta;
  for (let l = sizes.length - 2; l >= 0; l--) {
    const a = sizes[l] as number;
    const b = sizes[l + 1] as number;
    const inp = ws.acts[l] as Float64Array;
    const dOut = ws.deltas[l + 1] as Float64Array;
    const dIn = ws.deltas[l] as Float64Array;
    const w = at[l] as number;
    dIn.fill(0);
    for (let j = 0; j < b; j++) {
      const dj = dOut[j] as number;
      grad[w + a * b + j] = dj;
      for (let i = 0; i < a; i++) {
        grad[w + j * a + i] = dj * (inp[i] as number);
        dIn[i] = (dIn[i] as number) + dj * (p[w + j * a + i] as number);
      }
    }
    if (l > 0) for (let i = 0; i < a; i++) dIn[i] = (dIn[i] as number) * activationSlope(shape, inp[i] as number);
  }
}

/** The activation's derivative, written in terms of its output h. */
function activationSlope(shape: MlpShape, h: number): number {
  return shape.activation === 'tanh' ? 1 - h * h : h > 0 ? 1 : 0;
}

/** One example's loss, and its gradient written into `grad` (length shape.size). */
export function exampleGradient(
  shape: MlpShape,
  params: Float64Array,
  x: Float64Array,
  y: number,
  grad: Float64Array,
  ws: MlpWorkspace = newWorkspace(shape),
): number {
  const z = forward(shape, params, x, ws);
  const { prediction, loss } = outputOf(shape, z, y);
  backward(shape, params, prediction - y, ws, grad);
  return loss;
}

/** One example's loss at `params` (for finite-difference checks and evaluation). */
export function exampleLoss(shape: MlpShape, params: Float64Array, x: Float64Array, y: number): number {
  return outputOf(shape, forward(shape, params, x, newWorkspace(shape)), y).loss;
}

/** Scales `g` in place to L2 norm ≤ clip; returns the factor applied (1 when already within). */
export function clipToNorm(g: Float64Array, clip: number): number {
  let ss = 0;
  for (const v of g) ss += v * v;
  const norm = Math.sqrt(ss);
  if (!(norm > clip)) return 1;
  const f = clip / norm;
  for (let k = 0; k < g.length; k++) g[k] = (g[k] as number) * f;
  return f;
}

/**
 * One DP-SGD step on `batch`: mean of the clipped per-example gradients, plus FedProx's
 * μ·(params − anchor) (data-independent, so it is not clipped), times lr, subtracted in place.
 */
export function sgdStep(
  shape: MlpShape,
  params: Float64Array,
  batch: Batch,
  options: LocalUpdateOptions,
  anchor: Float64Array,
): void {
  const d = shape.sizes[0] as number;
  if (batch.rows === 0) return;
  const ws = newWorkspace(shape);
  const grad = new Float64Array(shape.size);
  const sum = new Float64Array(shape.size);
  for (let r = 0; r < batch.rows; r++) {
    exampleGradient(shape, params, batch.x.subarray(r * d, (r + 1) * d), batch.y[r] as number, grad, ws);
    clipToNorm(grad, options.clip);
    for (let k = 0; k < sum.length; k++) sum[k] = (sum[k] as number) + (grad[k] as number);
  }
  const mu = options.mu ?? 0;
  for (let k = 0; k < params.length; k++) {
    const prox = mu === 0 ? 0 : mu * ((params[k] as number) - (anchor[k] as number));
    params[k] = (params[k] as number) - options.lr * ((sum[k] as number) / batch.rows + prox);
  }
}

function localUpdate(
  shape: MlpShape,
  global: Float64Array,
  batches: Iterable<Batch>,
  options: LocalUpdateOptions,
): LocalUpdateResult {
  checkLocalUpdateOptions(options);
  if (global.length !== shape.size) throw new RangeError(`global parameters must hold ${shape.size} values`);
  const params = global.slice();
  let examples = 0;
  for (let e = 0; e < options.epochs; e++) {
    let seen = 0;
    for (const batch of batches) {
      checkBatch(batch, shape.sizes[0] as number);
      sgdStep(shape, params, batch, options, global);
      seen += batch.rows;
    }
    if (e === 0) examples = seen;
    else if (seen !== examples)
      throw new RangeError('batches must be re-iterable (an array, not a generator) when epochs > 1');
  }
  if (!params.every(Number.isFinite))
    throw new FedstatError('QUERY_INVALID', 'local training produced a non-finite parameter; lower the learning rate', {
      details: { reason: 'divergence' },
    });
  return { params, examples };
}

function evaluate(shape: MlpShape, params: Float64Array, batch: Batch): Evaluation {
  const d = shape.sizes[0] as number;
  checkBatch(batch, d);
  const ws = newWorkspace(shape);
  const predictions = new Float64Array(batch.rows);
  let total = 0;
  for (let r = 0; r < batch.rows; r++) {
    const z = forward(shape, params, batch.x.subarray(r * d, (r + 1) * d), ws);
    const o = outputOf(shape, z, batch.y[r] as number);
    predictions[r] = o.prediction;
    total += o.loss;
  }
  return { loss: batch.rows === 0 ? 0 : total / batch.rows, predictions };
}

function exampleGradients(
  shape: MlpShape,
  params: Float64Array,
  batch: Batch,
  visit: (row: number, gradient: Float64Array) => void,
): void {
  const d = shape.sizes[0] as number;
  checkBatch(batch, d);
  if (params.length !== shape.size) throw new RangeError(`parameters must hold ${shape.size} values`);
  const ws = newWorkspace(shape);
  const grad = new Float64Array(shape.size);
  for (let r = 0; r < batch.rows; r++) {
    exampleGradient(shape, params, batch.x.subarray(r * d, (r + 1) * d), batch.y[r] as number, grad, ws);
    visit(r, grad);
  }
}

/** The built-in MLP as a `Trainer` (with its shape, for layout-aware callers). */
export function mlpTrainer(options: MlpOptions): Trainer & { readonly shape: MlpShape } {
  const shape = mlpShape(options);
  return Object.freeze({
    shape,
    size: shape.size,
    initialParameters: (seed: number) => initialMlpParameters(shape, seed),
    localUpdate: (global: Float64Array, batches: Iterable<Batch>, o: LocalUpdateOptions) =>
      localUpdate(shape, global, batches, o),
    evaluate: (params: Float64Array, batch: Batch) => evaluate(shape, params, batch),
    exampleGradients: (params: Float64Array, batch: Batch, visit: (row: number, gradient: Float64Array) => void) =>
      exampleGradients(shape, params, batch, visit),
  });
}
