/**
 * The signed plan of one Newton round (src/protocol/glm-round.ts): it opens to what was signed,
 * and every single-field change, every truncation, every non-canonical encoding and every random
 * bit flip of the signed bytes is refused with a FedstatError, never a crash.
 * FEDSTAT_GLM_ROUND_RUNS sets the number of property runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sign, signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { taggedDigest } from '../../src/crypto/digest.js';
import { FedstatError } from '../../src/errors.js';
import type { Federation, Party } from '../../src/federation/federation.js';
import { parseSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import { parseFormula } from '../../src/learn/formula.js';
import {
  glmPlanDigest,
  glmRoundPlan,
  newGlmRoundId,
  openGlmRound,
  signGlmRound,
  type GlmRound,
  type GlmRoundEncoding,
  type GlmRoundHe,
  type SignedGlmRound,
} from '../../src/protocol/glm-round.js';
import { canonicalBytes } from '../../src/util/canonical-json.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

/** The 60-bit batching prime of BFV_N8192_T60 (test/he/bfv.test.ts checks SEAL picks it). */
const T60 = 1152921504606830593n;
const NOW = 1_800_000_000_000;
const HE: GlmRoundHe = { paramsId: 'ab'.repeat(32), plainModulus: T60 };

function runs(defaultRuns: number): number {
  const env = Number(process.env['FEDSTAT_GLM_ROUND_RUNS']);
  return Number.isSafeInteger(env) && env > 0 ? env : defaultRuns;
}

const schema = parseSchema(
  {
    datasets: {
      residents: {
        maxRows: 100_000,
        columns: {
          person: { type: 'id', format: 'text' },
          district: { type: 'category', values: ['锦江区', '青羊区', '金牛区'] },
          sex: { type: 'category', values: ['男', '女'] },
          visits: { type: 'integer', min: 0, max: 50 },
          age: { type: 'integer', min: 0, max: 120 },
        },
      },
      firms: {
        maxRows: 1000,
        columns: {
          firm: { type: 'id', format: 'text' },
          staff: { type: 'integer', min: 0, max: 500 },
          sector: { type: 'category', values: ['a', 'b'] },
        },
      },
    },
  },
  'glm-round-schema.json',
);

const coordinatorKeys = signingKeyPairFromSeed(new Uint8Array(32).fill(1));
const forger = signingKeyPairFromSeed(new Uint8Array(32).fill(2));

function partyOf(id: string, role: Party['role'], seed: number, datasets: readonly string[] | null): Party {
  const signingKey =
    role === 'coordinator'
      ? coordinatorKeys.publicKey
      : signingKeyPairFromSeed(new Uint8Array(32).fill(seed)).publicKey;
  return { id, role, endpoint: null, signingKey, agreementKey: new Uint8Array(32).fill(seed), datasets };
}

const federation: Federation = {
  name: 'glm-round-test',
  id: '12'.repeat(32),
  file: '/nonexistent/federation.json',
  schema,
  policy: { minAgencies: 2, minGroupSize: 1, exactRelease: false, transparencyLog: false },
  he: { preset: 'BFV_N8192_T60', publicKeyFile: 'he.pub', publicKeySha256: '00'.repeat(32) },
  tls: null,
  parties: [
    partyOf('agency-a', 'agency', 10, null),
    partyOf('agency-b', 'agency', 11, ['residents']),
    partyOf('agency-c', 'agency', 12, ['firms']),
    partyOf('coordinator', 'coordinator', 20, null),
    partyOf('key-authority', 'key-authority', 21, null),
  ],
};

const residents = schema.datasets['residents']!;
const coding = codeModel(
  parseFormula('visits ~ sex + district + age', residents, 'residents'),
  residents,
  'poisson',
  'residents',
);

/** A round as the coordinator makes it, with the plan digest it derives. */
function makeRound(overrides: Partial<GlmRound> = {}): GlmRound {
  const beta = overrides.beta ?? coding.columns.map((_, j) => (j === 0 ? 1.25 : -0.1 * j));
  const base = {
    dataset: 'residents',
    coding,
    beta,
    encoding: { preset: 'BFV_N8192_T60', plainModulus: T60.toString(), maxRows: 100_000, maxCiphertexts: 1 },
  };
  const encoding: GlmRoundEncoding = {
    ...base.encoding,
    paramsId: HE.paramsId,
    planSha256: glmPlanDigest(glmRoundPlan(federation, base)),
  };
  return {
    v: 1,
    roundId: newGlmRoundId(),
    federationId: federation.id,
    fitId: 'f0'.repeat(16),
    round: 3,
    dataset: 'residents',
    coding,
    beta,
    agencies: ['agency-a', 'agency-b'],
    encoding,
    issuedAt: NOW - 1000,
    expiresAt: NOW + 60_000,
    ...overrides,
  };
}

/** Signs arbitrary JSON (a tampered round) as the coordinator would. */
function signRaw(value: unknown, key = coordinatorKeys.secretKey): SignedGlmRound {
  return signGlmRound(value as GlmRound, key);
}

/** Signs exact bytes, canonical or not. */
function signBytes(bytes: Uint8Array): SignedGlmRound {
  return { bytes, signature: sign(taggedDigest('fedstat/glm-round/v1', bytes), coordinatorKeys.secretKey) };
}

function refusal(signed: SignedGlmRound, now = NOW, he = HE): FedstatError {
  return fedstatErrorOf(() => openGlmRound(signed, federation, he, now));
}

function text(signed: SignedGlmRound): string {
  return new TextDecoder().decode(signed.bytes);
}

describe('GLM round message', () => {
  it('opens to exactly what the coordinator signed', () => {
    const round = makeRound();
    const opened = openGlmRound(signGlmRound(round, coordinatorKeys.secretKey), federation, HE, NOW);
    expect(opened).toEqual(round);
    expect(Object.isFrozen(opened)).toBe(true);
    expect(newGlmRoundId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newGlmRoundId()).not.toBe(round.roundId);
  });

  it("refuses a signature by anyone but the federation's coordinator, or over other bytes", () => {
    const round = makeRound();
    expect(refusal(signRaw(round, forger.secretKey)).code).toBe('BAD_MESSAGE');
    const signed = signGlmRound(round, coordinatorKeys.secretKey);
    const flipped = new Uint8Array(signed.signature);
    flipped[5]! ^= 1;
    expect(refusal({ bytes: signed.bytes, signature: flipped }).message).toMatch(/signature/);
    // a query signature (another domain tag) over the same bytes does not open a round
    const asQuery = sign(taggedDigest('fedstat/v1/query', signed.bytes), coordinatorKeys.secretKey);
    expect(refusal({ bytes: signed.bytes, signature: asQuery }).message).toMatch(/signature/);
  });

  it('refuses another federation, an expired round and one issued in the future', () => {
    expect(refusal(signRaw(makeRound({ federationId: '34'.repeat(32) }))).message).toMatch(/another federation/);
    const round = signGlmRound(makeRound(), coordinatorKeys.secretKey);
    expect(refusal(round, NOW + 61_000).code).toBe('REPLAY');
    expect(refusal(round, NOW - 1000 - 121_000).message).toMatch(/future/);
    expect(openGlmRound(round, federation, HE, NOW - 1000 - 119_000).round).toBe(3);
    expect(refusal(signRaw(makeRound({ expiresAt: NOW - 2000 }))).code).toBe('BAD_MESSAGE'); // before issuedAt
  });

  it('refuses malformed ids, round numbers, versions and times', () => {
    for (const change of [
      { roundId: 'AB'.repeat(16) },
      { roundId: 'ab' },
      { fitId: 7 },
      { round: 0 },
      { round: 1.5 },
      { round: 1001 },
      { v: 2 },
      { issuedAt: '1' },
      { expiresAt: null },
    ]) {
      expect(refusal(signRaw({ ...makeRound(), ...change })).code).toBe('BAD_MESSAGE');
    }
  });

  it('refuses a changed model coding, a coding of another dataset and an unknown dataset', () => {
    const round = makeRound();
    const renamed = { ...coding, coefficients: coding.coefficients.map((c, j) => (j === 1 ? 'x' : c)) };
    expect(refusal(signRaw({ ...round, coding: renamed })).message).toMatch(/model coding .*"coefficients"/);
    const identity = { ...coding, link: 'identity' };
    expect(refusal(signRaw({ ...round, coding: identity })).code).toBe('BAD_MESSAGE');
    expect(refusal(signRaw({ ...round, coding: 'visits ~ sex' })).code).toBe('BAD_MESSAGE');
    expect(refusal(signRaw({ ...round, dataset: 'firms' })).message).toMatch(/model coding/);
    expect(refusal(signRaw({ ...round, dataset: 'nope' })).message).toMatch(/dataset/);
  });

  it('refuses β of the wrong length, non-finite or non-numeric β', () => {
    const round = makeRound();
    expect(refusal(signRaw({ ...round, beta: round.beta.slice(1) })).message).toMatch(/beta/);
    expect(refusal(signRaw({ ...round, beta: [...round.beta, 0] })).message).toMatch(/beta/);
    expect(refusal(signRaw({ ...round, beta: round.beta.map((b, j) => (j === 2 ? null : b)) })).message).toMatch(
      /beta/,
    );
    expect(refusal(signRaw({ ...round, beta: round.beta.map((b, j) => (j === 2 ? '1' : b)) })).message).toMatch(/beta/);
    // NaN and Infinity have no canonical JSON: the coordinator cannot sign them …
    expect(() =>
      signGlmRound({ ...round, beta: round.beta.map(() => Number.NaN) }, coordinatorKeys.secretKey),
    ).toThrow();
    // … and a hand-made 1e999 (Infinity when parsed) is refused
    const infinite = text(signGlmRound(round, coordinatorKeys.secretKey)).replace('"beta":[1.25', '"beta":[1e999');
    expect(infinite).toContain('1e999');
    expect(refusal(signBytes(new TextEncoder().encode(infinite))).message).toMatch(/finite/);
  });

  it('refuses agencies outside the federation, agencies that may not serve the dataset, and bad lists', () => {
    const round = makeRound();
    for (const agencies of [
      ['agency-a', 'agency-z'],
      ['agency-a', 'coordinator'],
      ['agency-a', 'agency-c'], // agency-c may serve only firms
      ['agency-b', 'agency-a'],
      ['agency-a', 'agency-a'],
      [],
      'agency-a',
    ]) {
      expect(refusal(signRaw({ ...round, agencies })).code).toBe('BAD_MESSAGE');
    }
    expect(refusal(signRaw({ ...round, agencies: ['agency-a', 'agency-c'] })).message).toMatch(/allowed to serve/);
  });

  it('refuses changed encoding-plan inputs and a plan digest the agency does not derive', () => {
    const round = makeRound();
    const changes: Partial<Record<keyof GlmRoundEncoding, unknown>>[] = [
      { preset: 'BFV_N16384_T60' },
      { paramsId: 'cd'.repeat(32) },
      { plainModulus: (T60 - 2n).toString() },
      { plainModulus: Number(T60) },
      { maxRows: 99_999 },
      { maxCiphertexts: 2 },
      { maxCiphertexts: 0 },
      { planSha256: '00'.repeat(32) },
      { planSha256: 'xyz' },
    ];
    for (const change of changes) {
      const e = refusal(signRaw({ ...round, encoding: { ...round.encoding, ...change } }));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.message).toMatch(/encoding|HE parameters/);
    }
    // β moves the record bounds, and so the plan: another β under the same digest is refused
    const moved = { ...round, beta: round.beta.map((b) => b + 1) };
    expect(refusal(signRaw(moved)).message).toMatch(/differs/);
    // the agency's own parameters decide, not the message's
    expect(refusal(signGlmRound(round, coordinatorKeys.secretKey), NOW, { ...HE, plainModulus: T60 - 2n }).code).toBe(
      'BAD_MESSAGE',
    );
  });

  it('refuses truncated, oversized and non-canonical bytes', () => {
    const signed = signGlmRound(makeRound(), coordinatorKeys.secretKey);
    for (const n of [0, 1, 10, signed.bytes.length - 1]) {
      expect(refusal(signBytes(signed.bytes.slice(0, n))).code).toBe('BAD_MESSAGE');
    }
    const spaced = text(signed).replace('"round":3', '"round": 3');
    expect(refusal(signBytes(new TextEncoder().encode(spaced))).message).toMatch(/canonical/);
    const float = text(signed).replace('"round":3', '"round":3.0');
    expect(refusal(signBytes(new TextEncoder().encode(float))).message).toMatch(/canonical/);
    const extra = canonicalBytes({ ...makeRound(), privacy: { rho: '1/10' } });
    expect(refusal(signBytes(extra)).message).toMatch(/canonical/);
    expect(refusal(signBytes(new Uint8Array([0xff, 0xfe]))).message).toMatch(/UTF-8 JSON/);
    expect(refusal(signBytes(new Uint8Array(256 * 1024 + 1))).code).toBe('MESSAGE_TOO_LARGE');
  });

  it('refuses every random bit flip of the signed bytes or signature, never crashing', () => {
    const signed = signGlmRound(makeRound(), coordinatorKeys.secretKey);
    const total = signed.bytes.length + signed.signature.length;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: total * 8 - 1 }), (bit) => {
        const bytes = new Uint8Array(signed.bytes);
        const signature = new Uint8Array(signed.signature);
        const at = bit >> 3;
        if (at < bytes.length) bytes[at]! ^= 1 << (bit & 7);
        else signature[at - bytes.length]! ^= 1 << (bit & 7);
        const e = refusal({ bytes, signature });
        expect(e.code).toBe('BAD_MESSAGE');
      }),
      { numRuns: runs(50) },
    );
  });

  it('opens or refuses (FedstatError, one line) every random bit flip of re-signed bytes, never crashing', () => {
    const signed = signGlmRound(makeRound(), coordinatorKeys.secretKey);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: signed.bytes.length * 8 - 1 }), (bit) => {
        const bytes = new Uint8Array(signed.bytes);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        // the signature is valid, so a flip inside an id or a digit may make another valid round;
        // anything else must be refused by the checks after the signature
        let round: GlmRound;
        try {
          round = openGlmRound(signBytes(bytes), federation, HE, NOW);
        } catch (e) {
          if (!(e instanceof FedstatError)) throw e;
          expect(['BAD_MESSAGE', 'REPLAY']).toContain(e.code);
          expect(e.message).not.toContain('\n');
          return;
        }
        expect(canonicalBytes(round)).toEqual(bytes);
      }),
      { numRuns: runs(50) },
    );
  });
});
