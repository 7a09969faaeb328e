/**
 * Federated GLM training over real gRPC on 127.0.0.1 (in-process agencies with DuckDB stores, the
 * coordinator's SEAL worker, the in-process key authority): every family's fit equals the pooled
 * fit of the same rows to 1e-6 relative in coefficients and standard errors; a fit stopped after
 * any round resumes from its checkpoint to a bit-identical model; an agency lost for good stops
 * the fit with its checkpoint saved, or (allowDropouts) the fit starts over over those that remain.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import type { TrainResult, TrainSpec } from '../../src/coordinator/train-types.js';
import { datasetSchemaOf } from '../../src/federation/federation.js';
import { codeModel } from '../../src/learn/design.js';
import type { DataRecord } from '../../src/learn/design-row.js';
import { parseFormula } from '../../src/learn/formula.js';
import { fitPooled } from '../../src/learn/pooled-fit.js';
import { createTestFederation, makeRows, type Row, type TestFederation } from '../helpers/test-federation.js';
import { fedstatRejectionOf } from '../helpers/fedstat-error.js';

const ROWS = 300;
let tf: TestFederation;
let coordinator: Coordinator;
let scratch: string;

/** The rows agency i holds (createTestFederation's seeds). */
function rowsOf(ids: readonly string[]): Row[] {
  return ids.flatMap((id) => makeRows(ROWS, 1000 + tf.ids.indexOf(id)));
}

function pooled(spec: TrainSpec, rows: readonly Row[]) {
  const schema = datasetSchemaOf(tf.federation, spec.dataset);
  const coding = codeModel(parseFormula(spec.formula, schema, spec.dataset), schema, spec.family, spec.dataset);
  return fitPooled(rows as unknown as DataRecord[], coding, spec.ridge === undefined ? {} : { ridge: spec.ridge });
}

function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected)));
}

function expectPooled(result: TrainResult, spec: TrainSpec, rows: readonly Row[]): void {
  const reference = pooled(spec, rows).table;
  expect(result.model.terms.map((t) => t.term)).toEqual(reference.terms.map((t) => t.term));
  result.model.terms.forEach((t, j) => {
    expectClose(t.estimate, reference.terms[j]!.estimate);
    expectClose(t.stderr, reference.terms[j]!.stderr);
  });
  expectClose(result.model.deviance, reference.deviance);
  expect(result.model.n).toBe(reference.n);
  expect(result.model.converged).toBe(true);
}

beforeAll(async () => {
  tf = await createTestFederation({ agencies: 4, rowsPerAgency: ROWS, minAgencies: 2 });
  for (const id of tf.ids) await tf.start(id);
  coordinator = await tf.coordinator();
  scratch = mkdtempSync(join(tmpdir(), 'fedstat-train-'));
});

afterAll(async () => {
  await coordinator?.close();
  await tf?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('federated GLM fits equal the pooled fit', () => {
  const binomial: TrainSpec = { dataset: 'residents', family: 'binomial', formula: 'sex ~ age + district + income' };

  it('binomial, with every round named, logged in order and covering every agency', async () => {
    const seen: number[] = [];
    const result = await coordinator.train(binomial, { onRound: (r) => seen.push(r.round) });
    expectPooled(result, binomial, rowsOf(tf.ids));
    expect(seen).toEqual(result.rounds.map((r) => r.round));
    expect(result.rounds.every((r) => r.agencies.join() === tf.ids.join())).toBe(true);
    expect(new Set(result.rounds.map((r) => r.queryId)).size).toBe(result.rounds.length);
    expect(result.model.rounds.map((r) => r.queryId)).toEqual(result.rounds.map((r) => r.queryId));
    expect(result.privacy).toBeNull();
    expect(result.lostRounds).toEqual([]);
  });

  it('gaussian with ridge and WHERE, over the rows the condition keeps', async () => {
    const spec: TrainSpec = {
      dataset: 'residents',
      family: 'gaussian',
      formula: 'balance ~ age + sex:district',
      where: 'age >= 18 AND income < 1500000',
      ridge: 0.5,
    };
    const result = await coordinator.train(spec);
    const kept = rowsOf(tf.ids).filter((r) => r.age >= 18 && r.income < 1_500_000);
    expectPooled(result, spec, kept);
  });

  it('poisson', async () => {
    const spec: TrainSpec = { dataset: 'residents', family: 'poisson', formula: 'age ~ sex + district' };
    expectPooled(await coordinator.train(spec), spec, rowsOf(tf.ids));
  });

  it('refuses a bad formula and a bad condition before asking anyone, at their position', async () => {
    const formula = await fedstatRejectionOf(
      coordinator.train({ dataset: 'residents', family: 'binomial', formula: 'sex ~ agee' }),
    );
    expect(formula.code).toBe('QUERY_INVALID');
    expect(formula.message).toContain('age');
    const where = await fedstatRejectionOf(
      coordinator.train({ dataset: 'residents', family: 'binomial', formula: 'sex ~ age', where: 'agee > 3' }),
    );
    expect(where.message).toMatch(/ at 1:1;/);
    expect(where.message).toContain('age');
  });
});

describe('checkpoints', () => {
  const spec: TrainSpec = { dataset: 'residents', family: 'binomial', formula: 'sex ~ age + district' };

  it('a fit stopped after round 2 resumes to a bit-identical model, its lost round never asked again', async () => {
    const whole = await coordinator.train(spec);
    const file = join(scratch, 'stopped.json');
    const stop = new Error('stopped by the test');
    await expect(
      coordinator.train(spec, {
        checkpoint: file,
        onRound: (r) => {
          if (r.round === 2) throw stop;
        },
      }),
    ).rejects.toBe(stop);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const resumed = await coordinator.train(spec, { checkpoint: file, resume: true });
    expect(resumed.model.coefficients).toEqual(whole.model.coefficients);
    expect(resumed.model.terms).toEqual(whole.model.terms);
    expect(resumed.model.deviance).toBe(whole.model.deviance);
    // Round 2 was decoded but the stop came before its checkpoint: it is lost, and round 3 follows.
    expect(resumed.lostRounds).toEqual([2]);
    expect(resumed.rounds.map((r) => r.round)).toEqual([1, ...resumed.rounds.slice(1).map((r) => r.round)]);
    expect(resumed.rounds.some((r) => r.round === 2)).toBe(false);
  });

  it('refuses to resume another fit', async () => {
    const file = join(scratch, 'other.json');
    await coordinator.train(spec, { checkpoint: file });
    const e = await fedstatRejectionOf(
      coordinator.train({ ...spec, formula: 'sex ~ age' }, { checkpoint: file, resume: true }),
    );
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message).toContain('another fit');
  });
});

describe('an agency lost for good', () => {
  const spec: TrainSpec = { dataset: 'residents', family: 'binomial', formula: 'sex ~ age + district' };

  it('stops the fit with its checkpoint saved, then allowDropouts fits over those that remain', async () => {
    const lost = tf.ids[3]!;
    await tf.stop(lost);
    try {
      const file = join(scratch, 'dropout.json');
      const e = await fedstatRejectionOf(coordinator.train(spec, { checkpoint: file, retries: 1 }));
      expect(e.message).toContain(`the fit is saved in its checkpoint ${file}, and resumes from it`);
      const result = await coordinator.train(spec, { checkpoint: file, resume: true, allowDropouts: true });
      const remaining = tf.ids.filter((id) => id !== lost);
      expectPooled(result, spec, rowsOf(remaining));
      expect(result.agencies.answered).toEqual(remaining);
      expect(result.agencies.failed.map((f) => f.id)).toContain(lost);
      expect(result.model.rounds.every((r) => !r.agencies.includes(lost))).toBe(true);
    } finally {
      await tf.start(lost);
    }
  });
});
