/**
 * One Newton round of a GLM fit as the plan of a signed query envelope (src/protocol/glm-round.ts,
 * opened by openQuery in src/protocol/query-envelope.ts). A valid envelope opens to what the
 * coordinator signed; its query id must be the one the fit id and round number derive; the agency
 * re-derives the encoding plan (with a private round's noise, from the envelope's ρ and threshold)
 * and refuses another digest; nobody may be asked who may not serve the dataset; and every
 * single-field change, every truncation and every random bit flip is refused with a FedstatError,
 * never a crash. FEDSTAT_GLM_ROUND_RUNS sets the number of property runs.
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
  GLM_ROUND_KIND,
  glmPlanDigest,
  glmRoundPlan,
  glmRoundQueryId,
  isGlmRoundPlan,
  newFitId,
  type GlmRoundHe,
  type GlmRoundPlan,
} from '../../src/protocol/glm-round.js';
import { openQueryRho } from '../../src/protocol/privacy-terms.js';
import {
  MAX_QUERY_BYTES,
  newQueryId,
  openQuery,
  queryDigest,
  type QueryEnvelope,
  type SignedQuery,
  signQuery,
} from '../../src/protocol/query-envelope.js';
import type { Predicate } from '../../src/query/plan.js';
import { parseCondition } from '../../src/query/parse-condition.js';
import { canonicalBytes } from '../../src/util/canonical-json.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

/** The 60-bit batching prime of BFV_N8192_T60 (test/he/bfv.test.ts checks SEAL picks it). */
const T60 = 1152921504606830593n;
const NOW = 1_800_000_000_000;
const HE: GlmRoundHe = { paramsId: 'ab'.repeat(32), plainModulus: T60 };
const FIT = 'f0'.repeat(16);
const ROUND = 3;
const RHO = '1/10';
/** Codes a plan that is no valid round may be refused with (a plan without `kind` is read as SQL). */
const PLAN_CODES = ['BAD_MESSAGE', 'QUERY_INVALID', 'NOT_FOUND'];

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
const BETA = coding.columns.map((_, j) => (j === 0 ? 1.25 : -0.1 * j));
const ADULTS = parseCondition('age >= 18', 'residents', schema);

/** What a test round differs in from the default one (exact, all rows, agencies a and b, threshold 2). */
interface RoundShape {
  readonly beta?: readonly number[];
  readonly where?: Predicate | null;
  /** ρ of a private round; absent: exact sums. */
  readonly rho?: string;
  readonly threshold?: number;
  readonly agencies?: readonly string[];
}

/** A round's plan as the coordinator makes it, with the encoding digest it derives. */
function makePlan(s: RoundShape = {}): GlmRoundPlan {
  const beta = s.beta ?? BETA;
  const inputs = { preset: 'BFV_N8192_T60', plainModulus: T60.toString(), maxRows: 100_000, maxCiphertexts: 1 };
  const privacy = s.rho === undefined ? null : { rho: openQueryRho(s.rho), threshold: s.threshold ?? 2 };
  const plan = glmRoundPlan(federation, { dataset: 'residents', coding, beta, encoding: inputs }, privacy);
  return {
    kind: GLM_ROUND_KIND,
    dataset: 'residents',
    fitId: FIT,
    round: ROUND,
    coding,
    beta,
    where: s.where ?? null,
    encoding: { ...inputs, paramsId: HE.paramsId, planSha256: glmPlanDigest(plan) },
  };
}

/** The envelope around round ROUND of fit FIT, as the coordinator signs it. */
function makeEnvelope(s: RoundShape = {}): QueryEnvelope {
  return {
    v: 1,
    queryId: glmRoundQueryId(FIT, ROUND),
    federationId: federation.id,
    paramsId: HE.paramsId,
    mode: 'encrypted',
    plan: makePlan(s),
    agencies: s.agencies ?? ['agency-a', 'agency-b'],
    threshold: s.threshold ?? 2,
    issuedAt: NOW - 1000,
    expiresAt: NOW + 60_000,
    ...(s.rho === undefined ? {} : { privacy: { rho: s.rho } }),
  };
}

/** Signs arbitrary JSON (a tampered envelope) as the coordinator would. */
function signRaw(value: unknown, key = coordinatorKeys.secretKey): SignedQuery {
  return signQuery(value as QueryEnvelope, key);
}

/** Signs exact bytes, whatever they hold. */
function signBytes(bytes: Uint8Array): SignedQuery {
  return { bytes, signature: sign(queryDigest(bytes), coordinatorKeys.secretKey) };
}

function open(signed: SignedQuery, now = NOW, he = HE): QueryEnvelope {
  return openQuery(signed, federation, he, now);
}

function refusal(signed: SignedQuery, now = NOW, he = HE): FedstatError {
  return fedstatErrorOf(() => open(signed, now, he));
}

/** The envelope with some fields of its plan replaced (undefined: removed). */
function withPlan(env: QueryEnvelope, change: Record<string, unknown>): unknown {
  return { ...env, plan: { ...env.plan, ...change } };
}

/** The envelope with some fields of its plan's encoding replaced. */
function withEncoding(env: QueryEnvelope, change: Record<string, unknown>): unknown {
  return withPlan(env, { encoding: { ...(env.plan as GlmRoundPlan).encoding, ...change } });
}

function text(signed: SignedQuery): string {
  return new TextDecoder().decode(signed.bytes);
}

const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

describe('GLM round in a query envelope', () => {
  it('opens to exactly what the coordinator signed: exact or private, on all rows or some', () => {
    for (const env of [makeEnvelope(), makeEnvelope({ rho: RHO }), makeEnvelope({ where: ADULTS, rho: '3/4' })]) {
      const opened = open(signQuery(env, coordinatorKeys.secretKey));
      expect(opened).toEqual(env);
      expect(isGlmRoundPlan(opened.plan)).toBe(true);
      expect(Object.isFrozen(opened)).toBe(true);
      expect(Object.isFrozen(opened.plan)).toBe(true);
    }
    // asking fewer of the agencies that serve the dataset is a valid round too
    expect(open(signRaw(makeEnvelope({ agencies: ['agency-b'], threshold: 1 }))).agencies).toEqual(['agency-b']);
  });

  it('derives one query id per fit and round, and refuses any other', () => {
    const id = glmRoundQueryId(FIT, ROUND);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(glmRoundQueryId(FIT, ROUND)).toBe(id);
    expect(glmRoundQueryId(FIT, ROUND + 1)).not.toBe(id);
    expect(glmRoundQueryId('0f'.repeat(16), ROUND)).not.toBe(id);
    expect(newFitId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newFitId()).not.toBe(newFitId());
    const env = makeEnvelope();
    for (const wrong of [
      { ...env, queryId: newQueryId() },
      { ...env, queryId: glmRoundQueryId(FIT, ROUND + 1) },
      withPlan(env, { round: ROUND + 1 }),
      withPlan(env, { fitId: '0f'.repeat(16) }),
    ]) {
      expect(refusal(signRaw(wrong)).message).toMatch(/query id is not the one its fit id and round number derive/);
    }
    // a private round too: its budget charge is keyed by this id
    fc.assert(
      fc.property(hex32, fc.boolean(), (queryId, dp) => {
        fc.pre(queryId !== id);
        const e = refusal(signRaw({ ...makeEnvelope(dp ? { rho: RHO } : {}), queryId }));
        expect(e.code).toBe('BAD_MESSAGE');
      }),
      { numRuns: runs(25) },
    );
  });

  it("refuses a signature by anyone but the federation's coordinator, or under another tag", () => {
    const env = makeEnvelope();
    expect(refusal(signRaw(env, forger.secretKey)).message).toMatch(/signature/);
    const signed = signQuery(env, coordinatorKeys.secretKey);
    const flipped = new Uint8Array(signed.signature);
    flipped[5]! ^= 1;
    expect(refusal({ bytes: signed.bytes, signature: flipped }).message).toMatch(/signature/);
    // the tag of the separately signed round message that rounds used to be does not open an envelope
    const asOldRound = sign(taggedDigest('fedstat/glm-round/v1', signed.bytes), coordinatorKeys.secretKey);
    expect(refusal({ bytes: signed.bytes, signature: asOldRound }).message).toMatch(/signature/);
  });

  it('refuses an expired round (REPLAY) and one issued in the future', () => {
    const signed = signQuery(makeEnvelope(), coordinatorKeys.secretKey);
    expect(refusal(signed, NOW + 61_000).code).toBe('REPLAY');
    expect(refusal(signed, NOW - 1000 - 121_000).message).toMatch(/future/);
    expect(open(signed, NOW - 1000 - 119_000).queryId).toBe(glmRoundQueryId(FIT, ROUND));
  });

  it('refuses a plan with missing or unknown fields, or that is no object', () => {
    const env = makeEnvelope();
    for (const field of ['dataset', 'fitId', 'round', 'coding', 'beta', 'where', 'encoding']) {
      const e = refusal(signRaw(withPlan(env, { [field]: undefined })));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.message).toMatch(/missing or unknown fields/);
    }
    for (const extra of [{ privacy: { rho: RHO } }, { queryId: env.queryId }, { groupBy: [] }]) {
      expect(refusal(signRaw(withPlan(env, extra))).message).toMatch(/missing or unknown fields/);
    }
    // without its kind (or with another) the plan is read as a SQL query's, which it is not
    for (const kind of [undefined, 'GLM-round', 'query', null]) {
      expect(PLAN_CODES).toContain(refusal(signRaw(withPlan(env, { kind }))).code);
    }
    for (const plan of [null, 'glm-round', [], 7]) {
      expect(PLAN_CODES).toContain(refusal(signRaw({ ...env, plan })).code);
    }
  });

  it('refuses a malformed fit id or round number', () => {
    const env = makeEnvelope();
    for (const fitId of ['F0'.repeat(16), 'f0', 7, null]) {
      expect(refusal(signRaw(withPlan(env, { fitId }))).message).toMatch(/fit id/);
    }
    for (const round of [0, -1, 1.5, 1001, '3', null]) {
      expect(refusal(signRaw(withPlan(env, { round }))).message).toMatch(/round number/);
    }
  });

  it('refuses a changed model coding, a coding of another dataset and an unknown dataset', () => {
    const env = makeEnvelope();
    const renamed = { ...coding, coefficients: coding.coefficients.map((c, j) => (j === 1 ? 'x' : c)) };
    expect(refusal(signRaw(withPlan(env, { coding: renamed }))).message).toMatch(/model coding .*"coefficients"/);
    expect(refusal(signRaw(withPlan(env, { coding: { ...coding, link: 'identity' } }))).message).toMatch(
      /model coding/,
    );
    expect(refusal(signRaw(withPlan(env, { coding: 'visits ~ sex' }))).code).toBe('BAD_MESSAGE');
    expect(refusal(signRaw(withPlan(env, { dataset: 'firms' }))).message).toMatch(/model coding/);
    expect(refusal(signRaw(withPlan(env, { dataset: 'nope' }))).message).toMatch(/dataset/);
    // the refusal names a known field only, never text the message carried
    const hostile = { ...coding, ['evil\nfield']: 1 };
    const e = refusal(signRaw(withPlan(env, { coding: hostile })));
    expect(e.message).not.toContain('evil');
    expect(e.message).not.toContain('\n');
  });

  it('refuses β of the wrong length, non-finite or non-numeric β', () => {
    const env = makeEnvelope();
    for (const beta of [BETA.slice(1), [...BETA, 0], BETA.map((b, j) => (j === 2 ? null : b)), 'beta']) {
      expect(refusal(signRaw(withPlan(env, { beta }))).message).toMatch(/beta/);
    }
    expect(refusal(signRaw(withPlan(env, { beta: BETA.map((b, j) => (j === 2 ? '1' : b)) }))).message).toMatch(
      /finite/,
    );
    // NaN and Infinity have no canonical JSON: the coordinator cannot sign them …
    expect(() => signRaw(withPlan(env, { beta: BETA.map(() => Number.NaN) }))).toThrow();
    // … and a hand-made 1e999 (Infinity when parsed) is refused
    const infinite = text(signQuery(env, coordinatorKeys.secretKey)).replace('"beta":[1.25', '"beta":[1e999');
    expect(infinite).toContain('1e999');
    expect(refusal(signBytes(new TextEncoder().encode(infinite))).message).toMatch(/finite/);
  });

  it('checks the WHERE predicate against the schema', () => {
    const env = makeEnvelope({ where: ADULTS });
    const adults = ADULTS as Extract<Predicate, { kind: 'compare' }>;
    for (const where of [
      { ...adults, column: 'height' }, // no such column
      { ...adults, column: 'person' }, // an id column is in no plan
      { ...adults, op: '~' },
      { kind: 'xor', args: [] },
      'age >= 18',
      7,
    ]) {
      expect(PLAN_CODES).toContain(refusal(signRaw(withPlan(env, { where }))).code);
    }
  });

  it('refuses to ask an agency not allowed to serve the dataset, or a party that is no agency', () => {
    for (const agencies of [
      ['agency-a', 'agency-c'], // agency-c may serve only firms
      ['agency-a', 'coordinator'],
      ['agency-a', 'key-authority'],
      ['agency-a', 'agency-z'],
    ]) {
      const e = refusal(signRaw(makeEnvelope({ agencies })));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.message).toMatch(/allowed to serve the dataset/);
    }
    for (const agencies of [['agency-b', 'agency-a'], ['agency-a', 'agency-a'], 'agency-a']) {
      expect(refusal(signRaw({ ...makeEnvelope(), agencies })).code).toBe('BAD_MESSAGE');
    }
  });

  it('refuses an encoding with unknown or missing fields', () => {
    const env = makeEnvelope();
    expect(refusal(signRaw(withEncoding(env, { extra: 1 }))).message).toMatch(/encoding has missing or unknown fields/);
    const { planSha256: _dropped, ...missing } = (env.plan as GlmRoundPlan).encoding;
    expect(refusal(signRaw(withPlan(env, { encoding: missing }))).message).toMatch(
      /encoding has missing or unknown fields/,
    );
  });

  it('refuses changed encoding inputs and a plan digest the agency does not derive', () => {
    const env = makeEnvelope();
    for (const change of [
      { preset: 'BFV_N16384_T60' },
      { paramsId: 'cd'.repeat(32) },
      { plainModulus: (T60 - 2n).toString() },
      { plainModulus: Number(T60) },
      { maxRows: 99_999 },
      { maxCiphertexts: 2 }, // more room raises the fractional bits: another plan
      { maxCiphertexts: 0 },
      { maxCiphertexts: 33 },
      { planSha256: '00'.repeat(32) },
      { planSha256: 'xyz' },
    ]) {
      const e = refusal(signRaw(withEncoding(env, change)));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.message).toMatch(/encoding|HE parameters/);
    }
    // β moves the record bounds, and so the plan: another β under the same digest is refused
    expect(refusal(signRaw(withPlan(env, { beta: BETA.map((b) => b + 1) }))).message).toMatch(/differs/);
    // the agency's own parameters decide, not the message's
    const signed = signQuery(env, coordinatorKeys.secretKey);
    expect(refusal(signed, NOW, { ...HE, plainModulus: T60 - 2n }).message).toMatch(/plain modulus/);
    expect(refusal(signed, NOW, { ...HE, paramsId: 'cd'.repeat(32) }).message).toMatch(/HE parameters/);
  });

  it("derives a private round's noise from the envelope: ρ and threshold are in the digest", () => {
    const exact = makeEnvelope();
    const dp = makeEnvelope({ rho: RHO });
    const exactPlan = exact.plan as GlmRoundPlan;
    const dpPlan = dp.plan as GlmRoundPlan;
    expect(dpPlan.encoding.planSha256).not.toBe(exactPlan.encoding.planSha256);
    const differs = /encoding plan differs/;
    // an exact plan asked as a private round, and a private plan asked as an exact one
    expect(refusal(signRaw({ ...exact, privacy: { rho: RHO } })).message).toMatch(differs);
    expect(refusal(signRaw({ ...dp, privacy: undefined })).message).toMatch(differs);
    // another ρ, another threshold: other noise, so another plan
    expect(refusal(signRaw({ ...dp, privacy: { rho: '1/5' } })).message).toMatch(differs);
    expect(refusal(signRaw({ ...dp, threshold: 1 })).message).toMatch(differs);
    expect(open(signRaw(makeEnvelope({ rho: RHO, threshold: 1 }))).threshold).toBe(1);
    // ρ off its grid is refused before any plan is derived
    expect(refusal(signRaw({ ...dp, privacy: { rho: '0.1' } })).message).toMatch(/rho/);
  });

  it('refuses every single-field change of the plan or its encoding, re-signed or not', () => {
    const envs = [makeEnvelope(), makeEnvelope({ rho: RHO })];
    const planFields = ['kind', 'dataset', 'fitId', 'round', 'coding', 'beta', 'where', 'encoding'];
    const encodingFields = ['preset', 'paramsId', 'plainModulus', 'maxRows', 'maxCiphertexts', 'planSha256'];
    const codingFields = Object.keys(coding);
    // Plausible values (another valid-looking id, round, preset …) beside arbitrary JSON.
    const near: Record<string, fc.Arbitrary<unknown>> = {
      dataset: fc.constantFrom('firms', 'nope', 'Residents'),
      fitId: hex32,
      round: fc.integer({ min: 1, max: 1000 }),
      beta: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 5, maxLength: 5 }),
      preset: fc.constantFrom('BFV_N16384_T60', 'BFV_N4096_T50'),
      paramsId: hex64,
      plainModulus: fc.bigInt({ min: 2n, max: T60 * 2n }).map(String),
      maxRows: fc.integer({ min: 1, max: 10_000_000 }),
      maxCiphertexts: fc.integer({ min: -1, max: 40 }),
      planSha256: hex64,
    };
    const change = fc.oneof(
      fc.constantFrom(...planFields).map((f) => ({ where: 'plan', field: f })),
      fc.constantFrom(...encodingFields).map((f) => ({ where: 'encoding', field: f })),
      fc.constantFrom(...codingFields).map((f) => ({ where: 'coding', field: f })),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...envs),
        change.chain((c) =>
          fc.record({ c: fc.constant(c), value: fc.oneof(fc.jsonValue(), near[c.field] ?? fc.jsonValue()) }),
        ),
        (env, { c, value }) => {
          const plan = env.plan as GlmRoundPlan;
          const before: unknown =
            c.where === 'plan'
              ? (plan as unknown as Record<string, unknown>)[c.field]
              : c.where === 'encoding'
                ? (plan.encoding as unknown as Record<string, unknown>)[c.field]
                : (coding as unknown as Record<string, unknown>)[c.field];
          fc.pre(JSON.stringify(value) !== JSON.stringify(before));
          const changed =
            c.where === 'plan'
              ? withPlan(env, { [c.field]: value })
              : c.where === 'encoding'
                ? withEncoding(env, { [c.field]: value })
                : withPlan(env, { coding: { ...coding, [c.field]: value } });
          const signed = signRaw(changed);
          const e = refusal(signed);
          expect(PLAN_CODES).toContain(e.code);
          expect(e.message).not.toContain('\n');
          // only a plan read as SQL (no kind) or a predicate may fail with the query codes
          if (c.field !== 'kind' && c.field !== 'where') expect(e.code).toBe('BAD_MESSAGE');
          // under the signature of the unchanged envelope, the signature check refuses it first
          const original = signQuery(env, coordinatorKeys.secretKey);
          expect(refusal({ bytes: signed.bytes, signature: original.signature }).message).toMatch(/signature/);
        },
      ),
      { numRuns: runs(200) },
    );
  });

  it('refuses every truncation, signed over the whole or the part, and oversized bytes', () => {
    const signed = signQuery(makeEnvelope({ rho: RHO }), coordinatorKeys.secretKey);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: signed.bytes.length - 1 }), (n) => {
        const part = signed.bytes.slice(0, n);
        expect(refusal({ bytes: part, signature: signed.signature }).message).toMatch(/signature/);
        const e = refusal(signBytes(part));
        expect(e.code).toBe('BAD_MESSAGE');
        expect(e.message).toMatch(/UTF-8 JSON|version/);
      }),
      { numRuns: runs(100) },
    );
    expect(refusal(signBytes(new Uint8Array([0xff, 0xfe]))).message).toMatch(/UTF-8 JSON/);
    expect(refusal(signBytes(new Uint8Array(MAX_QUERY_BYTES + 1))).code).toBe('MESSAGE_TOO_LARGE');
  });

  it('refuses every random bit flip of the signed bytes or signature, never crashing', () => {
    const envs = [makeEnvelope(), makeEnvelope({ rho: RHO, where: ADULTS })];
    const signed = envs.map((env) => signQuery(env, coordinatorKeys.secretKey));
    fc.assert(
      fc.property(fc.nat(signed.length - 1), fc.nat(), (which, seed) => {
        const s = signed[which]!;
        const bit = seed % ((s.bytes.length + s.signature.length) * 8);
        const bytes = new Uint8Array(s.bytes);
        const signature = new Uint8Array(s.signature);
        const at = bit >> 3;
        if (at < bytes.length) bytes[at]! ^= 1 << (bit & 7);
        else signature[at - bytes.length]! ^= 1 << (bit & 7);
        expect(refusal({ bytes, signature }).message).toMatch(/signature/);
      }),
      { numRuns: runs(100) },
    );
  });

  it('opens or refuses (FedstatError, one line) every random bit flip of re-signed bytes, never crashing', () => {
    const envs = [makeEnvelope(), makeEnvelope({ rho: RHO, where: ADULTS })];
    const signed = envs.map((env) => signQuery(env, coordinatorKeys.secretKey));
    fc.assert(
      fc.property(fc.nat(signed.length - 1), fc.nat(), (which, seed) => {
        const s = signed[which]!;
        const bit = seed % (s.bytes.length * 8);
        const bytes = new Uint8Array(s.bytes);
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        // The signature is valid, so a flip may make another valid round: in a time, in JSON
        // whitespace, or in a digit of β that leaves the encoding plan (which sees β only through
        // the per-record bounds) unchanged. Anything else is refused after the signature.
        let opened: QueryEnvelope;
        try {
          opened = open(signBytes(bytes));
        } catch (e) {
          if (!(e instanceof FedstatError)) throw e;
          expect(e.message).not.toContain('\n');
          return;
        }
        const plan = opened.plan as GlmRoundPlan;
        expect(opened.queryId).toBe(glmRoundQueryId(plan.fitId, plan.round));
        expect(canonicalBytes(opened)).toEqual(canonicalBytes(JSON.parse(new TextDecoder().decode(bytes))));
      }),
      { numRuns: runs(200) },
    );
  });
});
