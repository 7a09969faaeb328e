/**
 * Streamed linkage messages without a network: positions split into parts of at most 1 MiB and
 * reassemble exactly at the edges of a part; a second header is refused; a sender's own wrong
 * shape is a programmer error (RangeError/TypeError), not a wire refusal.
 */
import { describe, expect, it } from 'vitest';
import { LINK_POSITIONS_PER_PART } from '../../src/transport/limits.js';
import {
  EncryptRequestAssembler,
  encryptRequestParts,
  loadRequestParts,
} from '../../src/transport/link-streams-wire.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';
import { bytes, fakeQuery, sameWords } from './link-fixture.js';

const query = fakeQuery(256);

describe('streamed positions', () => {
  it.each([0, 1, LINK_POSITIONS_PER_PART, LINK_POSITIONS_PER_PART + 1, 3 * LINK_POSITIONS_PER_PART - 5])(
    '%i positions split into parts of at most 1 MiB and reassemble exactly',
    (n) => {
      const positions = new Uint32Array(n).map((_, i) => (i * 2_654_435_761) >>> 0);
      const parts = encryptRequestParts({ query, positionCount: 2 ** 32 - 1, positions });
      expect(parts).toHaveLength(1 + Math.ceil(n / LINK_POSITIONS_PER_PART));
      const assembler = new EncryptRequestAssembler('the coordinator');
      for (const p of parts) {
        if (p.positions !== undefined && p.positions !== null)
          expect(p.positions.length).toBeLessThanOrEqual(4 * LINK_POSITIONS_PER_PART);
        assembler.add(p);
      }
      const back = assembler.finish();
      expect(sameWords(back.positions, positions)).toBe(true);
      expect(back.positionCount).toBe(2 ** 32 - 1);
    },
  );

  it('a second header is refused', () => {
    const assembler = new EncryptRequestAssembler('the coordinator');
    const [first] = encryptRequestParts({ query, positionCount: 1, positions: new Uint32Array(0) });
    assembler.add(first!);
    const e = fedstatErrorOf(() => assembler.add(first!));
    expect(e.code).toBe('BAD_MESSAGE');
    expect(e.message).toContain('second header');
  });

  it('a sender with a wrong shape is a programmer error, not a wire refusal', () => {
    const base = { query, positionCount: 4, positions: new Uint32Array([1]), components: 2, blocks: 2 };
    expect(() => loadRequestParts({ ...base, ciphertexts: [bytes(10)] })).toThrow(RangeError);
    expect(() => loadRequestParts({ ...base, ciphertexts: [], components: 0 })).toThrow(RangeError);
    expect(() =>
      loadRequestParts({ ...base, positionCount: 2 ** 32, ciphertexts: [1, 2, 3, 4].map(() => bytes(1)) }),
    ).toThrow(RangeError);
    expect(() => encryptRequestParts({ query, positionCount: 4, positions: [1, 2] as unknown as Uint32Array })).toThrow(
      TypeError,
    );
  });
});
