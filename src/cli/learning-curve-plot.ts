/**
 * The learning curve of a federated-averaging run as a picture (`fedstat train --plot`): an SVG of
 * two panels, train and validation loss per round on the left, the validation metric (AUC or RMSE)
 * on the right with ε spent on a dashed right-hand axis, and an HTML page that embeds the SVG above
 * a table of the rounds. Pure string building: same points, same bytes. The file is
 * self-contained (no fonts, scripts or links), so it opens offline on an agency's air-gapped desk.
 */
import type { CurvePoint } from '../learn/fl/learning-curve.js';
import { formatTick, roundAxis, scale, valueAxis } from './plot-axis.js';
import type { Axis } from './plot-axis.js';
import { escapeXml } from './xml-text.js';

/** What a learning-curve picture is titled, and the δ at which its ε were computed. */
export interface LearningCurveOptions {
  readonly title: string;
  /** The run's δ, shown on the ε axis; omit it when the run had no DP. */
  readonly delta?: number | undefined;
}

const WIDTH = 800;
const HEIGHT = 360;
const TOP = 74;
const BOTTOM = 286;

/** A plot area in pixels (y grows downward, so `top` < `bottom`). */
interface Panel {
  readonly left: number;
  readonly right: number;
}

const LOSS_PANEL: Panel = { left: 64, right: 364 };
const METRIC_PANEL: Panel = { left: 464, right: 726 };

// Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
const COLOURS = { train: '#0072B2', validation: '#D55E00', metric: '#009E73', epsilon: '#CC79A7' } as const;

/** One line of the chart: its name in the markup, its legend label and its stroke. */
interface SeriesStyle {
  readonly id: string;
  readonly label: string;
  readonly colour: string;
  readonly dashed?: boolean;
}

type Pick = (p: CurvePoint) => number | null;

const METRIC_LABEL = { auc: 'AUC', rmse: 'RMSE' } as const;

function checkValue(value: number | null, where: string): void {
  if (value !== null && !Number.isFinite(value))
    throw new RangeError(`${where} is not finite; record null for a round without a value`);
}

/** Refuses what cannot be drawn honestly: no rounds, non-finite numbers, rounds out of order, mixed metrics. */
function checkCurve(points: readonly CurvePoint[], options: LearningCurveOptions): void {
  if (points.length === 0) throw new RangeError('the learning curve has no rounds; plot after at least one round');
  const { delta } = options;
  if (delta !== undefined && !(Number.isFinite(delta) && delta > 0 && delta < 1))
    throw new RangeError('delta must be a number in (0, 1); pass the δ the run spent ε at');
  const metricName = points[0]?.metricName;
  points.forEach((p, i) => {
    if (!Number.isSafeInteger(p.round) || p.round < 1)
      throw new RangeError(`points[${i}].round must be a whole number ≥ 1`);
    if (i > 0 && p.round <= (points[i - 1]?.round ?? 0))
      throw new RangeError(`points[${i}].round does not follow the round before it; pass the points in round order`);
    if (!Number.isFinite(p.step)) throw new RangeError(`points[${i}].step is not finite`);
    checkValue(p.trainLoss, `points[${i}].trainLoss`);
    checkValue(p.validationLoss, `points[${i}].validationLoss`);
    checkValue(p.metric, `points[${i}].metric`);
    checkValue(p.epsilon, `points[${i}].epsilon`);
    if (p.metricName !== metricName) throw new RangeError(`points[${i}].metricName differs from the first round's`);
  });
}

/** Pixel coordinates, at most two decimals, never "-0". */
function px(n: number): string {
  return String(Number(n.toFixed(2)));
}

/** The runs of consecutive rounds that have a value: a null round splits a line into two. */
function segments(points: readonly CurvePoint[], pick: Pick): { round: number; value: number }[][] {
  const runs: { round: number; value: number }[][] = [];
  let run: { round: number; value: number }[] = [];
  for (const p of points) {
    const value = pick(p);
    if (value === null) {
      if (run.length > 0) runs.push(run);
      run = [];
    } else run.push({ round: p.round, value });
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

function valuesOf(points: readonly CurvePoint[], pick: Pick): number[] {
  return points.map(pick).filter((v): v is number => v !== null);
}

/** A series as polylines, one per run of rounds; a run of one round is a dot (a one-point line draws nothing). */
function drawSeries(
  points: readonly CurvePoint[],
  pick: Pick,
  style: SeriesStyle,
  x: { axis: Axis; panel: Panel },
  y: Axis,
): string[] {
  const dash = style.dashed === true ? ' stroke-dasharray="6 4"' : '';
  return segments(points, pick).map((run) => {
    const xy = run.map((r) => [
      px(scale(r.round, x.axis, x.panel.left, x.panel.right)),
      px(scale(r.value, y, BOTTOM, TOP)),
    ]);
    if (xy.length === 1)
      return `<circle data-series="${style.id}" cx="${xy[0]?.[0]}" cy="${xy[0]?.[1]}" r="3" fill="${style.colour}"/>`;
    const list = xy.map(([a, b]) => `${a},${b}`).join(' ');
    return `<polyline data-series="${style.id}" fill="none" stroke="${style.colour}" stroke-width="2"${dash} points="${list}"/>`;
  });
}

/** Grid lines and labels of a value axis, on the panel's left or right edge. */
function drawValueAxis(axis: Axis, panel: Panel, side: 'left' | 'right', colour = '#333'): string[] {
  const out: string[] = [];
  for (const t of axis.ticks) {
    const y = px(scale(t, axis, BOTTOM, TOP));
    if (side === 'left')
      out.push(`<line x1="${panel.left}" y1="${y}" x2="${panel.right}" y2="${y}" stroke="#e4e4e4"/>`);
    const [x, anchor] = side === 'left' ? [panel.left - 6, 'end'] : [panel.right + 6, 'start'];
    out.push(
      `<text x="${x}" y="${y}" dy="0.32em" text-anchor="${anchor}" fill="${colour}">${formatTick(t, axis.step)}</text>`,
    );
  }
  const edge = side === 'left' ? panel.left : panel.right;
  out.push(`<line x1="${edge}" y1="${TOP}" x2="${edge}" y2="${BOTTOM}" stroke="${colour}"/>`);
  return out;
}

/** The round axis under a panel: tick marks, labels and the word "round". */
function drawRoundAxis(axis: Axis, panel: Panel): string[] {
  const out = [`<line x1="${panel.left}" y1="${BOTTOM}" x2="${panel.right}" y2="${BOTTOM}" stroke="#333"/>`];
  for (const t of axis.ticks) {
    const x = px(scale(t, axis, panel.left, panel.right));
    out.push(`<line x1="${x}" y1="${BOTTOM}" x2="${x}" y2="${BOTTOM + 4}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${BOTTOM + 16}" text-anchor="middle">${formatTick(t, axis.step)}</text>`);
  }
  out.push(`<text x="${px((panel.left + panel.right) / 2)}" y="${BOTTOM + 36}" text-anchor="middle">round</text>`);
  return out;
}

/** A rotated axis title centred on the plot's height. */
function axisTitle(text: string, x: number, colour = '#333'): string {
  const y = (TOP + BOTTOM) / 2;
  return `<text x="${x}" y="${y}" transform="rotate(-90 ${x} ${y})" text-anchor="middle" fill="${colour}">${escapeXml(text)}</text>`;
}

/** A row of legend entries (swatch and label) above a panel; widths are estimated at ~6.5 px a character. */
function drawLegend(styles: readonly SeriesStyle[], panel: Panel): string[] {
  const out: string[] = [];
  let x = panel.left;
  const y = TOP - 18;
  for (const s of styles) {
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : '';
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${s.colour}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${x + 28}" y="${y}" dy="0.32em">${escapeXml(s.label)}</text>`);
    x += 28 + s.label.length * 6.5 + 18;
  }
  return out;
}

// Near the top: a constant ε line sits mid-panel and would cross it there.
function noData(panel: Panel, text: string): string {
  const x = px((panel.left + panel.right) / 2);
  return `<text x="${x}" y="${TOP + 20}" text-anchor="middle" fill="#777">${text}</text>`;
}

function lossPanel(points: readonly CurvePoint[], rounds: Axis): string[] {
  const picks: [Pick, SeriesStyle][] = [
    [(p) => p.trainLoss, { id: 'train-loss', label: 'train loss', colour: COLOURS.train }],
    [(p) => p.validationLoss, { id: 'validation-loss', label: 'validation loss', colour: COLOURS.validation }],
  ];
  const present = picks.filter(([pick]) => valuesOf(points, pick).length > 0);
  if (present.length === 0) return [...drawRoundAxis(rounds, LOSS_PANEL), noData(LOSS_PANEL, 'no loss recorded')];
  const y = valueAxis(present.flatMap(([pick]) => valuesOf(points, pick)));
  return [
    ...drawValueAxis(y, LOSS_PANEL, 'left'),
    ...drawRoundAxis(rounds, LOSS_PANEL),
    axisTitle('loss', LOSS_PANEL.left - 48),
    ...drawLegend(
      present.map(([, s]) => s),
      LOSS_PANEL,
    ),
    ...present.flatMap(([pick, s]) => drawSeries(points, pick, s, { axis: rounds, panel: LOSS_PANEL }, y)),
  ];
}

function deltaText(delta: number | undefined): string {
  return delta === undefined ? 'ε spent' : `ε spent (δ = ${Number(delta.toPrecision(3)).toExponential()})`;
}

function metricPanel(points: readonly CurvePoint[], rounds: Axis, delta: number | undefined): string[] {
  const label = METRIC_LABEL[points[0]?.metricName ?? 'auc'];
  const metric: SeriesStyle = { id: 'metric', label: `validation ${label}`, colour: COLOURS.metric };
  const epsilon: SeriesStyle = { id: 'epsilon', label: 'ε spent', colour: COLOURS.epsilon, dashed: true };
  const x = { axis: rounds, panel: METRIC_PANEL };
  const metrics = valuesOf(points, (p) => p.metric);
  const epsilons = valuesOf(points, (p) => p.epsilon);
  const out = drawRoundAxis(rounds, METRIC_PANEL);
  if (metrics.length > 0) {
    const y = valueAxis(metrics);
    out.push(...drawValueAxis(y, METRIC_PANEL, 'left'), axisTitle(label, METRIC_PANEL.left - 48));
    out.push(...drawSeries(points, (p) => p.metric, metric, x, y));
  } else out.push(noData(METRIC_PANEL, 'no validation split'));
  if (epsilons.length > 0) {
    const y = valueAxis(epsilons);
    out.push(...drawValueAxis(y, METRIC_PANEL, 'right', COLOURS.epsilon));
    out.push(axisTitle(deltaText(delta), WIDTH - 16, COLOURS.epsilon));
    out.push(...drawSeries(points, (p) => p.epsilon, epsilon, x, y));
  }
  const legend = [...(metrics.length > 0 ? [metric] : []), ...(epsilons.length > 0 ? [epsilon] : [])];
  return [...drawLegend(legend, METRIC_PANEL), ...out];
}

/**
 * The learning curve as a standalone SVG (800 × 360): loss per round on the left, the validation
 * metric and ε spent on the right. Null values leave gaps; a round alone between gaps is a dot.
 *
 * @throws RangeError when `points` is empty, a number is NaN or infinite, rounds are not
 *   increasing whole numbers ≥ 1, the rounds mix metrics, or `delta` is outside (0, 1).
 */
export function learningCurveSvg(points: readonly CurvePoint[], options: LearningCurveOptions): string {
  checkCurve(points, options);
  const rounds = roundAxis(points[0]?.round ?? 1, points[points.length - 1]?.round ?? 1);
  const body = [
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
    ...lossPanel(points, rounds),
    ...metricPanel(points, rounds, options.delta),
  ];
  const open = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, sans-serif" font-size="11" fill="#222">`;
  return [open, ...body.map((line) => `  ${line}`), '</svg>', ''].join('\n');
}

/** Four significant digits for the table; an em dash where the round has no value. */
function cell(value: number | null): string {
  return value === null ? '—' : String(Number(value.toPrecision(4)));
}

function tableRows(points: readonly CurvePoint[]): string[] {
  return points.map((p) => {
    const cells = [String(p.round), String(p.step), escapeXml(p.agencies.join(', '))].map((c) => `<td>${c}</td>`);
    const numbers = [p.trainLoss, p.validationLoss, p.metric, p.epsilon].map((v) => `<td class="n">${cell(v)}</td>`);
    return `<tr>${[...cells, ...numbers].join('')}</tr>`;
  });
}

/**
 * A minimal HTML page: the SVG of {@link learningCurveSvg} and a table of the rounds (round, step,
 * agencies, losses, metric, ε). Self-contained and well-formed as XML too.
 *
 * @throws RangeError on the same inputs as {@link learningCurveSvg}.
 */
export function learningCurveHtml(points: readonly CurvePoint[], options: LearningCurveOptions): string {
  const svg = learningCurveSvg(points, options).trimEnd();
  const metric = METRIC_LABEL[points[0]?.metricName ?? 'auc'];
  const epsilon = escapeXml(deltaText(options.delta));
  const heads = ['round', 'step', 'agencies', 'train loss', 'validation loss', `validation ${metric}`, epsilon];
  const title = escapeXml(options.title);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8" />',
    `<title>${title}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-top:1.5em}' +
      'th,td{padding:0.25em 0.75em;border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}</style>',
    '</head>',
    '<body>',
    `<h1>${title}</h1>`,
    svg,
    '<table>',
    `<thead><tr>${heads.map((h) => `<th>${h}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...tableRows(points),
    '</tbody>',
    '</table>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
