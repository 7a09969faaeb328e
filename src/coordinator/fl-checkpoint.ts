/**
 * A federated-averaging run's checkpoint: everything the coordinator needs to go on after a stop —
 * the global parameters (float64, base64: exact), the strategy's state (FedAdam's moments), the
 * step, the next round number, the learning curve and each round's log entries. The agencies
 * sampled at a step derive from the run's seed and the step, so they need no state of their own.
 */
import type { CurvePoint } from '../learn/fl/learning-curve.js';
import type { ModelRound } from '../learn/model-file.js';
import { isRecord } from '../util/is-record.js';
import { damagedCheckpoint, readCheckpoint, writeCheckpoint, type RunIdentity } from './checkpoint-file.js';
import type { FailedAgency } from './query-context.js';

const HEADER = { kind: 'fedstat/fl-checkpoint', format: 1 };

/** The run's state between rounds. */
export interface RunProgress {
  readonly runId: string;
  /** When the run began, ISO 8601. */
  readonly startedAt: string;
  /** The next round number to ask (never reused). */
  readonly nextRound: number;
  /** The round sent and not yet applied; null between rounds. */
  readonly inFlight: number | null;
  /** Rounds sent and never decoded. */
  readonly lost: readonly number[];
  /** Global updates applied. */
  readonly step: number;
  /** The global parameters (protocol/fl-round.ts encodeParameters). */
  readonly parameters: string;
  /** The strategy's state (plain JSON). */
  readonly strategyState: unknown;
  /** Whether the final evaluation round is done. */
  readonly evaluated: boolean;
  /** The secure-aggregation threshold of the last decoded round (null before one). */
  readonly threshold: number | null;
  readonly curve: readonly CurvePoint[];
  readonly rounds: readonly ModelRound[];
  readonly failed: readonly FailedAgency[];
}

/** Writes the checkpoint atomically, mode 0600. */
export async function saveRunProgress(file: string, identity: RunIdentity, p: RunProgress): Promise<void> {
  await writeCheckpoint(file, HEADER, identity, p);
}

/** Reads a checkpoint of this run; CONFIG_INVALID naming the fix when it is missing, damaged or another run's. */
export async function loadRunProgress(file: string, identity: RunIdentity): Promise<RunProgress> {
  const doc = await readCheckpoint(file, HEADER, identity, {
    noun: 'run',
    fields: 'dataset, formula, model, hyper-parameters, strategy, rounds or ρ',
  });
  const p = doc as unknown as RunProgress;
  const whole = (v: unknown, min: number): boolean => Number.isSafeInteger(v) && (v as number) >= min;
  if (
    typeof p.runId !== 'string' ||
    !/^[0-9a-f]{32}$/.test(p.runId) ||
    typeof p.startedAt !== 'string' ||
    !whole(p.nextRound, 1) ||
    !(p.inFlight === null || whole(p.inFlight, 1)) ||
    !whole(p.step, 0) ||
    typeof p.parameters !== 'string' ||
    typeof p.evaluated !== 'boolean' ||
    !(p.threshold === null || whole(p.threshold, 1)) ||
    !isRecord(p.strategyState) ||
    ![p.lost, p.curve, p.rounds, p.failed].every(Array.isArray)
  )
    throw damagedCheckpoint(file, 'its fields are malformed');
  // Only the progress: the header and the identity stay in the file.
  const { kind: _kind, format: _format, federation: _federation, spec: _spec, ...progress } = doc;
  return progress as unknown as RunProgress;
}
