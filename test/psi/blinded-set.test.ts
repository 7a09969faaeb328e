import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { BlindingKey } from '../../src/psi/blinding-key.js';
import { checkBlindedSet } from '../../src/psi/blinded-set.js';
import { ELEMENT_BYTES } from '../../src/psi/group.js';
import { hashIds } from '../../src/psi/hash-to-group.js';

const lowOrder = (
  JSON.parse(readFileSync(new URL('../vectors/x25519-rfc7748.json', import.meta.url), 'utf8')) as {
    lowOrderPublicKeys: string[];
  }
).lowOrderPublicKeys;

function badMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isFedstatError(e, 'BAD_MESSAGE')) return e.message;
    throw e;
  }
  throw new Error('expected BAD_MESSAGE');
}

const blinded = BlindingKey.generate().blind(hashIds(['a', 'b', 'c', 'd']));

describe('checkBlindedSet', () => {
  it('returns the number of elements of a valid set', () => {
    expect(checkBlindedSet(blinded, 'hr-shenzhen')).toBe(4);
    expect(checkBlindedSet(new Uint8Array(0), 'hr-shenzhen')).toBe(0);
    expect(checkBlindedSet(blinded.subarray(ELEMENT_BYTES), 'hr-shenzhen')).toBe(3);
  });

  it('refuses a truncated set, naming the agency', () => {
    const message = badMessage(() => checkBlindedSet(blinded.subarray(0, 100), 'ps-futian'));
    expect(message).toMatch(/^blinded set from agency ps-futian is truncated/);
    expect(message).not.toContain('\n');
  });

  it.each(lowOrder)('names the index of a non-canonical or low-order element %s', (bad) => {
    const set = Uint8Array.from(blinded);
    set.set(Buffer.from(bad, 'hex'), 2 * ELEMENT_BYTES);
    const message = badMessage(() => checkBlindedSet(set, 'ps-futian'));
    expect(message).toContain('agency ps-futian');
    expect(message).toContain('element 2 ');
    expect(message).not.toContain(bad);
  });

  it('refuses a repeated element, naming the later index', () => {
    const set = new Uint8Array(5 * ELEMENT_BYTES);
    set.set(blinded, 0);
    set.set(blinded.subarray(ELEMENT_BYTES, 2 * ELEMENT_BYTES), 4 * ELEMENT_BYTES);
    const message = badMessage(() => checkBlindedSet(set, 'edu-nanshan'));
    expect(message).toContain('element 4 repeats');
  });

  it('reads a set that is a view into a larger buffer at an offset', () => {
    const big = new Uint8Array(7 + blinded.length);
    big.set(blinded, 7);
    expect(checkBlindedSet(big.subarray(7), 'x')).toBe(4);
    expect(() => checkBlindedSet([1, 2] as unknown as Uint8Array, 'x')).toThrow(TypeError);
  });
});
