/**
 * A fit's checkpoint: everything `Coordinator.train` needs to go on after the coordinator stopped
 * at any point. It is rewritten atomically (util/durable-file.ts, mode 0600) before each round is
 * sent, naming the round in flight, and after each round is decoded. A resumed fit counts the
 * round that was in flight as lost (its number is never asked again: in a DP fit the agencies that
 * answered it have spent its budget) and goes on from the last decoded state; Newton's state and
 * the sums are plain JSON numbers, which round-trip exactly, so an exact fit resumes bit-identically.
 */
import { readFile } from 'node:fs/promises';
import { FedstatError, describeError } from '../errors.js';
import type { GlmSums } from '../learn/sums.js';
import { canonicalJson } from '../util/canonical-json.js';
import { replaceFile } from '../util/durable-file.js';
import { isRecord } from '../util/is-record.js';
import type { FailedAgency } from './query-context.js';
import type { TrainRound } from './train-types.js';

const KIND = 'fedstat/train-checkpoint';
const FORMAT = 1;

/** What must be equal for a checkpoint to belong to a fit: the federation and the spec, as normalised by train.ts. */
export interface FitIdentity {
  readonly federation: string;
  /** The spec with every default filled in and ρ in canonical form (JSON). */
  readonly spec: unknown;
}

/** The fit's state between rounds. `state` is newton.ts' or dp-newton.ts' state. */
export interface FitProgress {
  readonly fitId: string;
  /** When the fit began, ISO 8601. */
  readonly startedAt: string;
  /** The next round number to ask (never reused). */
  readonly nextRound: number;
  /** The round sent and not yet decoded; null between rounds. */
  readonly inFlight: number | null;
  /** Rounds sent and never decoded (lost to a stop or a failure). */
  readonly lost: readonly number[];
  readonly state: unknown;
  /** The sums of the last decoded round (at the state's β when the fit is done). */
  readonly lastSums: GlmSums | null;
  /** The β and threshold of the last decoded round (a DP fit's table re-derives that round's noise from them). */
  readonly lastRound: {
    readonly beta: readonly number[];
    readonly threshold: number;
    /** Agencies whose noise the round's total carries. */
    readonly contributors: number;
  } | null;
  /** The agencies the current Newton run covers (a change starts it over). */
  readonly agencies: readonly string[] | null;
  readonly rounds: readonly TrainRound[];
  readonly failed: readonly FailedAgency[];
}

interface SumsJson {
  readonly n: number;
  readonly gradient: readonly number[];
  readonly information: readonly number[];
  readonly deviance: number;
  readonly saturated: number;
}

function sumsToJson(s: GlmSums): SumsJson {
  return { ...s, gradient: Array.from(s.gradient), information: Array.from(s.information) };
}

function sumsFromJson(raw: unknown, file: string): GlmSums {
  const s = raw as Partial<SumsJson> | null;
  const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');
  if (
    !isRecord(s) ||
    !numbers(s.gradient) ||
    !numbers(s.information) ||
    ![s.n, s.deviance, s.saturated].every((x) => typeof x === 'number')
  )
    throw damaged(file, 'its sums are malformed');
  return {
    n: s.n as number,
    gradient: Float64Array.from(s.gradient),
    information: Float64Array.from(s.information),
    deviance: s.deviance as number,
    saturated: s.saturated as number,
  };
}

function damaged(file: string, why: string): FedstatError {
  return new FedstatError(
    'CONFIG_INVALID',
    `checkpoint ${file} cannot be resumed: ${why}; train again without --resume (and another --checkpoint file)`,
  );
}

/** Writes the checkpoint atomically, mode 0600. */
export async function saveCheckpoint(file: string, identity: FitIdentity, progress: FitProgress): Promise<void> {
  const doc = {
    kind: KIND,
    format: FORMAT,
    ...identity,
    ...progress,
    lastSums: progress.lastSums === null ? null : sumsToJson(progress.lastSums),
  };
  try {
    await replaceFile(file, `${JSON.stringify(doc)}\n`);
  } catch (e) {
    throw new FedstatError('IO', `cannot write checkpoint ${file}: ${describeError(e)}; check the directory`, {
      cause: e,
    });
  }
}

/** Reads a checkpoint of this fit; CONFIG_INVALID naming the fix when it is missing, damaged or another fit's. */
export async function loadCheckpoint(file: string, identity: FitIdentity): Promise<FitProgress> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new FedstatError(
      'CONFIG_INVALID',
      `cannot read checkpoint ${file} (${describeError(e)}); give the file an earlier run wrote, or train without --resume`,
      { cause: e },
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw damaged(file, 'it is not JSON (truncated or edited?)');
  }
  if (!isRecord(doc) || doc['kind'] !== KIND || doc['format'] !== FORMAT)
    throw damaged(file, 'it is not a fedstat training checkpoint of this version');
  if (doc['federation'] !== identity.federation) throw damaged(file, 'it was made in another federation');
  if (canonicalJson(doc['spec']) !== canonicalJson(identity.spec))
    throw new FedstatError(
      'CONFIG_INVALID',
      `checkpoint ${file} is of another fit (dataset, family, formula, WHERE, ridge, tolerance, rounds or ρ differ); resume with the same options it was started with`,
    );
  const p = doc as unknown as FitProgress & { lastSums: unknown };
  const integer = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 1;
  if (
    typeof p.fitId !== 'string' ||
    !/^[0-9a-f]{32}$/.test(p.fitId) ||
    typeof p.startedAt !== 'string' ||
    !integer(p.nextRound) ||
    !(p.inFlight === null || integer(p.inFlight)) ||
    !Array.isArray(p.lost) ||
    !Array.isArray(p.rounds) ||
    !Array.isArray(p.failed) ||
    !isRecord(p.state)
  )
    throw damaged(file, 'its fields are malformed');
  return { ...p, lastSums: p.lastSums === null ? null : sumsFromJson(p.lastSums, file) };
}
