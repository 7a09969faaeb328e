/**
 * Test-only parameter presets. INSECURE in the project's sense: not vetted for production use
 * (too few plain bits for real bounds, a thin noise budget); they exist to keep tests fast.
 */
import type { HePreset } from '../../src/he/presets.js';

/** N=4096, 50-bit t: a fresh noise budget of ~15 bits (the brief: never more than ~50 bits at N=4096). */
export const INSECURE_BFV_N4096_T50: HePreset = Object.freeze({
  name: 'INSECURE_BFV_N4096_T50',
  polyModulusDegree: 4096,
  plainModulusBits: 50,
  security: 128,
});

/** N=2048, 20-bit t: the smallest batching parameters SEAL accepts; for "other parameters" tests. */
export const INSECURE_BFV_N2048_T20: HePreset = Object.freeze({
  name: 'INSECURE_BFV_N2048_T20',
  polyModulusDegree: 2048,
  plainModulusBits: 20,
  security: 128,
});
