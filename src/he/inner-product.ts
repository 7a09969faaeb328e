/**
 * The multiplying side of an inner product over linked positions, without Galois keys.
 *
 * The encrypting agencies' summed block b is a(x) = Σ a_j x^j (a_j at position b·N + j); this
 * agency holds plaintext weights w_j at its own positions. With the reversed, negated weights
 * b'(x) = w_0 − Σ_{j≥1} w_j x^{N−j}, the constant coefficient of a(x)·b'(x) mod (x^N + 1) is
 * Σ_j a_j w_j (x^N = −1 turns the negation back). So an output is Σ over blocks of
 * multiply_plain(a_block, b'_block): one ciphertext whose coefficient 0 is the inner product mod t.
 *
 * Its other coefficients are cross terms Σ_j a_j w_{j+i} that the key authority must not see, so
 * a uniformly random plaintext (node:crypto, rejection-sampled below t) is added on coefficients
 * 1..N−1; a sum of such outputs over agencies keeps them uniform. Coefficient 0 gets the caller's
 * constant (noise plus secure-aggregation mask). A fresh encryption of zero is added too: without
 * it the output's second polynomial would be Σ_b c1(a_b)·b'_b, which the coordinator (holding the
 * summed ciphertexts) could divide out to recover the weights.
 *
 * SEAL lifts a plaintext coefficient c ≥ t/2 to c − t before multiplying (the plain upper-half
 * threshold of Evaluator::transform_to_ntt_inplace), so −w costs the same noise as w (measured:
 * ±2^20 on coefficient 0 or N−1 leave the same budget). Noise at N = 8192, t = 2^60: 106 bits
 * fresh, 76 after a product over 2^21 positions with every weight ±2^20 (75 with 4 encrypting
 * agencies summed), 70 after summing 64 such outputs.
 * Speed: each summed ciphertext is moved to NTT form once; per (weight vector, used block) one
 * plaintext NTT (the dearest step: t > the coefficient primes, so SEAL lifts it multi-precision),
 * per (output, used block) one NTT-form multiply and one addition; one inverse NTT per output.
 * Blocks without this agency's elements (or with only zero weights) contribute 0 and cost nothing.
 *
 * Not covered: circuit privacy against the key authority, who can compute an output's noise
 * with the secret key. That noise depends on the weights and on the encrypting side's encoding
 * rounding, and nothing floods it; the masks hide the plaintext cross terms, not the noise.
 */
import { randomFillSync } from 'node:crypto';
import type { Ciphertext, Encryptor, ParmsIdType, Plaintext, PublicKey } from 'node-seal';
import { FedstatError } from '../errors.js';
import { encodeCoefficients } from './coefficients.js';
import type { HeParams } from './he-params.js';
import { loadHeKey } from './keys.js';
import { loadCiphertext } from './load-ciphertext.js';
import { groupPositions, MAX_POSITION_BLOCKS, type PositionGroups, signedResidues } from './position-blocks.js';
import { ownBytes } from './seal.js';

/** One inner product to compute: Σ over this agency's elements of E[component][position] · weight. */
export interface InnerProductOutput {
  /** Index of the encrypted component (first index of the summed ciphertexts). */
  readonly component: number;
  /** One weight per element, aligned with the positions; each within ±(t−1)/2. */
  readonly weights: BigInt64Array;
  /** Added to coefficient 0 mod t (the caller's noise plus mask); 0 when absent. */
  readonly constant?: bigint;
}

/** Coefficient 0 of a decrypted output: the inner product plus the constants, mod t. */
export function constantCoefficient(slots: BigUint64Array): bigint {
  if (!(slots instanceof BigUint64Array) || slots.length === 0)
    throw new TypeError('constantCoefficient: slots must be a non-empty BigUint64Array');
  return slots[0] ?? 0n;
}

/**
 * Uniform values in [0, t) on coefficients 1..N−1 of `slots`, by rejection: draw bitLength(t)
 * random bits, keep a draw below t (no modulo bias; t > 2^(bits−1), so fewer than half are redrawn).
 */
function fillUniform(slots: BigUint64Array, t: bigint): void {
  const bits = BigInt(t.toString(2).length);
  const mask = (1n << bits) - 1n;
  const draws = new BigUint64Array(slots.length);
  let k = draws.length; // all used: refill first
  for (let j = 1; j < slots.length;) {
    if (k === draws.length) {
      randomFillSync(draws);
      k = 0;
    }
    const v = (draws[k++] ?? 0n) & mask;
    if (v < t) slots[j++] = v;
  }
  draws.fill(0n);
}

/**
 * The multiplying agency's inner products against the encrypting agencies' summed vectors. Owns
 * every SEAL object it creates (the summed ciphertexts in NTT form, the key, scratch space);
 * dispose it before its HeParams. Outputs are serialized bytes the caller owns.
 */
export class InnerProducts implements Disposable {
  /** The BFV parameters of the ciphertexts. */
  readonly params: HeParams;
  /** Number of components (vectors) the encrypting side sent. */
  readonly components: number;
  /** Blocks per component. */
  readonly blocks: number;
  /** summed[c][b]: component c, block b, in NTT form. */
  readonly #summed: Ciphertext[][] = [];
  readonly #publicKey: PublicKey;
  readonly #encryptor: Encryptor;
  readonly #parmsId: ParmsIdType;
  readonly #plain: Plaintext;
  readonly #product: Ciphertext;
  readonly #zero: Ciphertext;
  #disposed = false;

  /**
   * Loads the summed ciphertexts (`summed[c][b]`, serialized; every component the same number of
   * blocks) through the safe loader and moves each to NTT form once. `publicKey` (the
   * federation's) re-randomizes every output. FedstatError BAD_MESSAGE/MESSAGE_TOO_LARGE for
   * malformed ciphertexts, KEY_INVALID for a bad key; nothing stays allocated on failure.
   */
  constructor(params: HeParams, publicKey: Uint8Array, summed: readonly (readonly Uint8Array[])[]) {
    params.assertLive('InnerProducts');
    const list: unknown = summed;
    if (!Array.isArray(list) || summed.length === 0)
      throw new TypeError('InnerProducts: summed must be a non-empty array of components');
    const blocks = summed[0]?.length ?? 0;
    if (!Number.isSafeInteger(blocks) || blocks < 1 || blocks > MAX_POSITION_BLOCKS)
      throw new RangeError(`InnerProducts: each component needs 1 to ${MAX_POSITION_BLOCKS} blocks`);
    for (const component of summed) {
      const row: unknown = component;
      if (!Array.isArray(row) || component.length !== blocks)
        throw new RangeError('InnerProducts: every component must have the same number of blocks');
    }
    this.params = params;
    this.components = summed.length;
    this.blocks = blocks;
    const { seal, context, evaluator } = params;
    const owned: { delete(): void }[] = [];
    try {
      this.#publicKey = loadHeKey(params, 'public', publicKey);
      owned.push(this.#publicKey);
      this.#encryptor = new seal.Encryptor(context, this.#publicKey);
      owned.push(this.#encryptor);
      this.#parmsId = context.firstParmsId();
      owned.push(this.#parmsId);
      this.#plain = new seal.Plaintext();
      owned.push(this.#plain);
      this.#product = new seal.Ciphertext();
      owned.push(this.#product);
      this.#zero = new seal.Ciphertext();
      owned.push(this.#zero);
      for (const component of summed) {
        const row: Ciphertext[] = [];
        this.#summed.push(row);
        for (const bytes of component) {
          const ct = loadCiphertext(params, bytes);
          row.push(ct);
          evaluator.cipherTransformToNttInplace(ct);
        }
      }
      owned.length = 0; // ownership moved to this instance
    } catch (e) {
      for (const ct of this.#summed.flat()) ct.delete();
      for (const h of owned) h.delete();
      throw e;
    }
  }

  /**
   * Computes each output for this agency's elements at `positions` (distinct, below blocks·N):
   * one serialized ciphertext per output whose coefficient 0 is Σ E[component][positions[i]] ·
   * weights[i] + constant (mod t) and whose coefficients 1..N−1 are uniformly random. Outputs that
   * pass the same `weights` array share its plaintext transforms (the dearest step: ~3.5 ms per
   * used block at N = 8192), so pass one array for one weight vector against several components.
   * Keeping the inner product from wrapping t is the plan's job. TypeError/RangeError on bad
   * arguments, before any SEAL work.
   */
  compute(positions: Uint32Array, outputs: readonly InnerProductOutput[]): Uint8Array[] {
    const steps = this.#steps(positions, outputs);
    for (let r = steps.next(); ; r = steps.next()) if (r.done === true) return r.value;
  }

  /**
   * `compute`, yielding to the event loop after every block: an agency computing hundreds of
   * blocks keeps answering its other calls (and its connections' keepalive pings) meanwhile.
   */
  async computeAsync(positions: Uint32Array, outputs: readonly InnerProductOutput[]): Promise<Uint8Array[]> {
    const steps = this.#steps(positions, outputs);
    for (let r = steps.next(); ; r = steps.next()) {
      if (r.done === true) return r.value;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  *#steps(positions: Uint32Array, outputs: readonly InnerProductOutput[]): Generator<void, Uint8Array[], void> {
    this.#assertLive();
    const { params } = this;
    const groups = groupPositions(params, positions, this.blocks, 'InnerProducts.compute');
    const list: unknown = outputs;
    if (!Array.isArray(list)) throw new TypeError('InnerProducts.compute: outputs must be an array');
    // Outputs by weight vector (array identity), each vector checked and reduced mod t once.
    const byWeights = new Map<BigInt64Array, { residues: BigUint64Array; outputs: number[] }>();
    outputs.forEach((o, k) => {
      if (!Number.isSafeInteger(o.component) || o.component < 0 || o.component >= this.components)
        throw new RangeError(`InnerProducts.compute: output ${k} names no component`);
      if (o.constant !== undefined && typeof o.constant !== 'bigint')
        throw new TypeError(`InnerProducts.compute: output ${k} has a constant that is not a bigint`);
      const group = byWeights.get(o.weights);
      if (group !== undefined) group.outputs.push(k);
      else {
        const residues = signedResidues(params, o.weights, positions.length, `InnerProducts.compute (output ${k})`);
        byWeights.set(o.weights, { residues, outputs: [k] });
      }
    });
    const results = new Array<Uint8Array>(outputs.length);
    const slots = new BigUint64Array(params.slotCount);
    try {
      for (const { residues, outputs: members } of byWeights.values()) {
        const group = members.map((k) => outputs[k]!);
        (yield* this.#group(positions, groups, residues, group, slots)).forEach((bytes, m) => {
          results[members[m]!] = bytes;
        });
      }
      return results;
    } finally {
      slots.fill(0n);
      for (const { residues } of byWeights.values()) residues.fill(0n);
    }
  }

  /** The outputs of one weight vector: per used block, one plaintext transform shared by all of them. */
  *#group(
    positions: Uint32Array,
    groups: PositionGroups,
    weights: BigUint64Array,
    outputs: readonly InnerProductOutput[],
    slots: BigUint64Array,
  ): Generator<void, Uint8Array[], void> {
    const { params } = this;
    const { seal, evaluator, plainModulus: t, slotCount: n } = params;
    const accs = outputs.map(() => new seal.Ciphertext());
    try {
      let started = false;
      for (let b = 0; b < this.blocks; b++) {
        let used = false;
        for (let k = groups.starts[b] ?? 0; k < (groups.starts[b + 1] ?? 0); k++) {
          const i = groups.order[k] ?? 0;
          const w = weights[i] ?? 0n;
          if (w === 0n) continue;
          const j = (positions[i] ?? 0) - b * n;
          slots[j === 0 ? 0 : n - j] = j === 0 ? w : t - w; // b'(x): reversed, negated past j = 0
          used = true;
        }
        if (!used) continue; // a block without weights contributes 0
        try {
          encodeCoefficients(params, slots, this.#plain);
        } finally {
          slots.fill(0n);
        }
        evaluator.plainTransformToNttInplace(this.#plain, this.#parmsId);
        outputs.forEach((o, m) => {
          const ct = this.#summed[o.component]?.[b];
          const acc = accs[m];
          if (ct === undefined || acc === undefined)
            throw new FedstatError('INTERNAL', 'InnerProducts lost a summed ciphertext');
          if (started) {
            evaluator.multiplyPlain(ct, this.#plain, this.#product);
            evaluator.addInplace(acc, this.#product);
          } else {
            evaluator.multiplyPlain(ct, this.#plain, acc);
          }
        });
        started = true;
        this.#plain.setZero();
        yield;
      }
      return accs.map((acc, m) => this.#finish(acc, started, outputs[m]?.constant ?? 0n, slots));
    } finally {
      for (const acc of accs) acc.delete();
    }
  }

  /**
   * Back from NTT form, re-randomized with a fresh encryption of zero (without it, c1 would be a
   * known combination of the summed ciphertexts and give the weights away to the coordinator),
   * then the constant on coefficient 0 and the uniform mask on 1..N−1; serialized.
   */
  #finish(acc: Ciphertext, started: boolean, constant: bigint, slots: BigUint64Array): Uint8Array {
    const { seal, evaluator, plainModulus: t } = this.params;
    this.#encryptor.encryptZero(this.#zero);
    if (started) {
      evaluator.cipherTransformFromNttInplace(acc);
      evaluator.addInplace(acc, this.#zero);
    } else {
      acc.assign(this.#zero); // no used block: the inner product is 0
    }
    slots[0] = ((constant % t) + t) % t;
    fillUniform(slots, t);
    try {
      encodeCoefficients(this.params, slots, this.#plain);
    } finally {
      slots.fill(0n);
    }
    evaluator.addPlainInplace(acc, this.#plain);
    this.#plain.setZero();
    return ownBytes(acc.saveToArray(seal.ComprModeType.none));
  }

  #assertLive(): void {
    if (this.#disposed) throw new TypeError('InnerProducts has been disposed');
    this.params.assertLive('InnerProducts');
  }

  /** Frees the summed ciphertexts, the key and the scratch objects. Idempotent. */
  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const ct of this.#summed.flat()) ct.delete();
    this.#summed.length = 0;
    this.#zero.delete();
    this.#product.delete();
    this.#plain.delete();
    this.#parmsId.delete();
    this.#encryptor.delete();
    this.#publicKey.delete();
  }
}
