/**
 * The demo's neural-network section (src/demo/network-showcase.ts) on a small scenario: the three
 * social-insurance bureaus as `fedstat agency serve` processes with their own budgets and ledgers,
 * the section run as the demo runs it. Every ledger is charged exactly the announced ρ in one
 * charge per announced round; the curve has a point per round with ε rising to the announced ε;
 * the learning curve is drawn to its file; the rounds are in the log the auditor verifies; the GLM's
 * AUC is computed on the run's held-out records. A ledger or curve that differs from what the run
 * announced is caught, naming it. (test/cli/demo.test.ts runs the whole demo, this section too.)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog, type AuditReport } from '../../src/auditor/verify.js';
import { learningCurveSvg } from '../../src/cli/learning-curve-plot.js';
import { connectCoordinator } from '../../src/coordinator/connect.js';
import type { Coordinator } from '../../src/coordinator/coordinator.js';
import { startAgencyProcesses, type AgencyProcess } from '../../src/demo/agency-processes.js';
import { freePorts } from '../../src/demo/free-port.js';
import { DEMO_MODEL_SPEC } from '../../src/demo/model-showcase.js';
import {
  checkCurve,
  checkLedgers,
  DEMO_NETWORK_SPEC,
  heldOutAuc,
  runNetworkShowcase,
  type NetworkShowcase,
} from '../../src/demo/network-showcase.js';
import { initFederation, readSchemaFile } from '../../src/federation/init.js';
import type { ModelDocument } from '../../src/learn/model-file.js';
import { generateScenario, type ScenarioManifest } from '../../src/seed/generate.js';
import { loadScenario, scenarioAgencies } from '../../src/seed/scenario-registry.js';
import { readTreeHeadFile, treeHeadFileFor } from '../../src/transparency/tree-head-file.js';

const DATASET = 'social_insurance';
let dir = '';
let processes: AgencyProcess[] = [];
let coordinator: Coordinator | undefined;
let manifest: ScenarioManifest;
let files: string[];
let glm: ModelDocument;
let network: NetworkShowcase;
let audit: AuditReport;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedstat-demo-network-'));
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
  files = manifest.agencies.map((a) => join(data, a.datasets[DATASET]!.file));
  processes = await startAgencyProcesses(
    manifest.agencies.map((a, i) => ({
      id: a.id,
      federationFile: init.federationFile,
      keyFile: init.keyFiles[a.id]!,
      datasets: { [DATASET]: files[i]! },
      extraArgs: ['--budget', `${DATASET}=1`, '--ledger', join(dir, `${a.id}.ledger`)],
    })),
  );
  const log = join(dir, 'federation', 'transparency.log');
  coordinator = await connectCoordinator({ federation: init.federation, transparencyLog: log });
  mkdirSync(join(dir, 'out'));
  glm = (await coordinator.train(DEMO_MODEL_SPEC)).model;
  network = await runNetworkShowcase(coordinator, {
    files,
    glm,
    curveFile: join(dir, 'out', 'learning-curve.svg'),
    draw: learningCurveSvg,
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

describe('the demo trains a neural network with record-level DP across the social-insurance bureaus', () => {
  it('charges every bureau exactly the announced ρ, once per announced round', () => {
    expect(network.mismatch).toBeNull();
    const rounds = DEMO_NETWORK_SPEC.rounds! + 1; // the training rounds and the evaluation round
    expect(network.privacy).toMatchObject({ rho: '7/20', rhoPerRound: '1/20', rounds });
    expect(network.ledgers).toEqual(
      manifest.agencies
        .map((a) => ({ agency: a.id, before: '0/1', after: '7/20', charges: rounds }))
        .sort((x, y) => x.agency.localeCompare(y.agency)),
    );
  });

  it('records a curve point per round from every bureau, ε rising to the announced ε', () => {
    const curve = network.result.curve;
    expect(curve.map((p) => p.round)).toEqual(curve.map((_, i) => i + 1));
    expect(curve.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 6]);
    expect(curve.every((p) => p.agencies.length === 3)).toBe(true);
    const eps = curve.map((p) => p.epsilon!);
    expect(eps.every((e, i) => i === 0 || e > eps[i - 1]!)).toBe(true);
    expect(eps.at(-1)).toBe(network.privacy.epsilon);
    expect(curve.every((p) => p.metricName === 'auc' && p.metric !== null && p.metric > 0 && p.metric < 1)).toBe(true);
    expect(network.roundMs).toHaveLength(curve.length);
  });

  it('draws the learning curve to its file', () => {
    expect(network.curveFile).toBe(join(dir, 'out', 'learning-curve.svg'));
    const svg = readFileSync(network.curveFile!, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('AUC');
  });

  it('logs every round: the auditor verifies the log holding the GLM’s and the run’s queries', () => {
    expect(audit.ok).toBe(true);
    const logged = network.result.model.rounds.flatMap((r) => r.logIndexes);
    expect(logged).toHaveLength(network.privacy.rounds);
    expect(logged.every((i) => i < audit.size)).toBe(true);
  });

  it('scores the GLM on the run’s held-out records: better than chance, and 0.5 for a model that says nothing', async () => {
    expect(network.glmAuc).toBeGreaterThan(0.6);
    const flat = { ...glm, coefficients: glm.coefficients.map(() => 0) };
    expect(await heldOutAuc(flat, network.result.model.coding, DEMO_NETWORK_SPEC, coordinator!, files)).toBe(0.5);
  });
});

describe('checkLedgers and checkCurve', () => {
  it('name the bureau whose ledger differs from the announced ρ or rounds', () => {
    const { ledgers, privacy } = network;
    expect(checkLedgers(ledgers, privacy)).toBeNull();
    const first = ledgers[0]!;
    const off = (change: Partial<typeof first>) => [{ ...first, ...change }, ...ledgers.slice(1)];
    expect(checkLedgers(off({ after: '1/2' }), privacy)).toMatch(new RegExp(`^${first.agency}: charged 1/2`));
    expect(checkLedgers(off({ before: '3/20', after: '1/2' }), privacy)).toBeNull();
    expect(checkLedgers(off({ charges: first.charges - 1 }), privacy)).toMatch(/charges, the run announced 7$/);
    expect(checkLedgers([], privacy)).toMatch(/no agency/);
  });

  it('name the round where the curve leaves what the run announced', () => {
    const { result, privacy } = network;
    const curve = result.curve;
    expect(checkCurve(curve, privacy)).toBeNull();
    expect(checkCurve(curve.slice(1), privacy)).toMatch(/^6 curve points/);
    const at = (i: number, change: object) => curve.map((p, k) => (k === i ? { ...p, ...change } : p));
    expect(checkCurve(at(3, { epsilon: 0 }), privacy)).toMatch(/^ε fell in round 4/);
    expect(checkCurve(at(2, { round: 9 }), privacy)).toMatch(/^point 3 is round 9/);
    expect(checkCurve(at(6, { epsilon: privacy.epsilon * 2 }), privacy)).toMatch(/^the curve ends at ε/);
  });
});
