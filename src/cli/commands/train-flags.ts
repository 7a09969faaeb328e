/**
 * The flags of `fedstat train`, checked before anyone is contacted, so a typo costs no round and
 * no budget: each error names the flag and what to write instead.
 */
import { DEFAULT_DP_ROUNDS } from '../../coordinator/train.js';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TrainOptions, TrainSpec } from '../../coordinator/train-types.js';
import { FedstatError } from '../../errors.js';
import type { FamilyName } from '../../learn/family.js';
import { parseQueryRho } from '../../protocol/privacy-terms.js';
import { closest } from '../../util/closest-name.js';

const FAMILIES: readonly FamilyName[] = ['binomial', 'gaussian', 'poisson'];
/** Names statisticians use for the same models, mapped to fedstat's family. */
const FAMILY_ALIASES: Readonly<Record<string, FamilyName>> = {
  logistic: 'binomial',
  logit: 'binomial',
  normal: 'gaussian',
  linear: 'gaussian',
  ols: 'gaussian',
  log: 'poisson',
  loglinear: 'poisson',
  'log-linear': 'poisson',
  count: 'poisson',
};

/** The options commander parses for `fedstat train`. */
export interface TrainCliOptions {
  federation: string;
  dataset: string;
  family?: string;
  formula: string;
  where?: string;
  ridge?: string;
  rho?: string;
  dpRounds?: number;
  maxRounds?: number;
  tolerance?: string;
  checkpoint?: string;
  resume?: boolean;
  allowDropouts?: boolean;
  retries?: number;
  out?: string;
  json?: boolean;
  key?: string;
  keyAuthorityKey?: string;
  deadline: number;
  threshold?: number;
  insecure?: boolean;
  auditLog?: string;
  transparencyLog?: string;
}

function flagError(message: string, details: Record<string, unknown> = {}): FedstatError {
  return new FedstatError('CONFIG_INVALID', message, { details });
}

function parseFamily(text: string): FamilyName {
  const name = text.trim().toLowerCase();
  const known = FAMILIES.find((f) => f === name);
  if (known !== undefined) return known;
  const alias = FAMILY_ALIASES[name];
  const [near] = closest(name, FAMILIES);
  const fix =
    alias !== undefined
      ? `for that model write --family ${alias}`
      : near !== undefined
        ? `did you mean --family ${near}?`
        : `use one of ${FAMILIES.join(', ')}`;
  throw flagError(`--family ${JSON.stringify(text)} is not a family fedstat fits; ${fix}`, { valid: FAMILIES });
}

/** A decimal flag value (`0.1`, `1e-8`) within its range. */
function parseDecimalFlag(name: string, text: string, positive: boolean, below?: number): number {
  const x = /^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NaN;
  const range = `${positive ? 'above 0' : 'at least 0'}${below === undefined ? '' : ` and below ${below}`}`;
  if (!Number.isFinite(x) || (positive ? x <= 0 : x < 0) || (below !== undefined && x >= below))
    throw flagError(`${name} must be a decimal number ${range}; got ${JSON.stringify(text)}`, { name });
  return x;
}

/** Refuses an output path whose folder does not exist: found before the fit, not after it. */
function checkFolder(flag: string, file: string): void {
  const folder = dirname(resolve(file));
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw flagError(`${flag} ${file}: the folder ${folder} does not exist; create it or write the file elsewhere`);
}

/** The checks between flags (each names the flag and what to do instead). */
function checkCombinations(opts: TrainCliOptions): void {
  if (opts.rho !== undefined && opts.tolerance !== undefined)
    throw flagError(
      `--tolerance does not apply with --rho: a differentially private fit runs exactly --dp-rounds rounds (default ${DEFAULT_DP_ROUNDS}) so that its spend does not depend on the data; leave out --tolerance`,
    );
  if (opts.rho !== undefined && opts.maxRounds !== undefined)
    throw flagError(
      '--max-rounds does not apply with --rho: a differentially private fit runs a fixed number of rounds; set it with --dp-rounds N',
    );
  if (opts.rho === undefined && opts.dpRounds !== undefined)
    throw flagError(
      '--dp-rounds sets the rounds of a differentially private fit; add --rho RHO, or leave --dp-rounds out (an exact fit stops at --tolerance or --max-rounds)',
    );
  if (opts.resume === true && opts.checkpoint === undefined)
    throw flagError('--resume continues the fit saved in a checkpoint; add --checkpoint FILE (the file of the fit)');
  if (opts.checkpoint !== undefined) {
    checkFolder('--checkpoint', opts.checkpoint);
    const exists = existsSync(opts.checkpoint);
    if (opts.resume === true && !exists)
      throw flagError(
        `--resume: there is no checkpoint at ${opts.checkpoint}; check the path, or leave out --resume to start a new fit`,
      );
    if (opts.resume !== true && exists)
      throw flagError(
        `--checkpoint ${opts.checkpoint} already holds a fit; add --resume to continue it, or remove the file to start over`,
      );
  }
  if (opts.out !== undefined) {
    checkFolder('--out', opts.out);
    if (opts.checkpoint !== undefined && resolve(opts.out) === resolve(opts.checkpoint))
      throw flagError(`--out ${opts.out} is the checkpoint file; write the model to another file`);
  }
}

/** What the flags ask for, checked before anyone is contacted. */
export interface TrainRequest {
  readonly spec: TrainSpec;
  readonly options: Omit<TrainOptions, 'onRound' | 'onProgress'>;
}

/** Checks the flags (alone and together) and turns them into what `Coordinator.train` takes. */
export function trainRequest(opts: TrainCliOptions): TrainRequest {
  if (opts.family === undefined)
    throw flagError(
      '--family is required for a GLM: binomial, gaussian or poisson (or train by averaging with --model logistic|mlp)',
    );
  const family = parseFamily(opts.family);
  if (opts.formula.trim() === '')
    throw flagError('--formula is empty; write the model as R does, e.g. --formula "insured ~ age + sex"');
  checkCombinations(opts);
  const spec: TrainSpec = {
    dataset: opts.dataset,
    family,
    formula: opts.formula,
    ...(opts.where === undefined ? {} : { where: opts.where }),
    ...(opts.ridge === undefined ? {} : { ridge: parseDecimalFlag('--ridge', opts.ridge, false) }),
    ...(opts.tolerance === undefined ? {} : { tolerance: parseDecimalFlag('--tolerance', opts.tolerance, true, 1) }),
    ...(opts.maxRounds === undefined ? {} : { maxRounds: opts.maxRounds }),
  };
  const rho =
    opts.rho === undefined ? undefined : parseQueryRho(opts.rho, { name: '--rho', spell: (v) => `--rho ${v}` });
  const options: TrainRequest['options'] = {
    ...(rho === undefined
      ? {}
      : { privacy: { rho, ...(opts.dpRounds === undefined ? {} : { rounds: opts.dpRounds }) } }),
    ...(opts.checkpoint === undefined ? {} : { checkpoint: opts.checkpoint }),
    resume: opts.resume === true,
    allowDropouts: opts.allowDropouts === true,
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    ...(opts.threshold === undefined ? {} : { threshold: opts.threshold }),
    deadlineMs: opts.deadline,
  };
  return { spec, options };
}
