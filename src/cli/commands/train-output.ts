/**
 * What `fedstat train` prints: the `--json` document (`trainJson`) and, for humans, a header, the
 * table R's `summary(glm())` prints, the rounds, the privacy of a DP fit and the notes on who each
 * round covers and what was lost (`renderTrain`); and the line per round shown on a terminal.
 */
import type { FailedAgency } from '../../coordinator/query-context.js';
import type { TrainResult, TrainRound } from '../../coordinator/train-types.js';
import { formatRho, parseCanonicalRho } from '../../dp/rho.js';
import type { FamilyName, LinkName } from '../../learn/family.js';
import { formatSummary } from '../../learn/format-summary.js';
import type { CoefficientRow } from '../../learn/inference.js';
import type { ModelPrivacy } from '../../learn/model-file.js';
import { formatMs, renderTable } from '../table.js';

/** The `train --json` document (docs/cli.md, fedstat train). */
export interface TrainJson {
  readonly model: {
    readonly family: FamilyName;
    readonly link: LinkName;
    readonly formula: string;
    readonly terms: readonly CoefficientRow[];
    readonly deviance: number;
    readonly nullDeviance: number;
    readonly aic: number;
    readonly n: number;
    readonly iterations: number;
    readonly converged: boolean;
  };
  readonly agencies: { readonly answered: readonly string[]; readonly failed: readonly FailedAgency[] };
  readonly rounds: readonly { round: number; deviance: number; stepNorm: number; ms: number }[];
  readonly privacy: ModelPrivacy | null;
  /** Each round's query entry in the transparency log (`index` null without a log). */
  readonly log: readonly { round: number; queryId: string; index: number | null }[];
}

/** The `train --json` document of a finished fit. */
export function trainJson(r: TrainResult): TrainJson {
  const m = r.model;
  return {
    model: {
      family: m.family,
      link: m.link,
      formula: m.formula,
      terms: m.terms.map((t) => ({
        term: t.term,
        estimate: t.estimate,
        stderr: t.stderr,
        z: t.z,
        p: t.p,
        ci95: t.ci95,
      })),
      deviance: m.deviance,
      nullDeviance: m.nullDeviance,
      aic: m.aic,
      n: m.n,
      iterations: m.iterations,
      converged: m.converged,
    },
    agencies: { answered: r.agencies.answered, failed: r.agencies.failed },
    rounds: r.rounds.map((x) => ({ round: x.round, deviance: x.deviance, stepNorm: x.stepNorm, ms: x.ms })),
    privacy: r.privacy,
    log: r.rounds.map((x) => ({ round: x.round, queryId: x.queryId, index: x.logIndex })),
  };
}

/** The first round evaluates β = 0: no step led to it. */
function stepText(r: TrainRound): string {
  return r.phase === 'zero' ? '—' : r.stepNorm.toExponential(2);
}

/** One round on a terminal as training goes on. */
export function roundLine(r: TrainRound): string {
  const agencies = `${r.agencies.length} agenc${r.agencies.length === 1 ? 'y' : 'ies'}`;
  return `round ${r.round}  ${r.phase}  deviance ${r.deviance.toFixed(4)}  step ${stepText(r)}  ${agencies}  ${formatMs(r.ms)}`;
}

/** ρ as a decimal where it has one ("1/2" → "0.5"). */
function rhoText(canonical: string): string {
  const rho = parseCanonicalRho(canonical);
  return rho === null ? canonical : formatRho(rho);
}

function privacyLine(p: ModelPrivacy): string {
  return (
    `(differential privacy: rho ${rhoText(p.rho)} spent at each agency over ${p.rounds} rounds (${rhoText(p.rhoPerRound)} each), ` +
    `i.e. (${p.epsilon.toFixed(3)}, ${p.delta})-DP; Skellam noise sized for threshold ${p.threshold}; intervals: ${p.intervals})`
  );
}

/** Notes on who the rounds cover, what failed and what was lost. */
function noteLines(r: TrainResult): string[] {
  const out: string[] = [];
  const answered = r.agencies.answered.join(', ');
  for (const x of r.rounds) {
    if (x.agencies.join(', ') !== answered) out.push(`note: round ${x.round} covers ${x.agencies.join(', ')}`);
  }
  for (const f of r.agencies.failed) out.push(`warning: agency ${f.id} failed a round: ${f.reason}`);
  const lost = r.lostRounds;
  if (lost.length > 0) {
    const [them, were] = lost.length === 1 ? ['it', 'was'] : ['them', 'were'];
    const spent = r.privacy === null ? '' : `; the budget ${them === 'it' ? 'it' : 'they'} charged stays spent`;
    out.push(
      `warning: round${lost.length === 1 ? '' : 's'} ${lost.join(', ')} ${were} sent but never decoded (the coordinator stopped in ${them})${spent}`,
    );
  }
  return out;
}

/** The human output of a finished fit: header, R's summary, the rounds and the notes. */
export function renderTrain(r: TrainResult): string {
  const m = r.model;
  const agencies = r.agencies.answered;
  const header = [
    `Dataset: ${m.dataset}, ${m.n.toLocaleString('en-US')} rows from ${agencies.length} agenc${agencies.length === 1 ? 'y' : 'ies'} (${agencies.join(', ')})`,
    `Release: ${r.privacy === null ? 'exact sums in every round' : `differentially private sums in ${r.privacy.rounds} rounds`}`,
  ];
  const rounds = renderTable(
    ['round', 'phase', 'deviance', 'step', 'agencies', 'ms'],
    r.rounds.map((x) => [
      String(x.round),
      x.phase,
      x.deviance.toFixed(4),
      stepText(x),
      String(x.agencies.length),
      formatMs(x.ms),
    ]),
    ['right', 'left', 'right', 'right', 'right', 'right'],
  );
  const logged = r.rounds.filter((x) => x.logIndex !== null).map((x) => x.logIndex);
  const out = [...header, '', formatSummary(m).trimEnd(), '', 'Rounds:', rounds];
  if (logged.length > 0)
    out.push(
      `(transparency log: the rounds' queries are entries ${logged.join(', ')}; check with fedstat audit verify)`,
    );
  if (r.privacy !== null) out.push(privacyLine(r.privacy));
  out.push(...noteLines(r));
  return out.join('\n');
}
