/**
 * The built-in MLP trainer: its gradients against central finite differences, the per-example
 * clipping bound (and so a step's sensitivity to one record), determinism bit for bit, and
 * hidden = [] trained long on a small dataset against the exact pooled GLM fit, and known-answer
 * vectors from PyTorch (test/vectors/mlp/make_vectors.py).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { designVector, responseOf } from '../../../src/learn/design-row.js';
import type { DataRecord } from '../../../src/learn/design-row.js';
import type { ModelCoding } from '../../../src/learn/design.js';
import {
  clipToNorm,
  exampleGradient,
  exampleLoss,
  initialMlpParameters,
  mlpShape,
  mlpTrainer,
  sgdStep,
} from '../../../src/learn/fl/mlp.js';
import type { MlpShape } from '../../../src/learn/fl/mlp.js';
import type { Batch } from '../../../src/learn/fl/trainer.js';
import { fitPooled } from '../../../src/learn/pooled-fit.js';
import { runs } from '../arbitraries.js';
import { INSURANCE, coded } from '../fixtures.js';

/** A small seeded generator for test data (not privacy randomness). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const shapeArb = fc.record({
  inputs: fc.integer({ min: 1, max: 4 }),
  hidden: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
  output: fc.constantFrom('binary' as const, 'regression' as const),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
});

type ShapeCase = typeof shapeArb extends fc.Arbitrary<infer T> ? T : never;

/** Parameters and one example drawn from `seed` (weights and biases all non-zero). */
function scenario(shape: MlpShape, seed: number): { params: Float64Array; x: Float64Array; y: number } {
  const u = seeded(seed);
  const params = Float64Array.from({ length: shape.size }, () => 2 * u() - 1);
  const x = Float64Array.from({ length: shape.sizes[0] as number }, () => 2 * u() - 1);
  const y = shape.output === 'binary' ? (u() < 0.5 ? 0 : 1) : 4 * u() - 2;
  return { params, x, y };
}

function norm(v: Float64Array): number {
  return Math.sqrt(v.reduce((s, a) => s + a * a, 0));
}

function batchOf(shape: MlpShape, rows: number, seed: number): Batch {
  const u = seeded(seed);
  const d = shape.sizes[0] as number;
  const x = Float64Array.from({ length: rows * d }, () => 2 * u() - 1);
  const y = Float64Array.from({ length: rows }, () => (u() < 0.5 ? 0 : 1));
  return { x, y, rows };
}

describe('mlp gradients', () => {
  /** The gradient of one random net and example against central differences. */
  function checkAgainstDifferences(o: ShapeCase, activation: 'tanh' | 'relu'): void {
    const shape = mlpShape({ ...o, activation });
    const { params, x, y } = scenario(shape, o.seed);
    const grad = new Float64Array(shape.size);
    exampleGradient(shape, params, x, y, grad);
    const h = 1e-6;
    for (let k = 0; k < shape.size; k++) {
      const p = params.slice();
      p[k] = (params[k] as number) + h;
      const up = exampleLoss(shape, p, x, y);
      p[k] = (params[k] as number) - h;
      const down = exampleLoss(shape, p, x, y);
      // Tolerance: central differences err by O(h²) plus rounding O(ε/h) ≈ 1e-10 here.
      expect(Math.abs((up - down) / (2 * h) - (grad[k] as number))).toBeLessThan(1e-6);
    }
  }

  it('match central finite differences (tanh)', () => {
    fc.assert(
      fc.property(shapeArb, (o) => checkAgainstDifferences(o, 'tanh')),
      { numRuns: runs(100) },
    );
  });

  it('match central finite differences (relu, fixed nets)', () => {
    // A fixed fast-check seed: a random relu net can put a unit within h of its kink, where
    // differences are wrong by construction (about once in a thousand runs of 100).
    fc.assert(
      fc.property(shapeArb, (o) => checkAgainstDifferences(o, 'relu')),
      { numRuns: 100, seed: 20261205 },
    );
  });

  it('return the loss the evaluation reports', () => {
    const t = mlpTrainer({ inputs: 3, hidden: [4], output: 'binary' });
    const batch = batchOf(t.shape, 5, 7);
    const params = t.initialParameters(3);
    const grad = new Float64Array(t.size);
    let total = 0;
    for (let r = 0; r < 5; r++)
      total += exampleGradient(t.shape, params, batch.x.subarray(r * 3, r * 3 + 3), batch.y[r] as number, grad);
    expect(t.evaluate(params, batch).loss).toBeCloseTo(total / 5, 14);
  });
});

describe('per-example clipping', () => {
  it('bounds every clipped gradient by clip and leaves small ones alone', () => {
    fc.assert(
      fc.property(shapeArb, fc.double({ min: 1e-3, max: 10, noNaN: true }), (o, clip) => {
        const shape = mlpShape(o);
        const { params, x, y } = scenario(shape, o.seed);
        const g = new Float64Array(shape.size);
        exampleGradient(shape, params, x, y, g);
        const before = norm(g);
        const copy = g.slice();
        const f = clipToNorm(g, clip);
        expect(norm(g)).toBeLessThanOrEqual(clip * (1 + 1e-12));
        if (before <= clip) expect(g).toEqual(copy);
        else expect(f).toBeCloseTo(clip / before, 12);
      }),
      { numRuns: runs(100) },
    );
  });

  it("bounds the step's change when one record changes by 2·lr·clip/rows", () => {
    fc.assert(
      fc.property(
        shapeArb,
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0.01, max: 2, noNaN: true }),
        (o, rows, clip) => {
          const shape = mlpShape(o);
          const a = batchOf(shape, rows, o.seed);
          const b: Batch = { x: a.x.slice(), y: a.y.slice(), rows };
          const other = batchOf(shape, 1, o.seed + 1);
          b.x.set(other.x, 0); // row 0 replaced by another record
          b.y[0] = 1 - (a.y[0] as number);
          const start = initialMlpParameters(shape, o.seed);
          const pa = start.slice();
          const pb = start.slice();
          const lr = 0.5;
          sgdStep(shape, pa, a, { lr, clip, epochs: 1 }, start);
          sgdStep(shape, pb, b, { lr, clip, epochs: 1 }, start);
          const diff = pa.map((v, k) => v - (pb[k] as number));
          expect(norm(diff)).toBeLessThanOrEqual(((2 * lr * clip) / rows) * (1 + 1e-9));
        },
      ),
      { numRuns: runs(100) },
    );
  });
});

describe('determinism', () => {
  it('gives the same parameters bit for bit from the same seed, and others from another', () => {
    const t = mlpTrainer({ inputs: 6, hidden: [32, 16], activation: 'relu', output: 'binary' });
    const a = t.initialParameters(42);
    expect(Buffer.from(t.initialParameters(42).buffer)).toEqual(Buffer.from(a.buffer));
    expect(Buffer.from(t.initialParameters(43).buffer)).not.toEqual(Buffer.from(a.buffer));
    const batches = [batchOf(t.shape, 8, 1), batchOf(t.shape, 8, 2)];
    const opts = { lr: 0.1, clip: 1, epochs: 2 };
    const u1 = t.localUpdate(a, batches, opts);
    const u2 = t.localUpdate(a, batches, opts);
    expect(Buffer.from(u2.params.buffer)).toEqual(Buffer.from(u1.params.buffer));
    expect(u1.examples).toBe(16);
    expect(Buffer.from(a.buffer)).toEqual(Buffer.from(t.initialParameters(42).buffer)); // global untouched
  });

  it('treats mu = 0 as FedAvg and pulls toward the global parameters when mu > 0', () => {
    const t = mlpTrainer({ inputs: 3, hidden: [4], output: 'binary' });
    const g = t.initialParameters(5);
    const batches = [batchOf(t.shape, 10, 9)];
    const plain = t.localUpdate(g, batches, { lr: 0.5, clip: 1, epochs: 5 });
    const zero = t.localUpdate(g, batches, { lr: 0.5, clip: 1, epochs: 5, mu: 0 });
    const prox = t.localUpdate(g, batches, { lr: 0.5, clip: 1, epochs: 5, mu: 1 });
    expect(Buffer.from(zero.params.buffer)).toEqual(Buffer.from(plain.params.buffer));
    const dist = (p: Float64Array): number => norm(p.map((v, k) => v - (g[k] as number)));
    expect(dist(prox.params)).toBeLessThan(dist(plain.params));
  });

  it('refuses a one-shot generator for several epochs, and bad options', () => {
    const t = mlpTrainer({ inputs: 2, hidden: [], output: 'regression' });
    const g = t.initialParameters(1);
    function* once(): Generator<Batch> {
      yield { x: new Float64Array([0.5, -0.5]), y: new Float64Array([1]), rows: 1 };
    }
    expect(() => t.localUpdate(g, once(), { lr: 0.1, clip: 1, epochs: 2 })).toThrow(/re-iterable/);
    expect(() => t.localUpdate(g, [], { lr: 0, clip: 1, epochs: 1 })).toThrow(RangeError);
    expect(() => t.localUpdate(g, [], { lr: 0.1, clip: -1, epochs: 1 })).toThrow(/clip/);
    expect(() => mlpTrainer({ inputs: 0, hidden: [], output: 'binary' })).toThrow(/inputs/);
  });
});

/** Records of the insurance schema whose log-odds of 是 are linear in the design (truth below). */
function insuranceRecords(n: number, seed: number): DataRecord[] {
  const u = seeded(seed);
  const sectors = ['制造业', '建筑业', '批发零售', '信息技术'];
  return Array.from({ length: n }, () => {
    const age = 16 + Math.floor(u() * 60);
    const sex = u() < 0.5 ? '男' : '女';
    const sector = sectors[Math.floor(u() * 4)] as string;
    const eta = -0.5 + 0.04 * (age - 40) + (sex === '女' ? 0.6 : 0) + (sector === '信息技术' ? 1 : 0);
    return { age, sex, sector, insured: u() < 1 / (1 + Math.exp(-eta)) ? '是' : '否' };
  });
}

function designBatch(coding: ModelCoding, records: readonly DataRecord[]): Batch {
  const d = coding.columns.length;
  const x = new Float64Array(records.length * d);
  records.forEach((r, i) => x.set(designVector(coding, r), i * d));
  return { x, y: Float64Array.from(records, (r) => responseOf(coding, r)), rows: records.length };
}

describe('hidden = [] against the exact GLM', () => {
  it('full-batch training without clipping reaches the pooled fit within 1e-6 per coefficient', () => {
    const coding = coded('insured ~ age + sex + sector', 'binomial', INSURANCE);
    const records = insuranceRecords(400, 11);
    const beta = fitPooled(records, coding).state.beta;
    const d = coding.columns.length;
    const t = mlpTrainer({ inputs: d, hidden: [], output: 'binary' });
    // The intercept column and the output bias are the same coefficient: compare their sum.
    // clip far above any gradient norm (≤ √(d+1) here), so the steps are plain gradient descent.
    const fit = t.localUpdate(t.initialParameters(1), [designBatch(coding, records)], {
      lr: 2,
      clip: 1e6,
      epochs: 6000,
    });
    const w = Array.from(fit.params.subarray(0, d));
    w[0] = (w[0] as number) + (fit.params[d] as number);
    w.forEach((wj, j) => expect(Math.abs(wj - (beta[j] as number))).toBeLessThan(1e-6)); // measured: 4.6e-9
  });
});

interface VectorCase {
  readonly name: string;
  readonly sizes: readonly number[];
  readonly activation: 'tanh' | 'relu';
  readonly output: 'binary' | 'regression';
  readonly params: readonly number[];
  readonly batches: readonly { x: number[]; y: number[]; rows: number }[];
  readonly options: { lr: number; clip: number; epochs: number; mu?: number };
  readonly expected: readonly number[];
}

describe('known answers from PyTorch', () => {
  const { cases } = JSON.parse(readFileSync(new URL('../../vectors/mlp/vectors.json', import.meta.url), 'utf8')) as {
    cases: VectorCase[];
  };

  it.each(cases.map((c) => [c.name, c] as const))('%s: the local update to 1e-12', (_name, c) => {
    const t = mlpTrainer({
      inputs: c.sizes[0] as number,
      hidden: c.sizes.slice(1, -1),
      activation: c.activation,
      output: c.output,
    });
    const batches = c.batches.map((b) => ({ x: Float64Array.from(b.x), y: Float64Array.from(b.y), rows: b.rows }));
    const got = t.localUpdate(Float64Array.from(c.params), batches, c.options);
    expect(got.params.length).toBe(c.expected.length);
    got.params.forEach((v, k) => expect(Math.abs(v - (c.expected[k] as number))).toBeLessThan(1e-12));
  });
});
