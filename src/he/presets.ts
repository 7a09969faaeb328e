/**
 * Named BFV parameter presets. A federation names its preset in the federation file; both sides
 * rebuild identical encryption parameters from it and compare `HeParams.paramsId`.
 * Insecure or test-only presets never live here: they are in `test/he/` and say INSECURE.
 */
import { FedstatError } from '../errors.js';

/** Named BFV parameters, from which `HeParams.create` builds the SEAL context. */
export interface HePreset {
  /** Stable identifier written into federation files (part of `paramsId`). */
  readonly name: string;
  /** Ring dimension N, a power of two; also the number of slots (plaintext coefficients) per ciphertext. */
  readonly polyModulusDegree: number;
  /** Bit size of the batching-friendly prime plain modulus t (t ≡ 1 mod 2N). */
  readonly plainModulusBits: number;
  /** Classical security level of SEAL's default coefficient modulus for N (HE standard). */
  readonly security: 128 | 192 | 256;
}

/**
 * N = 8192, t a 60-bit prime, SEAL's 128-bit-secure default coefficient modulus (218 bits).
 * 8192 slots per ciphertext, a fresh noise budget of about 106 bits, 524,401 bytes per ciphertext.
 */
export const BFV_N8192_T60: HePreset = Object.freeze({
  name: 'BFV_N8192_T60',
  polyModulusDegree: 8192,
  plainModulusBits: 60,
  security: 128,
});

/**
 * N = 16384, t a 60-bit prime, 128-bit security: twice the slots of `BFV_N8192_T60` per
 * ciphertext at about four times the cost per ciphertext (2 MB each); for very wide GROUP BYs.
 */
const BFV_N16384_T60: HePreset = Object.freeze({
  name: 'BFV_N16384_T60',
  polyModulusDegree: 16384,
  plainModulusBits: 60,
  security: 128,
});

/** Every secure preset, by name. */
export const HE_PRESETS: Readonly<Record<string, HePreset>> = Object.freeze({
  [BFV_N8192_T60.name]: BFV_N8192_T60,
  [BFV_N16384_T60.name]: BFV_N16384_T60,
});

/** The preset a federation names; CONFIG_INVALID listing the valid names otherwise. */
export function presetByName(name: string): HePreset {
  const preset = Object.hasOwn(HE_PRESETS, name) ? HE_PRESETS[name] : undefined;
  if (preset === undefined) {
    const valid = Object.keys(HE_PRESETS).join(', ');
    throw new FedstatError('CONFIG_INVALID', `unknown HE preset ${JSON.stringify(name)}; use one of: ${valid}`, {
      details: { valid: Object.keys(HE_PRESETS) },
    });
  }
  return preset;
}
