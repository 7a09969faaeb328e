/**
 * A per-query PSI blinding key: one X25519 scalar shared by the agencies of one dataset (the
 * "side key"). Blinding raises each group element to the key, X25519(k, u), through node:crypto.
 * Two keys commute, X25519(a, X25519(b, u)) = X25519(b, X25519(a, u)), because clamped scalars
 * multiply; so ids held on both sides meet as equal doubly-blinded values while every other
 * value looks random to whoever lacks the keys.
 */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { FedstatError } from '../errors.js';
import { ELEMENT_BYTES, isCanonicalElement } from './group.js';

const KEY_BYTES = 32;
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/** Elements blinded between two yields of `blindAsync` (~0.2 s of work). */
const ELEMENTS_PER_SLICE = 4096;

/** A per-query X25519 blinding key for PSI; dispose it when the query ends. */
export class BlindingKey {
  #key: Uint8Array;
  #privateKey: KeyObject | undefined;

  private constructor(key: Uint8Array) {
    this.#key = key;
    this.#privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, key]), format: 'der', type: 'pkcs8' });
  }

  /** A fresh key: 32 bytes from node:crypto (X25519 clamps them). */
  static generate(): BlindingKey {
    return new BlindingKey(new Uint8Array(randomBytes(KEY_BYTES)));
  }

  /** The key with these 32 bytes (copied), e.g. a side key received from a peer agency. */
  static fromBytes(bytes: Uint8Array): BlindingKey {
    if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_BYTES) {
      throw new RangeError(`a blinding key is a Uint8Array of ${KEY_BYTES} bytes`);
    }
    return new BlindingKey(Uint8Array.from(bytes));
  }

  /** A copy of the 32 key bytes (secret: share it only with the agencies of the same side). */
  bytes(): Uint8Array {
    this.#live();
    return Uint8Array.from(this.#key);
  }

  /**
   * Blind n packed elements (n × 32 bytes) and return n × 32 bytes in the same order. Throws
   * FedstatError BAD_MESSAGE when the input is truncated or an element is non-canonical or of low
   * order; the message names the element index, and the caller adds which agency sent it.
   */
  blind(elements: Uint8Array): Uint8Array {
    const count = this.#count(elements);
    const out = new Uint8Array(elements.length);
    this.#blindRange(elements, out, 0, count);
    return out;
  }

  /**
   * `blind` that yields to the event loop every 4096 elements, so a server keeps answering while a
   * million elements are blinded; `onProgress(done, total)` runs after each slice.
   */
  async blindAsync(elements: Uint8Array, onProgress?: (done: number, total: number) => void): Promise<Uint8Array> {
    const count = this.#count(elements);
    const out = new Uint8Array(elements.length);
    for (let start = 0; start < count; start += ELEMENTS_PER_SLICE) {
      const end = Math.min(count, start + ELEMENTS_PER_SLICE);
      this.#blindRange(elements, out, start, end);
      onProgress?.(end, count);
      if (end < count) await yieldToEventLoop();
    }
    if (count === 0) onProgress?.(0, 0);
    return out;
  }

  /** Zero the key bytes and drop the node:crypto key; the key cannot blind afterwards. */
  [Symbol.dispose](): void {
    this.#key.fill(0);
    this.#privateKey = undefined;
  }

  #live(): KeyObject {
    if (this.#privateKey === undefined) throw new TypeError('this BlindingKey was disposed');
    return this.#privateKey;
  }

  #count(elements: Uint8Array): number {
    this.#live();
    if (!(elements instanceof Uint8Array)) throw new TypeError('blind takes packed elements as a Uint8Array');
    if (elements.length % ELEMENT_BYTES !== 0) {
      throw new FedstatError(
        'BAD_MESSAGE',
        `a set of group elements is truncated: ${elements.length} bytes is not a multiple of ${ELEMENT_BYTES}; resend the whole set`,
      );
    }
    return elements.length / ELEMENT_BYTES;
  }

  #blindRange(elements: Uint8Array, out: Uint8Array, start: number, end: number): void {
    const privateKey = this.#live();
    // One DER buffer reused for every element: createPublicKey copies what it parses.
    const der = Buffer.alloc(SPKI_PREFIX.length + ELEMENT_BYTES);
    SPKI_PREFIX.copy(der);
    for (let i = start; i < end; i++) {
      const offset = i * ELEMENT_BYTES;
      if (!isCanonicalElement(elements, offset)) throw badElement(i);
      der.set(elements.subarray(offset, offset + ELEMENT_BYTES), SPKI_PREFIX.length);
      let shared: Buffer;
      try {
        const publicKey = createPublicKey({ key: der, format: 'der', type: 'spki' });
        shared = diffieHellman({ privateKey, publicKey });
      } catch (e) {
        // OpenSSL refuses an all-zero result (a low-order element the canonical check let through).
        throw badElement(i, e);
      }
      let acc = 0;
      for (let j = 0; j < ELEMENT_BYTES; j++) acc |= shared[j] ?? 0;
      if (acc === 0 || shared.length !== ELEMENT_BYTES) throw badElement(i);
      out.set(shared, offset);
    }
  }
}

function badElement(index: number, cause?: unknown): FedstatError {
  return new FedstatError(
    'BAD_MESSAGE',
    `group element ${index} is non-canonical or of low order; send only elements made by hashToGroup or blind`,
    cause === undefined ? {} : { cause },
  );
}
