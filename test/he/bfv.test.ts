import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { HeDecryptor } from '../../src/he/decryptor.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { generateHeKeys, type HeKeyPair } from '../../src/he/keys.js';
import { packSlots, planSlotLayout, unpackSlots } from '../../src/he/packing.js';
import { BFV_N8192_T60, presetByName } from '../../src/he/presets.js';
import { INSECURE_BFV_N4096_T50 } from './insecure-presets.js';

let params: HeParams;
let keys: HeKeyPair;

beforeAll(async () => {
  params = await HeParams.create(BFV_N8192_T60);
  keys = generateHeKeys(params);
});
afterAll(() => params[Symbol.dispose]());

describe('HeParams and presets', () => {
  it('builds BFV_N8192_T60 with the measured plain modulus and a stable paramsId', async () => {
    expect(params.slotCount).toBe(8192);
    expect(params.plainModulus).toBe(1152921504606830593n);
    expect(params.ciphertextBytes).toBe(524401);
    expect(params.paramsId).toMatch(/^[0-9a-f]{64}$/);
    using again = await HeParams.create(presetByName('BFV_N8192_T60'));
    expect(again.paramsId).toBe(params.paramsId);
    using other = await HeParams.create(INSECURE_BFV_N4096_T50);
    expect(other.paramsId).not.toBe(params.paramsId);
    // Same SEAL parameters under another name are another parameter set.
    using renamed = await HeParams.create({ ...BFV_N8192_T60, name: 'RENAMED' });
    expect(renamed.paramsId).not.toBe(params.paramsId);
  });

  it('names the valid presets when asked for an unknown one', () => {
    expect(() => presetByName('BFV_N4096_T60')).toThrowError(/use one of: BFV_N8192_T60/);
    expect(() => presetByName('toString')).toThrowError(/unknown HE preset/);
  });

  it('refuses N=4096 with a 60-bit plain modulus (too little noise headroom)', async () => {
    await expect(
      HeParams.create({ name: 'INSECURE_N4096_T60', polyModulusDegree: 4096, plainModulusBits: 60, security: 128 }),
    ).rejects.toThrowError(/bits between the coefficient and plain moduli/);
  });
});

describe('BFV keys and encryption', () => {
  it('keys are uncompressed SEAL objects; a seeded public key is half the raw size', () => {
    expect(keys.publicKey.length).toBe(327874);
    expect(keys.secretKey.length).toBe(327768);
    expect(keys.publicKey[5]).toBe(0); // compr_mode none
  });

  it('refuses malformed or foreign key bytes with KEY_INVALID', async () => {
    using small = await HeParams.create(INSECURE_BFV_N4096_T50);
    const smallKeys = generateHeKeys(small);
    const cases: Uint8Array[] = [new Uint8Array(0), keys.publicKey.slice(0, 1000), smallKeys.publicKey];
    for (const bytes of cases) {
      try {
        new HeEncryptor(params, bytes)[Symbol.dispose]();
        expect.unreachable();
      } catch (e) {
        expect(isFedstatError(e, 'KEY_INVALID')).toBe(true);
      }
    }
    expect(() => new HeDecryptor(params, smallKeys.secretKey)).toThrowError(/HE secret key is invalid/);
  });

  it('the encrypted sum of k random vectors decrypts to the plaintext sum (pooled or not)', () => {
    using enc = new HeEncryptor(params, keys.publicKey);
    using dec = new HeDecryptor(params, keys.secretKey);
    const t = params.plainModulus;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((k) =>
          fc.array(fc.array(fc.bigInt({ min: 0n, max: t - 1n }), { minLength: 1, maxLength: 40 }), {
            minLength: k,
            maxLength: k,
          }),
        ),
        fc.integer({ min: 0, max: 6 }),
        (vectors, pool) => {
          enc.precompute(pool);
          using acc = new HeAccumulator(params, 1);
          for (const v of vectors) acc.add([enc.encrypt(BigUint64Array.from(v))]);
          expect(acc.contributions).toBe(vectors.length);
          const got = dec.decrypt(acc.sum()[0]!);
          // Reference: bigint sums mod t, slot by slot (absent slots are zero).
          const expected = new Array<bigint>(8192).fill(0n);
          for (const v of vectors)
            v.forEach((x, i) => {
              expected[i] = (expected[i]! + x) % t;
            });
          expect(Array.from(got)).toEqual(expected);
        },
      ),
      { numRuns: 6 },
    );
    expect(enc.pooled).toBeGreaterThanOrEqual(0);
  });

  it('a pooled encryption is used once and decrypts like a direct one', () => {
    using enc = new HeEncryptor(params, keys.publicKey);
    using dec = new HeDecryptor(params, keys.secretKey);
    enc.precompute(2);
    expect(enc.pooled).toBe(2);
    const v = BigUint64Array.from([7n, 0n, params.plainModulus - 1n]);
    const a = enc.encrypt(v);
    const b = enc.encrypt(v);
    expect(enc.pooled).toBe(0);
    const c = enc.encrypt(v); // direct
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false); // fresh randomness each time
    for (const ct of [a, b, c]) expect(Array.from(dec.decrypt(ct).slice(0, 3))).toEqual(Array.from(v));
  });

  it('packed cells survive encryption: unpack(decrypt(sum)) equals the bigint totals', () => {
    using enc = new HeEncryptor(params, keys.publicKey);
    using dec = new HeDecryptor(params, keys.secretKey);
    const bounds = [1n << 90n, 120n, 0n, 2_000_000n * 1_000_000_000n];
    const layout = planSlotLayout(bounds, 3, params);
    const parties = [
      [bounds[0]!, 120n, 0n, bounds[3]!],
      [12345678901234567890123n, 0n, 0n, 1n],
      [bounds[0]!, 60n, 0n, 999n],
    ];
    using acc = new HeAccumulator(params, layout.ciphertextCount, { maxContributions: 3 });
    for (const values of parties) acc.add(packSlots(layout, values).map((s) => enc.encrypt(s)));
    const totals = unpackSlots(
      layout,
      acc.sum().map((ct) => dec.decrypt(ct)),
    );
    expect(totals).toEqual(bounds.map((_, i) => parties.reduce((a, p) => a + p[i]!, 0n)));
    expect(() => acc.add(packSlots(layout, parties[0]!).map((s) => enc.encrypt(s)))).toThrowError(
      /exceeds the 3 the no-wrap proof covers/,
    );
  });

  it('rejects slot vectors a caller should never build, with RangeError', () => {
    using enc = new HeEncryptor(params, keys.publicKey);
    expect(() => enc.encrypt(new BigUint64Array(8193))).toThrow(RangeError);
    expect(() => enc.encrypt(BigUint64Array.from([params.plainModulus]))).toThrow(RangeError);
  });

  it('refuses to work after dispose', () => {
    const enc = new HeEncryptor(params, keys.publicKey);
    enc.precompute(1);
    enc[Symbol.dispose]();
    enc[Symbol.dispose](); // idempotent
    expect(() => enc.encrypt(new BigUint64Array(1))).toThrow(TypeError);
  });
});
