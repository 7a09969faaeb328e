import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAuditSink, type AuditEvent } from '../../src/transparency/events.js';
import { sha256, toHex } from '../../src/crypto/digest.js';
import { isFedstatError, type ErrorCode, type FedstatError } from '../../src/errors.js';
import { partyOfRole } from '../../src/federation/federation.js';
import { MAX_CIPHERTEXTS } from '../../src/he/packing.js';
import type { InProcessKeyAuthority } from '../../src/key-authority/key-authority.js';
import { inThreadSlotDecryptor, type SlotDecryptorFactory } from '../../src/key-authority/slot-decryptor.js';
import { checkDecryptionAnswer, type DecryptionRequest } from '../../src/protocol/decryption.js';
import { createKaFixture, NOW, plainSum, randomSlots, type KaFixture } from './fixture.js';

let f: KaFixture;
/** One slot vector per agency and its ciphertext, made once. */
const vectors = new Map<string, BigUint64Array>();

beforeAll(async () => {
  f = await createKaFixture({ agencies: 5, minAgencies: 3 });
  for (const a of f.agencies) vectors.set(a, randomSlots(f.params.slotCount));
});
afterAll(() => f[Symbol.dispose]());

function sumOf(survivors: readonly string[]): { ct: Uint8Array; expected: BigUint64Array } {
  const vs = survivors.map((a) => vectors.get(a)!);
  return { ct: f.encryptedSum(vs), expected: plainSum(vs, f.params.slotCount, f.params.plainModulus) };
}

/** A correct request over `survivors` for a fresh query. */
function goodRequest(
  survivors: readonly string[],
  query = f.query({ threshold: 3 }),
): { request: DecryptionRequest; expected: BigUint64Array } {
  const { ct, expected } = sumOf(survivors);
  return { request: f.request(query, f.survivorSet(query, survivors), [ct]), expected };
}

async function refusal(
  ka: InProcessKeyAuthority,
  request: DecryptionRequest,
  code: ErrorCode,
  message: RegExp,
): Promise<FedstatError> {
  const e: unknown = await ka.decrypt(request).then(
    () => null,
    (x: unknown) => x,
  );
  expect(isFedstatError(e, code), `expected ${code}, got ${String(e)}`).toBe(true);
  expect((e as FedstatError).message).toMatch(message);
  expect((e as FedstatError).message).not.toMatch(/\n/);
  return e as FedstatError;
}

describe('InProcessKeyAuthority: a correct release', () => {
  it("decrypts the survivors' sum, signs it verifiably, records it and appends a decryption event", async () => {
    const audit = new MemoryAuditSink();
    const ka = await f.keyAuthority({ audit });
    try {
      const survivors = ['a1', 'a3', 'a4', 'a5'];
      const { request, expected } = goodRequest(survivors);
      const answer = await ka.decrypt(request);
      expect(answer.slots).toHaveLength(1);
      expect(answer.slots[0]).toEqual(expected);
      checkDecryptionAnswer(answer, request, f.federation.id, partyOfRole(f.federation, 'key-authority').signingKey);
      // The signature is the key authority's: verifying with the coordinator's key fails.
      expect(() =>
        checkDecryptionAnswer(answer, request, f.federation.id, partyOfRole(f.federation, 'coordinator').signingKey),
      ).toThrowError(/does not verify/);
      const env = JSON.parse(new TextDecoder().decode(request.query.bytes)) as { queryId: string };
      const record = {
        queryId: env.queryId,
        survivors,
        dropped: ['a2'],
        ciphertextDigests: [toHex(sha256(request.ciphertexts[0]!))],
        at: NOW,
      };
      expect(ka.releases()).toEqual([record]);
      expect(audit.events).toEqual([
        {
          type: 'decryption',
          at: NOW,
          queryId: env.queryId,
          contributors: survivors,
          dropped: ['a2'],
          ciphertextDigests: record.ciphertextDigests,
        },
      ]);
    } finally {
      await ka.close();
    }
  });

  it('releases exactly the plaintext sum for any large enough survivor set, and refuses every smaller one (property)', async () => {
    const ka = await f.keyAuthority();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.subarray([...f.agencies], { minLength: 1 }),
          fc.integer({ min: 1, max: 5 }),
          async (survivors, threshold) => {
            const query = f.query({ threshold });
            const { ct, expected } = sumOf(survivors);
            const attempt = ka.decrypt(f.request(query, f.survivorSet(query, survivors), [ct]));
            if (survivors.length >= Math.max(3, threshold)) {
              expect((await attempt).slots[0]).toEqual(expected);
            } else {
              await expect(attempt).rejects.toMatchObject({ code: 'POLICY_REFUSED' });
            }
          },
        ),
        { numRuns: 25 },
      );
      expect(ka.releases().every((r) => r.survivors.length >= 3)).toBe(true);
    } finally {
      await ka.close();
    }
  });

  it('decrypts several ciphertexts of one layout in order', async () => {
    const ka = await f.keyAuthority();
    try {
      const query = f.query({ threshold: 3 });
      const survivors = ['a1', 'a2', 'a3'];
      const parts = [sumOf(survivors), sumOf(['a4', 'a5', 'a1'])];
      const answer = await ka.decrypt(
        f.request(
          query,
          f.survivorSet(query, survivors),
          parts.map((p) => p.ct),
        ),
      );
      expect(answer.slots).toEqual(parts.map((p) => p.expected));
    } finally {
      await ka.close();
    }
  });

  it('decrypts encrypted-unmasked sums only when started for benchmarks', async () => {
    const refusing = await f.keyAuthority();
    const bench = await f.keyAuthority({ allowBenchmarkModes: true });
    try {
      const query = f.query({ mode: 'encrypted-unmasked', threshold: 3 });
      const { request, expected } = goodRequest(['a1', 'a2', 'a3'], query);
      await refusal(refusing, request, 'POLICY_REFUSED', /encrypted-unmasked .*benchmarks/);
      expect((await bench.decrypt(request)).slots[0]).toEqual(expected);
      // plaintext is never decrypted, opt-in or not
      await refusal(
        bench,
        goodRequest(['a1', 'a2', 'a3'], f.query({ mode: 'plaintext', threshold: 3 })).request,
        'POLICY_REFUSED',
        /plaintext query/,
      );
    } finally {
      await refusing.close();
      await bench.close();
    }
  });
});

describe('InProcessKeyAuthority: refusals', () => {
  let ka: InProcessKeyAuthority;
  const audit = new MemoryAuditSink();
  beforeAll(async () => {
    ka = await f.keyAuthority({ audit });
  });
  afterAll(async () => {
    await ka.close();
  });

  const survivors = ['a1', 'a2', 'a3'];

  it('refuses an unsigned or forged request, and one altered after signing', async () => {
    const { request } = goodRequest(survivors);
    await refusal(
      ka,
      { ...request, signature: new Uint8Array(64) },
      'BAD_MESSAGE',
      /decryption request signature does not verify/,
    );
    const forged = f.request(request.query, request.survivors, request.ciphertexts, 'a1');
    await refusal(ka, forged, 'BAD_MESSAGE', /decryption request signature does not verify/);
    const other = sumOf(['a4', 'a5', 'a1']).ct;
    await refusal(
      ka,
      { ...request, ciphertexts: [other] },
      'BAD_MESSAGE',
      /decryption request signature does not verify/,
    );
    // a query signed by someone else, inside a request the coordinator signed
    const query = { ...request.query, signature: new Uint8Array(64) };
    await refusal(
      ka,
      f.request(query, request.survivors, request.ciphertexts),
      'BAD_MESSAGE',
      /query signature does not verify/,
    );
    // nothing was attributable to a query, so nothing reached the audit sink
    expect(audit.events).toEqual([]);
    // and the genuine request still goes through afterwards
    await expect(ka.decrypt(request)).resolves.toBeDefined();
  });

  it('refuses a survivor set made for another query', async () => {
    const query = f.query({ threshold: 3 });
    const otherQuery = f.query({ threshold: 3 });
    const { ct } = sumOf(survivors);
    await refusal(
      ka,
      f.request(query, f.survivorSet(otherQuery, survivors), [ct]),
      'BAD_MESSAGE',
      /survivor set: belongs to another query/,
    );
    // same query id, but other query bytes
    const twin = f.query({
      threshold: 3,
      queryId: (JSON.parse(new TextDecoder().decode(query.bytes)) as { queryId: string }).queryId,
      expiresAt: NOW + 1,
    });
    await refusal(
      ka,
      f.request(query, f.survivorSet(twin, survivors), [ct]),
      'BAD_MESSAGE',
      /survivor set: belongs to other query bytes/,
    );
  });

  it("refuses a set that does not partition the query's agencies", async () => {
    const query = f.query({ threshold: 3 });
    const { ct } = sumOf(survivors);
    const cases = [
      { dropped: ['a4'] }, // a5 missing
      { dropped: ['a3', 'a4', 'a5'] }, // a3 both survived and dropped
      { survivors: ['a1', 'a2', 'a3', 'zz'], dropped: ['a4', 'a5'] }, // not an agency of the query
    ];
    for (const override of cases) {
      const e = await refusal(
        ka,
        f.request(query, f.survivorSet(query, survivors, override), [ct]),
        'BAD_MESSAGE',
        /partition the agencies/,
      );
      expect(e.details['queryId']).toBeTypeOf('string');
    }
  });

  it("refuses a set whose threshold differs from the query's", async () => {
    const query = f.query({ threshold: 3 });
    const { ct } = sumOf(survivors);
    await refusal(
      ka,
      f.request(query, f.survivorSet(query, survivors, { threshold: 2 }), [ct]),
      'BAD_MESSAGE',
      /threshold 2 differs from the query's 3/,
    );
  });

  it("refuses fewer survivors than policy.minAgencies, and fewer than the query's threshold", async () => {
    // minAgencies is 3: two survivors are too few even with threshold 2
    await refusal(
      ka,
      goodRequest(['a1', 'a2'], f.query({ threshold: 2 })).request,
      'POLICY_REFUSED',
      /2 agencies survived, the release needs at least 3 \(policy minAgencies 3, query threshold 2\)/,
    );
    // threshold 4: three survivors satisfy minAgencies but not the threshold
    await refusal(
      ka,
      goodRequest(survivors, f.query({ threshold: 4 })).request,
      'POLICY_REFUSED',
      /3 agencies survived, the release needs at least 4/,
    );
  });

  it('decrypts one query id once, whatever set or ciphertexts come with the second request', async () => {
    const query = f.query({ threshold: 3 });
    await ka.decrypt(goodRequest(survivors, query).request);
    await refusal(
      ka,
      goodRequest(survivors, query).request,
      'REPLAY',
      /decrypted before; each query is decrypted once/,
    );
    await refusal(ka, goodRequest(['a3', 'a4', 'a5'], query).request, 'REPLAY', /decrypted before/);
  });

  it('lets only one of two concurrent requests for one query through', async () => {
    const query = f.query({ threshold: 3 });
    const results = await Promise.allSettled([
      ka.decrypt(goodRequest(survivors, query).request),
      ka.decrypt(goodRequest(survivors, query).request),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected');
    expect(isFedstatError(rejected?.reason, 'REPLAY')).toBe(true);
  });

  it('refuses plaintext queries and (without the opt-in) unmasked ones', async () => {
    await refusal(
      ka,
      goodRequest(survivors, f.query({ mode: 'plaintext', threshold: 3 })).request,
      'POLICY_REFUSED',
      /plaintext query has nothing to decrypt/,
    );
    await refusal(
      ka,
      goodRequest(survivors, f.query({ mode: 'encrypted-unmasked', threshold: 3 })).request,
      'POLICY_REFUSED',
      /encrypted-unmasked/,
    );
  });

  it('refuses an expired query', async () => {
    await refusal(
      ka,
      goodRequest(survivors, f.query({ threshold: 3, expiresAt: NOW - 1 })).request,
      'REPLAY',
      /expired 1 ms ago/,
    );
  });

  it('refuses zero or more than MAX_CIPHERTEXTS ciphertexts', async () => {
    const query = f.query({ threshold: 3 });
    const set = f.survivorSet(query, survivors);
    await refusal(ka, f.request(query, set, []), 'BAD_MESSAGE', /0 ciphertexts sent, expected 1 to 32/);
    const { ct } = sumOf(survivors);
    await refusal(
      ka,
      f.request(
        query,
        set,
        Array.from({ length: MAX_CIPHERTEXTS + 1 }, () => ct),
      ),
      'BAD_MESSAGE',
      /33 ciphertexts sent/,
    );
  });

  it('refuses signed garbage ciphertexts without burning the query id', async () => {
    const query = f.query({ threshold: 3 });
    const set = f.survivorSet(query, survivors);
    const { ct, expected } = sumOf(survivors);
    const flipped = ct.slice();
    flipped[flipped.length >> 1]! ^= 0xff;
    for (const bad of [ct.subarray(0, 100), new Uint8Array(ct.length), flipped]) {
      await refusal(ka, f.request(query, set, [bad]), 'BAD_MESSAGE', /decryption failed/);
    }
    expect((await ka.decrypt(f.request(query, set, [ct]))).slots[0]).toEqual(expected);
  });

  it('audits every refusal of an authenticated query, and records only releases', () => {
    const refusals = audit.events.filter((e): e is Extract<AuditEvent, { type: 'refusal' }> => e.type === 'refusal');
    expect(refusals.length).toBeGreaterThanOrEqual(10);
    expect(
      refusals.every((e) => e.agencyId === 'key-authority' && /^[0-9a-f]{32}$/.test(e.queryId) && e.at === NOW),
    ).toBe(true);
    const decryptions = audit.events.filter((e) => e.type === 'decryption').map((e) => e.queryId);
    expect(ka.releases().map((r) => r.queryId)).toEqual(decryptions);
    expect(new Set(decryptions).size).toBe(decryptions.length);
  });
});

describe('InProcessKeyAuthority: construction, injection and closing', () => {
  it("needs the key authority's own key file with its HE secret key", async () => {
    await expect(f.keyAuthority({ secrets: f.secrets['a1']! })).rejects.toMatchObject({ code: 'KEY_INVALID' });
    await expect(
      f.keyAuthority({ secrets: { ...f.secrets['key-authority']!, heSecretKey: null } }),
    ).rejects.toMatchObject({ code: 'KEY_INVALID' });
  });

  it('decrypts through an injected SlotDecryptor and checks what it returns', async () => {
    let calls = 0;
    let corrupt = false;
    const counting: SlotDecryptorFactory = async (params, sk) => {
      const inner = await inThreadSlotDecryptor(params, sk);
      return {
        decrypt: async (cts) => {
          calls++;
          const slots = await inner.decrypt(cts);
          if (corrupt) slots[0]![0] = params.plainModulus;
          return slots;
        },
        close: () => inner.close(),
      };
    };
    const ka = await f.keyAuthority({ decryptor: counting });
    try {
      const { request, expected } = goodRequest(['a1', 'a2', 'a3']);
      expect((await ka.decrypt(request)).slots[0]).toEqual(expected);
      expect(calls).toBe(1);
      corrupt = true;
      await refusal(ka, goodRequest(['a1', 'a2', 'a3']).request, 'INTERNAL', /wrong count, length or range/);
      expect(ka.releases()).toHaveLength(1);
    } finally {
      await ka.close();
    }
  });

  it('is UNAVAILABLE once closed, and close is idempotent', async () => {
    const ka = await f.keyAuthority();
    await ka.close();
    await ka.close();
    await expect(ka.decrypt(goodRequest(['a1', 'a2', 'a3']).request)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('describes itself with the parameters it decrypts under', async () => {
    const ka = await f.keyAuthority();
    try {
      expect(await ka.describe()).toEqual({
        partyId: 'key-authority',
        federationId: f.federation.id,
        paramsId: f.params.paramsId,
        slotCount: 4096,
        ciphertextBytes: f.params.ciphertextBytes,
        logHead: null,
      });
    } finally {
      await ka.close();
    }
  });
});
