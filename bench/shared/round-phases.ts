/**
 * Where a training round's time goes, from the coordinator's own reports: `onProgress` marks when
 * the agencies are asked, when each answers, and when unmasking and decryption start; `onRound`
 * marks the end of the round with its length. A round then splits into: before asking (discovery
 * of the agencies' log heads, planning and signing, the query's log entry), gathering (until the
 * last agency's contribution is in and verified), and finishing (secure aggregation's second
 * round, the key authority's decryption, the release's log entries, decoding).
 */
import type { QueryProgress } from '../../src/coordinator/query-context.js';
import type { TrainRound } from '../../src/coordinator/train-types.js';

/** One round, split as the file comment says (ms). `unmaskMs` is 0 when there was no second round. */
export interface RoundPhases {
  readonly beforeAskMs: number;
  readonly gatherMs: number;
  readonly finishMs: number;
  readonly unmaskMs: number;
}

/** Callbacks for `Coordinator.train` and the phases of every round they saw, in order. */
export interface PhaseRecorder {
  readonly onProgress: (event: QueryProgress) => void;
  /** Takes a GLM round, or any round's length (a federated-averaging round reports only its ms). */
  readonly onRound: (round: Pick<TrainRound, 'ms'>) => void;
  readonly rounds: readonly RoundPhases[];
}

/** A recorder for one fit. */
export function recordPhases(): PhaseRecorder {
  const rounds: RoundPhases[] = [];
  let marks: { asked?: number; answered?: number; unmasking?: number; decrypting?: number } = {};
  return {
    rounds,
    onProgress(event) {
      const now = performance.now();
      if (event.phase === 'asked') marks = { asked: now };
      else if (event.phase === 'answered' || event.phase === 'failed') marks.answered = now;
      else marks[event.phase] = now;
    },
    onRound(round) {
      const end = performance.now();
      const start = end - round.ms;
      const asked = marks.asked ?? start;
      const answered = marks.answered ?? asked;
      const unmaskMs =
        marks.unmasking === undefined ? 0 : (marks.decrypting ?? end) - Math.max(marks.unmasking, answered);
      rounds.push({ beforeAskMs: asked - start, gatherMs: answered - asked, finishMs: end - answered, unmaskMs });
      marks = {};
    },
  };
}
