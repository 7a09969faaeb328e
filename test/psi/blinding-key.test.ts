import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFedstatError } from '../../src/errors.js';
import { BlindingKey } from '../../src/psi/blinding-key.js';
import { ELEMENT_BYTES } from '../../src/psi/group.js';
import { hashIds } from '../../src/psi/hash-to-group.js';

interface X25519Vectors {
  scalarMult: { section: string; scalar: string; u: string; output: string }[];
  iterated: { after1: string };
  diffieHellman: { aliceSecret: string; bobSecret: string; alicePublic: string; bobPublic: string; shared: string };
  lowOrderPublicKeys: string[];
}

const rfc7748 = JSON.parse(
  readFileSync(new URL('../vectors/x25519-rfc7748.json', import.meta.url), 'utf8'),
) as X25519Vectors;
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const at = (packed: Uint8Array, i: number): string =>
  toHex(packed.subarray(i * ELEMENT_BYTES, (i + 1) * ELEMENT_BYTES));
const BASE_POINT = hex('09' + '00'.repeat(31));

/** `n` distinct valid elements, made fast by blinding the base point repeatedly. */
function chain(n: number): Uint8Array {
  const key = BlindingKey.generate();
  const out = new Uint8Array(n * ELEMENT_BYTES);
  let e = BASE_POINT;
  for (let i = 0; i < n; i++) {
    e = key.blind(e);
    out.set(e, i * ELEMENT_BYTES);
  }
  return out;
}

function badMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isFedstatError(e, 'BAD_MESSAGE')) return e.message;
    throw e;
  }
  throw new Error('expected BAD_MESSAGE');
}

describe('BlindingKey known answers (RFC 7748)', () => {
  it('matches §5.2 vector 1', () => {
    const v = rfc7748.scalarMult[0]!;
    expect(toHex(BlindingKey.fromBytes(hex(v.scalar)).blind(hex(v.u)))).toBe(v.output);
  });

  it('matches §5.2 vector 2 once its u has the top bit cleared, and refuses the unmasked u', () => {
    const v = rfc7748.scalarMult[1]!;
    const key = BlindingKey.fromBytes(hex(v.scalar));
    const masked = hex(v.u);
    masked[31]! &= 0x7f;
    expect(toHex(key.blind(masked))).toBe(v.output);
    expect(badMessage(() => key.blind(hex(v.u)))).toContain('element 0');
  });

  it('matches the §5.2 iteration after one round and the §6.1 Diffie–Hellman example', () => {
    expect(toHex(BlindingKey.fromBytes(BASE_POINT).blind(BASE_POINT))).toBe(rfc7748.iterated.after1);
    const d = rfc7748.diffieHellman;
    const alice = BlindingKey.fromBytes(hex(d.aliceSecret));
    const bob = BlindingKey.fromBytes(hex(d.bobSecret));
    expect(toHex(alice.blind(BASE_POINT))).toBe(d.alicePublic);
    expect(toHex(alice.blind(hex(d.bobPublic)))).toBe(d.shared);
    expect(toHex(bob.blind(alice.blind(BASE_POINT)))).toBe(d.shared);
  });
});

describe('BlindingKey', () => {
  it('commutes: blinding under a then b equals b then a, for random ids and keys', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 24 }), { minLength: 1, maxLength: 4 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (ids, ka, kb) => {
          const a = BlindingKey.fromBytes(ka);
          const b = BlindingKey.fromBytes(kb);
          const hashed = hashIds(ids);
          expect(a.blind(b.blind(hashed))).toEqual(b.blind(a.blind(hashed)));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('keeps the equality structure within a query and changes every value between queries', () => {
    const ids = ['110101199003074518', '440305198501012345', '110101199003074518', '310104197712250036'];
    const hashed = hashIds(ids);
    const q1 = BlindingKey.generate().blind(hashed);
    const q2 = BlindingKey.generate().blind(hashed);
    expect(at(q1, 0)).toBe(at(q1, 2));
    expect(new Set([0, 1, 3].map((i) => at(q1, i))).size).toBe(3);
    const one = new Set([0, 1, 3].map((i) => at(q1, i)));
    for (const i of [0, 1, 2, 3]) {
      expect(at(q2, i)).not.toBe(at(q1, i));
      expect(one.has(at(q2, i))).toBe(false);
      expect(at(q1, i)).not.toBe(at(hashed, i));
    }
  });

  it('refuses low-order and non-canonical elements, naming the element index', () => {
    const key = BlindingKey.generate();
    const good = chain(1);
    for (const low of rfc7748.lowOrderPublicKeys) {
      const set = new Uint8Array(2 * ELEMENT_BYTES);
      set.set(good, 0);
      set.set(hex(low), ELEMENT_BYTES);
      const message = badMessage(() => key.blind(set));
      expect(message).toContain('element 1');
      expect(message).not.toContain(low);
    }
  });

  it('refuses a truncated set', () => {
    const key = BlindingKey.generate();
    expect(badMessage(() => key.blind(chain(2).subarray(0, 63)))).toContain('truncated');
    expect(key.blind(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it('blindAsync equals blind, reports progress per 4096 elements and yields between slices', async () => {
    const key = BlindingKey.generate();
    const elements = chain(4100);
    // Queued before the call: it runs before the second slice only if blindAsync yields.
    let otherWorkRan = false;
    setImmediate(() => (otherWorkRan = true));
    const progress: [number, number, boolean][] = [];
    const out = await key.blindAsync(elements, (done, total) => progress.push([done, total, otherWorkRan]));
    expect(out).toEqual(key.blind(elements));
    expect(progress).toEqual([
      [4096, 4100, false],
      [4100, 4100, true],
    ]);
    await expect(key.blindAsync(elements.subarray(1))).rejects.toThrow(/truncated/);
  });

  it('generates distinct keys, round-trips bytes and refuses a wrong length', () => {
    const a = BlindingKey.generate();
    const b = BlindingKey.generate();
    expect(a.bytes().length).toBe(32);
    expect(a.bytes()).not.toEqual(b.bytes());
    const copy = BlindingKey.fromBytes(a.bytes());
    const e = chain(3);
    expect(copy.blind(e)).toEqual(a.blind(e));
    expect(() => BlindingKey.fromBytes(new Uint8Array(31))).toThrow(RangeError);
    expect(() => BlindingKey.fromBytes('k' as unknown as Uint8Array)).toThrow(RangeError);
  });

  it("cannot blind or export after dispose, and never aliases the caller's bytes", () => {
    const raw = new Uint8Array(32).fill(7);
    const key = BlindingKey.fromBytes(raw);
    key[Symbol.dispose]();
    expect(raw).toEqual(new Uint8Array(32).fill(7)); // fromBytes copied the caller's array
    expect(() => key.bytes()).toThrow(TypeError);
    expect(() => key.blind(chain(1))).toThrow(TypeError);
  });
});
