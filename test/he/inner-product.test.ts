/**
 * Encrypted inner products over linked positions: encrypting agencies' vectors summed per block,
 * weighted by a multiplying agency at its own positions, decrypt to the plaintext inner product
 * in coefficient 0, and every other coefficient is masked.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { checkCiphertextLayout } from '../../src/he/ciphertext-layout.js';
import { HeDecryptor } from '../../src/he/decryptor.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { constantCoefficient, InnerProducts } from '../../src/he/inner-product.js';
import { generateHeKeys, type HeKeyPair } from '../../src/he/keys.js';
import { encryptPositionBlocks, encryptPositions } from '../../src/he/position-encryption.js';
import { BFV_N8192_T60 } from '../../src/he/presets.js';
import { unmaskedProduct } from './inner-product-reference.js';

const RUNS = process.env['FEDSTAT_LONG'] === '1' ? 150 : 15;
const BOUND = 1n << 20n;

let params: HeParams;
let keys: HeKeyPair;
let enc: HeEncryptor;
let dec: HeDecryptor;

beforeAll(async () => {
  params = await HeParams.create(BFV_N8192_T60);
  keys = generateHeKeys(params);
  enc = new HeEncryptor(params, keys.publicKey);
  dec = new HeDecryptor(params, keys.secretKey);
});

afterAll(() => {
  dec[Symbol.dispose]();
  enc[Symbol.dispose]();
  params[Symbol.dispose]();
});

/** v mod t as the signed value it names (|v| < t/2). */
function signed(v: bigint, t: bigint): bigint {
  return v > t / 2n ? v - t : v;
}

/** Encrypting agencies' vectors, one ciphertext list per agency, summed per block. */
function sumBlocks(perAgency: readonly Uint8Array[][], blocks: number): Uint8Array[] {
  using acc = new HeAccumulator(params, blocks);
  for (const cts of perAgency) acc.add(cts);
  return acc.sum();
}

describe('inner products over linked positions', () => {
  it('decrypt to Σ E[c][p]·w (+ constant) mod t in coefficient 0', () => {
    const n = params.slotCount;
    const t = params.plainModulus;
    const value = fc.bigInt({ min: -BOUND, max: BOUND });
    const scenario = fc
      .record({
        p: fc.integer({ min: 1, max: 3 * n }),
        components: fc.integer({ min: 1, max: 2 }),
        agencies: fc.integer({ min: 1, max: 3 }),
      })
      .chain(({ p, components, agencies }) =>
        fc.record({
          p: fc.constant(p),
          components: fc.constant(components),
          agencies: fc.constant(agencies),
          // E elements: distinct positions, an owning agency, one value per component
          e: fc.uniqueArray(
            fc.record({
              pos: fc.integer({ min: 0, max: p - 1 }),
              agency: fc.integer({ min: 0, max: agencies - 1 }),
              values: fc.array(value, { minLength: components, maxLength: components }),
            }),
            { selector: (x) => x.pos, maxLength: 40 },
          ),
          // M elements: distinct positions (some picked from E's below), one weight per output
          m: fc.uniqueArray(fc.integer({ min: 0, max: p - 1 }), { maxLength: 40 }),
          overlap: fc.integer({ min: 0, max: 40 }),
          outputs: fc.array(
            fc.record({
              component: fc.integer({ min: 0, max: components - 1 }),
              seed: fc.array(value, { minLength: 80, maxLength: 80 }),
              constant: fc.option(fc.bigInt({ min: -BOUND, max: BOUND }), { nil: undefined }),
              share: fc.boolean(), // reuse the previous output's weight array (shared transforms)
            }),
            { minLength: 1, maxLength: 3 },
          ),
        }),
      );
    fc.assert(
      fc.property(scenario, (s) => {
        const blocks = Math.ceil(s.p / n);
        // E side: each agency encrypts each component over all blocks; the coordinator sums.
        const summed: Uint8Array[][] = [];
        for (let c = 0; c < s.components; c++) {
          const perAgency: Uint8Array[][] = [];
          for (let a = 0; a < s.agencies; a++) {
            const mine = s.e.filter((x) => x.agency === a);
            const cts = encryptPositions(
              enc,
              Uint32Array.from(mine.map((x) => x.pos)),
              BigInt64Array.from(mine.map((x) => x.values[c] ?? 0n)),
              blocks,
            );
            expect(cts).toHaveLength(blocks);
            perAgency.push(cts);
          }
          summed.push(sumBlocks(perAgency, blocks));
        }
        const plainE = new Map(s.e.map((x) => [x.pos, x.values]));
        // M side: its positions are its own picks plus some of E's.
        const mPositions = [...new Set([...s.m, ...s.e.slice(0, s.overlap).map((x) => x.pos)])];
        using ip = new InnerProducts(params, keys.publicKey, summed);
        const outputs: { component: number; weights: BigInt64Array; constant?: bigint }[] = [];
        for (const o of s.outputs) {
          const previous = outputs.at(-1);
          const weights =
            o.share && previous !== undefined
              ? previous.weights
              : BigInt64Array.from(mPositions.map((_, i) => o.seed[i % o.seed.length] ?? 0n));
          outputs.push({
            component: o.component,
            weights,
            ...(o.constant === undefined ? {} : { constant: o.constant }),
          });
        }
        const cts = ip.compute(Uint32Array.from(mPositions), outputs);
        expect(cts).toHaveLength(outputs.length);
        outputs.forEach((o, k) => {
          let want = o.constant ?? 0n;
          mPositions.forEach((pos, i) => {
            want += (plainE.get(pos)?.[o.component] ?? 0n) * (o.weights[i] ?? 0n);
          });
          const ct = cts[k]!;
          checkCiphertextLayout(ct, params.shape);
          const got = constantCoefficient(dec.decrypt(ct));
          expect(got).toBe(((want % t) + t) % t);
          expect(signed(got, t)).toBe(want); // |want| ≤ 80·2^40 + 2^20, far below t/2
        });
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it('masks every cross term, differently on every run', () => {
    const n = params.slotCount;
    const t = params.plainModulus;
    const positions = Uint32Array.from({ length: 300 }, (_, i) => (i * 27) % n);
    const values = BigInt64Array.from({ length: 300 }, (_, i) => BigInt((i * 7919) % 2001) - 1000n);
    const summed = [encryptPositions(enc, positions, values, 1)];
    const weights = BigInt64Array.from({ length: 300 }, (_, i) => BigInt((i * 104729) % 4001) - 2000n);
    const plain = unmaskedProduct(params, keys.secretKey, summed[0]![0]!, positions, weights);
    using ip = new InnerProducts(params, keys.publicKey, summed);
    const [first] = ip.compute(positions, [{ component: 0, weights }]);
    const [second] = ip.compute(positions, [{ component: 0, weights }]);
    const a = dec.decrypt(first!);
    const b = dec.decrypt(second!);
    // coefficient 0 is the inner product, in both runs and in the unmasked product
    expect(a[0]).toBe(plain[0]);
    expect(b[0]).toBe(plain[0]);
    let survived = 0;
    let repeated = 0;
    let sum = 0;
    for (let j = 1; j < n; j++) {
      if (a[j] === plain[j]) survived++;
      if (a[j] === b[j]) repeated++;
      sum += Number(a[j]!) / Number(t);
    }
    expect(survived).toBe(0);
    expect(repeated).toBe(0);
    expect(plain.subarray(1).some((v) => v !== 0n)).toBe(true); // there were cross terms to hide
    // uniform on [0, t): the mean of 8191 draws is 1/2 within 6 standard deviations (0.0032)
    expect(Math.abs(sum / (n - 1) - 0.5)).toBeLessThan(0.02);
  }, 60_000);

  it('sends every block, encryptions of zero where the agency has no element', () => {
    const n = params.slotCount;
    const blocks = [...encryptPositionBlocks(enc, Uint32Array.of(2 * n + 5), BigInt64Array.of(-7n), 3)];
    expect(blocks).toHaveLength(3);
    for (const ct of blocks) expect(ct.length).toBe(params.ciphertextBytes);
    expect(dec.decrypt(blocks[0]!).every((v) => v === 0n)).toBe(true);
    const last = dec.decrypt(blocks[2]!);
    expect(last[5]).toBe(params.plainModulus - 7n);
  });

  it('gives an encryption of the constant when the agency has no element', () => {
    using ip = new InnerProducts(params, keys.publicKey, [
      encryptPositions(enc, Uint32Array.of(1), BigInt64Array.of(9n), 1),
    ]);
    const [ct] = ip.compute(new Uint32Array(0), [{ component: 0, weights: new BigInt64Array(0), constant: -3n }]);
    expect(constantCoefficient(dec.decrypt(ct!))).toBe(params.plainModulus - 3n);
  });

  it('refuses bad arguments before any work', () => {
    const n = params.slotCount;
    expect(() => encryptPositionBlocks(enc, Uint32Array.of(n), BigInt64Array.of(1n), 1)).toThrow(RangeError);
    expect(() => encryptPositionBlocks(enc, Uint32Array.of(3, 3), BigInt64Array.of(1n, 2n), 1)).toThrow(/repeats/);
    expect(() => encryptPositionBlocks(enc, Uint32Array.of(3), BigInt64Array.of(1n, 2n), 1)).toThrow(RangeError);
    expect(() => encryptPositionBlocks(enc, Uint32Array.of(3), BigInt64Array.of(1n << 62n), 1)).toThrow(/±/);
    expect(() => encryptPositionBlocks(enc, Uint32Array.of(3), BigInt64Array.of(1n), 0)).toThrow(RangeError);
    using ip = new InnerProducts(params, keys.publicKey, [
      encryptPositions(enc, new Uint32Array(0), new BigInt64Array(0), 1),
    ]);
    expect(() => ip.compute(Uint32Array.of(1), [{ component: 1, weights: BigInt64Array.of(1n) }])).toThrow(/component/);
    expect(() => ip.compute(Uint32Array.of(1), [{ component: 0, weights: BigInt64Array.of(1n, 2n) }])).toThrow(
      RangeError,
    );
    expect(() => new InnerProducts(params, keys.publicKey, [[new Uint8Array(10)]])).toThrow(
      expect.objectContaining({ code: 'BAD_MESSAGE' }),
    );
    expect(() => new InnerProducts(params, keys.publicKey, [[], []])).toThrow(RangeError);
  });
});
