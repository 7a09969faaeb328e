/**
 * Validated BFV parameters of one federation: the SEAL context and the stateless helpers every
 * role shares (batch encoder, evaluator), owned by one disposable handle. Encryptors,
 * accumulators and decryptors borrow it and must be disposed before it.
 */
import { createHash } from 'node:crypto';
import type { BatchEncoder, Evaluator, SEALContext } from 'node-seal';
import { FedstatError } from '../errors.js';
import { ciphertextByteLength, type CiphertextShape } from './ciphertext-layout.js';
import type { HePreset } from './presets.js';
import { loadSeal, ownBytes, sealFailureReason, type SealModule } from './seal.js';

/**
 * The smallest gap allowed between the data-level coefficient modulus and the plain modulus,
 * in bits. A fresh ciphertext's invariant noise budget is about this gap minus 7 bits (measured:
 * 106 of 114 at N=8192/t=60, 15 of 22 at N=4096/t=50) and additions spend little of it; 20 bits
 * keeps at least ~13 bits. N=4096 with a 60-bit t leaves 12 bits and decrypts to garbage.
 */
const MIN_HEADROOM_BITS = 20;

const SECURITY = { 128: 'tc128', 192: 'tc192', 256: 'tc256' } as const;

/**
 * How slot vectors become plaintexts (coefficients.ts), hashed into `paramsId`: parties that
 * encode differently (an older build batch-encoded) refuse each other's queries instead of
 * summing ciphertexts whose slots mean different things.
 */
const SLOT_ENCODING = 'coefficients';

function checkPreset(preset: HePreset): void {
  const n = preset.polyModulusDegree;
  if (typeof preset.name !== 'string' || preset.name === '') throw new TypeError('HE preset needs a name');
  if (!Number.isInteger(n) || n < 1024 || n > 32768 || (n & (n - 1)) !== 0) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `HE preset ${preset.name}: polyModulusDegree must be a power of two from 1024 to 32768`,
    );
  }
  if (!Number.isInteger(preset.plainModulusBits) || preset.plainModulusBits < 2 || preset.plainModulusBits > 60) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `HE preset ${preset.name}: plainModulusBits must be an integer from 2 to 60`,
    );
  }
  if (!(preset.security in SECURITY)) {
    throw new FedstatError('CONFIG_INVALID', `HE preset ${preset.name}: security must be 128, 192 or 256`);
  }
}

/**
 * Validated BFV parameters (build with `HeParams.create`): the SEAL context shared by encryptors,
 * accumulators and decryptors, which must be disposed before it.
 */
export class HeParams implements Disposable {
  /** The preset these parameters were built from (frozen). */
  readonly preset: HePreset;
  /** Slots per ciphertext (= N): the coefficients of its plaintext polynomial (coefficients.ts). */
  readonly slotCount: number;
  /** The plain modulus t: every slot is an integer mod t. */
  readonly plainModulus: bigint;
  /** Hex SHA-256 over the preset name, SEAL's serialized EncryptionParameters and the slot encoding. */
  readonly paramsId: string;
  /** What every ciphertext of these parameters must look like (data level). */
  readonly shape: CiphertextShape;
  /** Exact byte length of a serialized ciphertext (uncompressed). */
  readonly ciphertextBytes: number;
  /** @internal The shared node-seal module. */
  readonly seal: SealModule;
  /** @internal The SEAL context of these parameters. */
  readonly context: SEALContext;
  /** @internal The batch encoder (slot vectors to plaintexts and back). */
  readonly encoder: BatchEncoder;
  /** @internal The evaluator (additions on ciphertexts). */
  readonly evaluator: Evaluator;
  #disposed = false;

  private constructor(
    seal: SealModule,
    preset: HePreset,
    context: SEALContext,
    encoder: BatchEncoder,
    evaluator: Evaluator,
    plainModulus: bigint,
    paramsId: string,
    shape: CiphertextShape,
  ) {
    this.seal = seal;
    this.preset = preset;
    this.context = context;
    this.encoder = encoder;
    this.evaluator = evaluator;
    this.slotCount = encoder.slotCount();
    this.plainModulus = plainModulus;
    this.paramsId = paramsId;
    this.shape = shape;
    this.ciphertextBytes = ciphertextByteLength(shape);
  }

  /**
   * Builds the SEAL context for `preset` (CONFIG_INVALID if SEAL refuses the parameters or the
   * noise headroom, coefficient modulus bits minus plain modulus bits, is below 20).
   */
  static async create(preset: HePreset): Promise<HeParams> {
    checkPreset(preset);
    const seal = await loadSeal();
    const frozen: HePreset = Object.freeze({ ...preset });
    const n = frozen.polyModulusDegree;
    const level = seal.SecLevelType[SECURITY[frozen.security]];
    // Temporaries are deleted in `finally`; the handles that survive are handed to the instance.
    const temps: { delete(): void }[] = [];
    const keep: { delete(): void }[] = [];
    try {
      const parms = new seal.EncryptionParameters(seal.SchemeType.bfv);
      temps.push(parms);
      parms.setPolyModulusDegree(n);
      const coeff = seal.CoeffModulus.BFVDefault(n, level);
      temps.push(coeff);
      parms.setCoeffModulus(coeff);
      const plain = seal.PlainModulus.Batching(n, frozen.plainModulusBits);
      temps.push(plain);
      parms.setPlainModulus(plain);
      const plainModulus = plain.value();
      const context = new seal.SEALContext(parms, true, level);
      keep.push(context);
      if (!context.parametersSet()) {
        throw new FedstatError(
          'CONFIG_INVALID',
          `HE preset ${frozen.name}: SEAL rejects these parameters; use a preset from HE_PRESETS`,
        );
      }
      const first = context.firstContextData();
      temps.push(first);
      const headroom = first.totalCoeffModulusBitCount() - frozen.plainModulusBits;
      if (headroom < MIN_HEADROOM_BITS) {
        throw new FedstatError(
          'CONFIG_INVALID',
          `HE preset ${frozen.name}: only ${headroom} bits between the coefficient and plain moduli (need ${MIN_HEADROOM_BITS}); lower plainModulusBits or raise polyModulusDegree`,
        );
      }
      const firstParms = first.parms();
      temps.push(firstParms);
      const moduli = firstParms.coeffModulus();
      temps.push(moduli);
      const coeffModuli: bigint[] = [];
      for (let i = 0; i < moduli.size(); i++) {
        const m = moduli.get(i);
        if (m === undefined) throw new FedstatError('INTERNAL', 'SEAL returned a short coefficient modulus');
        coeffModuli.push(m.value());
        m.delete();
      }
      const pid = first.parmsId();
      temps.push(pid);
      const parmsId = BigUint64Array.from(pid.values() as BigUint64Array);
      const serialized = ownBytes(parms.saveToArray(seal.ComprModeType.none));
      const paramsId = createHash('sha256')
        .update(Buffer.from(frozen.name, 'utf8'))
        .update(new Uint8Array([0]))
        .update(serialized)
        .update(new Uint8Array([0]))
        .update(Buffer.from(SLOT_ENCODING, 'utf8'))
        .digest('hex');
      const encoder = new seal.BatchEncoder(context);
      keep.push(encoder);
      const evaluator = new seal.Evaluator(context);
      keep.push(evaluator);
      const shape: CiphertextShape = Object.freeze({
        parmsId,
        polyModulusDegree: n,
        coeffModuli: Object.freeze(coeffModuli),
      });
      const params = new HeParams(seal, frozen, context, encoder, evaluator, plainModulus, paramsId, shape);
      keep.length = 0; // ownership moved to `params`
      return params;
    } catch (e) {
      if (e instanceof FedstatError) throw e;
      throw new FedstatError(
        'CONFIG_INVALID',
        `HE preset ${frozen.name}: SEAL cannot build these parameters (${sealFailureReason(seal, e)}); use a preset from HE_PRESETS`,
        { cause: e },
      );
    } finally {
      for (const h of keep) h.delete();
      for (const h of temps) h.delete();
    }
  }

  /** True once disposed; every borrower refuses to work after that. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** @internal Throws TypeError when used after dispose (a lifetime bug in the caller). */
  assertLive(user: string): void {
    if (this.#disposed) throw new TypeError(`${user}: its HeParams has been disposed`);
  }

  /** Frees the SEAL context, encoder and evaluator. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.evaluator.delete();
    this.encoder.delete();
    this.context.delete();
  }
}
