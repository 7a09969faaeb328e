import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ElementTable } from '../../src/psi/element-table.js';
import { ELEMENT_BYTES } from '../../src/psi/group.js';

describe('ElementTable', () => {
  it('numbers distinct elements in order of first appearance, like a Map keyed by hex', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 200 }),
        fc.nat(5),
        (pool, picks, pad) => {
          const elements = picks.map((k) => pool[k % pool.length]!);
          const bytes = new Uint8Array(pad + elements.length * ELEMENT_BYTES);
          elements.forEach((e, i) => bytes.set(e, pad + i * ELEMENT_BYTES));
          const table = new ElementTable(elements.length);
          const reference = new Map<string, number>();
          elements.forEach((e, i) => {
            const key = Buffer.from(e).toString('hex');
            if (!reference.has(key)) reference.set(key, reference.size);
            expect(table.add(bytes, pad + i * ELEMENT_BYTES)).toBe(reference.get(key));
          });
          expect(table.size).toBe(reference.size);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('tells apart elements that differ only in their last byte, at any load', () => {
    const n = 5000;
    const bytes = new Uint8Array(n * ELEMENT_BYTES);
    for (let i = 0; i < n; i++) {
      bytes[i * ELEMENT_BYTES + 30] = i >> 8;
      bytes[i * ELEMENT_BYTES + 31] = i & 0xff;
    }
    const table = new ElementTable(n);
    for (let i = 0; i < n; i++) expect(table.add(bytes, i * ELEMENT_BYTES)).toBe(i);
    for (let i = n - 1; i >= 0; i--) expect(table.add(bytes, i * ELEMENT_BYTES)).toBe(i);
    expect(table.size).toBe(n);
  });

  it('refuses more distinct elements than its capacity and a bad capacity', () => {
    const table = new ElementTable(1);
    const two = randomBytes(64);
    expect(table.add(two, 0)).toBe(0);
    expect(table.add(two, 0)).toBe(0);
    expect(() => table.add(two, 32)).toThrow(RangeError);
    expect(new ElementTable(0).size).toBe(0);
    expect(() => new ElementTable(-1)).toThrow(RangeError);
    expect(() => new ElementTable(0.5)).toThrow(RangeError);
  });
});
