/**
 * `fedstat predict`: scores an agency's own CSV file with a trained model (MODEL.json: a GLM's or
 * a federated network's, learn/trained-model.ts), locally: nothing leaves the machine. The file is validated as `agency serve` validates a load (the store's
 * CSV staging into an in-memory DuckDB, which refuses the first invalid row naming its line and
 * column), then read back in file order and scored (learn/score.ts); store/score-csv.ts does both,
 * and this command reads the model, writes the rows and reports. The output is the file's columns,
 * as validated, plus `eta` and `fitted`.
 *
 * The schema is the one embedded in the model; with --federation, the federation's, after checking
 * that the model was trained in that federation on that schema. The columns the model reads must
 * be in the file; the other columns of the dataset (the response among them) may be left out, and
 * those present are validated too.
 */
import { describeModel } from '../../learn/fl/trainer-registry.js';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { describeError, FedstatError } from '../../errors.js';
import { loadFederation } from '../../federation/federation.js';
import type { NetworkDocument } from '../../learn/fl/network-file.js';
import type { ModelDocument } from '../../learn/model-file.js';
import { isNetworkDocument, parseTrainedModel, type TrainedModel } from '../../learn/trained-model.js';
import { csvRecord } from '../../seed/csv-writer.js';
import { scoreCsvFile, type ScoreSummary } from '../../store/score-csv.js';
import { toJson } from '../json.js';
import { progressBar, type Progress } from '../progress.js';
import { action } from '../run.js';
import { formatInteger } from '../table.js';

interface PredictCliOptions {
  model: string;
  dataset: string;
  federation?: string;
  out?: string;
  json?: boolean;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description(
      'score a CSV file with a trained model (MODEL.json), locally: validates the file against the schema and writes its rows with eta and fitted',
    )
    .requiredOption('--model <file>', 'MODEL.json: a fitted model (its format: docs/cli.md, fedstat predict)')
    .requiredOption('--dataset <name=file.csv>', "the model's dataset and the CSV file of records to score")
    .option(
      '--federation <file>',
      'federation.json: check that the model was trained in it and validate against its schema (default: the schema in the model)',
    )
    .option('--out <file>', 'write the scored rows to this CSV file (default: standard output)')
    .option('--json', 'print a JSON summary (needs --out)')
    .action(action(async (opts: PredictCliOptions) => runPredict(opts)));
}

/** `NAME=FILE.csv`. */
function parseDatasetSpec(spec: string): { name: string; file: string } {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1)
    throw new FedstatError('CONFIG_INVALID', `--dataset ${spec}: expected NAME=FILE.csv, e.g. workers=workers.csv`);
  return { name: spec.slice(0, eq), file: spec.slice(eq + 1) };
}

async function readModel(file: string, federationFile: string | undefined): Promise<TrainedModel> {
  const federation = federationFile === undefined ? undefined : loadFederation(federationFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new FedstatError(
      'IO',
      `cannot read model file ${file}: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}; check the path, or train a model with fedstat train`,
      { cause: e, details: { file } },
    );
  }
  return parseTrainedModel(text, file, federation === undefined ? {} : { federation });
}

/** Where the scored rows go: a file written beside its final name and renamed at the end, or stdout. */
interface Sink {
  write(text: string): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

function stdoutSink(): Sink {
  return {
    write: async (text) => {
      if (!process.stdout.write(text)) await once(process.stdout, 'drain');
    },
    close: () => Promise.resolve(),
    abort: () => Promise.resolve(),
  };
}

function fileSink(out: string): Sink {
  const partial = `${out}.partial-${process.pid}`;
  const stream: WriteStream = createWriteStream(partial, { flags: 'wx' });
  let failure: unknown = null;
  stream.on('error', (e) => {
    failure ??= e;
  });
  const ioError = (e: unknown): FedstatError =>
    new FedstatError(
      'IO',
      `cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}; check the folder and its permissions`,
      { cause: e, details: { file: out } },
    );
  return {
    write: async (text) => {
      if (failure !== null) throw ioError(failure);
      if (!stream.write(text)) await once(stream, 'drain').catch((e: unknown) => Promise.reject(ioError(e)));
    },
    close: async () => {
      stream.end();
      await finished(stream).catch((e: unknown) => Promise.reject(ioError(e)));
      if (failure !== null) throw ioError(failure);
      await rename(partial, out).catch((e: unknown) => Promise.reject(ioError(e)));
    },
    abort: async () => {
      stream.destroy();
      await rm(partial, { force: true }).catch(() => undefined);
    },
  };
}

async function runPredict(opts: PredictCliOptions): Promise<void> {
  const json = opts.json === true;
  const { name, file } = parseDatasetSpec(opts.dataset);
  if (json && opts.out === undefined)
    throw new FedstatError(
      'CONFIG_INVALID',
      '--json prints a summary on standard output; give --out FILE.csv for the scored rows',
    );
  if (opts.out !== undefined && resolve(opts.out) === resolve(file))
    throw new FedstatError('CONFIG_INVALID', `--out ${opts.out} is the input file; write the scores to another file`);
  const model = await readModel(opts.model, opts.federation);
  if (name !== model.dataset) {
    throw new FedstatError(
      'NOT_FOUND',
      `unknown dataset ${JSON.stringify(name)} for this model: ${opts.model} scores ${model.dataset}; pass --dataset ${model.dataset}=FILE.csv`,
      { details: { dataset: name, valid: [model.dataset] } },
    );
  }
  const validating = progressBar('validating', { json });
  let scoring: Progress | null = null;
  // The output is opened at the first write: after the file validated.
  let sink: Sink | null = null;
  const out = (): Sink => (sink ??= opts.out === undefined ? stdoutSink() : fileSink(opts.out));
  let scored: ScoreSummary;
  try {
    scored = await scoreCsvFile(model, file, {
      write: (rows) => out().write(rows.map((r) => `${csvRecord(r)}\n`).join('')),
      onValidate: (n) => validating.update(n, undefined, file),
      onScore: (n, total) => {
        if (scoring === null) validating.done();
        scoring ??= progressBar('scoring', { json, total });
        scoring.update(n, total);
      },
    });
    (scoring as Progress | null)?.done();
    if (scoring === null) validating.done();
    await out().close();
  } catch (e) {
    await (sink as Sink | null)?.abort();
    throw e;
  }
  report(opts, model, file, scored, json);
}

/** The model as --json describes it. */
function modelSummary(file: string, model: TrainedModel): Record<string, unknown> {
  if (isNetworkDocument(model))
    return {
      file,
      kind: model.kind,
      federation: model.federation,
      dataset: model.dataset,
      family: model.family,
      formula: model.formula,
      network: model.model,
      strategy: model.strategy.name,
      rounds: model.rounds.length,
      privacy: model.privacy,
      createdAt: model.createdAt,
    };
  return {
    file,
    federation: model.federation,
    dataset: model.dataset,
    family: model.family,
    link: model.link,
    formula: model.formula,
    coefficients: model.coding.coefficients,
    n: model.n,
    converged: model.converged,
    privacy: model.privacy,
    createdAt: model.createdAt,
  };
}

function privacyText(model: TrainedModel): string {
  return model.privacy === null ? 'exact' : `differentially private (rho ${model.privacy.rho})`;
}

/** The `model` and `trained` lines of the human summary. */
function modelLines(file: string, model: TrainedModel): string[][] {
  if (isNetworkDocument(model)) {
    const net: NetworkDocument = model;
    const hidden = describeModel(net.model);
    return [
      ['model', `${file} (network, ${hidden}, ${net.family}): ${net.formula}`],
      [
        'trained',
        `${formatInteger(net.rounds.length)} rounds of ${net.strategy.name} on ${net.dataset}, ${net.createdAt}, ${privacyText(net)}`,
      ],
    ];
  }
  const glm: ModelDocument = model;
  return [
    ['model', `${file} (${glm.family}, link ${glm.link}): ${glm.formula}`],
    [
      'trained',
      `${formatInteger(glm.n)} rows of ${glm.dataset}, ${glm.createdAt}, ${privacyText(glm)}${glm.converged ? '' : ', did not converge'}`,
    ],
  ];
}

function report(opts: PredictCliOptions, model: TrainedModel, file: string, s: ScoreSummary, json: boolean): void {
  const clampNote =
    s.clamped > 0 && model.coding.eta !== null
      ? `note: ${formatInteger(s.clamped)} rows have eta outside the model's range [${model.coding.eta.min}, ${model.coding.eta.max}]; their fitted value is the mean at the bound, as in the fit`
      : null;
  if (json) {
    const summary = {
      model: modelSummary(opts.model, model),
      rows: s.rows,
      out: opts.out ?? null,
      clamped: s.clamped,
      fitted: s.fitted,
    };
    process.stdout.write(`${toJson(summary)}\n`);
    return;
  }
  // Without --out the scores are on stdout: the summary goes to a terminal's stderr only.
  const stream = opts.out === undefined ? process.stderr : process.stdout;
  if (opts.out === undefined && !process.stderr.isTTY) return;
  const f = s.fitted;
  const rows = [
    ...modelLines(opts.model, model),
    ['scored', `${formatInteger(s.rows)} rows of ${file}${opts.out === undefined ? '' : ` → ${opts.out}`}`],
    ...(f === null
      ? []
      : [['fitted', `mean ${f.mean.toPrecision(4)}, min ${f.min.toPrecision(4)}, max ${f.max.toPrecision(4)}`]]),
  ];
  const width = Math.max(...rows.map(([k]) => (k ?? '').length));
  stream.write(rows.map(([k, v]) => `${(k ?? '').padEnd(width)}  ${v ?? ''}\n`).join(''));
  if (clampNote !== null) stream.write(`${clampNote}\n`);
}
