/**
 * Server strategies (src/learn/fl/strategy.ts): FedAvg moves by exactly the mean update, FedAdam
 * matches a two-round example computed by hand, FedProx with μ = 0 adds nothing, and states
 * survive a JSON checkpoint bit for bit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fedAdam, fedAvg, proximalGradient } from '../../../src/learn/fl/strategy.js';
import type { Strategy } from '../../../src/learn/fl/strategy.js';

const finite = fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true });
const vectors = (n: number) => fc.array(finite, { minLength: n, maxLength: n }).map((a) => Float64Array.from(a));
const pair = fc.integer({ min: 1, max: 20 }).chain((n) => fc.tuple(vectors(n), vectors(n), vectors(n)));

describe('fedAvg', () => {
  it('with serverLr 1 moves params by exactly meanUpdate', () => {
    fc.assert(
      fc.property(pair, ([params, update]) => {
        const s = fedAvg();
        const { state, params: next } = s.apply(s.init(params), params, update);
        expect(state.round).toBe(1);
        for (let i = 0; i < params.length; i++) expect(next[i]).toBe((params[i] as number) + (update[i] as number));
      }),
    );
  });

  it('scales the step by serverLr and leaves its inputs alone', () => {
    const params = Float64Array.of(1, 2);
    const s = fedAvg({ serverLr: 0.5 });
    const { params: next } = s.apply(s.init(params), params, Float64Array.of(4, -2));
    expect(Array.from(next)).toEqual([3, 1]);
    expect(Array.from(params)).toEqual([1, 2]);
  });
});

describe('fedAdam', () => {
  it('matches a two-round example computed by hand (defaults η=0.01, β1=0.9, β2=0.99, τ=0.001)', () => {
    const s = fedAdam();
    const x0 = Float64Array.of(0.5, -1);
    const d1 = Float64Array.of(0.2, -0.4);
    const d2 = Float64Array.of(0.1, 0.3);
    // Start: m = [0, 0], v = [τ², τ²] = [1e-6, 1e-6].
    // Round 1: m = 0.1·d1 = [0.02, −0.04];
    //   v = 0.99·1e-6 + 0.01·d1² = [0.00000099 + 0.0004, 0.00000099 + 0.0016] = [0.00040099, 0.00160099];
    //   √v = [0.0200247347…, 0.0400123730…];
    //   x1 = x0 + 0.01·m/(√v + 0.001) = [0.5 + 0.0002/0.0210247347…, −1 − 0.0004/0.0410123730…]
    //      = [0.5095126051675589, −1.0097531542287974].
    const r1 = s.apply(s.init(x0), x0, d1);
    expect(r1.state.m[0]).toBeCloseTo(0.02, 15);
    expect(r1.state.m[1]).toBeCloseTo(-0.04, 15);
    expect(r1.state.v[0]).toBeCloseTo(0.00040099, 15);
    expect(r1.state.v[1]).toBeCloseTo(0.00160099, 15);
    expect(r1.params[0]).toBeCloseTo(0.5 + 0.0002 / (Math.sqrt(0.00040099) + 0.001), 14);
    expect(r1.params[0]).toBeCloseTo(0.5095126051675589, 14);
    expect(r1.params[1]).toBeCloseTo(-1.0097531542287974, 14);
    // Round 2: m = 0.9·[0.02, −0.04] + 0.1·d2 = [0.018 + 0.01, −0.036 + 0.03] = [0.028, −0.006];
    //   v = 0.99·v + 0.01·d2² = [0.0003969801 + 0.0001, 0.0015849801 + 0.0009] = [0.0004969801, 0.0024849801];
    //   √v = [0.0222930504…, 0.0498495747…];
    //   x2 = x1 + 0.01·m/(√v + 0.001) = [x1₀ + 0.00028/0.0232930504…, x1₁ − 0.00006/0.0508495747…]
    //      = [0.521533357887799, −1.0109331051001194].
    const r2 = s.apply(r1.state, r1.params, d2);
    expect(r2.state.round).toBe(2);
    expect(r2.state.m[0]).toBeCloseTo(0.028, 15);
    expect(r2.state.m[1]).toBeCloseTo(-0.006, 15);
    expect(r2.state.v[0]).toBeCloseTo(0.0004969801, 15);
    expect(r2.state.v[1]).toBeCloseTo(0.0024849801, 15);
    expect(r2.params[0]).toBeCloseTo(0.521533357887799, 14);
    expect(r2.params[1]).toBeCloseTo(-1.0109331051001194, 14);
  });

  it('refuses bad hyper-parameters, mismatched lengths and non-finite updates', () => {
    expect(() => fedAdam({ beta1: 1 })).toThrow(RangeError);
    expect(() => fedAdam({ tau: 0 })).toThrow(RangeError);
    const s = fedAdam();
    const x = Float64Array.of(1, 2);
    expect(() => s.apply(s.init(x), Float64Array.of(1), Float64Array.of(1))).toThrow(/same length/);
    expect(() => s.apply(s.init(x), x, Float64Array.of(1, Number.NaN))).toThrow(/meanUpdate\[1\]/);
  });
});

/** Runs three rounds, checkpointing the state through JSON after each, against an uninterrupted run. */
function roundTrips<S>(strategy: Strategy<S>, params: Float64Array, updates: Float64Array[]): void {
  let plain = { state: strategy.init(params), params };
  let resumed = { state: strategy.init(params), params };
  for (const u of updates) {
    plain = strategy.apply(plain.state, plain.params, u);
    const text = JSON.stringify(resumed.state);
    const restored = JSON.parse(text) as S;
    expect(JSON.stringify(restored)).toBe(text);
    resumed = strategy.apply(restored, resumed.params, u);
    expect(resumed.state).toStrictEqual(plain.state);
    for (let i = 0; i < params.length; i++) expect(Object.is(resumed.params[i], plain.params[i])).toBe(true);
  }
}

describe('strategy state', () => {
  it('round-trips through JSON bit-identically, so a resumed run equals an uninterrupted one', () => {
    fc.assert(
      fc.property(pair, ([params, u1, u2]) => {
        // −0 and denormal-sized updates probe the sign of zero, which JSON cannot carry.
        const u0 = u1.map((x) => (x === 0 ? -0 : -x * 1e-300));
        roundTrips(fedAdam(), params, [u0, u1, u2]);
        roundTrips(fedAvg({ serverLr: 0.7 }), params, [u0, u1, u2]);
      }),
      { numRuns: 50 },
    );
  });
});

describe('proximalGradient', () => {
  it('with μ = 0 adds nothing to a local gradient', () => {
    fc.assert(
      fc.property(pair, ([w, wGlobal, grad]) => {
        const prox = proximalGradient(w, wGlobal, 0);
        for (let i = 0; i < w.length; i++) expect((grad[i] as number) + (prox[i] as number) === grad[i]).toBe(true);
      }),
    );
  });

  it('is μ(w − w_global)', () => {
    expect(Array.from(proximalGradient(Float64Array.of(3, -1), Float64Array.of(1, 1), 0.5))).toEqual([1, -1]);
    expect(() => proximalGradient(Float64Array.of(1), Float64Array.of(1, 2), 1)).toThrow(RangeError);
    expect(() => proximalGradient(Float64Array.of(1), Float64Array.of(1), -1)).toThrow(RangeError);
  });
});
