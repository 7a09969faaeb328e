import { describe, expect, it } from 'vitest';
import { HeAccumulator } from '../../src/he/accumulator.js';
import { HeDecryptor } from '../../src/he/decryptor.js';
import { HeEncryptor } from '../../src/he/encryptor.js';
import { HeParams } from '../../src/he/he-params.js';
import { generateHeKeys } from '../../src/he/keys.js';
import { INSECURE_BFV_N4096_T50 } from './insecure-presets.js';

const CYCLES = Number(process.env['FEDSTAT_MEMORY_CYCLES'] ?? 10_000);
const WARMUP = 200;
/**
 * Allowed RSS growth between the end of the warm-up and the end of the run. One leaked N=4096
 * ciphertext is 131 KB, so leaking a single SEAL object per cycle would grow RSS by ≥ 1.3 GB over
 * 10,000 cycles (measured without delete(): 67 MB → 1.6 GB for 10k N=8192 encryptions). 64 MB
 * leaves room for allocator and V8 heap noise while catching any per-cycle leak above ~6 KB.
 */
const MAX_GROWTH_BYTES = 64 * 1024 * 1024;

describe('memory', () => {
  it(`${CYCLES} encrypt/add/decrypt cycles keep RSS flat`, async () => {
    using params = await HeParams.create(INSECURE_BFV_N4096_T50);
    const keys = generateHeKeys(params);
    using enc = new HeEncryptor(params, keys.publicKey);
    using dec = new HeDecryptor(params, keys.secretKey);
    const t0 = performance.now();
    let baseline = 0;
    for (let i = 0; i < CYCLES + WARMUP; i++) {
      if (i === WARMUP) {
        globalThis.gc?.();
        baseline = process.memoryUsage().rss;
      }
      if (i % 2 === 0) enc.precompute(1); // alternate pooled and direct encryption
      const v = BigInt(i);
      using acc = new HeAccumulator(params, 1);
      const ct = enc.encrypt(BigUint64Array.from([v, 1n]));
      acc.add([ct]);
      acc.add([ct]);
      const out = dec.decrypt(acc.sum()[0]!);
      if (out[0] !== 2n * v || out[1] !== 2n) expect.unreachable(`cycle ${i} decrypted a wrong sum`);
    }
    globalThis.gc?.();
    const growth = process.memoryUsage().rss - baseline;
    const seconds = (performance.now() - t0) / 1000;
    console.log(`memory: ${CYCLES} cycles in ${seconds.toFixed(1)} s, RSS growth ${(growth / 2 ** 20).toFixed(1)} MiB`);
    expect(growth).toBeLessThan(MAX_GROWTH_BYTES);
  }, 600_000);
});
