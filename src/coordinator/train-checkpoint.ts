/**
 * A fit's checkpoint: everything `Coordinator.train` needs to go on after the coordinator stopped
 * at any point. It is rewritten atomically (util/durable-file.ts, mode 0600) before each round is
 * sent, naming the round in flight, and after each round is decoded. A resumed fit counts the
 * round that was in flight as lost (its number is never asked again: in a DP fit the agencies that
 * answered it have spent its budget) and goes on from the last decoded state; Newton's state and
 * the sums are plain JSON numbers, which round-trip exactly, so an exact fit resumes bit-identically.
 */
import type { GlmSums } from '../learn/sums.js';
import { damagedCheckpoint, readCheckpoint, writeCheckpoint, type RunIdentity } from './checkpoint-file.js';
import { isRecord } from '../util/is-record.js';
import type { FailedAgency } from './query-context.js';
import type { TrainRound } from './train-types.js';

const HEADER = { kind: 'fedstat/train-checkpoint', format: 1 };

/** What must be equal for a checkpoint to belong to a fit: the federation and the spec, as normalised by train.ts. */
export type FitIdentity = RunIdentity;

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
    throw damagedCheckpoint(file, 'its sums are malformed');
  return {
    n: s.n as number,
    gradient: Float64Array.from(s.gradient),
    information: Float64Array.from(s.information),
    deviance: s.deviance as number,
    saturated: s.saturated as number,
  };
}

/** Writes the checkpoint atomically, mode 0600. */
export async function saveCheckpoint(file: string, identity: FitIdentity, progress: FitProgress): Promise<void> {
  const lastSums = progress.lastSums === null ? null : sumsToJson(progress.lastSums);
  await writeCheckpoint(file, HEADER, identity, { ...progress, lastSums });
}

/** Reads a checkpoint of this fit; CONFIG_INVALID naming the fix when it is missing, damaged or another fit's. */
export async function loadCheckpoint(file: string, identity: FitIdentity): Promise<FitProgress> {
  const doc = await readCheckpoint(file, HEADER, identity, {
    noun: 'fit',
    fields: 'dataset, family, formula, WHERE, ridge, tolerance, rounds or ρ',
  });
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
    throw damagedCheckpoint(file, 'its fields are malformed');
  return { ...p, lastSums: p.lastSums === null ? null : sumsFromJson(p.lastSums, file) };
}
