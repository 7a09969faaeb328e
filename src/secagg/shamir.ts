/**
 * Shamir secret sharing over the prime field F_p, p = 2^256 − 189 (the largest prime below
 * 2^256, so a uniformly random 32-byte string is a field element except with probability
 * 189 / 2^256 and a self-mask seed loses no entropy). A secret is the constant term of a random
 * polynomial of degree threshold − 1; share k is its value at x = k. Any `threshold` shares
 * determine the secret by Lagrange interpolation at 0, and any fewer are independent of it.
 */
import { randomBytes } from 'node:crypto';
import { FedstatError } from '../errors.js';

/** The field prime p = 2^256 − 189: secrets and share values are integers from 0 to p − 1. */
export const FIELD_PRIME = 2n ** 256n - 189n;
export const FIELD_BYTES = 32;
/** The largest number of shares (and of participants in one query). */
export const MAX_SHARES = 4096;

/** One share: the sharing polynomial's value y at x (1-based: x = participant index + 1). */
export interface Share {
  /** The x-coordinate, an integer from 1 to 4096. */
  readonly x: number;
  /** The value, a field element below `FIELD_PRIME`. */
  readonly y: bigint;
}

const mod = (a: bigint): bigint => {
  const r = a % FIELD_PRIME;
  return r < 0n ? r + FIELD_PRIME : r;
};

/** Modular inverse by the extended Euclidean algorithm (a ≠ 0 mod p). */
function inverse(a: bigint): bigint {
  let [r0, r1] = [FIELD_PRIME, mod(a)];
  let [s0, s1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new RangeError('zero has no inverse');
  return mod(s0);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return BigInt('0x' + (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') || '0'));
}

/** A uniformly random element of F_p from the OS CSPRNG (rejection sampling: no bias). */
export function randomFieldElement(): bigint {
  return randomFieldElements(1)[0] ?? 0n;
}

/** `count` independent uniform elements of F_p, from one CSPRNG call (each call costs ~10 µs). */
function randomFieldElements(count: number): bigint[] {
  const bytes = randomBytes(FIELD_BYTES * count);
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) {
    let v = bytesToBigInt(bytes.subarray(i * FIELD_BYTES, (i + 1) * FIELD_BYTES));
    while (v >= FIELD_PRIME) v = bytesToBigInt(randomBytes(FIELD_BYTES)); // probability 2^-248
    out.push(v);
  }
  bytes.fill(0);
  return out;
}

/** 32-byte big-endian encoding of a field element. */
export function fieldToBytes(v: bigint): Uint8Array {
  if (typeof v !== 'bigint' || v < 0n || v >= FIELD_PRIME) throw new RangeError('not a field element');
  return new Uint8Array(Buffer.from(v.toString(16).padStart(FIELD_BYTES * 2, '0'), 'hex'));
}

/** Decodes 32 big-endian bytes; BAD_MESSAGE on a wrong length or a value ≥ p (non-canonical). */
export function fieldFromBytes(bytes: Uint8Array): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length !== FIELD_BYTES) {
    throw new FedstatError('BAD_MESSAGE', `a field element has ${FIELD_BYTES} bytes`);
  }
  const v = bytesToBigInt(bytes);
  if (v >= FIELD_PRIME) throw new FedstatError('BAD_MESSAGE', 'field element is not below the field prime');
  return v;
}

function checkCounts(n: number, threshold: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_SHARES)
    throw new RangeError(`share count must be an integer in 1..${MAX_SHARES}`);
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > n)
    throw new RangeError('threshold must be an integer in 1..n');
}

/** Splits `secret` ∈ F_p into n shares (x = 1..n), any `threshold` of which reconstruct it. */
export function splitSecret(secret: bigint, n: number, threshold: number): Share[] {
  checkCounts(n, threshold);
  return splitSecretAt(
    secret,
    Array.from({ length: n }, (_, i) => i + 1),
    threshold,
  );
}

/**
 * Splits `secret` into one share at each of the distinct x-coordinates `xs` (1..MAX_SHARES), any
 * `threshold` of which reconstruct it: SecAgg+ shares among a neighbourhood, at the holders' x.
 */
export function splitSecretAt(secret: bigint, xs: readonly number[], threshold: number): Share[] {
  if (typeof secret !== 'bigint' || secret < 0n || secret >= FIELD_PRIME)
    throw new RangeError('secret must be a field element');
  checkCounts(xs.length, threshold);
  if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isSafeInteger(x) || x < 1 || x > MAX_SHARES))
    throw new RangeError(`x-coordinates must be distinct integers in 1..${MAX_SHARES}`);
  const coefficients = [secret, ...randomFieldElements(threshold - 1)];
  return xs.map((x) => {
    let y = 0n;
    const bx = BigInt(x);
    for (let k = coefficients.length - 1; k >= 0; k--) y = (y * bx + (coefficients[k] ?? 0n)) % FIELD_PRIME; // Horner
    return { x, y };
  });
}

/** BAD_MESSAGE unless every share has an integer x in 1..MAX_SHARES, no x twice, and y ∈ F_p. */
function checkShares(shares: readonly Share[]): void {
  const seen = new Set<number>();
  for (const s of shares) {
    if (!Number.isSafeInteger(s.x) || s.x < 1 || s.x > MAX_SHARES)
      throw new FedstatError('BAD_MESSAGE', `share x-coordinate must be an integer in 1..${MAX_SHARES}`);
    if (seen.has(s.x)) throw new FedstatError('BAD_MESSAGE', `two shares have x-coordinate ${s.x}`);
    seen.add(s.x);
    if (typeof s.y !== 'bigint' || s.y < 0n || s.y >= FIELD_PRIME)
      throw new FedstatError('BAD_MESSAGE', `share ${s.x} is not a field element`);
  }
}

/**
 * The Lagrange coefficients λ_j at 0 for distinct x-coordinates: f(0) = Σ λ_j·f(x_j) for every
 * polynomial of degree < xs.length. One inversion per call; reuse the result for many secrets
 * shared at the same points (the coordinator does, once per survivor set).
 */
export function lagrangeAtZero(xs: readonly number[]): bigint[] {
  const points = xs.map(BigInt);
  // Π_{m≠j} x_m from prefix and suffix products: O(t) field multiplications, not O(t²).
  const suffix: bigint[] = new Array<bigint>(points.length + 1).fill(1n);
  for (let m = points.length - 1; m >= 0; m--) suffix[m] = ((suffix[m + 1] ?? 1n) * (points[m] ?? 1n)) % FIELD_PRIME;
  let before = 1n;
  const numerators = points.map((xj, j) => {
    const n = (before * (suffix[j + 1] ?? 1n)) % FIELD_PRIME;
    before = (before * xj) % FIELD_PRIME;
    return n;
  });
  // Π_{m≠j} (x_m − x_j) stays O(t²), but the differences are small integers (|x| ≤ 4096): four of
  // them multiply exactly in a double, so SecAgg+'s per-survivor coefficients take 4× fewer BigInt steps.
  const denominators = xs.map((xj, j) => {
    let acc = 1n;
    let chunk = 1;
    let inChunk = 0;
    for (let m = 0; m < xs.length; m++) {
      if (m === j) continue;
      chunk *= (xs[m] ?? 0) - xj;
      if (++inChunk === 4) {
        acc = (acc * BigInt(chunk)) % FIELD_PRIME;
        chunk = 1;
        inChunk = 0;
      }
    }
    return mod(acc * BigInt(chunk));
  });
  // Montgomery's trick: one inversion for all denominators.
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const d of denominators) {
    prefix.push(acc);
    acc = (acc * d) % FIELD_PRIME;
  }
  let inv = inverse(acc);
  const result: bigint[] = new Array<bigint>(points.length);
  for (let j = points.length - 1; j >= 0; j--) {
    const invD = (inv * (prefix[j] ?? 1n)) % FIELD_PRIME;
    inv = (inv * (denominators[j] ?? 1n)) % FIELD_PRIME;
    result[j] = ((numerators[j] ?? 0n) * invD) % FIELD_PRIME;
  }
  return result;
}

/** Σ λ_j·y_j: interpolation at 0 with precomputed coefficients (same order as the shares). */
export function interpolateAtZero(ys: readonly bigint[], lambdas: readonly bigint[]): bigint {
  if (ys.length !== lambdas.length) throw new RangeError('one coefficient per share');
  let s = 0n;
  for (let j = 0; j < ys.length; j++) s += (ys[j] ?? 0n) * (lambdas[j] ?? 0n);
  return s % FIELD_PRIME;
}

/**
 * Reconstructs the secret from the first `threshold` of `shares` (all are validated). Fewer than
 * `threshold` shares is UNAVAILABLE; a malformed share is BAD_MESSAGE. Shares of a polynomial
 * of higher degree, or corrupted ones, reconstruct a wrong value: callers check a commitment.
 */
export function combineShares(shares: readonly Share[], threshold: number): bigint {
  if (!Number.isSafeInteger(threshold) || threshold < 1 || threshold > MAX_SHARES)
    throw new RangeError(`threshold must be an integer in 1..${MAX_SHARES}`);
  checkShares(shares);
  if (shares.length < threshold) {
    throw new FedstatError(
      'UNAVAILABLE',
      `${shares.length} shares cannot reconstruct a secret shared with threshold ${threshold}`,
    );
  }
  const used = shares.slice(0, threshold);
  return interpolateAtZero(
    used.map((s) => s.y),
    lagrangeAtZero(used.map((s) => s.x)),
  );
}
