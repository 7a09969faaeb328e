/**
 * What a training run (a GLM fit, train.ts; federated averaging, fedavg.ts) does around each of
 * its rounds: number it, checkpoint it as in flight before it is sent, ask it, and when it fails,
 * count it lost (it was sent: its number is never asked again, and with DP its budget is spent) or
 * give its number back (refused before it was sent), then ask again after a pause, up to the
 * retries allowed; split a run's ρ over its announced rounds.
 */
import { rational, type Rational } from '../dp/rational.js';
import { FedstatError, isFedstatError } from '../errors.js';
import { queryRho } from '../protocol/privacy-terms.js';
import type { FailedAgency } from './query-context.js';

/** Times a failed round is asked again unless told. */
export const DEFAULT_RETRIES = 2;
/** Codes of a round that may succeed when asked again (an agency or the network came back). */
const RETRYABLE: ReadonlySet<string> = new Set([
  'UNAVAILABLE',
  'POLICY_REFUSED',
  'BAD_MESSAGE',
  'REPLAY',
  'STALE_HEAD',
  'IO',
]);

/** The round bookkeeping every run's progress carries. */
export interface RoundBookkeeping {
  /** The next round number to ask (never reused once sent). */
  readonly nextRound: number;
  /** The round sent and not yet consumed; null between rounds. */
  readonly inFlight: number | null;
  /** Rounds sent and never decoded. */
  readonly lost: readonly number[];
}

/** How a run retries and says it stopped. */
export interface RetryPolicy<P> {
  readonly retries: number;
  /** True when the run has no round number left to ask (a DP run's announced rounds). */
  readonly outOfRounds: (p: P) => boolean;
  /** The checkpoint file, named in the error that stops the run. */
  readonly checkpoint: string | undefined;
  /** "fit" or "run", in that error. */
  readonly what: string;
}

/** A checkpoint's progress, its round in flight (if any) counted as lost. */
function withInFlightLost<P extends RoundBookkeeping>(p: P): P {
  return p.inFlight === null ? p : { ...p, inFlight: null, lost: [...p.lost, p.inFlight] };
}

/** Where a run keeps its progress, and how it reads and writes it there. */
export interface ProgressStore<P> {
  readonly checkpoint: string | undefined;
  readonly resume: boolean;
  /** "fit" or "run", in the refusal of `resume` without a checkpoint. */
  readonly noun: string;
  readonly load: (file: string) => Promise<P>;
  readonly write: (file: string, p: P) => Promise<void>;
}

/**
 * The run's first progress, saved: resumed from its checkpoint (the round in flight counted lost)
 * or `fresh`; and the save every later state goes through (a no-op without a checkpoint).
 */
export async function startProgress<P extends RoundBookkeeping>(
  store: ProgressStore<P>,
  fresh: () => P,
): Promise<{ progress: P; save: (p: P) => Promise<P> }> {
  const { checkpoint } = store;
  if (store.resume && checkpoint === undefined)
    throw new FedstatError(
      'CONFIG_INVALID',
      `resume needs the checkpoint file of the ${store.noun} (--checkpoint FILE)`,
    );
  const save = async (p: P): Promise<P> => {
    if (checkpoint !== undefined) await store.write(checkpoint, p);
    return p;
  };
  const first = store.resume && checkpoint !== undefined ? withInFlightLost(await store.load(checkpoint)) : fresh();
  return { progress: await save(first), save };
}

/**
 * Asks one round (`ask`, retried as the file comment says) and applies it (`consume`, not retried:
 * what a run makes of a decoded round is final). `save` checkpoints each state.
 */
export async function roundWithRetries<P extends RoundBookkeeping, D>(
  start: P,
  policy: RetryPolicy<P>,
  save: (p: P) => Promise<P>,
  ask: (p: P, round: number, onSent: () => void) => Promise<D>,
  consume: (p: P, round: number, done: D) => P,
): Promise<P> {
  let p = start;
  for (let attempt = 0; ; attempt++) {
    const round = p.nextRound;
    p = await save({ ...p, nextRound: round + 1, inFlight: round });
    let sent = false;
    let done: D;
    try {
      done = await ask(p, round, () => (sent = true));
    } catch (e) {
      // A round refused before it was logged and sent (the preflight) spent nothing: its number is asked again.
      p = await save(
        sent ? { ...p, inFlight: null, lost: [...p.lost, round] } : { ...p, inFlight: null, nextRound: round },
      );
      if (!isFedstatError(e) || !RETRYABLE.has(e.code) || attempt >= policy.retries || policy.outOfRounds(p))
        throw stopped(e, round, policy);
      await new Promise((r) => setTimeout(r, Math.min(5_000, 500 * 2 ** attempt)));
      continue;
    }
    return consume(p, round, done);
  }
}

/** The error that stops training when a round could not be had, saying where the run stands and how to go on. */
function stopped<P>(e: unknown, round: number, policy: RetryPolicy<P>): unknown {
  if (!isFedstatError(e) || !RETRYABLE.has(e.code)) return e;
  const how =
    policy.checkpoint === undefined
      ? `give a checkpoint file (--checkpoint FILE) to be able to resume a stopped ${policy.what}`
      : `the ${policy.what} is saved in its checkpoint ${policy.checkpoint}, and resumes from it (--resume; resume: true in the library)`;
  return new FedstatError(e.code, `training stopped in round ${round}: ${e.message}; ${how}`, {
    details: { ...e.details, round },
    cause: e,
  });
}

/** Every agency that failed some round, once, with its latest reason. */
export function mergeFailed(before: readonly FailedAgency[], now: readonly FailedAgency[]): FailedAgency[] {
  const byId = new Map(before.map((f) => [f.id, f]));
  for (const f of now) byId.set(f.id, f);
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** ρ per round: `rho` over `rounds`, rounded down to ρ's grid, so a run never spends more than given. */
export function rhoPerRound(rho: string | Rational, rounds: number): Rational {
  const total = queryRho(rho);
  const grid = 10n ** 12n;
  const perRound = (total.num * grid) / (total.den * BigInt(rounds));
  if (perRound === 0n)
    throw new FedstatError('QUERY_INVALID', `ρ is too small to split over ${rounds} rounds; give a larger --rho`);
  return queryRho(rational(perRound, grid));
}
