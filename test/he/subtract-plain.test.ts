import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { HeDecryptor } from '../../src/he/decryptor.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { generateHeKeys } from '../../src/he/keys.js';
import { INSECURE_BFV_N4096_T50 } from './insecure-presets.js';

let params: HeParams;
let enc: HeEncryptor;
let dec: HeDecryptor;

beforeAll(async () => {
  params = await HeParams.create(INSECURE_BFV_N4096_T50);
  const keys = generateHeKeys(params);
  enc = new HeEncryptor(params, keys.publicKey);
  dec = new HeDecryptor(params, keys.secretKey);
});
afterAll(() => {
  dec[Symbol.dispose]();
  enc[Symbol.dispose]();
  params[Symbol.dispose]();
});

/** Reference: slot-wise Σ contributions − correction, mod t, over slotCount slots (absent = 0). */
function expected(
  contributions: readonly (readonly bigint[])[],
  correction: readonly bigint[],
  t: bigint,
  n: number,
): bigint[] {
  const out = new Array<bigint>(n).fill(0n);
  for (const v of contributions)
    v.forEach((x, i) => {
      out[i] = (out[i]! + x) % t;
    });
  correction.forEach((x, i) => {
    out[i] = (((out[i]! - x) % t) + t) % t;
  });
  return out;
}

describe('HeAccumulator.subtractPlain', () => {
  it('decrypts to (Σ contributions − plain vector) mod t, per ciphertext, for random vectors', () => {
    const t = params.plainModulus;
    const slot = fc.oneof(fc.bigInt({ min: 0n, max: t - 1n }), fc.constantFrom(0n, 1n, t - 1n));
    const vector = fc.array(slot, { minLength: 0, maxLength: 24 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(vector, vector), { minLength: 1, maxLength: 4 }),
        fc.tuple(vector, vector),
        (contributions, correction) => {
          using acc = new HeAccumulator(params, 2);
          for (const [a, b] of contributions)
            acc.add([enc.encrypt(BigUint64Array.from(a)), enc.encrypt(BigUint64Array.from(b))]);
          acc.subtractPlain([BigUint64Array.from(correction[0]), BigUint64Array.from(correction[1])]);
          const got = acc.sum().map((ct) => Array.from(dec.decrypt(ct)));
          expect(got[0]).toEqual(
            expected(
              contributions.map((c) => c[0]),
              correction[0],
              t,
              params.slotCount,
            ),
          );
          expect(got[1]).toEqual(
            expected(
              contributions.map((c) => c[1]),
              correction[1],
              t,
              params.slotCount,
            ),
          );
        },
      ),
      { numRuns: 8 },
    );
  });

  it('removes a mask: (x + m) − m = x, and a full-length vector works', () => {
    const t = params.plainModulus;
    const mask = BigUint64Array.from({ length: params.slotCount }, (_, i) => (BigInt(i) * 0x9e3779b97f4a7n) % t);
    const x = BigUint64Array.from({ length: params.slotCount }, (_, i) => BigInt(i % 1000));
    const masked = x.map((v, i) => (v + mask[i]!) % t);
    using acc = new HeAccumulator(params, 1);
    acc.add([enc.encrypt(masked)]);
    acc.subtractPlain([mask]);
    expect(Array.from(dec.decrypt(acc.sum()[0]!))).toEqual(Array.from(x));
    expect(acc.contributions).toBe(1);
  });

  it('is all or nothing: a bad vector anywhere leaves every sum untouched', () => {
    using acc = new HeAccumulator(params, 2);
    acc.add([enc.encrypt(BigUint64Array.from([10n])), enc.encrypt(BigUint64Array.from([20n]))]);
    const ok = BigUint64Array.from([1n]);
    expect(() => acc.subtractPlain([ok, BigUint64Array.from([params.plainModulus])])).toThrow(RangeError);
    expect(() => acc.subtractPlain([ok, new BigUint64Array(params.slotCount + 1)])).toThrow(RangeError);
    expect(() => acc.subtractPlain([ok])).toThrow(RangeError);
    expect(() => acc.subtractPlain([ok, [1n] as unknown as BigUint64Array])).toThrow(TypeError);
    expect(acc.sum().map((ct) => dec.decrypt(ct)[0])).toEqual([10n, 20n]);
  });

  it('refuses to run before the first contribution or after dispose, with TypeError', () => {
    const acc = new HeAccumulator(params, 1);
    expect(() => acc.subtractPlain([new BigUint64Array(1)])).toThrowError(/no contribution has been added/);
    acc[Symbol.dispose]();
    expect(() => acc.subtractPlain([new BigUint64Array(1)])).toThrowError(/disposed/);
  });
});
