/**
 * What `fedstat train --model logistic|mlp` prints: a line per round as training goes (losses,
 * AUC or RMSE, ε spent, agencies), and at the end the run's header, its learning curve as a table,
 * the privacy and the notes; `--json` prints the model document and the whole curve.
 */
import { describeModel } from '../../learn/fl/trainer-registry.js';
import type { NetworkTrainResult } from '../../coordinator/fl-train-types.js';
import { formatRho, parseCanonicalRho } from '../../dp/rho.js';
import type { CurvePoint } from '../../learn/fl/learning-curve.js';
import { formatMs, renderTable } from '../table.js';

function num(x: number | null, digits = 4): string {
  return x === null ? '—' : x.toFixed(digits);
}

function metricLabel(p: CurvePoint): string {
  return p.metricName === 'auc' ? 'AUC' : 'RMSE';
}

/** One round on a terminal as training goes on. */
export function networkRoundLine(p: CurvePoint, ms: number): string {
  const parts = [
    `round ${p.round}`,
    `step ${p.step}`,
    `train loss ${num(p.trainLoss)}`,
    `validation loss ${num(p.validationLoss)}`,
    `${metricLabel(p)} ${num(p.metric)}`,
    ...(p.epsilon === null ? [] : [`ε ${p.epsilon.toFixed(3)}`]),
    `${p.agencies.length} agenc${p.agencies.length === 1 ? 'y' : 'ies'}`,
    formatMs(ms),
  ];
  return parts.join('  ');
}

/** The `--json` document: the model, the curve, the privacy, and what was lost or failed. */
export function networkJson(r: NetworkTrainResult): object {
  return {
    model: r.model,
    curve: r.curve,
    privacy: r.privacy,
    lostRounds: r.lostRounds,
    failed: r.failed,
    log: r.model.rounds.map((x) => ({ round: x.round, queryId: x.queryId, index: x.logIndexes[0] ?? null })),
  };
}

function rhoText(canonical: string): string {
  const rho = parseCanonicalRho(canonical);
  return rho === null ? canonical : formatRho(rho);
}

/** The human output of a finished run. */
export function renderNetwork(r: NetworkTrainResult): string {
  const m = r.model;
  const shape = describeModel(m.model);
  const out = [
    `Model: ${m.family === 'binomial' ? 'binary classifier' : 'regression'} ${m.formula}, ${shape}, by ${m.strategy.name}`,
    `Dataset: ${m.dataset}; ${r.curve.length} rounds, ${r.curve.at(-1)?.step ?? 0} updates; held out for validation: ${m.validation}`,
    '',
    'Learning curve (each round evaluates the parameters it starts from):',
    renderTable(
      [
        'round',
        'step',
        'train loss',
        'validation loss',
        r.curve[0]?.metricName === 'rmse' ? 'RMSE' : 'AUC',
        'ε',
        'agencies',
      ],
      r.curve.map((p) => [
        String(p.round),
        String(p.step),
        num(p.trainLoss),
        num(p.validationLoss),
        num(p.metric),
        p.epsilon === null ? '—' : p.epsilon.toFixed(3),
        p.agencies.join(', '),
      ]),
      ['right', 'right', 'right', 'right', 'right', 'right', 'left'],
    ),
  ];
  const logged = m.rounds.flatMap((x) => x.logIndexes);
  if (logged.length > 0)
    out.push(
      `(transparency log: the rounds' queries are entries ${logged.join(', ')}; check with fedstat audit verify)`,
    );
  if (r.privacy !== null) {
    const p = r.privacy;
    out.push(
      `(record-level differential privacy: rho ${rhoText(p.rho)} at each agency over ${p.rounds} rounds (${rhoText(p.rhoPerRound)} each), i.e. (${p.epsilon.toFixed(3)}, ${p.delta})-DP; Skellam noise sized for threshold ${p.threshold})`,
    );
  }
  for (const f of r.failed) out.push(`warning: agency ${f.id} failed a round: ${f.reason}`);
  if (r.lostRounds.length > 0)
    out.push(
      `warning: rounds ${r.lostRounds.join(', ')} were sent but never decoded${r.privacy === null ? '' : '; the budget they charged stays spent'}`,
    );
  return out.join('\n');
}
