/**
 * Secure-aggregation masks cover the layout's used slots as one flat vector: flat index s is
 * slot s mod N of ciphertext ⌊s/N⌋. Unused slots carry zero at every honest agency and are never
 * released, so they are left unmasked.
 */
export function addFlatInto(
  slots: readonly BigUint64Array[],
  flat: BigUint64Array,
  modulus: bigint,
  sign: 1 | -1 = 1,
): void {
  let offset = 0;
  for (const vector of slots) {
    const n = Math.min(vector.length, flat.length - offset);
    for (let i = 0; i < n; i++) {
      const v = vector[i] ?? 0n;
      const m = flat[offset + i] ?? 0n;
      const r = sign === 1 ? v + m : v - m;
      vector[i] = r >= modulus ? r - modulus : r < 0n ? r + modulus : r;
    }
    offset += n;
  }
  if (offset !== flat.length)
    throw new RangeError(`flat vector of ${flat.length} slots does not fit ${slots.length} slot vectors`);
}

/** Splits a flat vector into per-ciphertext vectors of `slotCount` slots (zero-padded). */
export function splitFlat(flat: BigUint64Array, slotCount: number, ciphertexts: number): BigUint64Array[] {
  return Array.from({ length: ciphertexts }, (_, k) => {
    const out = new BigUint64Array(slotCount);
    out.set(flat.subarray(k * slotCount, Math.min(flat.length, (k + 1) * slotCount)));
    return out;
  });
}

/** The per-ciphertext vectors one after the other: the inverse of `splitFlat`. */
export function joinFlat(slots: readonly BigUint64Array[]): BigUint64Array {
  const out = new BigUint64Array(slots.reduce((n, s) => n + s.length, 0));
  let at = 0;
  for (const s of slots) {
    out.set(s, at);
    at += s.length;
  }
  return out;
}
