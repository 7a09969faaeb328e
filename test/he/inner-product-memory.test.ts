/**
 * SEAL objects live in WASM memory and are never garbage collected (see src/he/seal.ts): a
 * thousand inner products, and a fresh InnerProducts every hundred, must keep RSS flat.
 */
import { describe, expect, it } from 'vitest';
import { HeDecryptor } from '../../src/he/decryptor.js';
import { constantCoefficient, InnerProducts } from '../../src/he/inner-product.js';
import { encryptPositions } from '../../src/he/position-encryption.js';
import { createInsecureHe } from './insecure-he.js';

const CYCLES = Number(process.env['FEDSTAT_MEMORY_CYCLES'] ?? 1000);
const WARMUP = 100;
/**
 * Allowed RSS growth after the warm-up. At N = 4096 an output ciphertext is 131 KB and the
 * NTT-form weight plaintext 65 KB, so leaking either once per cycle grows RSS by ≥ 64 MB over
 * 1,000 cycles; 32 MB leaves room for allocator and V8 heap noise.
 */
const MAX_GROWTH_BYTES = 32 * 1024 * 1024;

describe('inner product memory', () => {
  it(`${CYCLES} products keep RSS flat`, async () => {
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
      for (let i = 0; i < CYCLES + WARMUP; i++) {
        if (i === WARMUP) {
          globalThis.gc?.();
          baseline = process.memoryUsage().rss;
        }
        if (i % 100 === 99) {
          ip[Symbol.dispose]();
          ip = new InnerProducts(params, keys.publicKey, summed);
        }
        const [ct] = ip.compute(positions, [{ component: 0, weights, constant: BigInt(i) }]);
        const got = constantCoefficient(dec.decrypt(ct!));
        if (got !== (want + BigInt(i)) % t) expect.unreachable(`cycle ${i} decrypted a wrong inner product`);
      }
      globalThis.gc?.();
      const growth = process.memoryUsage().rss - baseline;
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `inner-product memory: ${CYCLES} products in ${seconds.toFixed(1)} s, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(growth).toBeLessThan(MAX_GROWTH_BYTES);
    } finally {
      ip[Symbol.dispose]();
    }
  }, 600_000);
});
