import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { HeDecryptor } from '../../src/he/decryptor.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { generateHeKeys, type HeKeyPair } from '../../src/he/keys.js';
import { packSlots, planSlotLayout, unpackSlots } from '../../src/he/packing.js';
import { INSECURE_BFV_N2048_T20, INSECURE_BFV_N4096_T50 } from './insecure-presets.js';

let params: HeParams;
let keys: HeKeyPair;
let enc: HeEncryptor;
let dec: HeDecryptor;
const DATA = 113; // first coefficient byte of a serialized ciphertext (see ciphertext-layout.ts)

beforeAll(async () => {
  params = await HeParams.create(INSECURE_BFV_N4096_T50);
  keys = generateHeKeys(params);
  enc = new HeEncryptor(params, keys.publicKey);
  dec = new HeDecryptor(params, keys.secretKey);
});
afterAll(() => {
  dec[Symbol.dispose]();
  enc[Symbol.dispose]();
  params[Symbol.dispose]();
});

const vec = (...v: bigint[]) => BigUint64Array.from(v);
const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const out = bytes.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
};

/** An accumulator holding one known contribution, and a check that it still holds exactly that. */
function primed(): { acc: HeAccumulator; intact: () => void } {
  const acc = new HeAccumulator(params, 1);
  acc.add([enc.encrypt(vec(5n, 6n, 7n))]);
  acc.add([enc.encrypt(vec(1n, 1n, 1n))]);
  return {
    acc,
    intact: () => {
      expect(acc.contributions).toBe(2);
      expect(Array.from(dec.decrypt(acc.sum()[0]!).slice(0, 4))).toEqual([6n, 7n, 8n, 0n]);
    },
  };
}

function expectRejected(
  acc: HeAccumulator,
  contribution: readonly Uint8Array[],
  code: 'BAD_MESSAGE' | 'MESSAGE_TOO_LARGE' = 'BAD_MESSAGE',
): string {
  try {
    acc.add(contribution);
  } catch (e) {
    expect(isFedstatError(e, code)).toBe(true);
    return (e as Error).message;
  }
  return expect.unreachable('add accepted a malformed contribution');
}

describe('HeAccumulator input validation (all or nothing)', () => {
  it('rejects empty, truncated and oversized ciphertexts, keeping its sum', () => {
    const { acc, intact } = primed();
    using _ = acc;
    const good = enc.encrypt(vec(100n));
    expectRejected(acc, [new Uint8Array(0)]);
    for (const len of [1, 15, 16, 100, DATA, good.length - 1]) expectRejected(acc, [good.slice(0, len)]);
    const longer = new Uint8Array(good.length + 8);
    longer.set(good);
    expectRejected(acc, [longer], 'MESSAGE_TOO_LARGE');
    intact();
  });

  it('rejects every single bit flip of the 16-byte SEAL header and of the metadata', () => {
    const { acc, intact } = primed();
    using _ = acc;
    const good = enc.encrypt(vec(100n));
    // header (0..15), parms_id, ntt flag, size, degree, modulus count, scale, correction factor,
    // and the coefficient array's own header and count (16..112)
    for (let bit = 0; bit < DATA * 8; bit++) {
      const msg = expectRejected(acc, [flipBit(good, bit)]);
      expect(msg).not.toMatch(/[0-9a-f]{32}/); // never echoes bytes
    }
    intact();
  });

  it('rejects an unreduced coefficient, a transparent and a three-polynomial ciphertext', () => {
    const { acc, intact } = primed();
    using _ = acc;
    const good = enc.encrypt(vec(100n));
    expectRejected(acc, [flipBit(good, (DATA + 8 * 17) * 8 + 62)]); // bit 62 of a coefficient: ≥ any 36-bit q
    // Zero the second polynomial: SEAL would load it, but it carries its plaintext in the clear.
    const transparent = good.slice();
    transparent.fill(0, DATA + 8 * params.slotCount * params.shape.coeffModuli.length);
    expect(expectRejected(acc, [transparent])).toMatch(/transparent/);
    // A product without relinearisation has 3 polynomials: valid SEAL, wrong shape for a sum.
    const { seal, context, evaluator } = params;
    const ct = new seal.Ciphertext();
    const sq = new seal.Ciphertext();
    try {
      ct.loadFromArray(context, good);
      evaluator.square(ct, sq);
      expect(sq.size()).toBe(3);
      expectRejected(acc, [sq.saveToArray(seal.ComprModeType.none) as Uint8Array], 'MESSAGE_TOO_LARGE');
    } finally {
      ct.delete();
      sq.delete();
    }
    intact();
  });

  it('rejects wrong counts and ciphertexts of other parameters', async () => {
    const { acc, intact } = primed();
    using _ = acc;
    const good = enc.encrypt(vec(1n));
    expectRejected(acc, []);
    expectRejected(acc, [good, good]);
    // Same N and coefficient moduli, another plain modulus: same length, other parms_id.
    using sibling = await HeParams.create({
      ...INSECURE_BFV_N4096_T50,
      name: 'INSECURE_SIBLING',
      plainModulusBits: 40,
    });
    using siblingEnc = new HeEncryptor(sibling, generateHeKeys(sibling).publicKey);
    const siblingCt = siblingEnc.encrypt(vec(1n));
    expect(siblingCt.length).toBe(good.length);
    expect(expectRejected(acc, [siblingCt])).toMatch(/parameter id/);
    using small = await HeParams.create(INSECURE_BFV_N2048_T20);
    using smallEnc = new HeEncryptor(small, generateHeKeys(small).publicKey);
    expectRejected(acc, [smallEnc.encrypt(vec(1n))]);
    // A later bad ciphertext in the same contribution: the good first one is not added either.
    using acc2 = new HeAccumulator(params, 2);
    acc2.add([enc.encrypt(vec(1n)), enc.encrypt(vec(2n))]);
    expectRejected(acc2, [enc.encrypt(vec(10n)), good.slice(0, 50)]);
    expect(acc2.contributions).toBe(1);
    expect(acc2.sum().map((ct) => dec.decrypt(ct)[0])).toEqual([1n, 2n]);
    intact();
  });

  it('accepts a ciphertext under another key (SEAL cannot tell) and it decrypts to garbage', () => {
    // A well-formed ciphertext of the right parameters under a different public key passes every
    // structural check: nothing in the bytes binds them to our key, so the accumulator adds it.
    // Decrypted under our key it is uniform garbage mod t. This is why each contribution is signed
    // by its agency and verified before it is loaded. Two later nets catch it too: the garbage has
    // no noise budget, so HeDecryptor refuses it, and unpackSlots checks the plan's bounds.
    const layout = planSlotLayout([1000n, 1000n], 2, params);
    using acc = new HeAccumulator(params, layout.ciphertextCount);
    acc.add(packSlots(layout, [10n, 20n]).map((s) => enc.encrypt(s)));
    using foreign = new HeEncryptor(params, generateHeKeys(params).publicKey);
    acc.add(packSlots(layout, [1n, 2n]).map((s) => foreign.encrypt(s)));
    expect(acc.contributions).toBe(2);
    const sum = acc.sum();
    expect(() => dec.decrypt(sum[0]!)).toThrowError(/no noise budget left/);
    // What a decryptor without that check would release: raw SEAL decryption of the same bytes.
    const { seal, context, encoder } = params;
    const sk = new seal.SecretKey();
    sk.loadFromArray(context, keys.secretKey);
    const raw = new seal.Decryptor(context, sk);
    const ct = new seal.Ciphertext();
    ct.loadFromArray(context, sum[0]!);
    const pt = new seal.Plaintext();
    try {
      raw.decrypt(ct, pt);
      const slots = encoder.decodeBigUint64(pt) as BigUint64Array;
      expect([slots[0], slots[1]]).not.toEqual([11n, 22n]);
      expect(() => unpackSlots(layout, [slots])).toThrowError(/exceed what the plan allows/);
    } finally {
      for (const h of [pt, ct, raw, sk]) h.delete();
    }
  });

  it('the decryptor refuses a ciphertext whose noise budget is gone', () => {
    const good = enc.encrypt(vec(3n));
    // Replace the first polynomial with uniform coefficients < q_i: structurally valid, pure noise.
    const noisy = good.slice();
    const view = new DataView(noisy.buffer);
    const n = params.slotCount;
    params.shape.coeffModuli.forEach((q, i) => {
      for (let j = 0; j < n; j++) view.setBigUint64(DATA + 8 * (i * n + j), randomBytes(8).readBigUInt64LE() % q, true);
    });
    expect(() => dec.decrypt(noisy)).toThrowError(/no noise budget left/);
    expect(dec.decrypt(good)[0]).toBe(3n);
  });

  it('thousands of malformed contributions never reach SEAL, so the WASM instance survives', () => {
    // Each exception SEAL throws leaks 16 bytes of its 64 KiB stack; ~3,500 throws abort the
    // instance. Every rejection below happens in JavaScript before SEAL sees a byte.
    const { acc, intact } = primed();
    using _ = acc;
    const good = enc.encrypt(vec(9n));
    const bads = [good.slice(0, 1000), flipBit(good, 3), flipBit(good, 8 * 20), flipBit(good, (DATA + 8) * 8 + 63)];
    for (let i = 0; i < 5000; i++) expectRejected(acc, [bads[i % bads.length]!]);
    intact();
  });
});
