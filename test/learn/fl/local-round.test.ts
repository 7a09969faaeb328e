/**
 * One agency's work in a federated-averaging round (src/learn/fl/local-round.ts), checked against
 * in-test computations that replay its seeded streams:
 * - exact rounds: the units are round(n·clip(Δ)·2^f) of trainer.localUpdate over the same shuffled
 *   batches, bit for bit, so FedAvg with one agency equals local training up to the 2^-f/n of that
 *   rounding; FedProx with μ = 0 gives the same units as plain FedAvg;
 * - DP rounds: the units are Σ of every record's clipped, rounded gradient, and each record adds
 *   less than C·2^f + √P in L2;
 * - the held-out split depends only on the record and the key, holds out the planned fraction,
 *   and the validation count, loss and histogram are those of the held-out records;
 * - an evaluation round sends no update.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rational } from '../../../src/dp/rational.js';
import { parseSchema, type DatasetSchema } from '../../../src/federation/schema.js';
import { codeModel, type ModelCoding } from '../../../src/learn/design.js';
import type { DataRecord } from '../../../src/learn/design-row.js';
import {
  AUC_BINS,
  decodeFlTotal,
  encodeFlUnits,
  LOSS_CAP,
  planFlEncoding,
  type FlEncodingPlan,
} from '../../../src/learn/fl/fl-encoding.js';
import { flTrainer, responseScale, type FlModelSpec } from '../../../src/learn/fl/fl-model.js';
import { isHeldOut, localRoundUnits, type LocalHyper, type LocalRoundSpec } from '../../../src/learn/fl/local-round.js';
import { l2Clip } from '../../../src/learn/fl/quantize.js';
import { meanUpdate } from '../../../src/learn/fl/round-metrics.js';
import { RoundingStream } from '../../../src/learn/fl/rounding-stream.js';
import { fedAvg } from '../../../src/learn/fl/strategy.js';
import type { Batch, Trainer } from '../../../src/learn/fl/trainer.js';
import { parseFormula } from '../../../src/learn/formula.js';
import { batchOf } from './network-fixture.js';
import { prng, runs } from '../arbitraries.js';
import { WORKERS_DATASET_JSON, workerRows } from '../workers.js';

const T60 = 1152921504606830593n;
const SCHEMA: DatasetSchema = parseSchema({ datasets: { workers: WORKERS_DATASET_JSON } }, 'schema.json').datasets[
  'workers'
]!;
const BINARY = codeModel(
  parseFormula('insured ~ age + sex + district + income', SCHEMA, 'workers'),
  SCHEMA,
  'binomial',
  'workers',
);
const GAUSSIAN = codeModel(
  parseFormula('visits ~ age + district + months', SCHEMA, 'workers'),
  SCHEMA,
  'gaussian',
  'workers',
);
const MLP: FlModelSpec = { kind: 'mlp', hidden: [3], activation: 'tanh' };
const HYPER: LocalHyper = { lr: 0.2, clip: 2, epochs: 2, batch: 16, mu: 0 };
const SPLIT_KEY = 'a1'.repeat(16);

/** Deterministic 16-byte seeds for the rounding and shuffle streams. */
function seed(n: number): Uint8Array {
  return Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : (n * 131 + i * 7) & 255));
}

/** The records in chunks of `size`, as scanRecords streams them. */
function chunks(rows: readonly DataRecord[], size: number): AsyncIterable<readonly DataRecord[]> {
  const parts: DataRecord[][] = [];
  for (let i = 0; i < rows.length; i += size) parts.push(rows.slice(i, i + size));
  return {
    [Symbol.asyncIterator]: () => {
      let i = 0;
      return {
        next: () =>
          Promise.resolve(i < parts.length ? { value: parts[i++]!, done: false } : { value: undefined, done: true }),
      };
    },
  };
}

interface Setup {
  readonly coding: ModelCoding;
  readonly trainer: Trainer;
  readonly plan: FlEncodingPlan;
  readonly scale: number;
}

function setup(coding: ModelCoding, model: FlModelSpec, dp: boolean, validation: boolean, updateBound = 50): Setup {
  const trainer = flTrainer(model, coding);
  const plan = planFlEncoding({
    parameters: trainer.size,
    output: coding.family === 'binomial' ? 'binary' : 'regression',
    validation,
    updateBound: dp ? HYPER.clip : updateBound,
    maxRows: SCHEMA.maxRows,
    agencies: 1,
    plainModulus: T60,
    slotsPerCiphertext: 8192,
    maxCiphertexts: 32,
    privacy: dp ? { rho: rational(1, 10), threshold: 1 } : null,
  });
  return { coding, trainer, plan, scale: responseScale(coding, SCHEMA) };
}

function specOf(s: Setup, global: Float64Array, o: Partial<LocalRoundSpec> = {}): LocalRoundSpec {
  return {
    trainer: s.trainer,
    coding: s.coding,
    responseScale: s.scale,
    global,
    plan: s.plan,
    hyper: HYPER,
    train: true,
    validation: 0,
    splitKey: SPLIT_KEY,
    rounding: new RoundingStream(seed(1)),
    shuffle: new RoundingStream(seed(2)),
    ...o,
  };
}

/** local-round.ts' Fisher–Yates, reimplemented: the batches an exact round trains on. */
function shuffledBatches(batch: Batch, size: number, stream: RoundingStream): Batch[] {
  const d = batch.x.length / Math.max(1, batch.rows);
  const idx = Array.from({ length: batch.rows }, (_, i) => i);
  for (let i = batch.rows - 1; i > 0; i--) {
    const j = Math.floor(stream.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  const out: Batch[] = [];
  for (let start = 0; start < batch.rows; start += size) {
    const part = idx.slice(start, start + size);
    const x = new Float64Array(part.length * d);
    part.forEach((from, r) => x.set(batch.x.subarray(from * d, (from + 1) * d), r * d));
    out.push({ x, y: Float64Array.from(part, (from) => batch.y[from] as number), rows: part.length });
  }
  return out;
}

/** The training and held-out records, in their order. */
function split(rows: readonly DataRecord[], fraction: number): { train: DataRecord[]; held: DataRecord[] } {
  const held = rows.filter((r) => isHeldOut(r, SPLIT_KEY, fraction));
  return { train: rows.filter((r) => !isHeldOut(r, SPLIT_KEY, fraction)), held };
}

function l2(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += (v[i] as number) ** 2;
  return Math.sqrt(s);
}

describe('localRoundUnits, exact rounds', () => {
  it('sends round(n·clip(Δ)·2^f) of local training over the same shuffled batches, bit for bit', async () => {
    const rows = workerRows(300, 11);
    for (const [coding, bound] of [
      [BINARY, 50],
      [GAUSSIAN, 50],
      [BINARY, 0.05], // a bound that clips Δ
    ] as const) {
      const s = setup(coding, MLP, false, true, bound);
      const global = s.trainer.initialParameters(3);
      const units = await localRoundUnits(specOf(s, global, { validation: 0.2 }), chunks(rows, 64));
      const { train, held } = split(rows, 0.2);
      const batch = batchOf(coding, train, s.scale);
      const local = s.trainer.localUpdate(
        global,
        shuffledBatches(batch, HYPER.batch, new RoundingStream(seed(2))),
        HYPER,
      );
      const delta = local.params.map((v, j) => v - (global[j] as number));
      const { clipped } = l2Clip(delta, bound);
      // the rounding stream rounds every record's loss first (5 chunks of 64: training, then held-out)
      const replay = new RoundingStream(seed(1));
      for (let i = 0; i < train.length + held.length; i++) replay.next();
      const u = s.plan.kinds.update;
      const factor = train.length * 2 ** u.fractionalBits;
      for (let j = 0; j < u.entries; j++)
        expect(units[u.firstEntry + j]).toBe(replay.round((clipped[j] as number) * factor));
      expect(units[s.plan.kinds.examples.firstEntry]).toBe(train.length);
      expect(units[s.plan.kinds.validationCount.firstEntry]).toBe(held.length);
    }
  });

  it('FedAvg with one agency equals local training, within the 2^-f/n of the rounding', async () => {
    // The only difference: the agency sends round(n·Δ·2^f), so the mean update Σ/n·2^-f is Δ to
    // within 2^-f/n, plus the float rounding of global + Δ (a few ulps).
    const rows = workerRows(500, 12);
    const s = setup(BINARY, MLP, false, false);
    const global = s.trainer.initialParameters(4);
    const units = await localRoundUnits(specOf(s, global), chunks(rows, 128));
    const totals = decodeFlTotal(encodeFlUnits(units, s.plan), s.plan);
    const strategy = fedAvg({ serverLr: 1 });
    const fed = strategy.apply(strategy.init(global), global, meanUpdate(totals, false, HYPER.lr)).params;
    const batch = batchOf(BINARY, rows, 1);
    const local = s.trainer.localUpdate(
      global,
      shuffledBatches(batch, HYPER.batch, new RoundingStream(seed(2))),
      HYPER,
    );
    const tolerance = 2 ** -s.plan.kinds.update.fractionalBits / rows.length;
    let moved = 0;
    for (let j = 0; j < fed.length; j++) {
      const want = local.params[j] as number;
      expect(Math.abs((fed[j] as number) - want)).toBeLessThanOrEqual(
        tolerance + 4 * Number.EPSILON * Math.max(1, Math.abs(want)),
      );
      moved = Math.max(moved, Math.abs(want - (global[j] as number)));
    }
    expect(moved).toBeGreaterThan(1e3 * tolerance); // the update is far larger than the tolerance
    expect(totals.examples).toBe(rows.length);
  });

  it('FedProx with μ = 0 sends the same units as FedAvg bit for bit; μ > 0 pulls the update toward global', async () => {
    const rows = workerRows(200, 13);
    const s = setup(GAUSSIAN, MLP, false, false);
    const global = s.trainer.initialParameters(5);
    const run = (mu: number) => localRoundUnits(specOf(s, global, { hyper: { ...HYPER, mu } }), chunks(rows, 50));
    const fedavg = await run(0);
    // FedAvg as the trainer knows it (no μ at all) gives the same local parameters bit for bit
    const batch = batchOf(GAUSSIAN, rows, s.scale);
    const { mu: _mu, ...plain } = HYPER;
    const a = s.trainer.localUpdate(global, shuffledBatches(batch, HYPER.batch, new RoundingStream(seed(2))), plain);
    const b = s.trainer.localUpdate(global, shuffledBatches(batch, HYPER.batch, new RoundingStream(seed(2))), HYPER);
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    const prox = await run(5);
    const u = s.plan.kinds.update;
    const norm = (v: Float64Array): number => l2(v.subarray(u.firstEntry, u.firstEntry + u.entries));
    expect(norm(prox)).toBeLessThan(norm(fedavg));
  });

  it('repeats the same units from the same seeds, and the same update whatever the chunking', async () => {
    const rows = workerRows(150, 14);
    const s = setup(BINARY, MLP, false, true);
    const global = s.trainer.initialParameters(6);
    const a = await localRoundUnits(specOf(s, global, { validation: 0.3 }), chunks(rows, 150));
    const b = await localRoundUnits(specOf(s, global, { validation: 0.3 }), chunks(rows, 150));
    expect(Array.from(b)).toEqual(Array.from(a));
    // Another chunking rounds the losses in another order, but as many of them before the update,
    // and keeps the training records in their order: the update is the same bit for bit.
    const c = await localRoundUnits(specOf(s, global, { validation: 0.3 }), chunks(rows, 7));
    const u = s.plan.kinds.update;
    expect(Array.from(c.subarray(0, u.entries))).toEqual(Array.from(a.subarray(0, u.entries)));
    expect(c[s.plan.kinds.examples.firstEntry]).toBe(a[s.plan.kinds.examples.firstEntry]);
  });
});

describe('localRoundUnits, DP rounds', () => {
  it('sends Σ of every record’s clipped gradient rounded on its own (replayed in the test)', async () => {
    const rows = workerRows(120, 21);
    for (const [coding, model] of [
      [BINARY, MLP],
      [GAUSSIAN, { ...MLP, hidden: [] }],
    ] as const) {
      const s = setup(coding, model, true, true);
      // large parameters, so that most gradients are clipped
      const global = s.trainer.initialParameters(8).map((v) => 6 * v);
      const units = await localRoundUnits(specOf(s, global, { validation: 0.25 }), chunks(rows, rows.length));
      const { train, held } = split(rows, 0.25);
      const replay = new RoundingStream(seed(1));
      for (let i = 0; i < train.length + held.length; i++) replay.next();
      const u = s.plan.kinds.update;
      const scale = 2 ** u.fractionalBits;
      const want = new Float64Array(u.entries);
      let clipped = 0;
      s.trainer.exampleGradients(global, batchOf(coding, train, s.scale), (_r, g) => {
        const target = HYPER.clip * (1 - 1e-9);
        const norm = l2(g);
        if (norm > target) clipped++;
        const factor = norm > target ? (target / norm) * scale : scale;
        for (let j = 0; j < g.length; j++) want[j] = (want[j] as number) + replay.round((g[j] as number) * factor);
      });
      expect(Array.from(units.subarray(u.firstEntry, u.firstEntry + u.entries))).toEqual(Array.from(want));
      expect(clipped).toBeGreaterThan(0);
      expect(units[s.plan.kinds.examples.firstEntry]).toBe(train.length);
    }
  });

  it('lets one record add less than C·2^f + √P in L2 (√P·C·2^f + P in L1), the plan’s sensitivity', async () => {
    const s = setup(BINARY, MLP, true, false);
    const u = s.plan.kinds.update;
    const p = u.entries;
    const scale = 2 ** u.fractionalBits;
    const rows = workerRows(400, 22);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(rows.length - 1),
        fc.integer(),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        async (r, sd, size) => {
          const rnd = prng(sd);
          const global = Float64Array.from({ length: p }, () => (2 * rnd() - 1) * size);
          const spec = specOf(s, global, { rounding: new RoundingStream(seed(sd & 0xffff)) });
          const one = await localRoundUnits(spec, chunks([rows[r]!], 1));
          const q = one.subarray(u.firstEntry, u.firstEntry + p);
          expect(l2(q)).toBeLessThan(HYPER.clip * scale + Math.sqrt(p));
          expect(q.reduce((a, v) => a + Math.abs(v), 0)).toBeLessThan(Math.sqrt(p) * HYPER.clip * scale + p);
          // … within the sensitivity the plan calibrates its noise to (integers: exact comparisons)
          const sens = u.noise!.sensitivity;
          expect(BigInt(q.reduce((a, v) => a + v * v, 0)) <= sens.l2Squared).toBe(true);
          expect(BigInt(q.reduce((a, v) => a + Math.abs(v), 0)) <= sens.l1).toBe(true);
        },
      ),
      { numRuns: runs(60) },
    );
  });
});

describe('the held-out split', () => {
  it('depends only on the record and the key: not on order, chunking or the key order of the record', async () => {
    const rows = workerRows(400, 31);
    const s = setup(BINARY, MLP, false, true);
    const global = s.trainer.initialParameters(1);
    const heldSet = (rs: readonly DataRecord[]): string[] =>
      rs
        .filter((r) => isHeldOut(r, SPLIT_KEY, 0.3))
        .map((r) => r['citizen_id'] as string)
        .sort();
    const shuffled = [...rows].reverse();
    expect(heldSet(shuffled)).toEqual(heldSet(rows));
    const reordered = rows.map((r) => Object.fromEntries(Object.entries(r).reverse()) as DataRecord);
    expect(heldSet(reordered)).toEqual(heldSet(rows));
    // another key draws another split
    expect(rows.filter((r) => isHeldOut(r, 'b2'.repeat(16), 0.3))).not.toEqual(
      rows.filter((r) => isHeldOut(r, SPLIT_KEY, 0.3)),
    );
    expect(rows.some((r) => isHeldOut(r, SPLIT_KEY, 0))).toBe(false);
    // the agency's count of held-out records is the same in any order and chunking
    const count = async (rs: readonly DataRecord[], size: number): Promise<number> =>
      (await localRoundUnits(specOf(s, global, { validation: 0.3, train: false }), chunks(rs, size)))[
        s.plan.kinds.validationCount.firstEntry
      ] as number;
    expect(await count(shuffled, 33)).toBe(heldSet(rows).length);
    expect(await count(rows, 400)).toBe(heldSet(rows).length);
  });

  it('holds out the planned fraction: within 6σ over 20,000 records', () => {
    const rows = workerRows(20_000, 32);
    for (const f of [0.05, 0.2, 0.5]) {
      const k = rows.filter((r) => isHeldOut(r, SPLIT_KEY, f)).length;
      expect(Math.abs(k / rows.length - f)).toBeLessThanOrEqual(6 * Math.sqrt((f * (1 - f)) / rows.length));
    }
  });

  it('counts the held-out records by class and predicted-probability bin, with their loss', async () => {
    const rows = workerRows(600, 33);
    const s = setup(BINARY, MLP, false, true);
    const global = s.trainer.initialParameters(2).map((v) => 3 * v);
    const units = await localRoundUnits(specOf(s, global, { validation: 0.25, train: false }), chunks(rows, 100));
    const { held } = split(rows, 0.25);
    const batch = batchOf(BINARY, held, 1);
    const { predictions } = s.trainer.evaluate(global, batch);
    const h = s.plan.kinds.histogram;
    const want = new Float64Array(2 * AUC_BINS);
    let loss = 0;
    predictions.forEach((p, r) => {
      const y = batch.y[r] as number;
      want[(y === 1 ? 0 : AUC_BINS) + Math.min(AUC_BINS - 1, Math.floor(p * AUC_BINS))]!++;
      loss += Math.min(LOSS_CAP, -(y * Math.log(p) + (1 - y) * Math.log1p(-p)));
    });
    expect(Array.from(units.subarray(h.firstEntry, h.firstEntry + h.entries))).toEqual(Array.from(want));
    expect(units[s.plan.kinds.validationCount.firstEntry]).toBe(held.length);
    // each record's loss is rounded on its own: the sum is within one unit per record
    const g = 2 ** s.plan.kinds.validationLoss.fractionalBits;
    expect(Math.abs((units[s.plan.kinds.validationLoss.firstEntry] as number) - loss * g)).toBeLessThan(
      held.length + 1e-6 * loss * g,
    );
    expect(want.reduce((a, b) => a + b, 0)).toBe(held.length);
  });
});

describe('evaluation rounds', () => {
  it('send a zero update with the losses and validation, exact or DP', async () => {
    const rows = workerRows(200, 41);
    for (const dp of [false, true]) {
      const s = setup(BINARY, MLP, dp, true);
      const global = s.trainer.initialParameters(9);
      const evaluation = await localRoundUnits(specOf(s, global, { validation: 0.2, train: false }), chunks(rows, 64));
      const training = await localRoundUnits(specOf(s, global, { validation: 0.2 }), chunks(rows, 64));
      const u = s.plan.kinds.update;
      expect(evaluation.subarray(u.firstEntry, u.firstEntry + u.entries).every((v) => v === 0)).toBe(true);
      expect(training.subarray(u.firstEntry, u.firstEntry + u.entries).some((v) => v !== 0)).toBe(true);
      // Counts and the histogram are the same in both; so are the losses of an exact round, whose
      // stream rounds them all before the update (a DP round rounds gradients chunk by chunk).
      const { examples, validationCount, histogram } = s.plan.kinds;
      const counts = (v: Float64Array): number[] => [
        v[examples.firstEntry] as number,
        v[validationCount.firstEntry] as number,
        ...v.subarray(histogram.firstEntry, histogram.firstEntry + histogram.entries),
      ];
      expect(counts(evaluation)).toEqual(counts(training));
      if (!dp) expect(Array.from(evaluation.subarray(u.entries))).toEqual(Array.from(training.subarray(u.entries)));
      expect(evaluation[s.plan.kinds.examples.firstEntry]).toBe(split(rows, 0.2).train.length);
    }
  });
});

describe('a record whose output or gradient is not finite', () => {
  /** Rounds to nearest: no draws, so the runs compared below see the same roundings. */
  class Nearest extends RoundingStream {
    override round(y: number): number {
      return Math.round(y);
    }
  }

  it('adds nothing to a DP update and the cap to the loss, instead of failing the round', async () => {
    const s = setup(BINARY, MLP, true, false);
    const rows = workerRows(40, 11);
    const bad = rows.length - 1;
    // The coordinator picks the parameters: a round failing on one record would tell it that record exists.
    const poisoned: Trainer = {
      ...s.trainer,
      evaluate: (p, batch) => {
        const e = s.trainer.evaluate(p, batch);
        const predictions = Float64Array.from(e.predictions);
        if (batch.rows === rows.length) predictions[bad] = NaN;
        return { loss: NaN, predictions };
      },
      exampleGradients: (p, batch, visit) =>
        s.trainer.exampleGradients(p, batch, (row, g) => {
          if (row === bad) g[0] = Infinity;
          visit(row, g);
        }),
    };
    const global = s.trainer.initialParameters(3);
    const rounding = (): RoundingStream => new Nearest(seed(1));
    const withBad = await localRoundUnits({ ...specOf(s, global), trainer: poisoned, rounding: rounding() }, [rows]);
    const without = await localRoundUnits({ ...specOf(s, global), rounding: rounding() }, [rows.slice(0, bad)]);
    const u = s.plan.kinds.update;
    for (let j = u.firstEntry; j < u.firstEntry + u.entries; j++) expect(withBad[j]).toBe(without[j]);
    const loss = s.plan.kinds.loss;
    expect(withBad[loss.firstEntry]! - without[loss.firstEntry]!).toBe(LOSS_CAP * 2 ** loss.fractionalBits);
    expect(withBad[s.plan.kinds.examples.firstEntry]).toBe(rows.length);
  });
});
