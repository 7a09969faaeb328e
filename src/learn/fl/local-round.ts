/**
 * What one agency computes in a federated-averaging round, from its own records, as the integer
 * units of fl-encoding.ts (before its noise, masks and encryption):
 *
 * - Each record is held out for validation or not by a digest of the run's seed and the record's
 *   own values, so the split depends on nothing else (fl-encoding.ts' privacy argument needs that).
 * - Exact rounds: the training records are shuffled once (seeded by the run's seed, the global
 *   step and the agency, so a resumed run repeats it bit for bit), cut into batches, and trained for the
 *   round's local epochs from the global parameters (FedProx's μ included); the update
 *   Δ = local − global is clipped to L2 ≤ U and sent as round(n·Δ·2^f).
 * - DP rounds: one step of DP-SGD over all training records at the global parameters: each
 *   record's gradient is clipped to L2 < C and rounded to units on its own, and the units summed
 *   exactly (integers below 2^53). Several local steps would let one record steer every later
 *   step, so a round's sensitivity to a record would be the whole update's; one step keeps it C.
 * - Both: the loss at the global parameters of every record (capped at LOSS_CAP), and for held-out
 *   records their count, loss and (binary) predicted-probability histogram.
 */
import { taggedDigest } from '../../crypto/digest.js';
import type { ModelCoding } from '../design.js';
import { encodeRecord, newEncodedRow, type DataRecord } from '../design-row.js';
import { AUC_BINS, LOSS_CAP, type FlEncodingPlan, type FlUnits } from './fl-encoding.js';
import { l2Clip } from './quantize.js';
import type { RoundingStream } from './rounding-stream.js';
import type { Batch, Trainer } from './trainer.js';

/** The hyper-parameters of the local work. */
export interface LocalHyper {
  readonly lr: number;
  readonly clip: number;
  readonly epochs: number;
  readonly batch: number;
  readonly mu: number;
}

/** Everything the local work depends on besides the records. */
export interface LocalRoundSpec {
  readonly trainer: Trainer;
  readonly coding: ModelCoding;
  /** y is divided by this before training (1 for binary; the response's range for regression). */
  readonly responseScale: number;
  readonly global: Float64Array;
  readonly plan: FlEncodingPlan;
  readonly hyper: LocalHyper;
  /** false: an evaluation round (losses and validation only, the update all zero). */
  readonly train: boolean;
  /** Fraction of records held out, in [0, 1). */
  readonly validation: number;
  /** Keys the held-out split (the run's seed). */
  readonly splitKey: string;
  readonly rounding: RoundingStream;
  /** Orders the training records of an exact round. */
  readonly shuffle: RoundingStream;
}

/** Whether `record` is held out: a digest of the key and the record's values, below `fraction`. */
export function isHeldOut(record: DataRecord, key: string, fraction: number): boolean {
  if (fraction <= 0) return false;
  const names = Object.keys(record).sort();
  const text = JSON.stringify(names.map((n) => [n, record[n]]));
  const h = taggedDigest('fedstat/fl-split/v1', key, text);
  const u = (((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)) >>> 0;
  return u / 4294967296 < fraction;
}

/** Coded rows growing as records arrive. */
class Rows {
  x: Float64Array;
  y: Float64Array;
  rows = 0;
  constructor(readonly d: number) {
    this.x = new Float64Array(d * 64);
    this.y = new Float64Array(64);
  }
  push(x: Float64Array, y: number): void {
    if (this.rows === this.y.length) {
      const nx = new Float64Array(this.x.length * 2);
      nx.set(this.x);
      this.x = nx;
      const ny = new Float64Array(this.y.length * 2);
      ny.set(this.y);
      this.y = ny;
    }
    this.x.set(x, this.rows * this.d);
    this.y[this.rows++] = y;
  }
  batch(): Batch {
    return { x: this.x.subarray(0, this.rows * this.d), y: this.y.subarray(0, this.rows), rows: this.rows };
  }
}

/** A record's loss from its prediction, as the trainer's output defines it. */
function lossOf(output: 'binary' | 'regression', p: number, y: number): number {
  if (output === 'regression') return 0.5 * (p - y) * (p - y);
  const q = Math.min(Math.max(p, 1e-300), 1 - 1e-16);
  return -(y * Math.log(q) + (1 - y) * Math.log1p(-q));
}

/** The units of one round (see the file comment). DATA_INVALID when a record breaks the coding. */
export async function localRoundUnits(
  spec: LocalRoundSpec,
  records: AsyncIterable<readonly DataRecord[]> | Iterable<readonly DataRecord[]>,
): Promise<FlUnits> {
  const { plan, coding } = spec;
  const d = coding.columns.length;
  const units = new Float64Array(plan.entries);
  const dp = plan.inputs.privacy !== null;
  const enc = newEncodedRow(coding);
  const x = new Float64Array(d);
  const kept = new Rows(d);
  for await (const chunk of records) {
    const train = new Rows(d);
    const held = new Rows(d);
    for (const record of chunk) {
      encodeRecord(coding, record, enc);
      x.fill(0);
      for (let k = 0; k < enc.nnz; k++) x[enc.index[k] as number] = enc.value[k] as number;
      const y = enc.y / spec.responseScale;
      (isHeldOut(record, spec.splitKey, spec.validation) ? held : train).push(x, y);
    }
    addLosses(spec, train.batch(), units, 'loss');
    addValidation(spec, held.batch(), units);
    units[plan.kinds.examples.firstEntry] = (units[plan.kinds.examples.firstEntry] as number) + train.rows;
    if (!spec.train) continue;
    if (dp) addClippedGradients(spec, train.batch(), units);
    else for (let r = 0; r < train.rows; r++) kept.push(train.x.subarray(r * d, (r + 1) * d), train.y[r] as number);
  }
  if (!dp && spec.train) addWeightedUpdate(spec, kept, units);
  return units;
}

/** Σ capped losses at the global parameters, rounded per record, into `kind`'s entry. */
function addLosses(
  spec: LocalRoundSpec,
  batch: Batch,
  units: Float64Array,
  kind: 'loss' | 'validationLoss',
): Float64Array {
  const k = spec.plan.kinds[kind];
  const predictions = spec.trainer.evaluate(spec.global, batch).predictions;
  const scale = 2 ** k.fractionalBits;
  let sum = 0;
  for (let r = 0; r < batch.rows; r++) {
    const loss = lossOf(spec.plan.inputs.output, predictions[r] as number, batch.y[r] as number);
    // A non-finite output counts as the cap: refusing the round would tell whether some record has one.
    sum += spec.rounding.round((Number.isNaN(loss) ? LOSS_CAP : Math.min(loss, LOSS_CAP)) * scale);
  }
  units[k.firstEntry] = (units[k.firstEntry] as number) + sum;
  return predictions;
}

function addValidation(spec: LocalRoundSpec, batch: Batch, units: Float64Array): void {
  const { kinds } = spec.plan;
  if (kinds.validationCount.entries === 0 || batch.rows === 0) return;
  units[kinds.validationCount.firstEntry] = (units[kinds.validationCount.firstEntry] as number) + batch.rows;
  const predictions = addLosses(spec, batch, units, 'validationLoss');
  const h = kinds.histogram;
  if (h.entries === 0) return;
  for (let r = 0; r < batch.rows; r++) {
    const p = predictions[r] as number;
    const bin = p >= 0 ? Math.min(AUC_BINS - 1, Math.floor(p * AUC_BINS)) : 0; // NaN: bin 0
    const at = h.firstEntry + ((batch.y[r] as number) === 1 ? 0 : AUC_BINS) + bin;
    units[at] = (units[at] as number) + 1;
  }
}

/** ‖g‖₂, scaled so squares cannot overflow; NaN when an entry is not finite. */
function normOf(g: Float64Array): number {
  let ss = 0;
  for (let j = 0; j < g.length; j++) ss += (g[j] as number) * (g[j] as number);
  if (Number.isFinite(ss)) return Math.sqrt(ss);
  let max = 0;
  for (let j = 0; j < g.length; j++) max = Math.max(max, Math.abs(g[j] as number));
  if (!Number.isFinite(max)) return NaN;
  ss = 0;
  for (let j = 0; j < g.length; j++) ss += ((g[j] as number) / max) ** 2;
  return Math.sqrt(ss) * max;
}

/** DP: Σ over records of round(clip(g)·2^f), every record clipped and rounded on its own. */
function addClippedGradients(spec: LocalRoundSpec, batch: Batch, units: Float64Array): void {
  const k = spec.plan.kinds.update;
  const scale = 2 ** k.fractionalBits;
  // Below C by more than the norm's float error (≤ P·2^-53 relative, P ≤ 2^20), so the true norm of the clipped gradient is < C.
  const target = spec.hyper.clip * (1 - 1e-9);
  const rounding = spec.rounding;
  spec.trainer.exampleGradients(spec.global, batch, (_row, g) => {
    const norm = normOf(g);
    // A gradient that is not finite adds nothing (within the sensitivity): refusing the round
    // would tell the coordinator, who picks the parameters, that some record has one.
    if (Number.isNaN(norm)) return;
    const factor = norm > target ? (target / norm) * scale : scale;
    for (let j = 0; j < g.length; j++)
      units[k.firstEntry + j] = (units[k.firstEntry + j] as number) + rounding.round((g[j] as number) * factor);
  });
}

/** Fisher–Yates with the shuffle stream: the order of an exact round's training records. */
function order(rows: number, stream: RoundingStream): Uint32Array {
  const idx = new Uint32Array(rows);
  for (let i = 0; i < rows; i++) idx[i] = i;
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(stream.next() * (i + 1));
    const t = idx[i] as number;
    idx[i] = idx[j] as number;
    idx[j] = t;
  }
  return idx;
}

function batchesOf(kept: Rows, size: number, stream: RoundingStream): Batch[] {
  const idx = order(kept.rows, stream);
  const d = kept.d;
  const out: Batch[] = [];
  for (let start = 0; start < kept.rows; start += size) {
    const rows = Math.min(size, kept.rows - start);
    const x = new Float64Array(rows * d);
    const y = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const from = idx[start + r] as number;
      x.set(kept.x.subarray(from * d, (from + 1) * d), r * d);
      y[r] = kept.y[from] as number;
    }
    out.push({ x, y, rows });
  }
  return out;
}

/** Exact: train locally, clip Δ to U, send round(n·Δ·2^f). */
function addWeightedUpdate(spec: LocalRoundSpec, kept: Rows, units: Float64Array): void {
  if (kept.rows === 0) return;
  const { hyper } = spec;
  const result = spec.trainer.localUpdate(spec.global, batchesOf(kept, hyper.batch, spec.shuffle), {
    lr: hyper.lr,
    clip: hyper.clip,
    epochs: hyper.epochs,
    mu: hyper.mu,
  });
  const delta = new Float64Array(result.params.length);
  for (let j = 0; j < delta.length; j++) delta[j] = (result.params[j] as number) - (spec.global[j] as number);
  const { clipped } = l2Clip(delta, spec.plan.inputs.updateBound);
  const k = spec.plan.kinds.update;
  const factor = kept.rows * 2 ** k.fractionalBits;
  for (let j = 0; j < clipped.length; j++)
    units[k.firstEntry + j] = spec.rounding.round((clipped[j] as number) * factor);
}
