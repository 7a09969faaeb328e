/**
 * Noise of encrypted inner products at the worst case a join uses: encrypted values up to 2^40,
 * weights up to 2^20 at every one of 2^21 positions (256 blocks at N = 8192). Decryption must stay
 * exact for one output and for a sum of 64 outputs; the budgets left are printed. FEDSTAT_LONG=1
 * sums 4 encrypting agencies per block instead of 1 and times the naive path on all 256 blocks.
 */
import { randomFillSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { InnerProducts } from '../../src/he/inner-product.js';
import { generateHeKeys, type HeKeyPair } from '../../src/he/keys.js';
import { encryptPositionBlocks, encryptPositions } from '../../src/he/position-encryption.js';
import { BFV_N8192_T60 } from '../../src/he/presets.js';
import { decryptWithBudget, naiveProducts } from './inner-product-reference.js';

const LONG = process.env['FEDSTAT_LONG'] === '1';
const AGENCIES = LONG ? 4 : 1;
const BLOCKS = 256;
const NAIVE_BLOCKS = LONG ? BLOCKS : 8;
const SUMMED_OUTPUTS = 64;

let params: HeParams;
let keys: HeKeyPair;
let enc: HeEncryptor;

beforeAll(async () => {
  params = await HeParams.create(BFV_N8192_T60);
  keys = generateHeKeys(params);
  enc = new HeEncryptor(params, keys.publicKey);
});

afterAll(() => {
  enc[Symbol.dispose]();
  params[Symbol.dispose]();
});

/** `count` uniform signed values in [−2^bits, 2^bits] (random bits with the sign folded in). */
function randomSigned(count: number, bits: number): BigInt64Array {
  const out = new BigInt64Array(count);
  randomFillSync(out);
  const mask = (1n << BigInt(bits + 1)) - 1n;
  const bound = 1n << BigInt(bits);
  for (let i = 0; i < count; i++) out[i] = (BigInt.asUintN(64, out[i]!) & mask) - bound;
  return out;
}

function ms(from: number, count = 1): string {
  return ((performance.now() - from) / count).toFixed(2);
}

describe('inner product noise', () => {
  it('stays exact at 2^21 positions, values 2^40, weights 2^20, and summed 64 times', () => {
    const n = params.slotCount;
    const t = params.plainModulus;
    const p = BLOCKS * n;
    const positions = Uint32Array.from({ length: p }, (_, i) => i);
    // Encrypting agencies split the positions round-robin; each sends all blocks.
    const values = randomSigned(p, 40);
    const streams = Array.from({ length: AGENCIES }, (_, a) => {
      const mine = positions.filter((q) => q % AGENCIES === a);
      return encryptPositionBlocks(
        enc,
        mine,
        BigInt64Array.from(mine, (q) => values[q]!),
        BLOCKS,
      );
    });
    let at = performance.now();
    const summed: Uint8Array[] = [];
    for (let b = 0; b < BLOCKS; b++) {
      using acc = new HeAccumulator(params, 1);
      for (const s of streams) acc.add([s.next().value as Uint8Array]);
      summed.push(acc.sum()[0]!);
    }
    console.log(`inner-product noise: encrypt ${ms(at, BLOCKS * AGENCIES)} ms per full block`);
    // Every weight at the bound, random signs: the largest ‖b'‖ the plan allows.
    const weights = BigInt64Array.from(randomSigned(p, 0), (s) => (s < 0n ? -(1n << 20n) : 1n << 20n));
    let want = 0n;
    for (let i = 0; i < p; i++) want += values[i]! * weights[i]!;
    at = performance.now();
    using ip = new InnerProducts(params, keys.publicKey, [summed]);
    console.log(`inner-product noise: load + NTT ${ms(at, BLOCKS)} ms per block`);
    at = performance.now();
    const [out] = ip.compute(positions, [{ component: 0, weights }]);
    console.log(`inner-product noise: compute ${ms(at)} ms for ${BLOCKS} full blocks`);
    const one = decryptWithBudget(params, keys.secretKey, out!);
    expect(one.slots[0]).toBe(((want % t) + t) % t);
    expect(one.budget).toBeGreaterThan(0);
    using acc = new HeAccumulator(params, 1);
    for (let k = 0; k < SUMMED_OUTPUTS; k++) acc.add([out!]); // equal noise adds up: the worst case
    const many = decryptWithBudget(params, keys.secretKey, acc.sum()[0]!);
    expect(many.slots[0]).toBe((((BigInt(SUMMED_OUTPUTS) * want) % t) + t) % t);
    expect(many.budget).toBeGreaterThan(0);
    const fresh = decryptWithBudget(params, keys.secretKey, summed[0]!).budget;
    console.log(
      `inner-product noise: budget ${fresh} bits (summed E block), ${one.budget} after the product, ${many.budget} after summing ${SUMMED_OUTPUTS} outputs`,
    );
  }, 600_000);

  it('costs the same noise for −w as for w (SEAL centres plaintext coefficients)', () => {
    const n = params.slotCount;
    const summed = [encryptPositions(enc, Uint32Array.of(0, 1), BigInt64Array.of(3n, 5n), 1)];
    using ip = new InnerProducts(params, keys.publicKey, summed);
    // Position 0 puts +w on coefficient 0 of b'; position 1 puts −w (t − w) on coefficient N − 1.
    const budget = (pos: number, w: bigint): number => {
      const [ct] = ip.compute(Uint32Array.of(pos), [{ component: 0, weights: BigInt64Array.of(w) }]);
      return decryptWithBudget(params, keys.secretKey, ct!).budget;
    };
    const w = 1n << 20n;
    const budgets = [budget(0, w), budget(1, w), budget(0, -w), budget(1, -w)];
    console.log(`inner-product noise: budgets for ±2^20 at coefficients 0 and ${n - 1}: ${budgets.join(', ')}`);
    // Lifted without centring, t − 2^20 ≈ 2^60 would cost ~40 bits more than 2^20.
    expect(Math.max(...budgets) - Math.min(...budgets)).toBeLessThanOrEqual(2);
  });

  it('agrees with the naive non-NTT path (timings printed)', () => {
    const n = params.slotCount;
    const p = NAIVE_BLOCKS * n;
    const positions = Uint32Array.from({ length: p }, (_, i) => i);
    const values = randomSigned(p, 40);
    const summed = encryptPositions(enc, positions, values, NAIVE_BLOCKS);
    const outputs = Array.from({ length: 4 }, () => ({ component: 0, weights: randomSigned(p, 20) }));
    let at = performance.now();
    const naive = naiveProducts(
      params,
      summed,
      positions,
      outputs.map((o) => o.weights),
    );
    const naiveMs = performance.now() - at;
    at = performance.now();
    using ip = new InnerProducts(params, keys.publicKey, [summed]);
    const loadMs = performance.now() - at;
    at = performance.now();
    const ntt = ip.compute(positions, outputs);
    const nttMs = performance.now() - at;
    const pairs = outputs.length * NAIVE_BLOCKS;
    console.log(
      `inner-product timing: per (output, block) naive ${(naiveMs / pairs).toFixed(2)} ms, NTT ${(nttMs / pairs).toFixed(2)} ms` +
        ` (+ ${(loadMs / NAIVE_BLOCKS).toFixed(2)} ms per block once for load + NTT; ${NAIVE_BLOCKS} blocks, ${outputs.length} outputs)`,
    );
    outputs.forEach((_, k) => {
      const a = decryptWithBudget(params, keys.secretKey, naive[k]!).slots[0];
      const b = decryptWithBudget(params, keys.secretKey, ntt[k]!).slots[0];
      expect(b).toBe(a);
    });
  }, 600_000);
});
