/**
 * The `fedavg` benchmark's scaling grid: one protected round (masks, BFV, the log; exact, since
 * the noise is the agencies' work and does not change the bytes) against the number of parameters
 * and of agencies, over the counted in-process federation (fedavg-federation.ts): the protobuf
 * bytes each agency sends and receives in the round (the plan with the global parameters down,
 * its ciphertexts up, and both ways in the unmasking round), the coordinator's own time (the
 * round's wall time less the agencies' work), and the round's wall time.
 *
 * A size the protocol refuses is reported with the refusal's code and message, never skipped.
 */
import { isFedstatError } from '../../src/errors.js';
import { FEDAVG_FORMULA, parameterCount, SHAPES, type SizeName } from './fedavg-shapes.js';
import { startCountedFederation, type CountedFederation } from './fedavg-federation.js';
import { median } from './stats.js';
import { DATASET } from './train-data.js';

/** One cell of the grid. */
export interface ScaleCell {
  readonly agencies: number;
  readonly size: SizeName;
  readonly parameters: number;
  readonly rows: number;
  /** Null when the round was refused (`refused` says why). */
  readonly measured: {
    readonly roundMs: number;
    readonly coordinatorMs: number;
    readonly agencyMs: number;
    readonly bytesUpPerAgency: number;
    readonly bytesDownPerAgency: number;
  } | null;
  readonly refused: { readonly code: string; readonly message: string } | null;
}

interface RoundSample {
  ms: number;
  agencyMs: number;
  up: number;
  down: number;
  answered: number;
}

/** `rounds` training rounds of the size's MLP; every round's sample (traffic reset between rounds). */
async function samples(fed: CountedFederation, size: SizeName, rounds: number): Promise<RoundSample[]> {
  const out: RoundSample[] = [];
  fed.resetTraffic();
  await fed.coordinator.trainNetwork(
    { dataset: DATASET, family: 'binomial', formula: FEDAVG_FORMULA, hidden: SHAPES[size], rounds, validation: 0 },
    {
      mode: 'encrypted',
      deadlineMs: 30 * 60_000,
      retries: 0,
      onRound: (_point, ms) => {
        const t = fed.traffic;
        out.push({ ms, agencyMs: t.agencyMs, up: t.up, down: t.down, answered: t.answered });
        fed.resetTraffic();
      },
    },
  );
  return out;
}

/** The cell: the medians of the rounds after the first, or the refusal. */
async function cell(fed: CountedFederation, size: SizeName, rows: number, rounds: number): Promise<ScaleCell> {
  const base = { agencies: fed.agencies, size, parameters: parameterCount(size), rows };
  let xs: RoundSample[];
  try {
    xs = await samples(fed, size, rounds);
  } catch (e) {
    if (!isFedstatError(e)) throw e;
    return { ...base, measured: null, refused: { code: e.code, message: e.message } };
  }
  const later = xs.length > 1 ? xs.slice(1) : xs;
  const per = (f: (s: RoundSample) => number): number => median(later.map((s) => f(s) / Math.max(1, s.answered)));
  return {
    ...base,
    measured: {
      roundMs: median(later.map((s) => s.ms)),
      coordinatorMs: median(later.map((s) => s.ms - s.agencyMs)),
      agencyMs: per((s) => s.agencyMs),
      bytesUpPerAgency: per((s) => s.up),
      bytesDownPerAgency: per((s) => s.down),
    },
    refused: null,
  };
}

/** Every (agencies, size) cell: one federation per agency count, every size on it. */
export async function measureScale(
  dir: string,
  agencyCounts: readonly number[],
  sizes: readonly SizeName[],
  rows: number,
  rounds: number,
  onCell: (c: ScaleCell) => void,
): Promise<ScaleCell[]> {
  const out: ScaleCell[] = [];
  for (const k of agencyCounts) {
    const fed = await startCountedFederation(dir, k, rows);
    try {
      for (const size of sizes) {
        const c = await cell(fed, size, rows, rounds);
        out.push(c);
        onCell(c);
      }
    } finally {
      await fed.close();
    }
  }
  return out;
}
