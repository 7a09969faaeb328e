/**
 * The demo's federated-model section (src/demo/model-showcase.ts) on a small scenario: the three
 * social-insurance bureaus as `fedstat agency serve` processes, the section run as the demo runs it.
 * The federated table equals the pooled fit of the seed files and stands beside the ground truth;
 * it is written as a MODEL.json that reads back; its rounds are in the transparency log, which
 * the auditor verifies; one bureau's file is scored locally. A fit that differs from the pooled
 * one is caught, naming the term. (test/cli/demo.test.ts runs the whole demo, this section too.)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog, type AuditReport } from '../../src/auditor/verify.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { startAgencyProcesses, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';
import { comparePooled, runModelShowcase, type ModelShowcase } from '../../src/demo/model-showcase.js';
import { initFederation, readSchemaFile } from '../../src/federation/init.js';
import { parseModelDocument } from '../../src/learn/model-file.js';
import { generateScenario, type ScenarioManifest } from '../../src/seed/generate.js';
import { loadScenario, scenarioAgencies } from '../../src/seed/scenario-registry.js';
import { readTreeHeadFile, treeHeadFileFor } from '../../src/transparency/tree-head-file.js';

const DATASET = 'social_insurance';
let dir = '';
let processes: AgencyProcess[] = [];
let coordinator: Coordinator | undefined;
let manifest: ScenarioManifest;
let model: ModelShowcase;
let audit: AuditReport;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-demo-model-'));
  const { scenario } = await loadScenario('sichuan');
  const bureaus = scenarioAgencies(scenario).filter((a) => a.department.dataset === DATASET);
  const data = join(dir, 'data');
  manifest = await generateScenario({
    scenario: 'sichuan',
    outDir: data,
    rows: 1500,
    seed: 'fedstat-demo',
    agencies: bureaus.map((a) => a.id),
  });
  const ports = await freePorts(manifest.agencies.length);
  const init = await initFederation({
    outDir: join(dir, 'federation'),
    schema: readSchemaFile(join(data, manifest.schemaFile)),
    policy: { minAgencies: 2, minGroupSize: 10, exactRelease: true },
    agencies: manifest.agencies.map((a, i) => ({ id: a.id, endpoint: `127.0.0.1:${ports[i]}`, datasets: [DATASET] })),
  });
  const fileOf = (a: ScenarioManifest['agencies'][number]): string => join(data, a.datasets[DATASET]!.file);
  processes = await startAgencyProcesses(
    manifest.agencies.map((a) => ({
      id: a.id,
      federationFile: init.federationFile,
      keyFile: init.keyFiles[a.id]!,
      datasets: { [DATASET]: fileOf(a) },
    })),
  );
  const log = join(dir, 'federation', 'transparency.log');
  coordinator = await connectCoordinator({ federation: init.federation, transparencyLog: log });
  mkdirSync(join(dir, 'out'));
  model = await runModelShowcase(coordinator, scenario.groundTruth.insured, {
    files: manifest.agencies.map((a) => ({ agency: a.id, file: fileOf(a) })),
    modelFile: join(dir, 'out', 'model.json'),
    scoredFile: join(dir, 'out', 'scored.csv'),
  });
  audit = await verifyAuditLog(log, {
    federation: init.federation,
    heads: await readTreeHeadFile(treeHeadFileFor(log)),
  });
}, 240_000);

afterAll(async () => {
  await coordinator?.close();
  await Promise.all(processes.map((p) => p.stop()));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('the demo trains a model across the social-insurance bureaus', () => {
  it('equals the pooled fit of the seed files, over every bureau', () => {
    expect(model.mismatch).toBeNull();
    expect(model.result.agencies.answered).toEqual(manifest.agencies.map((a) => a.id).sort());
    expect(model.result.model.converged).toBe(true);
    expect(model.result.rounds.every((r) => r.agencies.length === 3)).toBe(true);
  });

  it('shows every coefficient beside its true value and counts the intervals that hold it', () => {
    expect(model.rows).toHaveLength(33);
    expect(model.rows.every((r) => r.truth !== null && r.inside !== null)).toBe(true);
    expect(model.withTruth).toBe(33);
    expect(model.covered).toBe(model.rows.filter((r) => r.inside === true).length);
    // The labels carry signal: the sector effects are far from 0 and the fit sees them.
    const it = model.rows.find((r) => r.term === 'sector信息技术')!;
    const building = model.rows.find((r) => r.term === 'sector建筑业')!;
    expect(it.estimate - building.estimate).toBeGreaterThan(1);
  });

  it('logs every round: the auditor verifies the log holding the rounds’ queries', () => {
    expect(audit.ok).toBe(true);
    expect(audit.counts['query']).toBe(model.result.rounds.length);
    const indexes = model.result.rounds.map((r) => r.logIndex);
    expect(indexes.every((i) => i !== null && i < audit.size)).toBe(true);
    expect(model.result.model.rounds.map((r) => r.logIndexes[0])).toEqual(indexes);
  });

  it('writes MODEL.json, which reads back as the trained model', () => {
    const text = readFileSync(model.modelFile, 'utf8');
    const doc = parseModelDocument(text, model.modelFile);
    expect(doc.coefficients).toEqual(model.result.model.coefficients);
    expect(doc.terms).toEqual(model.result.model.terms);
  });

  it('scores one bureau’s own file: every row, with a probability, as the fit did', () => {
    const p = model.prediction;
    const rows = manifest.agencies.find((a) => a.id === p.agency)!.datasets[DATASET]!.rows;
    expect(p.summary.rows).toBe(rows);
    const lines = readFileSync(p.out, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(rows + 1);
    expect(lines[0]!.split(',').slice(-2)).toEqual(['eta', 'fitted']);
    expect(p.preview[0]).toEqual(lines[0]!.split(','));
    expect(p.summary.fitted!.min).toBeGreaterThan(0);
    expect(p.summary.fitted!.max).toBeLessThan(1);
    // Each district lies in one bureau's file and has its own term, so at the maximum the fitted
    // probabilities of a file add up to its insured count: predict scores as the fit did.
    expect(Math.abs(p.expected - p.observed)).toBeLessThan(1e-3 * p.observed);
  });
});

describe('comparePooled', () => {
  it('names the first term whose estimate or standard error differs by more than 1e-6 relative', () => {
    const table = model.result.model;
    expect(comparePooled(table, table)).toBeNull();
    const nudge = (j: number, field: 'estimate' | 'stderr', by: number) => ({
      ...table,
      terms: table.terms.map((t, k) => (k === j ? { ...t, [field]: t[field] * (1 + by) } : t)),
    });
    expect(comparePooled(nudge(2, 'estimate', 1e-7), table)).toBeNull();
    expect(comparePooled(nudge(2, 'estimate', 1e-4), table)).toMatch(new RegExp(`^${table.terms[2]!.term}: estimate`));
    expect(comparePooled(nudge(5, 'stderr', 1e-4), table)).toMatch(
      new RegExp(`^${table.terms[5]!.term}: standard error`),
    );
    expect(comparePooled({ ...table, n: table.n + 1 }, table)).toMatch(/^n /);
  });
});
