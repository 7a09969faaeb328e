/**
 * Axes for the CLI's charts: tick steps of 1, 2 or 5 × 10^k (Heckbert, "Nice numbers for graph
 * labels", Graphics Gems 1990), a value axis widened to whole ticks so the curve's extremes sit on
 * labelled lines, and a round axis that spans exactly the rounds drawn.
 */

/** A linear axis: its domain, and the tick values inside it (ascending, evenly spaced by `step`). */
export interface Axis {
  readonly min: number;
  readonly max: number;
  readonly step: number;
  readonly ticks: readonly number[];
}

/** The 1-2-5 step that cuts `span` (> 0) into about `target` intervals. */
function niceStep(span: number, target: number): number {
  const rough = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  // The slack keeps 0.1 / 5 (= 0.02 + 2⁻⁵⁸) on the 2 it means, not the 5 above it.
  const residual = rough / magnitude - 1e-9;
  const factor = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10;
  return factor * magnitude;
}

function decimalsOf(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step)));
}

// i·step in binary floating point drifts (3 × 0.1 = 0.30000000000000004): round to the step's digits.
function tickValue(i: number, step: number): number {
  const v = i * step;
  const decimals = decimalsOf(step);
  return decimals > 20 ? v : Number(v.toFixed(decimals));
}

function ticksBetween(min: number, max: number, step: number): number[] {
  const slack = 1e-9; // a bound within 1e-9 of a tick counts as on it
  const first = Math.ceil(min / step - slack);
  const last = Math.floor(max / step + slack);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(tickValue(i, step));
  return ticks;
}

// Constant for drawing: equal, within float noise of each other (1e-12 relative), or so close that
// a step would be subnormal and lose its digits.
function flat(lo: number, hi: number): boolean {
  const span = hi - lo;
  return span < 1e-300 || span < Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12;
}

/**
 * The axis for `values` (finite; may be empty): widened outward to whole steps. A constant series
 * (or one flat to float noise) is given a band of ±10 % around it (±1 around zero) so it draws mid-panel, not on a zero span.
 */
export function valueAxis(values: readonly number[], target = 5): Axis {
  // A loop, not Math.min(...values): spreading a long run's rounds would overflow the stack.
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (values.length === 0) [lo, hi] = [0, 1];
  else if (flat(lo, hi)) {
    const mid = lo / 2 + hi / 2;
    const pad = mid === 0 ? 1 : Math.max(Math.abs(mid) / 10, 1e-300);
    [lo, hi] = [mid - pad, mid + pad];
  }
  if (!Number.isFinite(hi - lo)) throw new RangeError('values span more than a float can hold; rescale the series');
  const step = niceStep(hi - lo, target);
  // The slack lets 0.3 / 0.1 = 2.9999999999999996 end on the tick 0.3; the checks keep every value inside.
  let first = Math.floor(lo / step + 1e-9);
  if (tickValue(first, step) > lo) first--;
  let last = Math.ceil(hi / step - 1e-9);
  if (tickValue(last, step) < hi) last++;
  const [min, max] = [tickValue(first, step), tickValue(last, step)];
  return { min, max, step, ticks: ticksBetween(min, max, step) };
}

/** The axis for rounds `first`…`last`: exactly that span (±½ for one round), whole-number ticks. */
export function roundAxis(first: number, last: number, target = 6): Axis {
  const [min, max] = first === last ? [first - 0.5, last + 0.5] : [first, last];
  const step = Math.max(1, niceStep(max - min, target));
  return { min, max, step, ticks: ticksBetween(min, max, step) };
}

/** Where `value` falls between pixel positions `from` (axis minimum) and `to` (axis maximum). */
export function scale(value: number, axis: Axis, from: number, to: number): number {
  return from + ((value - axis.min) / (axis.max - axis.min)) * (to - from);
}

/** A tick label with as many decimals as the step needs (a 0.05 step prints "0.10", not "0.1"). */
export function formatTick(value: number, step: number): string {
  const decimals = decimalsOf(step);
  if (Math.abs(value) >= 1e6 || decimals > 6) return value === 0 ? '0' : value.toExponential(2);
  return value.toFixed(decimals);
}
