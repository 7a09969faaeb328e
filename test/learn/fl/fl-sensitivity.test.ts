/**
 * A DP round's sensitivity to one record, as fl-encoding.ts states it: for random small datasets D
 * and a random extra record x (adversarial ones too: every value at a schema bound, and an MLP with
 * large weights so clipping bites), localRoundUnits(D ∪ {x}) − localRoundUnits(D) stays within each
 * kind's stated (Δ1, Δ2²), the other group's entries do not move, and exactly one group changes.
 *
 * Why this coupling is the right argument: x is fed as its own final chunk and both runs use
 * rounding streams with the same seed, so D's records consume the same draws in the same order and
 * round identically; the difference is then exactly x's own rounded contribution q(x). In general
 * M(D ∪ {x}) = M(D) ⊕ q(x) with q(x) independent of D's rounding (the stream is fresh randomness, the
 * sum of integers is order-free, and the held-out split depends on the record alone), so the output
 * is a mixture over q(x) of shifts of M(D) + noise, each shift within (Δ1, Δ2²); Rényi divergence is
 * jointly quasi-convex, so the mixture's divergence is at most the worst shift's — the one the
 * accountant bounds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rational } from '../../../src/dp/rational.js';
import type { DataRecord } from '../../../src/learn/design-row.js';
import { planFlEncoding, type FlKind } from '../../../src/learn/fl/fl-encoding.js';
import { flTrainer, responseScale } from '../../../src/learn/fl/fl-model.js';
import { localRoundUnits } from '../../../src/learn/fl/local-round.js';
import { RoundingStream } from '../../../src/learn/fl/rounding-stream.js';
import { prng } from '../arbitraries.js';
import { INSURANCE, coded } from '../fixtures.js';

const RUNS = process.env['FEDSTAT_LONG'] === '1' ? 200 : 20;
const T60 = 1152921504606830593n;
const TRAINING: readonly FlKind[] = ['update', 'examples', 'loss'];
const VALIDATION: readonly FlKind[] = ['validationCount', 'validationLoss', 'histogram'];
const FORMULAS = {
  binary: { formula: 'insured ~ age + sex + sector + monthly_income', family: 'binomial' },
  regression: {
    formula: 'contribution_months ~ age + sector + district + sector:district + monthly_income',
    family: 'gaussian',
  },
} as const;

/** A record over every model column: uniform values, or (extreme) each integer at a schema bound. */
function record(u: () => number, extreme: boolean): DataRecord {
  const out: Record<string, string | number> = {};
  for (const [name, col] of Object.entries(INSURANCE.columns)) {
    if (col.type === 'category') out[name] = col.values[Math.floor(u() * col.values.length)] as string;
    else if (col.type === 'integer')
      out[name] = extreme ? (u() < 0.5 ? col.min : col.max) : col.min + Math.floor(u() * (col.max - col.min + 1));
  }
  return out;
}

async function* chunks(parts: readonly (readonly DataRecord[])[]): AsyncIterable<readonly DataRecord[]> {
  for (const p of parts) {
    await Promise.resolve(); // a store's reader yields between chunks
    yield p;
  }
}

const caseArb = fc.record({
  output: fc.constantFrom('binary' as const, 'regression' as const),
  hidden: fc.constantFrom([] as number[], [4], [6, 3]),
  weightScale: fc.constantFrom(1, 30),
  clip: fc.constantFrom(0.05, 0.5, 4),
  rows: fc.integer({ min: 0, max: 30 }),
  chunk: fc.integer({ min: 1, max: 12 }),
  extreme: fc.boolean(),
  validation: fc.constantFrom(0, 0.3, 0.6),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

describe('DP round: sensitivity to one added record', () => {
  it('each kind moves within its stated Δ1 and Δ2², in one group only', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const { formula, family } = FORMULAS[c.output];
        const coding = coded(formula, family, INSURANCE);
        const trainer = flTrainer({ kind: 'mlp', hidden: c.hidden, activation: 'tanh' }, coding);
        const u = prng(c.seed);
        const global = trainer.initialParameters(c.seed).map((w) => w * c.weightScale * (1 + u()));
        const plan = planFlEncoding({
          parameters: trainer.size,
          output: c.output,
          validation: c.validation > 0,
          updateBound: c.clip,
          maxRows: 1000,
          agencies: 3,
          plainModulus: T60,
          slotsPerCiphertext: 8192,
          maxCiphertexts: 32,
          privacy: { rho: rational(1n, 2n), threshold: 2 },
        });
        const data = Array.from({ length: c.rows }, () => record(u, c.extreme && u() < 0.5));
        const extra = record(u, c.extreme);
        const parts: DataRecord[][] = [];
        for (let i = 0; i < data.length; i += c.chunk) parts.push(data.slice(i, i + c.chunk));
        const seed = Uint8Array.from({ length: 16 }, () => 1 + Math.floor(u() * 255));
        const run = (withExtra: boolean): Promise<Float64Array> =>
          localRoundUnits(
            {
              trainer,
              coding,
              responseScale: responseScale(coding, INSURANCE),
              global,
              plan,
              hyper: { lr: 0.1, clip: c.clip, epochs: 1, batch: 8, mu: 0 },
              train: true,
              validation: c.validation,
              splitKey: `run-${c.seed}`,
              rounding: new RoundingStream(seed),
              shuffle: new RoundingStream(seed),
            },
            chunks(withExtra ? [...parts, [extra]] : parts),
          );
        const [without, withX] = await Promise.all([run(false), run(true)]);
        const changed = (kinds: readonly FlKind[]): boolean =>
          kinds.some((k) => {
            const kp = plan.kinds[k];
            for (let i = kp.firstEntry; i < kp.firstEntry + kp.entries; i++) if (withX[i] !== without[i]) return true;
            return false;
          });
        for (const kind of [...TRAINING, ...VALIDATION]) {
          const kp = plan.kinds[kind];
          if (kp.entries === 0) continue;
          let l1 = 0;
          let l2 = 0;
          for (let i = kp.firstEntry; i < kp.firstEntry + kp.entries; i++) {
            const d = (withX[i] as number) - (without[i] as number);
            expect(Number.isSafeInteger(d)).toBe(true);
            l1 += Math.abs(d);
            l2 += d * d;
          }
          const sens = kp.noise?.sensitivity;
          expect(sens).toBeDefined();
          expect(BigInt(l1)).toBeLessThanOrEqual(sens?.l1 ?? 0n);
          expect(BigInt(l2)).toBeLessThanOrEqual(sens?.l2Squared ?? 0n);
        }
        // exactly one group moves: the record is either trained on or held out
        expect(changed(TRAINING) !== changed(VALIDATION)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('clipping bites: a large-weight MLP on extreme records moves the update by nearly the clip', async () => {
    const coding = coded(FORMULAS.regression.formula, 'gaussian', INSURANCE);
    const trainer = flTrainer({ kind: 'mlp', hidden: [6, 3], activation: 'tanh' }, coding);
    const global = trainer.initialParameters(3).map((w) => w * 30);
    const clip = 0.5;
    const plan = planFlEncoding({
      parameters: trainer.size,
      output: 'regression',
      validation: false,
      updateBound: clip,
      maxRows: 1000,
      agencies: 3,
      plainModulus: T60,
      slotsPerCiphertext: 8192,
      maxCiphertexts: 32,
      privacy: { rho: rational(1n, 2n), threshold: 2 },
    });
    const u = prng(11);
    const extra = record(u, true);
    const seed = new Uint8Array(16).fill(7);
    const units = await localRoundUnits(
      {
        trainer,
        coding,
        responseScale: responseScale(coding, INSURANCE),
        global,
        plan,
        hyper: { lr: 0.1, clip, epochs: 1, batch: 8, mu: 0 },
        train: true,
        validation: 0,
        splitKey: 'r',
        rounding: new RoundingStream(seed),
        shuffle: new RoundingStream(seed),
      },
      chunks([[extra]]),
    );
    const k = plan.kinds.update;
    let l2 = 0;
    for (let i = k.firstEntry; i < k.firstEntry + k.entries; i++) l2 += (units[i] as number) ** 2;
    const c = clip * 2 ** k.fractionalBits;
    // the raw gradient is far beyond the clip; the rounded clipped one is within C·2^f ± √P
    expect(Math.sqrt(l2)).toBeGreaterThan(c - Math.sqrt(k.entries));
    expect(BigInt(l2)).toBeLessThanOrEqual(k.noise?.sensitivity.l2Squared ?? 0n);
  });
});
