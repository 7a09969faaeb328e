/**
 * The demo's federated-model section: a logistic model of who is insured, fitted across the
 * HR/social-insurance bureaus with `Coordinator.train` (every Newton round a signed, logged,
 * masked and encrypted query whose total sums alone are decrypted), shown beside the ground truth
 * the seed generator drew the labels from (scenario.json `groundTruth.insured`), then used by one
 * bureau to score its own file locally, as `fedstat predict` does.
 *
 * The check is deterministic: the federated table must equal a fit of the pooled seed files in this
 * process (`fitPooled`, the same Newton rounds on sums computed here) to 1e-6 relative, as the
 * statistics must equal their plaintext. How many 95 % intervals hold the truth is reported, not
 * asserted: about 1 in 20 may miss (test/learn/recovery.test.ts checks the rate over many seeds).
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { TrainResult, TrainSpec } from '../coordinator/train-types.js';
import { datasetSchemaOf } from '../federation/federation.js';
import { codeModel } from '../learn/design.js';
import { parseFormula } from '../learn/formula.js';
import type { GlmTable } from '../learn/inference.js';
import { modelText, parseModelDocument } from '../learn/model-file.js';
import { fitPooled } from '../learn/pooled-fit.js';
import { csvRecord } from '../seed/csv-writer.js';
import { insuredTruthByTerm } from '../seed/ground-truth.js';
import type { InsuredModel } from '../seed/scenario.js';
import { scoreCsvFile, type ScoreSummary } from '../store/score-csv.js';
import { readTypedRows, type TypedRow } from './reference.js';

export const DEMO_MODEL_SPEC: TrainSpec = {
  dataset: 'social_insurance',
  family: 'binomial',
  formula: "insured == '是' ~ age + sex + sector + district + monthly_income + months_resident",
};
/** The most a federated estimate or standard error may differ from the pooled fit's, relatively. */
const RELATIVE = 1e-6;
/** Scored rows the demo keeps to show (the rest are in the output file). */
const PREVIEW_ROWS = 5;

/** One coefficient beside the ground truth. */
export interface TruthRow {
  readonly term: string;
  readonly estimate: number;
  readonly ci95: readonly [number, number];
  /** The coefficient the labels were drawn with (null for a term the truth does not name). */
  readonly truth: number | null;
  readonly inside: boolean | null;
}

/** One agency scoring its own file with the model, on its own machine. */
export interface PredictionShowcase {
  readonly agency: string;
  readonly file: string;
  /** The scored rows: the file's columns, then eta and fitted. */
  readonly out: string;
  readonly summary: ScoreSummary;
  /** The header and the first rows written to `out`. */
  readonly preview: readonly (readonly string[])[];
  /** Rows of the file whose insured is 是, beside the sum of their fitted probabilities. */
  readonly observed: number;
  readonly expected: number;
}

export interface ModelShowcase {
  readonly spec: TrainSpec;
  readonly result: TrainResult;
  readonly rows: readonly TruthRow[];
  /** Intervals that hold the truth, of those with a truth. */
  readonly covered: number;
  readonly withTruth: number;
  /** Null when the federated table equals the pooled fit to 1e-6 relative, else the first difference. */
  readonly mismatch: string | null;
  readonly trainMs: number;
  /** MODEL.json as `fedstat train --out` writes it. */
  readonly modelFile: string;
  readonly prediction: PredictionShowcase;
}

/** Where the section reads and writes: the dataset's files (the first one is scored) and the output files. */
export interface ModelShowcaseFiles {
  readonly files: readonly { readonly agency: string; readonly file: string }[];
  readonly modelFile: string;
  readonly scoredFile: string;
}

/** Fits the section's model to the pooled seed files in this process. */
async function pooledTable(coordinator: Coordinator, files: readonly string[]): Promise<GlmTable> {
  const schema = datasetSchemaOf(coordinator.federation, DEMO_MODEL_SPEC.dataset);
  const { dataset, family, formula } = DEMO_MODEL_SPEC;
  const coding = codeModel(parseFormula(formula, schema, dataset), schema, family, dataset);
  const rows: TypedRow[] = [];
  for await (const row of readTypedRows(schema, files)) rows.push(row);
  return fitPooled(rows, coding).table;
}

const near = (a: number, e: number, scale: number): boolean => Math.abs(a - e) <= RELATIVE * scale;

/**
 * Null when `federated` equals `pooled`: the same terms and n, each estimate within 1e-6 of
 * max(|estimate|, its standard error) (an estimate near 0 is compared on its own error's scale),
 * each standard error and the deviance within 1e-6 relative.
 */
export function comparePooled(federated: GlmTable, pooled: GlmTable): string | null {
  if (federated.n !== pooled.n) return `n ${federated.n}, pooled ${pooled.n}`;
  const names = federated.terms.map((t) => t.term).join(', ');
  if (names !== pooled.terms.map((t) => t.term).join(', ')) return `terms ${names} differ from the pooled fit's`;
  for (const [j, f] of federated.terms.entries()) {
    const p = pooled.terms[j];
    if (p === undefined) continue;
    if (!near(f.estimate, p.estimate, Math.max(Math.abs(p.estimate), p.stderr)))
      return `${f.term}: estimate ${f.estimate}, pooled ${p.estimate}`;
    if (!near(f.stderr, p.stderr, p.stderr)) return `${f.term}: standard error ${f.stderr}, pooled ${p.stderr}`;
  }
  if (!near(federated.deviance, pooled.deviance, pooled.deviance))
    return `deviance ${federated.deviance}, pooled ${pooled.deviance}`;
  return null;
}

/** The table beside the truth. */
function truthRows(table: GlmTable, truth: ReadonlyMap<string, number>): TruthRow[] {
  return table.terms.map((t) => {
    const value = truth.get(t.term) ?? null;
    const inside = value === null ? null : t.ci95[0] <= value && value <= t.ci95[1];
    return { term: t.term, estimate: t.estimate, ci95: t.ci95, truth: value, inside };
  });
}

/** Scores `file` with the model read back from `modelFile`, writing `out`; counts its insured rows. */
async function predictOne(modelFile: string, agency: string, file: string, out: string): Promise<PredictionShowcase> {
  const model = parseModelDocument(await readFile(modelFile, 'utf8'), modelFile);
  const output = await open(out, 'w');
  const preview: string[][] = [];
  let observed = 0;
  let expected = 0;
  let insured: number | null = null; // the column's index, once the header is written
  let summary: ScoreSummary;
  try {
    summary = await scoreCsvFile(model, file, {
      write: async (rows) => {
        for (const r of rows) {
          if (insured === null) insured = r.indexOf('insured');
          else {
            if (r[insured] === '是') observed++;
            expected += Number(r.at(-1));
          }
          if (preview.length <= PREVIEW_ROWS) preview.push([...r]);
        }
        await output.write(rows.map((r) => `${csvRecord(r)}\n`).join(''));
      },
    });
  } finally {
    await output.close();
  }
  return { agency, file, out, summary, preview, observed, expected };
}

/** Runs the section (see the file comment) over the agencies serving the model's dataset. */
export async function runModelShowcase(
  coordinator: Coordinator,
  truth: InsuredModel,
  where: ModelShowcaseFiles,
): Promise<ModelShowcase> {
  const t0 = performance.now();
  const result = await coordinator.train(DEMO_MODEL_SPEC);
  const trainMs = performance.now() - t0;
  const pooled = await pooledTable(
    coordinator,
    where.files.map((f) => f.file),
  );
  const mismatch = comparePooled(result.model, pooled);
  const rows = truthRows(result.model, insuredTruthByTerm(truth));
  const withTruth = rows.filter((r) => r.inside !== null);
  await writeFile(where.modelFile, modelText(result.model), { mode: 0o644 });
  const first = where.files[0];
  if (first === undefined) throw new RangeError('runModelShowcase: no file to score');
  const prediction = await predictOne(where.modelFile, first.agency, first.file, where.scoredFile);
  return {
    spec: DEMO_MODEL_SPEC,
    result,
    rows,
    covered: withTruth.filter((r) => r.inside === true).length,
    withTruth: withTruth.length,
    mismatch,
    trainMs,
    modelFile: where.modelFile,
    prediction,
  };
}
