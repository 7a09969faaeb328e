/**
 * SEAL objects live in WASM memory and are never garbage collected (see src/he/seal.ts): a
 * thousand inner products (four per call), and a fresh InnerProducts every 25 calls, must keep RSS flat.
 */
import { describe, expect, it } from 'vitest';
import { HeDecryptor } from '../../src/he/decryptor.js';
import { constantCoefficient, InnerProducts } from '../../src/he/inner-product.js';
import { encryptPositions } from '../../src/he/position-encryption.js';
import { createInsecureHe } from './insecure-he.js';

const PRODUCTS = Number(process.env['FEDSTAT_MEMORY_CYCLES'] ?? 1000);
/** Outputs per compute call; they share one weight vector, as callers are told to do. */
const PER_CALL = 4;
const CALLS = Math.ceil(PRODUCTS / PER_CALL);
const WARMUP = 25;
/**
 * Allowed RSS growth after the warm-up. At N = 4096 an output ciphertext is 131 KB, so leaking one
 * SEAL ciphertext per product grows RSS by ≥ 128 MB over 1,000 products; 32 MB leaves room for
 * allocator and V8 heap noise (measured: under 5 MB).
 */
const MAX_GROWTH_BYTES = 32 * 1024 * 1024;

describe('inner product memory', () => {
  it(`${PRODUCTS} products keep RSS flat`, async () => {
    using he = await createInsecureHe();
    const { params, keys, enc } = he;
    using dec = new HeDecryptor(params, keys.secretKey);
    const n = params.slotCount;
    const t = params.plainModulus;
    // E: values at four positions over two blocks; M: small weights at three of them and one more.
    const summed = [encryptPositions(enc, Uint32Array.of(1, 7, n + 2, n + 9), BigInt64Array.of(5n, -3n, 11n, 2n), 2)];
    const positions = Uint32Array.of(7, n + 2, 1, n + 5);
    const weights = BigInt64Array.of(2n, -1n, 3n, 3n);
    const want = ((-3n * 2n + 11n * -1n + 5n * 3n) % t) + t; // −2 mod t
    let ip = new InnerProducts(params, keys.publicKey, summed);
    try {
      const t0 = performance.now();
      let baseline = 0;
      for (let i = 0; i < CALLS + WARMUP; i++) {
        if (i === WARMUP) {
          globalThis.gc?.();
          baseline = process.memoryUsage().rss;
        }
        if (i % 25 === 24) {
          ip[Symbol.dispose]();
          ip = new InnerProducts(params, keys.publicKey, summed);
        }
        const outputs = Array.from({ length: PER_CALL }, (_, k) => ({ component: 0, weights, constant: BigInt(k) }));
        const cts = ip.compute(positions, outputs);
        if (i % 3 !== 0) continue; // decrypting is not under test here: a sample shows the products stay right
        const k = i % PER_CALL;
        const got = constantCoefficient(dec.decrypt(cts[k]!));
        if (got !== (want + BigInt(k)) % t) expect.unreachable(`call ${i} decrypted a wrong inner product`);
      }
      globalThis.gc?.();
      const growth = process.memoryUsage().rss - baseline;
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `inner-product memory: ${CALLS * PER_CALL} products in ${seconds.toFixed(1)} s, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(growth).toBeLessThan(MAX_GROWTH_BYTES);
    } finally {
      ip[Symbol.dispose]();
    }
  }, 600_000);
});
