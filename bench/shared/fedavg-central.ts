/**
 * The in-process baselines of the `fedavg-quality` benchmark, on the pooled records of one run's
 * split, and the AUC every model is judged by:
 *
 * - `pooledSgd`: the same MLP, the same initial parameters and hyper-parameters, trained on all the
 *   training records in one place: `epochs` passes of SGD in batches (every example's gradient
 *   clipped, as trainer.localUpdate does at an agency), reshuffled each pass.
 * - `centralDpSgd`: the usual DP-SGD with the noise added centrally: each step the clipped
 *   per-example gradients summed, continuous Gaussian noise added to the sum and to the count, and
 *   the step −lr·(noisy sum)/max(1, noisy count), the update fedstat's DP rounds apply. σ comes from
 *   the same per-round ρ and the same split of it: the update's share ρ_u (16/18 of the round's ρ,
 *   as fl-encoding.ts gives it) with Δ₂ = C, so σ_u = C/√(2ρ_u); the count's share (1/18), Δ = 1.
 *   The noise is drawn from node:crypto (Box–Muller on 32-bit uniforms).
 * - `exactAuc`: P(score of a positive > score of a negative), ties ½ (Mann–Whitney), on the
 *   held-out records directly, not from the rounds' 64-bin histogram.
 */
import type { Batch, Trainer } from '../../src/learn/fl/trainer.js';
import type { RandomSource } from '../../src/dp/random.js';
import type { PooledData } from './fedavg-quality-data.js';

/** The rows `idx` of the pooled data as one batch. */
export function batchOf(data: PooledData, idx: readonly number[]): Batch {
  const { d } = data;
  const x = new Float64Array(idx.length * d);
  const y = new Float64Array(idx.length);
  idx.forEach((i, r) => {
    x.set(data.x.subarray(i * d, (i + 1) * d), r * d);
    y[r] = data.y[i] as number;
  });
  return { x, y, rows: idx.length };
}

/** A reproducible shuffle (xorshift32 from `seed`): the order of SGD, not privacy randomness. */
function shuffled(idx: readonly number[], seed: number): number[] {
  const out = [...idx];
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}

/** Pooled SGD (see the file comment). */
export function pooledSgd(
  trainer: Trainer,
  data: PooledData,
  train: readonly number[],
  hyper: {
    readonly lr: number;
    readonly clip: number;
    readonly batch: number;
    readonly epochs: number;
    readonly seed: number;
  },
): Float64Array {
  let params = trainer.initialParameters(hyper.seed);
  for (let e = 0; e < hyper.epochs; e++) {
    const order = shuffled(train, hyper.seed * 1000 + e);
    const batches: Batch[] = [];
    for (let s = 0; s < order.length; s += hyper.batch) batches.push(batchOf(data, order.slice(s, s + hyper.batch)));
    params = trainer.localUpdate(params, batches, { lr: hyper.lr, clip: hyper.clip, epochs: 1 }).params;
  }
  return params;
}

/** A standard normal draw from two uniforms of `random` (Box–Muller). */
function gaussian(random: RandomSource): number {
  const u = (random.uint32() + 0.5) / 2 ** 32;
  const v = random.uint32() / 2 ** 32;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** fl-encoding.ts' shares of a round's ρ among the training kinds: update 16, examples 1, loss 1. */
const UPDATE_SHARE = 16 / 18;
const COUNT_SHARE = 1 / 18;

/** Central DP-SGD (see the file comment). */
export function centralDpSgd(
  trainer: Trainer,
  data: PooledData,
  train: readonly number[],
  hyper: {
    readonly lr: number;
    readonly clip: number;
    readonly rounds: number;
    readonly rhoPerRound: number;
    readonly seed: number;
  },
  random: RandomSource,
): Float64Array {
  const params = trainer.initialParameters(hyper.seed);
  const batch = batchOf(data, train);
  const sigmaUpdate = hyper.clip / Math.sqrt(2 * hyper.rhoPerRound * UPDATE_SHARE);
  const sigmaCount = 1 / Math.sqrt(2 * hyper.rhoPerRound * COUNT_SHARE);
  const sum = new Float64Array(trainer.size);
  for (let t = 0; t < hyper.rounds; t++) {
    sum.fill(0);
    trainer.exampleGradients(params, batch, (_row, g) => {
      let ss = 0;
      for (let j = 0; j < g.length; j++) ss += (g[j] as number) * (g[j] as number);
      const f = ss > hyper.clip * hyper.clip ? hyper.clip / Math.sqrt(ss) : 1;
      for (let j = 0; j < g.length; j++) sum[j] = (sum[j] as number) + (g[j] as number) * f;
    });
    const n = Math.max(1, train.length + sigmaCount * gaussian(random));
    for (let j = 0; j < sum.length; j++)
      params[j] = (params[j] as number) - (hyper.lr * ((sum[j] as number) + sigmaUpdate * gaussian(random))) / n;
  }
  return params;
}

/** The AUC of `scores` against 0/1 `labels` (Mann–Whitney, ties ½); null when a class is empty. */
export function exactAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && scores[order[j] as number] === scores[order[i] as number]) j++;
    const rank = (i + j + 1) / 2; // mean 1-based rank of the tie block
    for (let k = i; k < j; k++)
      if ((labels[order[k] as number] as number) === 1) {
        pos++;
        rankSum += rank;
      }
    i = j;
  }
  const neg = order.length - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** The model's AUC on the held-out records. */
export function heldOutAuc(trainer: Trainer, params: Float64Array, data: PooledData, held: readonly number[]): number {
  const batch = batchOf(data, held);
  const auc = exactAuc(trainer.evaluate(params, batch).predictions, batch.y);
  if (auc === null) throw new Error('the held-out records hold one class only; generate more rows');
  return auc;
}
