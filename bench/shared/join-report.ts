/**
 * What `bench join` measures per size and query, and its human-readable tables: wall times with
 * their ratios to the baseline, linkage's phases, bytes per agency, and the PSI micro-benchmark.
 */
import { formatMs, renderTable } from '../../src/cli/table.js';
import type { LinkageReport } from '../../src/coordinator/linkage-round.js';
import type { QueryTimings } from '../../src/coordinator/query-types.js';
import { BLINDING_TARGET, type BlindingBench } from './join-blinding.js';
import { ANTI_SQL, INNER_SQL, type JoinKind, type JoinSize } from './join-data.js';
import type { PhaseTimes } from './join-links.js';

/** Target: a cold 1M × 1M join in under 2 minutes on the 2-core machine. */
export const COLD_TARGET_MS = 120_000;
export const TARGET_SIZE = '1000000x1000000';

/** One query's run: wall time in this process, the coordinator's timings and linkage's phases. */
export interface QueryRun {
  readonly wallMs: number;
  readonly timings: QueryTimings;
  readonly phases: PhaseTimes;
  readonly linkage: LinkageReport | null;
}

/** What an agency sends and receives for one query, in bytes. */
export interface AgencyBytes {
  readonly agency: string;
  readonly ids: number;
  /** 32 bytes × ids × 3: its blinded set up, the other side's re-blinded chunks down and back. */
  readonly blindedSet: number;
  /** Ciphertexts it sends (encrypting side) or receives (multiplying side). */
  readonly ciphertexts: number;
  readonly baseline: number;
}

export interface QueryMeasure {
  readonly kind: JoinKind;
  readonly sql: string;
  readonly cold: QueryRun;
  readonly warm: readonly QueryRun[];
  readonly warmMs: number;
  readonly baselineMs: number;
  readonly ratioCold: number;
  readonly ratioWarm: number;
  readonly bytes: readonly AgencyBytes[];
  readonly agencyPeakRssBytes: number;
}

export interface SizeResult {
  readonly size: string;
  readonly ids: JoinSize;
  readonly shared: number;
  readonly queries: readonly QueryMeasure[];
}

const s = (ms: number): string => formatMs(ms);
const sizeText = (r: SizeResult): string => `${r.ids.a.toLocaleString('en-US')} × ${r.ids.b.toLocaleString('en-US')}`;
const kib = (b: number): string => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);

export function renderJoin(results: readonly SizeResult[], blinding: BlindingBench | null, reps: number): string {
  const out: string[] = [];
  if (results.length > 0) {
    out.push(
      `${ANTI_SQL}\n${INNER_SQL}\n2 agencies per side in separate processes, mTLS gRPC; cold = first query of fresh agencies, warm = median of ${reps}; baseline = plaintext ids over the same gRPC path, hash join here\n`,
      renderTable(
        ['ids a × b', 'shared', 'query', 'cold', 'warm', 'baseline', 'cold ×', 'warm ×', 'target', 'agency peak RSS'],
        results.flatMap((r) =>
          r.queries.map((q) => [
            sizeText(r),
            r.shared.toLocaleString('en-US'),
            q.kind,
            s(q.cold.wallMs),
            s(q.warmMs),
            s(q.baselineMs),
            `${q.ratioCold.toFixed(1)}×`,
            `${q.ratioWarm.toFixed(1)}×`,
            r.size === TARGET_SIZE ? `cold < ${s(COLD_TARGET_MS)}${q.cold.wallMs < COLD_TARGET_MS ? ' ✓' : ' ✗'}` : '',
            `${(q.agencyPeakRssBytes / 2 ** 20).toFixed(0)} MB`,
          ]),
        ),
        ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'right', 'left', 'right'],
      ),
      '\nlinkage phases (coordinator side, first call to last answer over all agencies) and round 1:\n',
      renderTable(
        [
          'ids a × b',
          'query',
          'run',
          'start',
          'blind',
          're-blind',
          'encrypt',
          'load',
          'round 1',
          'after round 1',
          'total',
        ],
        results.flatMap((r) =>
          r.queries.flatMap((q) =>
            [
              ['cold', q.cold],
              ['warm', q.warm[q.warm.length - 1]],
            ].flatMap(([run, x]) => {
              const v = x as QueryRun | undefined;
              if (v === undefined) return [];
              const p = v.phases;
              const after = v.timings.unmaskMs + v.timings.decryptMs + v.timings.releaseMs;
              return [
                [
                  sizeText(r),
                  q.kind,
                  run as string,
                  ...[p.start, p.blind, p.reblind, p.encrypt, p.load, p.aggregate, after, v.wallMs].map(s),
                ],
              ];
            }),
          ),
        ),
        ['right', 'left', 'left', ...(Array(8).fill('right') as 'right'[])],
      ),
      '\nbytes per agency (blinded set = 32 × ids × 3; ciphertexts: sent by an encrypting agency, received by a multiplying one):\n',
      renderTable(
        ['ids a × b', 'query', 'agency', 'ids', 'blinded set', 'ciphertexts', 'fedstat total', 'baseline'],
        results.flatMap((r) =>
          r.queries.flatMap((q) =>
            q.bytes.map((b) => [
              sizeText(r),
              q.kind,
              b.agency,
              b.ids.toLocaleString('en-US'),
              kib(b.blindedSet),
              kib(b.ciphertexts),
              kib(b.blindedSet + b.ciphertexts),
              kib(b.baseline),
            ]),
          ),
        ),
        ['right', 'left', 'left', 'right', 'right', 'right', 'right', 'right'],
      ),
    );
  }
  if (blinding !== null) {
    out.push(
      `\nPSI primitives in this process, µs per element (median of ${blinding.reps} × ${blinding.elements.toLocaleString('en-US')}):\n`,
      renderTable(
        [
          'hashIds (RFC 9380)',
          'BlindingKey.blind',
          'noble ristretto255 multiply',
          'noble decode+multiply+encode',
          'blind / multiply',
          'blind / noble blinding',
          'target',
        ],
        [
          [
            blinding.hashIdsUs.toFixed(1),
            blinding.blindUs.toFixed(1),
            blinding.nobleMultiplyUs.toFixed(1),
            blinding.nobleBlindUs.toFixed(1),
            `${blinding.ratioMultiply.toFixed(2)}×`,
            `${blinding.ratioNobleBlind.toFixed(2)}×`,
            `≤ ${BLINDING_TARGET}×${blinding.ratioMultiply <= BLINDING_TARGET ? ' ✓' : ' ✗'}`,
          ],
        ],
        Array(7).fill('right') as 'right'[],
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
