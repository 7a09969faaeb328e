/**
 * Regression found by the coordinator fuzz: an agency that validly signs a contribution whose
 * sealed share is malformed must be dropped before its ciphertexts join the sum, so the query
 * completes exactly over the honest survivors (and no decryption is wasted on a poisoned sum).
 */
import { describe, expect, it } from 'vitest';
import { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { isolatedSlotDecryptor } from '../../src/key-authority/slot-decryptor.js';
import { signContribution } from '../../src/protocol/contribution.js';
import { queryDigest } from '../../src/protocol/query-envelope.js';
import { createFuzzFederation, SQL } from './fuzz-federation.js';
import { prng } from './mutate.js';

describe('a validly signed contribution with a malformed sealed share', () => {
  it('is dropped before it joins the sum; the release covers the honest survivors exactly', async () => {
    const f = await createFuzzFederation(prng(7n));
    const ka = await InProcessKeyAuthority.create({
      federation: f.federation,
      secrets: f.secrets['key-authority']!,
      decryptor: isolatedSlotDecryptor,
    });
    const links = f.links();
    const honest = links[0]!;
    links[0] = {
      ...honest,
      aggregate: async (q, d) => {
        const c = await honest.aggregate(q, d);
        const shares = c.masking!.shares.map((s, i) => (i === 0 ? { ...s, nonce: s.nonce.subarray(0, 23) } : s));
        return signContribution(
          f.federation.id,
          queryDigest(q.bytes),
          c.agencyId,
          c.queryId,
          c.mode,
          c.payloads,
          { ...c.masking!, shares },
          f.secrets[c.agencyId]!.signing.secretKey,
        );
      },
    };
    const coordinator = await f.coordinator(ka, links);
    try {
      const result = await coordinator.query(SQL);
      expect(result.agencies.failed.map((x) => [x.id, x.code])).toEqual([['agency-1', 'BAD_MESSAGE']]);
      expect(result.rows).toEqual(f.expectedRows(['agency-2', 'agency-3', 'agency-4']));
      expect(ka.releases()).toHaveLength(1);
    } finally {
      await coordinator.close();
      await ka.close();
      await f.close();
    }
  }, 60_000);
});
