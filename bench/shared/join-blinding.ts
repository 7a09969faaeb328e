/**
 * `bench join`'s micro-benchmark of the PSI primitives, in this process: µs per element of
 * `BlindingKey.blind` (X25519 through node:crypto) against @noble/curves' ristretto255, the group
 * the design first named: its own scalar multiplication of a random point by a random scalar, and
 * a full blinding of an encoded element (decode + multiply + encode). Also µs per id of `hashIds`
 * (RFC 9380 hash-to-curve with noble's Elligator 2 map). Target: ours within 3× of noble's multiply.
 */
import { randomBytes } from 'node:crypto';
import { ristretto255 } from '@noble/curves/ed25519.js';
import { BlindingKey } from '../../src/psi/blinding-key.js';
import { hashIds } from '../../src/psi/hash-to-group.js';
import { median } from './stats.js';

export const BLINDING_TARGET = 3;

export interface BlindingBench {
  readonly elements: number;
  readonly reps: number;
  /** µs per element, medians over reps. */
  readonly hashIdsUs: number;
  readonly blindUs: number;
  readonly nobleMultiplyUs: number;
  readonly nobleBlindUs: number;
  /** blind / noble multiply (target ≤ 3) and blind / noble full blinding. */
  readonly ratioMultiply: number;
  readonly ratioNobleBlind: number;
}

const Point = ristretto255.Point;
const ORDER = Point.Fn.ORDER;

/** A uniform non-zero scalar from node:crypto (64 bytes reduced: bias below 2^-250). */
function randomScalar(): bigint {
  return (BigInt(`0x${randomBytes(64).toString('hex')}`) % (ORDER - 1n)) + 1n;
}

function usPer(n: number, reps: number, f: () => void): number {
  const xs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    f();
    xs.push(((performance.now() - t) * 1000) / n);
  }
  return median(xs);
}

/** Measures `elements` elements per repetition (after one warm-up repetition of each). */
export function blindingBench(elements: number, reps: number): BlindingBench {
  const ids = Array.from({ length: elements }, () => randomBytes(9).toString('base64'));
  const packed = hashIds(ids);
  using key = BlindingKey.generate();
  const points = Array.from({ length: elements }, () => Point.BASE.multiply(randomScalar()));
  const encoded = points.map((p) => p.toBytes());
  const scalar = randomScalar();
  let sink = 0;
  const hash = (): void => {
    sink ^= hashIds(ids)[0] ?? 0;
  };
  const blind = (): void => {
    sink ^= key.blind(packed)[0] ?? 0;
  };
  const multiply = (): void => {
    for (const p of points) sink ^= p.multiply(scalar).is0() ? 1 : 0;
  };
  const nobleBlind = (): void => {
    for (const e of encoded) sink ^= Point.fromBytes(e).multiply(scalar).toBytes()[0] ?? 0;
  };
  for (const f of [hash, blind, multiply, nobleBlind]) f(); // warm-up: JIT and noble's precomputes
  const hashIdsUs = usPer(elements, reps, hash);
  const blindUs = usPer(elements, reps, blind);
  const nobleMultiplyUs = usPer(elements, reps, multiply);
  const nobleBlindUs = usPer(elements, reps, nobleBlind);
  if (sink === -1) process.stderr.write(''); // keeps the results alive
  return {
    elements,
    reps,
    hashIdsUs,
    blindUs,
    nobleMultiplyUs,
    nobleBlindUs,
    ratioMultiply: blindUs / nobleMultiplyUs,
    ratioNobleBlind: blindUs / nobleBlindUs,
  };
}
