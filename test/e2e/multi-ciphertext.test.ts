/**
 * Plans larger than one ciphertext: 120 × 90 groups × (COUNT + SUM) = 21,600 slots, so every
 * contribution carries three ciphertexts, and sums whose bound needs two limbs per cell. The
 * released rows still equal the plaintext.
 */
import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../src/federation/schema.js';
import { inProcessFederation, type Row } from '../helpers/in-process-federation.js';

const A = Array.from({ length: 120 }, (_, i) => `街道${i}`);
const B = Array.from({ length: 90 }, (_, i) => `社区${i}`);
const schema = parseSchema(
  {
    datasets: {
      grid: {
        maxRows: 40_000_000,
        columns: {
          street: { type: 'category', values: A },
          community: { type: 'category', values: B },
          // maxRows × 2^50 ≈ 2^75 per cell: more than one 60-bit slot can hold, so cells take limbs.
          amount: { type: 'integer', min: -(2 ** 50), max: 2 ** 50 },
        },
      },
    },
  },
  'grid.json',
);

function rows(n: number, seed: number): Row[] {
  let s = seed;
  const next = (m: number): number => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s % m;
  };
  return Array.from({ length: n }, () => ({
    street: A[next(A.length)]!,
    community: B[next(B.length)]!,
    amount: (next(2) === 0 ? -1 : 1) * (2 ** 49 + next(1_000_000)),
  }));
}

describe('plans spanning several ciphertexts', () => {
  it('packs 21,600 slots into 3 ciphertexts with multi-limb sums and releases exact totals', async () => {
    const data = [rows(400, 1), rows(300, 2)];
    await using fed = await inProcessFederation(schema, 'grid', data, {
      minAgencies: 2,
      minGroupSize: 1,
      exactRelease: true,
      transparencyLog: false,
    });
    const result = await fed.coordinator.query(
      'SELECT street, community, COUNT(*) AS n, SUM(amount) AS total FROM grid GROUP BY street, community',
    );
    expect(result.ciphertexts).toBeGreaterThanOrEqual(3);
    const expected = new Map<string, { n: bigint; total: bigint }>();
    for (const r of data.flat()) {
      const k = `${String(r['street'])}|${String(r['community'])}`;
      const e = expected.get(k) ?? { n: 0n, total: 0n };
      expected.set(k, { n: e.n + 1n, total: e.total + BigInt(r['amount'] as number) });
    }
    expect(result.rows).toHaveLength(expected.size);
    for (const row of result.rows) {
      const e = expected.get(`${String(row['street'])}|${String(row['community'])}`);
      expect(row['n']).toBe(e?.n);
      expect(row['total']).toBe(e?.total);
    }
  });
});
