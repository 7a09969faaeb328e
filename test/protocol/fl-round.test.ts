/**
 * One federated-averaging round as the plan of a signed query envelope (src/protocol/fl-round.ts,
 * opened by openQuery in src/protocol/query-envelope.ts). A round planned the way the coordinator
 * plans it (flRoundQuery in src/coordinator/fl-round-query.ts) opens to what was signed, exact or
 * DP; its query id must be the one its run id and round number derive; the agency re-derives the
 * encoding plan and refuses another digest; each malformed field (shape, step, epochs with DP,
 * parameters, hyper-parameters, encoding inputs, agencies) is refused with a one-line
 * BAD_MESSAGE; the log keeps the parameters' SHA-256 only. FEDSTAT_FL_ROUND_RUNS sets the runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flRoundQuery, type FlRunPlan } from '../../src/coordinator/fl-round-query.js';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { sha256, toHex } from '../../src/crypto/digest.js';
import { FedstatError } from '../../src/errors.js';
import type { Federation, Party } from '../../src/federation/federation.js';
import { parseSchema } from '../../src/federation/schema.js';
import { codeModel } from '../../src/learn/design.js';
import type { FlModelSpec } from '../../src/learn/fl/fl-model.js';
import { flTrainer } from '../../src/learn/fl/fl-model.js';
import { parseFormula } from '../../src/learn/formula.js';
import {
  decodeParameters,
  encodeParameters,
  FL_ROUND_KIND,
  flRoundLogView,
  flRoundQueryId,
  isFlRoundPlan,
  newRunId,
  openFlRoundPlan,
  parametersDigest,
  type FlHyper,
  type FlRoundEnvelope,
  type FlRoundPlan,
} from '../../src/protocol/fl-round.js';
import type { GlmRoundHe } from '../../src/protocol/glm-round.js';
import { openQueryRho } from '../../src/protocol/privacy-terms.js';
import { openQuery, signQuery, type QueryEnvelope, type SignedQuery } from '../../src/protocol/query-envelope.js';
import { parseCondition } from '../../src/query/parse-condition.js';
import { canonicalBytes } from '../../src/util/canonical-json.js';
import { fedstatErrorOf } from '../helpers/fedstat-error.js';

/** The 60-bit batching prime of BFV_N8192_T60 (test/he/bfv.test.ts checks SEAL picks it). */
const T60 = 1152921504606830593n;
const NOW = 1_800_000_000_000;
const HE: GlmRoundHe = { paramsId: 'ab'.repeat(32), plainModulus: T60 };
const RUN = 'c3'.repeat(16);
const ROUND = 4;
const STEP = 2;
const RHO = '1/10';

function runs(defaultRuns: number): number {
  const env = Number(process.env['FEDSTAT_FL_ROUND_RUNS']);
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
        columns: { firm: { type: 'id', format: 'text' }, staff: { type: 'integer', min: 0, max: 500 } },
      },
    },
  },
  'fl-round-schema.json',
);

const coordinatorKeys = signingKeyPairFromSeed(new Uint8Array(32).fill(1));

function partyOf(id: string, role: Party['role'], seed: number, datasets: readonly string[] | null): Party {
  const signingKey =
    role === 'coordinator'
      ? coordinatorKeys.publicKey
      : signingKeyPairFromSeed(new Uint8Array(32).fill(seed)).publicKey;
  return { id, role, endpoint: null, signingKey, agreementKey: new Uint8Array(32).fill(seed), datasets };
}

const federation: Federation = {
  name: 'fl-round-test',
  id: '34'.repeat(32),
  file: '/nonexistent/federation.json',
  schema,
  policy: { minAgencies: 2, minGroupSize: 1, exactRelease: true, transparencyLog: false },
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
  parseFormula('sex ~ district + age + visits', residents, 'residents'),
  residents,
  'binomial',
  'residents',
);
const MODEL: FlModelSpec = { kind: 'mlp', hidden: [4], activation: 'tanh' };
const SIZE = flTrainer(MODEL, coding).size;
const PARAMS = Float64Array.from({ length: SIZE }, (_, i) => Math.sin(i + 1) / 2);
const HYPER: FlHyper = { lr: 0.1, clip: 1, epochs: 1, batch: 32, mu: 0 };
const ADULTS = parseCondition('age >= 18', 'residents', schema);

/** What a test round differs in from the default one (exact, agencies a and b, threshold 2). */
interface RoundShape {
  readonly rho?: string;
  readonly threshold?: number;
  readonly hyper?: FlHyper;
  readonly train?: boolean;
  readonly where?: boolean;
}

/** The round's plan as flRoundQuery makes it, sized for the threshold. */
function makePlan(s: RoundShape = {}): FlRoundPlan {
  const run: FlRunPlan = {
    federation,
    params: HE,
    runId: RUN,
    seed: 7,
    coding,
    model: MODEL,
    parameterCount: SIZE,
    hyper: s.hyper ?? HYPER,
    validation: 0.2,
    where: s.where === true ? ADULTS : null,
    updateBound: 10,
    description: 'test run',
    rhoPerRound: s.rho === undefined ? null : openQueryRho(s.rho),
  };
  const ask = {
    round: ROUND,
    step: STEP,
    train: s.train ?? true,
    parameters: PARAMS,
    candidates: ['agency-a', 'agency-b'],
  };
  const q = flRoundQuery(run, ask, () => NOW);
  expect(q.planned.queryId).toBe(flRoundQueryId(RUN, ROUND));
  expect(q.planned.candidates).toEqual(['agency-a', 'agency-b']);
  return q.planned.size(s.threshold ?? 2, { described: [], serving: [], failedServing: [] }).plan as FlRoundPlan;
}

function makeEnvelope(s: RoundShape = {}): QueryEnvelope {
  return {
    v: 1,
    queryId: flRoundQueryId(RUN, ROUND),
    federationId: federation.id,
    paramsId: HE.paramsId,
    mode: 'encrypted',
    plan: makePlan(s),
    agencies: ['agency-a', 'agency-b'],
    threshold: s.threshold ?? 2,
    issuedAt: NOW - 1000,
    expiresAt: NOW + 60_000,
    ...(s.rho === undefined ? {} : { privacy: { rho: s.rho } }),
  };
}

function envelopeOf(env: QueryEnvelope): FlRoundEnvelope {
  const rho = env.privacy === undefined ? null : openQueryRho(env.privacy.rho);
  return { queryId: env.queryId, agencies: env.agencies, threshold: env.threshold, rho };
}

/** openFlRoundPlan's refusal of `plan` under `env` (the default envelope's terms when omitted). */
function refusal(
  plan: unknown,
  env: QueryEnvelope = makeEnvelope(),
  terms: Partial<FlRoundEnvelope> = {},
): FedstatError {
  const e = fedstatErrorOf(() => openFlRoundPlan(plan, federation, HE, { ...envelopeOf(env), ...terms }));
  expect(e.message).not.toContain('\n');
  return e;
}

function withPlan(plan: FlRoundPlan, change: Record<string, unknown>): unknown {
  return { ...plan, ...change };
}

function signed(env: unknown): SignedQuery {
  return signQuery(env as QueryEnvelope, coordinatorKeys.secretKey);
}

const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);

describe('FL round in a query envelope', () => {
  it('opens a round planned by flRoundQuery to exactly what was signed: exact or DP, all rows or some', () => {
    for (const shape of [{}, { rho: RHO }, { rho: '3/4', threshold: 1, where: true }, { train: false }]) {
      const env = makeEnvelope(shape);
      const opened = openQuery(signed(env), federation, HE, NOW);
      expect(opened).toEqual(env);
      expect(isFlRoundPlan(opened.plan)).toBe(true);
      expect(Object.isFrozen(opened.plan)).toBe(true);
      expect(openFlRoundPlan(env.plan, federation, HE, envelopeOf(env))).toEqual(env.plan);
    }
    const plan = makePlan();
    expect(plan.kind).toBe(FL_ROUND_KIND);
    expect(decodeParameters(plan.parameters, SIZE)).toEqual(PARAMS);
    // more local epochs are fine without DP
    const epochs = makeEnvelope({ hyper: { ...HYPER, epochs: 5, mu: 0.01 } });
    expect(openFlRoundPlan(epochs.plan, federation, HE, envelopeOf(epochs)).hyper.epochs).toBe(5);
  });

  it('derives one query id per run and round, and refuses any other', () => {
    const id = flRoundQueryId(RUN, ROUND);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(flRoundQueryId(RUN, ROUND + 1)).not.toBe(id);
    expect(flRoundQueryId('0f'.repeat(16), ROUND)).not.toBe(id);
    expect(newRunId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newRunId()).not.toBe(newRunId());
    const plan = makePlan();
    const derive = /query id is not the one its run id and round number derive/;
    expect(refusal(withPlan(plan, { round: ROUND + 1 })).message).toMatch(derive);
    expect(refusal(withPlan(plan, { runId: '0f'.repeat(16) })).message).toMatch(derive);
    fc.assert(
      fc.property(hex32, fc.boolean(), (queryId, dp) => {
        fc.pre(queryId !== id);
        const env = makeEnvelope(dp ? { rho: RHO } : {});
        expect(refusal(env.plan, env, { queryId }).message).toMatch(derive);
      }),
      { numRuns: runs(25) },
    );
  });

  it('refuses a plan, hyper-parameters or encoding with missing or unknown fields', () => {
    const plan = makePlan();
    for (const field of Object.keys(plan)) {
      const { [field]: _dropped, ...missing } = plan as unknown as Record<string, unknown>;
      expect(refusal(missing).code).toBe('BAD_MESSAGE');
    }
    for (const extra of [{ privacy: { rho: RHO } }, { queryId: 'x' }, { strategy: 'fedavg' }]) {
      expect(refusal(withPlan(plan, extra)).message).toMatch(/plan has missing or unknown fields/);
    }
    for (const not of [null, [], 'fl-round', 7]) expect(refusal(not).code).toBe('BAD_MESSAGE');
    const { mu: _mu, ...noMu } = plan.hyper;
    expect(refusal(withPlan(plan, { hyper: noMu })).message).toMatch(/hyper-parameters have missing or unknown/);
    expect(refusal(withPlan(plan, { hyper: { ...plan.hyper, momentum: 0.9 } })).message).toMatch(/hyper-parameters/);
    const { planSha256: _sha, ...noSha } = plan.encoding;
    expect(refusal(withPlan(plan, { encoding: noSha })).message).toMatch(/encoding has missing or unknown/);
    expect(refusal(withPlan(plan, { encoding: { ...plan.encoding, extra: 1 } })).message).toMatch(/encoding has/);
  });

  it('refuses a malformed run id, round number, step, train flag, seed, dataset or validation fraction', () => {
    const plan = makePlan();
    for (const runId of ['C3'.repeat(16), 'c3', 7, null])
      expect(refusal(withPlan(plan, { runId })).message).toMatch(/run id/);
    for (const round of [0, -1, 1.5, 10_001, '4', null])
      expect(refusal(withPlan(plan, { round })).message).toMatch(/round number/);
    // the step counts updates applied before this round: always fewer than its number
    for (const step of [ROUND, ROUND + 1, -1, 0.5, '2', null])
      expect(refusal(withPlan(plan, { step })).message).toMatch(/step must be a whole number below the round number/);
    for (const train of ['true', 1, null]) expect(refusal(withPlan(plan, { train })).message).toMatch(/train/);
    for (const seed of [1.5, '7', null, 2 ** 53]) expect(refusal(withPlan(plan, { seed })).message).toMatch(/seed/);
    expect(refusal(withPlan(plan, { dataset: 'nope' })).message).toMatch(/dataset/);
    expect(refusal(withPlan(plan, { dataset: 'firms' })).message).toMatch(/model coding/);
    for (const validation of [-0.1, 0.51, '0.2', null, Number.NaN])
      expect(refusal(withPlan(plan, { validation })).message).toMatch(/validation must be a fraction/);
  });

  it('refuses hyper-parameters out of range, and more than one local epoch in a DP round', () => {
    const plan = makePlan();
    const hyper = (change: Partial<Record<keyof FlHyper, unknown>>): unknown =>
      withPlan(plan, { hyper: { ...plan.hyper, ...change } });
    for (const lr of [0, -1, Number.POSITIVE_INFINITY, '0.1'])
      expect(refusal(hyper({ lr })).message).toMatch(/lr and clip/);
    expect(refusal(hyper({ clip: 0 })).message).toMatch(/lr and clip/);
    for (const epochs of [0, 101, 1.5]) expect(refusal(hyper({ epochs })).message).toMatch(/local epochs/);
    for (const batch of [0, 100_001, 2.5]) expect(refusal(hyper({ batch })).message).toMatch(/batch/);
    for (const mu of [-0.1, Number.NaN, null]) expect(refusal(hyper({ mu })).message).toMatch(/mu/);
    const dp = makeEnvelope({ rho: RHO });
    const dpPlan = dp.plan as FlRoundPlan;
    for (const epochs of [2, 5]) {
      const e = refusal({ ...dpPlan, hyper: { ...dpPlan.hyper, epochs } }, dp);
      expect(e.message).toMatch(/a DP FL round takes one local step \(epochs 1\)/);
    }
  });

  it('refuses parameters of the wrong size, non-finite, or not canonical base64, and a malformed model', () => {
    const plan = makePlan();
    const malformed = /FL round model is malformed/;
    for (const params of [PARAMS.subarray(1), Float64Array.from([...PARAMS, 0])])
      expect(refusal(withPlan(plan, { parameters: encodeParameters(params) })).message).toMatch(malformed);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const p = PARAMS.slice();
      p[3] = bad;
      expect(refusal(withPlan(plan, { parameters: encodeParameters(p) })).message).toMatch(/finite/);
    }
    const text = plan.parameters;
    for (const parameters of [text.slice(0, -4), `${text}\n`, text.replace(/=*$/, ''), `!${text.slice(1)}`, 7, null])
      expect(refusal(withPlan(plan, { parameters })).message).toMatch(malformed);
    for (const model of [
      { ...MODEL, hidden: [5] }, // another size than the parameters
      { ...MODEL, hidden: [2000] },
      { ...MODEL, activation: 'sigmoid' },
      { ...MODEL, kind: 'cnn' },
      { ...MODEL, extra: true },
      'mlp',
    ])
      expect(refusal(withPlan(plan, { model })).message).toMatch(malformed);
    // a family averaging does not train, or a coding that is not the formula's
    expect(refusal(withPlan(plan, { coding: { ...coding, family: 'poisson' } })).message).toMatch(/model coding/);
    expect(refusal(withPlan(plan, { coding: { ...coding, intercept: false } })).message).toMatch(/model coding/);
  });

  it('refuses changed encoding inputs and a plan digest the agency does not derive', () => {
    const plan = makePlan();
    const differs = /encoding plan differs/;
    for (const [change, message] of [
      [{ preset: 'BFV_N16384_T60' }, /HE preset/],
      [{ paramsId: 'cd'.repeat(32) }, /HE parameters/],
      [{ plainModulus: (T60 - 2n).toString() }, /plain modulus/],
      [{ maxRows: 99_999 }, /maxRows/],
      [{ maxCiphertexts: 0 }, /maxCiphertexts/],
      [{ maxCiphertexts: 33 }, /maxCiphertexts/],
      [{ updateBound: 0 }, /update bound/],
      [{ parameters: 0 }, /parameter count must be a whole number/],
      [{ parameters: 2 ** 21 }, /parameter count must be a whole number/],
      [{ parameters: SIZE + 1 }, /the parameter count is not the MLP's/],
      [{ planSha256: 'xyz' }, /64 hex digits/],
      [{ planSha256: '00'.repeat(32) }, differs],
      [{ maxCiphertexts: 2 }, differs], // planned with another room: another plan
      [{ updateBound: 5 }, differs], // U sets an exact round's fractional bits
    ] as const) {
      const e = refusal(withPlan(plan, { encoding: { ...plan.encoding, ...change } }));
      expect(e.code).toBe('BAD_MESSAGE');
      expect(e.message).toMatch(message);
    }
    // the model and the validation split shape the vector: another one is refused, by its size or the digest
    const other = Float64Array.from({ length: flTrainer({ ...MODEL, hidden: [5] }, coding).size }, () => 0.1);
    expect(
      refusal(withPlan(plan, { model: { ...MODEL, hidden: [5] }, parameters: encodeParameters(other) })).message,
    ).toMatch(/parameter count is not the MLP's/);
    const sized = { ...plan.encoding, parameters: other.length };
    expect(
      refusal(
        withPlan(plan, { model: { ...MODEL, hidden: [5] }, parameters: encodeParameters(other), encoding: sized }),
      ).message,
    ).toMatch(differs);
    expect(refusal(withPlan(plan, { validation: 0 })).message).toMatch(differs);
    // the agency's own HE parameters decide, not the message's
    const env = makeEnvelope();
    const e = fedstatErrorOf(() =>
      openFlRoundPlan(env.plan, federation, { ...HE, paramsId: 'cd'.repeat(32) }, envelopeOf(env)),
    );
    expect(e.message).toMatch(/HE parameters/);
  });

  it("derives a DP round's noise from the envelope: ρ, threshold and clip are in the digest", () => {
    const exact = makeEnvelope();
    const dp = makeEnvelope({ rho: RHO });
    const dpPlan = dp.plan as FlRoundPlan;
    const differs = /encoding plan differs/;
    expect(dpPlan.encoding.planSha256).not.toBe((exact.plan as FlRoundPlan).encoding.planSha256);
    expect(refusal(exact.plan, exact, { rho: openQueryRho(RHO) }).message).toMatch(differs);
    expect(refusal(dpPlan, dp, { rho: null }).message).toMatch(differs);
    expect(refusal(dpPlan, dp, { rho: openQueryRho('1/5') }).message).toMatch(differs);
    expect(refusal(dpPlan, dp, { threshold: 1, agencies: ['agency-a', 'agency-b'] }).message).toMatch(differs);
    expect(refusal({ ...dpPlan, hyper: { ...dpPlan.hyper, clip: 2 } }, dp).message).toMatch(differs);
    // an exact round's clip is the trainer's, not the encoding's
    const exactPlan = exact.plan as FlRoundPlan;
    expect(
      openFlRoundPlan({ ...exactPlan, hyper: { ...exactPlan.hyper, clip: 2 } }, federation, HE, envelopeOf(exact)).hyper
        .clip,
    ).toBe(2);
  });

  it('refuses to ask an agency not allowed to serve the dataset, or a party that is no agency', () => {
    const env = makeEnvelope();
    for (const agencies of [
      ['agency-a', 'agency-c'],
      ['agency-a', 'coordinator'],
      ['agency-a', 'key-authority'],
      ['agency-a', 'agency-z'],
    ]) {
      const e = refusal(env.plan, env, { agencies });
      expect(e.message).toMatch(/not a federation agency allowed to serve the dataset/);
    }
    expect(openFlRoundPlan(env.plan, federation, HE, { ...envelopeOf(env), agencies: ['agency-b'] }).runId).toBe(RUN);
  });

  it('refuses every single-field change of the plan or its encoding that no valid round has', () => {
    const plans = [makeEnvelope(), makeEnvelope({ rho: RHO })];
    // Fields whose every other value is invalid (a changed step, seed, lr or train flag can be a valid round).
    const planFields = [
      'kind',
      'dataset',
      'runId',
      'round',
      'seed',
      'coding',
      'model',
      'parameters',
      'encoding',
      'hyper',
    ];
    const encodingFields = ['preset', 'paramsId', 'plainModulus', 'maxRows', 'maxCiphertexts', 'planSha256'];
    const change = fc.oneof(
      fc.constantFrom(...planFields).map((f) => ({ where: 'plan', field: f })),
      fc.constantFrom(...encodingFields).map((f) => ({ where: 'encoding', field: f })),
    );
    fc.assert(
      fc.property(fc.constantFrom(...plans), change, fc.jsonValue(), (env, c, value) => {
        const plan = env.plan as FlRoundPlan;
        const before =
          c.where === 'plan'
            ? (plan as unknown as Record<string, unknown>)[c.field]
            : (plan.encoding as unknown as Record<string, unknown>)[c.field];
        fc.pre(JSON.stringify(value) !== JSON.stringify(before));
        const changed =
          c.where === 'plan'
            ? withPlan(plan, { [c.field]: value })
            : withPlan(plan, { encoding: { ...plan.encoding, [c.field]: value } });
        expect(refusal(changed, env).code).toBe('BAD_MESSAGE');
      }),
      { numRuns: runs(200) },
    );
  });

  it('opens or refuses (FedstatError, one line) every random bit flip of re-signed bytes, never crashing', () => {
    const envs = [makeEnvelope(), makeEnvelope({ rho: RHO, where: true })];
    const bytes = envs.map((env) => signed(env).bytes);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.nat(), (which, seed) => {
        const b = new Uint8Array(bytes[which]!);
        const bit = seed % (b.length * 8);
        b[bit >> 3]! ^= 1 << (bit & 7);
        // Bytes that are no JSON the coordinator could sign are the signature check's business.
        let resigned: SignedQuery;
        try {
          resigned = signed(JSON.parse(new TextDecoder().decode(b)));
        } catch {
          return;
        }
        let opened: QueryEnvelope;
        try {
          opened = openQuery(resigned, federation, HE, NOW);
        } catch (e) {
          if (!(e instanceof FedstatError)) throw e;
          expect(e.message).not.toContain('\n');
          return;
        }
        // a flip in a time, in the parameters' bits (another valid round) or similar opens as signed
        const plan = opened.plan as FlRoundPlan;
        expect(opened.queryId).toBe(flRoundQueryId(plan.runId, plan.round));
        expect(canonicalBytes(opened)).toEqual(resigned.bytes);
      }),
      { numRuns: runs(200) },
    );
  });
});

describe('parameters and the log view', () => {
  it('carry float64 parameters bit for bit in canonical base64', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(fc.array(finite, { minLength: 1, maxLength: 50 }), (values) => {
        const p = Float64Array.from(values);
        const back = decodeParameters(encodeParameters(p), p.length);
        for (let i = 0; i < p.length; i++) expect(Object.is(back[i], p[i])).toBe(true);
        expect(() => decodeParameters(encodeParameters(p), p.length + 1)).toThrow(RangeError);
      }),
      { numRuns: runs(100) },
    );
  });

  it('keeps no parameters in the log, only their SHA-256', () => {
    const plan = makePlan({ rho: RHO });
    const view = flRoundLogView(plan);
    expect(Object.hasOwn(view, 'parameters')).toBe(false);
    expect(view.parametersSha256).toBe(parametersDigest(PARAMS));
    expect(view.parametersSha256).toBe(toHex(sha256(Buffer.from(plan.parameters, 'base64'))));
    expect(JSON.stringify(view)).not.toContain(plan.parameters.slice(0, 24));
    const { parametersSha256: _sha, ...rest } = view;
    const { parameters: _p, ...planRest } = plan;
    expect(rest).toEqual(planRest);
    // other parameters, another digest
    const other = PARAMS.slice();
    other[0] = (other[0] as number) + 2 ** -40;
    expect(parametersDigest(other)).not.toBe(view.parametersSha256);
  });
});
