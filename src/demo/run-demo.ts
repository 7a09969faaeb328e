/**
 * The demo: seed the synthetic Sichuan scenario, create a federation, start every agency as its own
 * `fedstat agency serve` process on 127.0.0.1, run the showcase statistics encrypted end to end,
 * and check each against the plaintext computed from the same seed files; then a federated model,
 * checked against the fit of the pooled seed files and shown beside the scenario's ground truth;
 * then a small neural network trained by federated averaging with record-level differential privacy;
 * then linked records across departments (private set intersection on citizen ids), checked
 * against the plaintext join of the seed files.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectCoordinator } from '../coordinator/connect.js';
import { verifyAuditLog, type AuditReport } from '../auditor/verify.js';
import { readTreeHeadFile, treeHeadFileFor } from '../transparency/tree-head-file.js';
import type { SignedTreeHead } from '../merkle/tree-head.js';
import type { Coordinator, QueryResult } from '../coordinator/coordinator.js';
import type { ResultRow } from '../coordinator/release.js';
import { FedstatError } from '../errors.js';
import { datasetSchemaOf, type Federation } from '../federation/federation.js';
import { initFederation, readSchemaFile, type InitResult } from '../federation/init.js';
import { generateScenario, type ScenarioManifest } from '../seed/generate.js';
import { loadScenario } from '../seed/scenario-registry.js';
import { startAgencyProcesses, type AgencyProcess } from './agency-processes.js';
import { freePorts } from './free-port.js';
import { DEMO_BUDGET, DEMO_DP_SQL, DEMO_RHO, runPrivacyShowcase, type PrivacyShowcase } from './privacy-showcase.js';
import { DEMO_MODEL_SPEC, runModelShowcase, type ModelShowcase } from './model-showcase.js';
import {
  DEMO_NETWORK_RHO,
  DEMO_NETWORK_SPEC,
  runNetworkShowcase,
  type CurveDrawer,
  type NetworkShowcase,
} from './network-showcase.js';
import {
  linkageShowcasePassed,
  linkageShowcaseSkip,
  runLinkageShowcase,
  type LinkageShowcase,
} from './linkage-showcase.js';
import { compareRows, referenceRows } from './reference.js';
import { SHOWCASES, type Showcase } from './showcases.js';

export interface DemoOptions {
  /** Number of agencies (3 to all of the scenario's); taken department by department. */
  readonly agencies?: number;
  /** Residence registrations in 成都市, the largest city; the others in proportion (see `cityPersonCounts`). */
  readonly rows?: number;
  readonly seed?: string;
  /** Keep the generated federation and data here instead of a temporary folder. */
  readonly outDir?: string;
  readonly onStep?: (message: string) => void;
  readonly onSeedProgress?: (done: number, total: number) => void;
  /** Draws the neural network's learning curve to learning-curve.svg in the demo's folder (none: not drawn). */
  readonly drawCurve?: CurveDrawer;
}

interface CheckedQuery {
  readonly sql: string;
  readonly result: QueryResult;
  /** null when the encrypted result equals the plaintext computation, else the first difference. */
  readonly mismatch: string | null;
}

interface IndicatorRow {
  readonly key: string;
  readonly numerator: bigint;
  readonly denominator: bigint;
  readonly value: number;
}

interface ShowcaseReport {
  readonly showcase: Showcase;
  readonly queries: readonly CheckedQuery[];
  readonly indicator: readonly IndicatorRow[] | null;
  /** Why the showcase did not run (too few agencies serve its dataset), else null. */
  readonly skipped: string | null;
}

export interface DemoReport {
  readonly dir: string;
  readonly federationId: string;
  readonly agencies: readonly { id: string; name: string; dataset: string; rows: number; port: number }[];
  readonly showcases: readonly ShowcaseReport[];
  /** The differential-privacy section (null when too few agencies serve its dataset). */
  readonly privacy: PrivacyShowcase | null;
  /** The federated-model section, or why it did not run. */
  readonly model: ModelShowcase | { readonly skipped: string };
  /** The DP federated-averaging section, or why it did not run. */
  readonly network: NetworkShowcase | { readonly skipped: string };
  /** The linked-records section (anti-join and inner join across departments), or why it did not run. */
  readonly linkage: LinkageShowcase | { readonly skipped: string };
  /** The auditor's verification of the demo's own transparency log. */
  readonly audit: AuditReport;
  /** Tree heads the agencies accepted (from their witness files), checked against the log. */
  readonly agencyHeads: number;
  readonly allChecksPassed: boolean;
  readonly setupMs: number;
  readonly totalMs: number;
}

export const DEFAULT_DEMO_ROWS = 50_000;

/** Agencies ordered department by department (all public-security bureaus first, ...). */
function pickAgencies(manifest: ScenarioManifest, n: number | undefined): ScenarioManifest['agencies'] {
  const all = manifest.agencies;
  const count = n ?? all.length;
  if (!Number.isInteger(count) || count < 3 || count > all.length) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `--agencies must be from 3 to ${all.length} for scenario ${manifest.scenario}; got ${count}`,
    );
  }
  const departments = [...new Set(all.map((a) => a.department))];
  const ordered = departments.flatMap((d) => all.filter((a) => a.department === d));
  return ordered.slice(0, count);
}

type ScenarioAgency = ScenarioManifest['agencies'][number];
type Step = (message: string) => void;
/** The CSV files of `dataset` held by the demo's agencies (one per agency that serves it). */
type FilesOf = (dataset: string) => string[];

/** Where the demo keeps its files: all under one folder. */
interface DemoPaths {
  readonly dir: string;
  /** The seeded scenario (CSV files, schema, manifest). */
  readonly data: string;
  readonly federation: string;
  /** Each agency's budget ledger and witness file. */
  readonly ledgers: string;
  /** The federation's transparency log, written by the coordinator. */
  readonly log: string;
}

function demoPaths(dir: string): DemoPaths {
  return {
    dir,
    data: join(dir, 'data'),
    federation: join(dir, 'federation'),
    ledgers: join(dir, 'ledgers'),
    log: join(dir, 'federation', 'transparency.log'),
  };
}

const dataFile = (paths: DemoPaths, file: string): string => resolve(paths.data, file);
/** The last transparency-log head an agency accepted. */
const witnessFile = (paths: DemoPaths, id: string): string => join(paths.ledgers, `${id}.head.json`);

/**
 * Steps 1 to 7 below in order; the agency processes are stopped, and a temporary folder removed,
 * whatever happens.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const t0 = performance.now();
  const step = options.onStep ?? (() => undefined);
  const temp = options.outDir === undefined;
  const paths = demoPaths(temp ? mkdtempSync(join(tmpdir(), 'fedstat-demo-')) : resolve(options.outDir ?? ''));
  let processes: AgencyProcess[] = [];
  try {
    const manifest = await seedScenario(paths, options, step);
    const chosen = pickAgencies(manifest, options.agencies);
    const init = await createFederation(paths, manifest, chosen, step);
    processes = await startAgencies(paths, init, chosen, step);
    const setupMs = performance.now() - t0;
    await using coordinator = await connectCoordinator({ federation: init.federation, transparencyLog: paths.log });
    const filesOf: FilesOf = (dataset) =>
      chosen.flatMap((a) => (a.datasets[dataset] === undefined ? [] : [dataFile(paths, a.datasets[dataset].file)]));
    const showcases: ShowcaseReport[] = [];
    for (const showcase of SHOWCASES) showcases.push(await runShowcase(coordinator, showcase, filesOf, step));
    const privacy = await runPrivacySection(coordinator, filesOf, step);
    const model = await runModelSection(coordinator, paths, manifest, chosen, step);
    const network = await runNetworkSection(coordinator, paths, filesOf, model, options.drawCurve, step);
    const linkage = await runLinkageSection(coordinator, filesOf, step);
    const { audit, agencyHeads } = await auditTransparencyLog(paths, coordinator.federation, chosen, step);
    const allChecksPassed =
      showcases.every((s) => s.queries.every((q) => q.mismatch === null)) &&
      (privacy === null || privacy.outOfBound.length === 0) &&
      ('skipped' in model || model.mismatch === null) &&
      ('skipped' in network || network.mismatch === null) &&
      ('skipped' in linkage || linkageShowcasePassed(linkage)) &&
      audit.ok;
    return {
      dir: paths.dir,
      federationId: coordinator.federation.id,
      setupMs,
      allChecksPassed,
      showcases,
      privacy,
      model,
      network,
      linkage,
      audit,
      agencyHeads: agencyHeads.length,
      agencies: chosen.map((a, i) => {
        const [dataset, f] = Object.entries(a.datasets)[0] ?? ['', { rows: 0 }];
        return { id: a.id, name: a.name, dataset, rows: f.rows, port: processes[i]?.port ?? 0 };
      }),
      totalMs: performance.now() - t0,
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    if (temp) rmSync(paths.dir, { recursive: true, force: true });
  }
}

/** Step 1: the synthetic Sichuan scenario, from a fixed seed, in `paths.data`. */
async function seedScenario(paths: DemoPaths, options: DemoOptions, step: Step): Promise<ScenarioManifest> {
  const rows = options.rows ?? DEFAULT_DEMO_ROWS;
  step(
    `seeding the sichuan scenario (${rows.toLocaleString('en-US')} registrations in 成都市, the other cities in proportion) in ${paths.dir}`,
  );
  return generateScenario({
    scenario: 'sichuan',
    outDir: paths.data,
    rows,
    seed: options.seed ?? 'fedstat-demo',
    ...(options.onSeedProgress === undefined ? {} : { onProgress: options.onSeedProgress }),
  });
}

/** Step 2: a federation of the chosen agencies on free local ports, with fresh keys. */
async function createFederation(
  paths: DemoPaths,
  manifest: ScenarioManifest,
  chosen: readonly ScenarioAgency[],
  step: Step,
): Promise<InitResult> {
  const ports = await freePorts(chosen.length);
  step(`creating the federation: ${chosen.length} agencies, a coordinator and a key authority, fresh keys`);
  return initFederation({
    outDir: paths.federation,
    schema: readSchemaFile(dataFile(paths, manifest.schemaFile)),
    name: 'sichuan-demo',
    policy: { minAgencies: 2, minGroupSize: 10, exactRelease: true },
    agencies: chosen.map((a, i) => ({
      id: a.id,
      endpoint: `127.0.0.1:${ports[i] ?? 0}`,
      datasets: Object.keys(a.datasets),
    })),
  });
}

/** Step 3: every agency as its own `fedstat agency serve` process, with its own ledger and witness file. */
async function startAgencies(
  paths: DemoPaths,
  init: InitResult,
  chosen: readonly ScenarioAgency[],
  step: Step,
): Promise<AgencyProcess[]> {
  mkdirSync(paths.ledgers, { recursive: true, mode: 0o700 });
  step(`starting ${chosen.length} agency processes on 127.0.0.1 (each loads and validates its CSV into DuckDB)`);
  return startAgencyProcesses(
    chosen.map((a) => ({
      id: a.id,
      federationFile: init.federationFile,
      keyFile: init.keyFiles[a.id] ?? '',
      datasets: Object.fromEntries(Object.entries(a.datasets).map(([d, f]) => [d, dataFile(paths, f.file)])),
      // Each agency's own privacy budget per dataset it serves (both sides of a DP join charge it),
      // in its own ledger, and the last transparency-log head it accepted, in its own witness file.
      extraArgs: [
        ...Object.keys(a.datasets).flatMap((d) => ['--budget', `${d}=${DEMO_BUDGET}`]),
        '--ledger',
        join(paths.ledgers, `${a.id}.ledger`),
        '--log-witness',
        witnessFile(paths, a.id),
      ],
    })),
  );
}

/** Step 4, once per showcase: its queries encrypted end to end, each checked against the plaintext computation. */
async function runShowcase(
  coordinator: Coordinator,
  showcase: Showcase,
  filesOf: FilesOf,
  step: Step,
): Promise<ShowcaseReport> {
  const federation = coordinator.federation;
  const plans = showcase.sql.map((sql) => coordinator.plan(sql));
  const short = plans.find((p) => filesOf(p.dataset).length < federation.policy.minAgencies);
  if (short !== undefined) {
    return {
      showcase,
      queries: [],
      indicator: null,
      skipped: `needs ${federation.policy.minAgencies} agencies serving ${short.dataset}; run with more --agencies`,
    };
  }
  step(showcase.title);
  const queries: CheckedQuery[] = [];
  for (const [i, sql] of showcase.sql.entries()) {
    const plan = plans[i];
    if (plan === undefined) continue;
    const result = await coordinator.query(sql, { requireAll: true });
    const expected = await referenceRows(
      plan,
      datasetSchemaOf(federation, plan.dataset),
      filesOf(plan.dataset),
      federation.policy,
    );
    const mismatch =
      compareRows(result.rows, expected.rows) ??
      (result.suppressed === expected.suppressed
        ? null
        : `${result.suppressed} groups withheld, expected ${expected.suppressed}`);
    queries.push({ sql, result, mismatch });
  }
  return { showcase, queries, indicator: indicatorRows(showcase, queries), skipped: null };
}

/** Step 5: the differential-privacy showcase, or null when too few agencies serve its dataset. */
async function runPrivacySection(
  coordinator: Coordinator,
  filesOf: FilesOf,
  step: Step,
): Promise<PrivacyShowcase | null> {
  const files = filesOf(coordinator.plan(DEMO_DP_SQL).dataset);
  if (files.length < coordinator.federation.policy.minAgencies) return null;
  step(`differential privacy: the same kind of table released with noise (rho ${DEMO_RHO} charged at each agency)`);
  return runPrivacyShowcase(coordinator, files);
}

/**
 * Step 6: the federated model, when every agency of the scenario serving its dataset takes part
 * (each city's bureau holds that city's districts: without one, its district levels have no rows).
 */
async function runModelSection(
  coordinator: Coordinator,
  paths: DemoPaths,
  manifest: ScenarioManifest,
  chosen: readonly ScenarioAgency[],
  step: Step,
): Promise<ModelShowcase | { skipped: string }> {
  const { dataset } = DEMO_MODEL_SPEC;
  const serving = manifest.agencies.filter((a) => a.datasets[dataset] !== undefined);
  const files = chosen.flatMap((a) => {
    const f = a.datasets[dataset];
    return f === undefined ? [] : [{ agency: a.id, file: dataFile(paths, f.file) }];
  });
  if (files.length < serving.length || files.length < coordinator.federation.policy.minAgencies)
    return { skipped: `needs all ${serving.length} agencies serving ${dataset}; run with more --agencies` };
  step(
    `federated model: a logistic regression of who is insured, trained across ${files.length} agencies (each Newton round an encrypted query), beside the ground truth`,
  );
  const { scenario } = await loadScenario(manifest.scenario);
  const first = files[0]?.agency ?? '';
  return runModelShowcase(coordinator, scenario.groundTruth.insured, {
    files,
    modelFile: join(paths.dir, 'model.json'),
    scoredFile: join(paths.dir, `${first}.${dataset}.scored.csv`),
  });
}

/**
 * Step 6b: a small MLP of the same model trained by federated averaging with record-level DP, its
 * ρ charged at each bureau against the budget every agency of the demo holds per dataset
 * (DEMO_BUDGET; the privacy section spends on residence_registrations, not on this dataset).
 */
async function runNetworkSection(
  coordinator: Coordinator,
  paths: DemoPaths,
  filesOf: FilesOf,
  model: ModelShowcase | { skipped: string },
  draw: CurveDrawer | undefined,
  step: Step,
): Promise<NetworkShowcase | { skipped: string }> {
  const { dataset, hidden = [] } = DEMO_NETWORK_SPEC;
  const files = filesOf(dataset);
  const least = coordinator.federation.policy.minAgencies;
  if (files.length < least) return { skipped: `needs ${least} agencies serving ${dataset}; run with more --agencies` };
  step(
    `federated neural network: an MLP (hidden ${hidden.join(',')}) of who is insured, by federated averaging across ${files.length} agencies with record-level DP (rho ${DEMO_NETWORK_RHO} charged at each)`,
  );
  return runNetworkShowcase(coordinator, {
    files,
    glm: 'skipped' in model ? null : model.result.model,
    curveFile: join(paths.dir, 'learning-curve.svg'),
    draw,
  });
}

/**
 * Step 6c: linked records across departments, when enough agencies serve each joined dataset. Runs
 * after the other sections so their budgets and numbers are as before; its DP query charges
 * DEMO_RHO at the public-security and the HR/social-security bureaus.
 */
async function runLinkageSection(
  coordinator: Coordinator,
  filesOf: FilesOf,
  step: Step,
): Promise<LinkageShowcase | { skipped: string }> {
  // One CSV file per agency in the demo.
  const agencyFiles = (dataset: string): string[][] => filesOf(dataset).map((f) => [f]);
  const skipped = linkageShowcaseSkip(coordinator.federation, agencyFiles);
  if (skipped !== null) return { skipped };
  step(
    'linked records (人-房-事-证): departments join on citizen ids by private set intersection, no id leaves its agency; checked against the plaintext join',
  );
  return runLinkageShowcase(coordinator, agencyFiles);
}

/** Step 7: the auditor's check of the transparency log, against the heads the agencies hold. */
async function auditTransparencyLog(
  paths: DemoPaths,
  federation: Federation,
  chosen: readonly ScenarioAgency[],
  step: Step,
): Promise<{ audit: AuditReport; agencyHeads: SignedTreeHead[] }> {
  step(
    'verifying the transparency log as an auditor would, against the heads the agencies hold (fedstat audit verify --since)',
  );
  // An agency that answered holds the head it was last shown: the log must extend every one of them.
  const agencyHeads = (
    await Promise.all(
      chosen.map((a) => {
        const file = witnessFile(paths, a.id);
        return existsSync(file) ? readTreeHeadFile(file) : Promise.resolve([]);
      }),
    )
  ).flat();
  const audit = await verifyAuditLog(paths.log, {
    federation,
    heads: await readTreeHeadFile(treeHeadFileFor(paths.log)),
    since: agencyHeads,
  });
  return { audit, agencyHeads };
}

function indicatorRows(showcase: Showcase, queries: readonly CheckedQuery[]): IndicatorRow[] | null {
  const ind = showcase.indicator;
  const [a, b] = queries;
  if (ind === undefined || a === undefined || b === undefined) return null;
  const denominators = new Map<string, ResultRow>(b.result.rows.map((r) => [String(r[ind.joinOn]), r]));
  return a.result.rows.flatMap((r) => {
    const key = String(r[ind.joinOn]);
    const num = r[ind.numerator];
    const den = denominators.get(key)?.[ind.denominator];
    if (typeof num !== 'bigint' || typeof den !== 'bigint' || den === 0n) return [];
    return [{ key, numerator: num, denominator: den, value: (Number(num) / Number(den)) * ind.scale }];
  });
}
