/**
 * Federated averaging over real gRPC on 127.0.0.1 (in-process agencies with DuckDB stores, the
 * coordinator's SEAL worker, the in-process key authority):
 * - an exact run's parameters equal, bit for bit, the same rounds computed in the clear over the
 *   same records (every agency's local work, summed as integers, decoded, averaged, stepped);
 * - a run stopped after any round resumes from its checkpoint to the same parameters, bit for bit;
 * - an agency lost mid-run is left out of the rounds after it;
 * - agencies sampled per round are the ones asked, and the sample repeats with the seed;
 * - a DP run charges each agency's ledger once per round and spends what it announced.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import type { NetworkSpec, NetworkTrainResult } from '../../src/coordinator/fl-train-types.js';
import { flRunEncoding } from '../../src/coordinator/fl-round-query.js';
import { taggedDigest } from '../../src/crypto/digest.js';
import { BudgetLedger } from '../../src/dp/budget-ledger.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { decodeFlTotal, type FlEncodingPlan } from '../../src/learn/fl/fl-encoding.js';
import { flTrainer, modelColumns } from '../../src/learn/fl/fl-model.js';
import { localRoundUnits } from '../../src/learn/fl/local-round.js';
import { meanUpdate } from '../../src/learn/fl/round-metrics.js';
import { RoundingStream } from '../../src/learn/fl/rounding-stream.js';
import { fedAvg } from '../../src/learn/fl/strategy.js';
import { mlpTrainer } from '../../src/learn/fl/mlp.js';
import type { TrainerRegistry } from '../../src/learn/fl/trainer-registry.js';
import { parseFormula } from '../../src/learn/formula.js';
import { HeParams } from '../../src/he/he-params.js';
import { presetByName } from '../../src/he/presets.js';
import { decodeParameters, encodeParameters } from '../../src/protocol/fl-round.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';
import { createTestFederation, makeRows, type TestFederation } from '../helpers/test-federation.js';

const ROWS = 240;
const HIDDEN = [6];
const spec: NetworkSpec = {
  dataset: 'residents',
  family: 'binomial',
  formula: 'sex ~ age + district + income',
  hidden: HIDDEN,
  rounds: 3,
  batch: 16,
  lr: 0.2,
  localEpochs: 2,
  seed: 7,
};

describe('exact federated averaging', () => {
  let tf: TestFederation;
  let coordinator: Coordinator;
  let scratch: string;
  let he: HeParams;

  beforeAll(async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: ROWS, minAgencies: 2 });
    he = await HeParams.create(presetByName(tf.federation.he.preset));
    for (const id of tf.ids) await tf.start(id);
    coordinator = await tf.coordinator();
    scratch = mkdtempSync(join(tmpdir(), 'fedstat-fedavg-'));
  });

  afterAll(async () => {
    await coordinator?.close();
    await tf?.close();
    he?.[Symbol.dispose]();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** Agency `id`'s records as its store streams them: the model's columns, in file order. */
  function recordsOf(id: string, columns: readonly string[]): DataRecord[] {
    const rows = makeRows(ROWS, 1000 + tf.ids.indexOf(id)) as unknown as Record<string, string | number>[];
    return rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c]!])));
  }

  /** The run computed in the clear: each step, every agency's units summed, decoded, averaged and applied. */
  async function inTheClear(agencies: readonly string[], steps: number): Promise<Float64Array> {
    const schema = datasetSchemaOf(tf.federation, spec.dataset);
    const coding = codeModel(parseFormula(spec.formula, schema), schema, 'binomial', spec.dataset);
    const trainer = flTrainer({ kind: 'mlp', hidden: HIDDEN, activation: 'tanh' }, coding);
    const hyper = { lr: spec.lr!, clip: 100, epochs: spec.localEpochs!, batch: spec.batch!, mu: 0 };
    const plan: FlEncodingPlan = flRunEncoding(
      {
        federation: tf.federation,
        params: he,
        runId: '0'.repeat(32),
        coding,
        model: { kind: 'mlp', hidden: HIDDEN, activation: 'tanh' },
        parameterCount: trainer.size,
        hyper,
        validation: 0.2,
        seed: spec.seed!,
        where: null,
        updateBound: 10,
        description: '',
        rhoPerRound: null,
      },
      2,
    );
    const strategy = fedAvg();
    let params = trainer.initialParameters(spec.seed!);
    let state = strategy.init(params);
    for (let step = 0; step < steps; step++) {
      const total = new BigUint64Array(plan.ciphertextCount * plan.inputs.slotsPerCiphertext);
      const t = plan.inputs.plainModulus;
      for (const id of agencies) {
        const seed = (what: string) => taggedDigest(`fedstat/fl-${what}/v1`, spec.seed!, step, id);
        const units = await localRoundUnits(
          {
            trainer,
            coding,
            responseScale: 1,
            global: params,
            plan,
            hyper,
            train: true,
            validation: 0.2,
            splitKey: String(spec.seed),
            rounding: new RoundingStream(seed('rounding')),
            shuffle: new RoundingStream(seed('shuffle')),
          },
          [recordsOf(id, modelColumns(coding))],
        );
        units.forEach((u, i) => (total[i] = (total[i]! + BigInt(u) + t) % t));
      }
      const next = strategy.apply(state, params, meanUpdate(decodeFlTotal(total, plan), false, hyper.lr));
      params = next.params;
      state = next.state;
    }
    return params;
  }

  function paramsOf(r: NetworkTrainResult): Float64Array {
    return decodeParameters(r.model.parameters, Buffer.from(r.model.parameters, 'base64').length / 8);
  }

  it('equals the same rounds computed in the clear, bit for bit, and names every round', async () => {
    const result = await coordinator.trainNetwork(spec);
    expect(encodeParameters(paramsOf(result))).toBe(encodeParameters(await inTheClear(tf.ids, 3)));
    expect(result.curve.map((p) => [p.round, p.step])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 3],
    ]);
    expect(result.curve.every((p) => p.agencies.join() === tf.ids.join())).toBe(true);
    expect(result.curve.every((p) => p.metric !== null && p.metric >= 0 && p.metric <= 1)).toBe(true);
    expect(result.model.rounds.map((r) => r.round)).toEqual([1, 2, 3, 4]);
    expect(result.privacy).toBeNull();
    expect(result.lostRounds).toEqual([]);
  });

  it('resumes a run stopped after any round to the same parameters, bit for bit', async () => {
    const reference = await coordinator.trainNetwork(spec);
    for (const stopAfter of [1, 2]) {
      const checkpoint = join(scratch, `stop-${stopAfter}.json`);
      const crash = new Error('simulated coordinator crash');
      const stopped = coordinator.trainNetwork(spec, {
        checkpoint,
        onRound: (p) => {
          if (p.round === stopAfter) throw crash;
        },
      });
      await expect(stopped).rejects.toBe(crash);
      const resumed = await coordinator.trainNetwork(spec, { checkpoint, resume: true });
      expect(resumed.model.parameters).toBe(reference.model.parameters);
      // The round in flight at the crash is lost; its step is asked again under the next number.
      expect(resumed.lostRounds).toEqual([stopAfter]);
      expect(resumed.curve.map((p) => p.step)).toEqual([1, 2, 3, 3]);
      expect(resumed.curve.map((p) => p.round)).toEqual([1, 2, 3, 4, 5].filter((r) => r !== stopAfter));
    }
  });

  it('refuses a model too large for a signed query before it is logged or sent', async () => {
    // About 207,000 parameters: within the 32 ciphertexts, beyond the 2 MiB a query may take.
    const e = await fedstatRejectionOf(coordinator.trainNetwork({ ...spec, hidden: [450, 450] }));
    expect(e.code).toBe('MESSAGE_TOO_LARGE');
    expect(e.message).toMatch(/not sent, nothing spent/);
  });

  it('refuses to resume the checkpoint of another run', async () => {
    const checkpoint = join(scratch, 'other.json');
    await coordinator.trainNetwork({ ...spec, rounds: 1 }, { checkpoint });
    const e = await fedstatRejectionOf(coordinator.trainNetwork({ ...spec, rounds: 2 }, { checkpoint, resume: true }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toMatch(/another run/);
  });

  it('asks the agencies sampled for each step, the same ones for the same seed', async () => {
    const sampled = { ...spec, agenciesPerRound: 2, localEpochs: 1 };
    const a = await coordinator.trainNetwork(sampled);
    const b = await coordinator.trainNetwork(sampled);
    expect(a.curve.every((p) => p.agencies.length === 2)).toBe(true);
    expect(a.curve.map((p) => p.agencies)).toEqual(b.curve.map((p) => p.agencies));
    expect(a.model.parameters).toBe(b.model.parameters);
  });

  it('leaves an agency that is lost out of the rounds after it', async () => {
    const lost = tf.ids[2]!;
    try {
      const result = await coordinator.trainNetwork(spec, {
        deadlineMs: 5_000,
        onRound: (p) => {
          if (p.round === 1) void tf.stop(lost);
        },
      });
      expect(result.curve[0]!.agencies).toContain(lost);
      expect(result.curve.at(-1)!.agencies).toEqual(tf.ids.filter((id) => id !== lost));
      expect(result.failed.map((f) => f.id)).toContain(lost);
    } finally {
      await tf.start(lost);
    }
  });
});

describe('a trainer of your own', () => {
  let tf: TestFederation;
  let coordinator: Coordinator;
  /** A model the library does not ship: a relu MLP whose width comes from the plan's config. */
  const trainers: TrainerRegistry = {
    'relu-net': (config, shape) => {
      const width = (config as { width?: unknown } | null)?.width;
      if (typeof width !== 'number') throw new RangeError('config.width must be a number');
      return mlpTrainer({ inputs: shape.inputs, hidden: [width], activation: 'relu', output: shape.output });
    },
  };
  const { hidden: _mlp, ...rest } = spec;
  const custom: NetworkSpec = { ...rest, trainer: { name: 'relu-net', config: { width: 5 } } };

  beforeAll(async () => {
    // Four agencies: the secure-aggregation threshold of four (3) leaves room for the one that refuses.
    tf = await createTestFederation({ agencies: 4, rowsPerAgency: ROWS, minAgencies: 2 });
    for (const id of tf.ids.slice(0, 3)) await tf.start(id, undefined, { trainers });
    await tf.start(tf.ids[3]!);
    coordinator = await tf.coordinator({ trainers });
  });

  afterAll(async () => {
    await coordinator?.close();
    await tf?.close();
  });

  it('trains where it is registered, and an agency without it refuses every round', async () => {
    const result = await coordinator.trainNetwork(custom);
    expect(result.model.model).toEqual({ kind: 'custom', name: 'relu-net', config: { width: 5 } });
    const inputs = result.model.coding.columns.length;
    const size = trainers['relu-net']!({ width: 5 }, { inputs, output: 'binary' }).size;
    expect(decodeParameters(result.model.parameters, size)).toHaveLength(inputs * 5 + 5 + 5 + 1);
    expect(result.curve.every((p) => p.agencies.join() === tf.ids.slice(0, 3).join())).toBe(true);
    const refusal = result.failed.find((f) => f.id === tf.ids[3]);
    expect(refusal?.code).toBe('POLICY_REFUSED');
    expect(refusal?.reason).toMatch(/relu-net/);
  });

  it('refuses a config its factory refuses, and a name not registered, before asking anyone', async () => {
    const bad = await fedstatRejectionOf(
      coordinator.trainNetwork({ ...custom, trainer: { name: 'relu-net', config: {} } }),
    );
    expect(bad.code).toBe('QUERY_INVALID');
    expect(bad.message).toMatch(/config\.width/);
    const unknown = await fedstatRejectionOf(coordinator.trainNetwork({ ...custom, trainer: { name: 'other' } }));
    expect(unknown.code).toBe('POLICY_REFUSED');
  });
});

describe('DP federated averaging', () => {
  let tf: TestFederation;
  let coordinator: Coordinator;

  beforeAll(async () => {
    tf = await createTestFederation({ agencies: 3, rowsPerAgency: ROWS, minAgencies: 2, exactRelease: false });
    for (const id of tf.ids) {
      const ledger = await BudgetLedger.open(join(tf.dir, `${id}.ledger`), { budgets: { residents: '10' } });
      await tf.start(id, undefined, { ledger });
    }
    coordinator = await tf.coordinator();
  });

  afterAll(async () => {
    await coordinator?.close();
    await tf?.close();
  });

  it('refuses an exact run where the policy requires DP, before asking anyone', async () => {
    const e = await fedstatRejectionOf(coordinator.trainNetwork(spec));
    expect(e.code).toBe('POLICY_REFUSED');
  });

  it('refuses several local epochs with DP', async () => {
    const e = await fedstatRejectionOf(coordinator.trainNetwork(spec, { privacy: { rho: '1' } }));
    expect(e.code).toBe('QUERY_INVALID');
    expect(e.message).toMatch(/one DP-SGD step/);
  });

  it('refuses a run whose rounds the budgets cannot all pay for, before anything is spent', async () => {
    const e = await fedstatRejectionOf(
      coordinator.trainNetwork({ ...spec, localEpochs: 1 }, { privacy: { rho: '11' } }),
    );
    expect(e.code).toBe('POLICY_REFUSED');
    expect(e.message).toMatch(/nothing spent.*4 remaining rounds/);
    for (const id of tf.ids) expect((await tf.agencies.get(id)!.agency.describe()).budgets[0]!.charges).toBe(0);
  });

  it('charges every agency once per round and spends what it announced', async () => {
    const result = await coordinator.trainNetwork({ ...spec, localEpochs: 1 }, { privacy: { rho: '1' } });
    expect(result.privacy?.rounds).toBe(4);
    expect(result.privacy?.rhoPerRound).toBe('1/4');
    const eps = result.curve.map((p) => p.epsilon!);
    expect(eps.every((e, i) => i === 0 || e > eps[i - 1]!)).toBe(true);
    expect(eps.at(-1)).toBeCloseTo(result.privacy!.epsilon, 12);
    for (const id of tf.ids) {
      const b = (await tf.agencies.get(id)!.agency.describe()).budgets[0]!;
      expect(b.spent).toBe('1/1');
      expect(b.charges).toBe(4);
    }
  });
});
