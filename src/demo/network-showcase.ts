/**
 * The demo's neural-network section: a small MLP of who is insured (the GLM section's dataset and
 * formula) trained across the HR/social-insurance bureaus by federated averaging with record-level
 * differential privacy (`Coordinator.trainNetwork` with a ρ): every round a signed, logged query
 * that each bureau charges to its own ledger before it computes one DP-SGD step (per-record clipped
 * gradients with its share of Skellam noise), masked and encrypted, only the sum decrypted.
 *
 * The checks are deterministic: every bureau's ledger was charged exactly the ρ the run announced,
 * in as many charges as it announced rounds, and the learning curve has one point per announced
 * round, ε never falling and ending at the announced ε. The AUC is reported, not asserted (the
 * noise is drawn fresh from the OS CSPRNG on every run). Beside it, the exact GLM's AUC on the same
 * held-out records, binned as the rounds bin scores (demo only: computed here from the seed files).
 */
import { writeFile } from 'node:fs/promises';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { NetworkSpec, NetworkTrainResult } from '../coordinator/fl-train-types.js';
import { compare, sub } from '../dp/rational.js';
import { parseCanonicalRho } from '../dp/rho.js';
import { datasetSchemaOf } from '../federation/federation.js';
import type { DataRecord } from '../learn/design-row.js';
import { responseOf } from '../learn/design-row.js';
import { AUC_BINS } from '../learn/fl/fl-encoding.js';
import { modelColumns } from '../learn/fl/fl-model.js';
import type { CurvePoint } from '../learn/fl/learning-curve.js';
import { isHeldOut } from '../learn/fl/local-round.js';
import type { NetworkPrivacy } from '../learn/fl/network-file.js';
import { aucFromHistogram } from '../learn/fl/round-metrics.js';
import type { ModelDocument } from '../learn/model-file.js';
import { scoreRecord } from '../learn/score.js';
import type { ModelCoding } from '../learn/design.js';
import { DEMO_MODEL_SPEC } from './model-showcase.js';
import { readTypedRows } from './reference.js';

/**
 * FedAdam rather than FedAvg: a DP round is one full-batch DP-SGD step, and in 7 such steps FedAvg
 * barely moved the held-out AUC on the demo's 47k records (0.53 → 0.56 at lr 1, 0.54 at lr 0.3,
 * 0.62 at lr 3, its loss rising), while FedAdam's per-parameter steps reached 0.67 in 5 and 0.68 in
 * 7 (server lr 0.1; 0.2 was no better and its loss jumped; the exact GLM: 0.73). Six steps, not
 * more: a round cost ~1.6 s of CPU over the coordinator and the three bureaus (1 s of it at the
 * largest), so 6 + 1 rounds keep the section near 6 s on two idle cores.
 */
export const DEMO_NETWORK_SPEC: NetworkSpec = {
  dataset: DEMO_MODEL_SPEC.dataset,
  family: 'binomial',
  formula: DEMO_MODEL_SPEC.formula,
  hidden: [16],
  strategy: 'fedadam',
  serverLr: 0.1,
  rounds: 6,
  validation: 0.2,
  seed: 1,
};
/** ρ of the whole run at each bureau: 6 training rounds and the evaluation round, 0.05 each (ε ≈ 5.3 at δ 1e-9). */
export const DEMO_NETWORK_RHO = '0.35';

/** One bureau's ledger, as it reported it before and after the run. */
export interface LedgerCharge {
  readonly agency: string;
  /** ρ spent on the dataset, canonical `n/d`, before and after the run. */
  readonly before: string;
  readonly after: string;
  /** Charges the run added. */
  readonly charges: number;
}

export interface NetworkShowcase {
  readonly spec: NetworkSpec;
  readonly rho: string;
  readonly result: NetworkTrainResult;
  readonly privacy: NetworkPrivacy;
  readonly ledgers: readonly LedgerCharge[];
  /** The exact GLM's AUC on the run's held-out records (null without the GLM section's model). */
  readonly glmAuc: number | null;
  /** Where the learning curve was drawn (null when no drawer was given). */
  readonly curveFile: string | null;
  readonly trainMs: number;
  /** Each round's time, in curve order. */
  readonly roundMs: readonly number[];
  /** Null when the ledgers and the curve hold what the run announced, else the first difference. */
  readonly mismatch: string | null;
}

/** Draws a learning curve (the CLI's `learningCurveSvg`, handed in: the demo layer does not draw). */
export type CurveDrawer = (
  points: readonly CurvePoint[],
  options: { readonly title: string; readonly delta?: number | undefined },
) => string;

/** What the section reads and writes. */
export interface NetworkShowcaseFiles {
  /** The dataset's seed files, for the GLM's AUC on the held-out records. */
  readonly files: readonly string[];
  /** The GLM section's model (null: no GLM AUC beside the MLP's). */
  readonly glm: ModelDocument | null;
  readonly curveFile: string;
  readonly draw?: CurveDrawer | undefined;
}

type Budgets = Map<string, { spent: string; charges: number }>;

/** Every agency's budget for the dataset, as it reports it (fedstat budget). */
async function budgetsOf(coordinator: Coordinator, dataset: string): Promise<Budgets> {
  const { described } = await coordinator.discover();
  const out: Budgets = new Map();
  for (const d of described)
    for (const b of d.budgets) if (b.dataset === dataset) out.set(d.agencyId, { spent: b.spent, charges: b.charges });
  return out;
}

/** Null when every agency in `after` spent exactly `privacy.rho` in `privacy.rounds` charges, else why not. */
export function checkLedgers(ledgers: readonly LedgerCharge[], privacy: NetworkPrivacy): string | null {
  const announced = parseCanonicalRho(privacy.rho);
  if (announced === null) return `the run announced ρ ${privacy.rho}, not a canonical fraction`;
  if (ledgers.length === 0) return 'no agency reported a budget for the dataset';
  for (const l of ledgers) {
    const before = parseCanonicalRho(l.before);
    const after = parseCanonicalRho(l.after);
    if (before === null || after === null) return `${l.agency}: reported no spent ρ for the dataset`;
    if (compare(sub(after, before), announced) !== 0)
      return `${l.agency}: charged ${l.after} − ${l.before}, the run announced ${privacy.rho}`;
    if (l.charges !== privacy.rounds) return `${l.agency}: ${l.charges} charges, the run announced ${privacy.rounds}`;
  }
  return null;
}

/** Null when the curve has rounds 1..R of the announced R, ε never falls and ends at the announced ε. */
export function checkCurve(curve: readonly CurvePoint[], privacy: NetworkPrivacy): string | null {
  if (curve.length !== privacy.rounds)
    return `${curve.length} curve points, the run announced ${privacy.rounds} rounds`;
  let previous = 0;
  for (const [i, p] of curve.entries()) {
    if (p.round !== i + 1) return `point ${i + 1} is round ${p.round}`;
    if (p.epsilon === null) return `round ${p.round} has no ε`;
    if (p.epsilon < previous) return `ε fell in round ${p.round}: ${p.epsilon} after ${previous}`;
    previous = p.epsilon;
  }
  const last = curve.at(-1)?.epsilon ?? null;
  return last === privacy.epsilon ? null : `the curve ends at ε ${last}, the run announced ${privacy.epsilon}`;
}

/** The GLM's AUC on the records the run held out (its seed and fraction), scores binned as a round bins them. */
export async function heldOutAuc(
  glm: ModelDocument,
  coding: ModelCoding,
  spec: NetworkSpec,
  coordinator: Coordinator,
  files: readonly string[],
): Promise<number | null> {
  const schema = datasetSchemaOf(coordinator.federation, spec.dataset);
  const columns = modelColumns(coding);
  const positives = new Float64Array(AUC_BINS);
  const negatives = new Float64Array(AUC_BINS);
  for await (const row of readTypedRows(schema, files)) {
    // The record as an agency's store hands it to a round: the model's columns only.
    const record: DataRecord = Object.fromEntries(columns.map((c) => [c, row[c] ?? '']));
    if (!isHeldOut(record, String(spec.seed ?? 1), spec.validation ?? 0.2)) continue;
    const p = scoreRecord(glm, record).fitted;
    const bin = Math.min(AUC_BINS - 1, Math.max(0, Math.floor(p * AUC_BINS)));
    const counts = responseOf(coding, record) === 1 ? positives : negatives;
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  return aucFromHistogram(positives, negatives);
}

/** Runs the section (see the file comment) over the agencies serving the dataset. */
export async function runNetworkShowcase(
  coordinator: Coordinator,
  where: NetworkShowcaseFiles,
): Promise<NetworkShowcase> {
  const spec = DEMO_NETWORK_SPEC;
  const before = await budgetsOf(coordinator, spec.dataset);
  const t0 = performance.now();
  const roundMs: number[] = [];
  const result = await coordinator.trainNetwork(spec, {
    privacy: { rho: DEMO_NETWORK_RHO },
    onRound: (_, ms) => roundMs.push(ms),
  });
  const trainMs = performance.now() - t0;
  const after = await budgetsOf(coordinator, spec.dataset);
  const privacy = result.privacy;
  if (privacy === null) throw new RangeError('runNetworkShowcase: a DP run came back without its privacy');
  // Every agency that reports a budget, and every one that answered a round (one without a report fails the check).
  const agencies = new Set([...after.keys(), ...result.curve.flatMap((p) => p.agencies)]);
  const ledgers = [...agencies]
    .map((agency) => {
      const b = before.get(agency) ?? { spent: '0/1', charges: 0 };
      const a = after.get(agency) ?? { spent: 'unreported', charges: b.charges };
      return { agency, before: b.spent, after: a.spent, charges: a.charges - b.charges };
    })
    .sort((x, y) => x.agency.localeCompare(y.agency));
  const mismatch = checkLedgers(ledgers, privacy) ?? checkCurve(result.curve, privacy);
  const glmAuc =
    where.glm === null ? null : await heldOutAuc(where.glm, result.model.coding, spec, coordinator, where.files);
  let curveFile: string | null = null;
  if (where.draw !== undefined) {
    // The formula is in the printout; the SVG's 800 px title holds the short form.
    const title = `who is insured — MLP ${(spec.hidden ?? []).join(',')} by ${spec.strategy ?? 'fedavg'}, record-level DP at ρ ${DEMO_NETWORK_RHO}`;
    await writeFile(where.curveFile, where.draw(result.curve, { title, delta: privacy.delta }), { mode: 0o644 });
    curveFile = where.curveFile;
  }
  return { spec, rho: DEMO_NETWORK_RHO, result, privacy, ledgers, glmAuc, curveFile, trainMs, roundMs, mismatch };
}
