/**
 * Empirical privacy audit of one DP federated-averaging round: a canary record inserted into one
 * agency, membership tested over many runs of the round exactly as the agencies compute it
 * (localRoundUnits per agency, drawFlNoise per agency for τ agencies, units + noise summed as
 * integers: what decryption yields; no gRPC or HE, which only move these integers).
 *
 * Statistic: the projection of the decoded update on the canary's clipped-gradient direction, the
 * likelihood-ratio test for a shift in a known direction under isotropic noise, so the strongest
 * membership test for this mechanism. The threshold is chosen on half the trials and evaluated on
 * the other half; Clopper–Pearson 95% bounds give ε_lb = max(ln((TPR_lb − δ)/FPR_ub),
 * ln((1 − FPR_ub − δ)/(1 − TPR_lb))), which must not exceed the claimed ε (rhoToEpsilon(ρ, δ)).
 * ρ = 2 per round keeps the audit meaningful (the canary's shift is ~1.7 noise standard deviations);
 * δ = 0.1 puts the claimed ε (~4.9) where a few thousand trials can resolve it.
 * Negative control: the same audit with the update's noise drawn at μ/100 must find ε_lb above
 * the claim, which shows the audit has the power to catch an under-noised round.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rhoToEpsilon } from '../../../src/dp/conversion.js';
import { drawNoise } from '../../../src/dp/noise-vector.js';
import { rational } from '../../../src/dp/rational.js';
import { designVector, responseOf, type DataRecord } from '../../../src/learn/design-row.js';
import { drawFlNoise, planFlEncoding } from '../../../src/learn/fl/fl-encoding.js';
import { flTrainer, responseScale } from '../../../src/learn/fl/fl-model.js';
import { localRoundUnits, type LocalRoundSpec } from '../../../src/learn/fl/local-round.js';
import { RoundingStream } from '../../../src/learn/fl/rounding-stream.js';
import { prng } from '../arbitraries.js';
import { INSURANCE, coded } from '../fixtures.js';
import { bestThreshold, epsilonLowerBound } from './audit-stats.js';

const LONG = process.env['FEDSTAT_LONG'] === '1';
/** Trials per world (with / without the canary); half pick the threshold, half evaluate it. */
const TRIALS = LONG ? 20_000 : 2_000;
const RHO = 2n;
const DELTA = 0.1;
const AGENCIES = 3;
const ROWS = 20;
const T60 = 1152921504606830593n;

const coding = coded('insured ~ age + sex + sector + monthly_income', 'binomial', INSURANCE);
const trainer = flTrainer({ kind: 'mlp', hidden: [], activation: 'tanh' }, coding);
const global = trainer.initialParameters(5);
const clip = 0.2;
const plan = planFlEncoding({
  parameters: trainer.size,
  output: 'binary',
  validation: false,
  updateBound: clip,
  maxRows: 1000,
  agencies: AGENCIES,
  plainModulus: T60,
  slotsPerCiphertext: 8192,
  maxCiphertexts: 32,
  privacy: { rho: rational(RHO), threshold: AGENCIES },
});
const update = plan.kinds.update;

function recordOf(u: () => number, extreme: boolean): DataRecord {
  const out: Record<string, string | number> = {};
  for (const [name, col] of Object.entries(INSURANCE.columns)) {
    if (col.type === 'category') out[name] = col.values[Math.floor(u() * col.values.length)] as string;
    else if (col.type === 'integer')
      out[name] = extreme ? col.max : col.min + Math.floor(u() * (col.max - col.min + 1));
  }
  return out;
}

const u = prng(2026);
const agencies = Array.from({ length: AGENCIES }, () => Array.from({ length: ROWS }, () => recordOf(u, false)));
/** The canary: every integer at its bound and the label the model finds least likely. */
const canary = { ...recordOf(u, true), insured: '否' };

/** The unit direction of the canary's clipped gradient at the global parameters. */
function canaryDirection(): Float64Array {
  const x = designVector(coding, canary);
  const y = responseOf(coding, canary) / responseScale(coding, INSURANCE);
  let dir = new Float64Array(trainer.size);
  trainer.exampleGradients(global, { x, y: Float64Array.of(y), rows: 1 }, (_r, g) => {
    dir = Float64Array.from(g);
  });
  const norm = Math.sqrt(dir.reduce((s, v) => s + v * v, 0));
  expect(norm).toBeGreaterThan(clip); // the canary is clipped: it moves the update by the full C
  return dir.map((v) => v / norm);
}
const direction = canaryDirection();

async function* once(records: readonly DataRecord[]): AsyncIterable<readonly DataRecord[]> {
  await Promise.resolve();
  yield records;
}

function spec(): LocalRoundSpec {
  return {
    trainer,
    coding,
    responseScale: 1,
    global,
    plan,
    hyper: { lr: 0.1, clip, epochs: 1, batch: 8, mu: 0 },
    train: true,
    validation: 0,
    splitKey: 'audit',
    rounding: new RoundingStream(randomBytes(16)),
    shuffle: new RoundingStream(randomBytes(16)),
  };
}

/** One round in one world: the statistic with the real noise, and with the control's μ/100 update noise. */
async function trial(withCanary: boolean): Promise<{ real: number; control: number }> {
  const total = new Float64Array(plan.entries);
  const realNoise = new Float64Array(update.entries);
  const controlNoise = new Float64Array(update.entries);
  const agencyMu = update.noise?.agencyMu ?? rational(1n);
  const weakMu = rational(agencyMu.num, agencyMu.den * 100n);
  for (let a = 0; a < AGENCIES; a++) {
    const records = withCanary && a === 0 ? [...(agencies[a] ?? []), canary] : (agencies[a] ?? []);
    const units = await localRoundUnits(spec(), once(records));
    const noise = await drawFlNoise(plan);
    const weak = drawNoise(weakMu, update.entries);
    for (let i = 0; i < plan.entries; i++) total[i] = (total[i] as number) + (units[i] as number);
    for (let j = 0; j < update.entries; j++) {
      realNoise[j] = (realNoise[j] as number) + Number(noise[update.firstEntry + j]);
      controlNoise[j] = (controlNoise[j] as number) + Number(weak[j]);
    }
  }
  let real = 0;
  let control = 0;
  for (let j = 0; j < update.entries; j++) {
    const data = total[update.firstEntry + j] as number;
    real += (data + (realNoise[j] as number)) * (direction[j] as number);
    control += (data + (controlNoise[j] as number)) * (direction[j] as number);
  }
  return { real, control };
}

/** ε_lb of one mechanism: threshold from the first half of the trials, bounds from the second. */
function audit(member: number[], nonMember: number[]): number {
  const h = member.length / 2;
  const t = bestThreshold(member.slice(0, h), nonMember.slice(0, h), DELTA);
  return epsilonLowerBound(member.slice(h), nonMember.slice(h), t, DELTA);
}

describe('canary audit of a DP federated-averaging round', () => {
  it(
    'the empirical ε lower bound stays within the claimed ε; with μ/100 it exceeds it',
    async () => {
      const claimed = rhoToEpsilon(rational(RHO), DELTA);
      const inWorld = { real: [] as number[], control: [] as number[] };
      const outWorld = { real: [] as number[], control: [] as number[] };
      for (let i = 0; i < TRIALS; i++) {
        const a = await trial(true);
        inWorld.real.push(a.real);
        inWorld.control.push(a.control);
        const b = await trial(false);
        outWorld.real.push(b.real);
        outWorld.control.push(b.control);
      }
      const real = audit(inWorld.real, outWorld.real);
      const control = audit(inWorld.control, outWorld.control);
      console.log(
        `canary audit (${TRIALS} trials per world, ρ = ${RHO}, δ = ${DELTA}): claimed ε ${claimed.toFixed(3)}, ε_lb ${real.toFixed(3)}; negative control (μ/100) ε_lb ${control.toFixed(3)}`,
      );
      expect(real).toBeGreaterThan(0); // not vacuous: the canary is detectable at all
      expect(real).toBeLessThanOrEqual(claimed);
      expect(control).toBeGreaterThan(claimed);
    },
    LONG ? 600_000 : 60_000,
  );
});
