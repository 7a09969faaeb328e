/**
 * The models the `fedavg` benchmark trains: MLPs on the `train` benchmark's headline formula
 * (d = 9 design columns), with hidden widths chosen so the parameter counts come near 1k, 10k and
 * 100k; and the switch between the fast default sizes and the full ones.
 */
import { mlpShape } from '../../src/learn/fl/mlp.js';
import { FORMULAS } from './train-data.js';

/** The formula every model is trained on, and its design width. */
export const FEDAVG_FORMULA = FORMULAS[9];
export const DESIGN_WIDTH = 9;

/** Hidden widths by nominal size. */
export const SHAPES = {
  '1k': [32, 20],
  '10k': [100, 90],
  '100k': [310, 310],
} as const satisfies Record<string, readonly number[]>;
export type SizeName = keyof typeof SHAPES;
const SIZE_NAMES = Object.keys(SHAPES) as SizeName[];

/** The parameter count of a size's MLP on the design width (binary output). */
export function parameterCount(size: SizeName): number {
  return mlpShape({ inputs: DESIGN_WIDTH, hidden: SHAPES[size], output: 'binary' }).size;
}

/** `FEDSTAT_BENCH_FULL=1`: the full sizes (tens of minutes on 2 cores), else the fast defaults. */
export const FULL = process.env['FEDSTAT_BENCH_FULL'] === '1';

/** `--name a,b` as a list of sizes, else `fallback`; RangeError for an unknown one. */
export function sizeListOption(args: readonly string[], name: string, fallback: readonly SizeName[]): SizeName[] {
  const i = args.indexOf(name);
  if (i < 0) return [...fallback];
  const xs = (args[i + 1] ?? '').split(',');
  for (const x of xs)
    if (!(SIZE_NAMES as readonly string[]).includes(x)) throw new RangeError(`${name} takes ${SIZE_NAMES.join(',')}`);
  return xs as SizeName[];
}

/** `--name 5,16` as positive integers, else `fallback`. */
export function intListOption(args: readonly string[], name: string, fallback: readonly number[]): number[] {
  const i = args.indexOf(name);
  if (i < 0) return [...fallback];
  const xs = (args[i + 1] ?? '').split(',').map((s) => Number(s.replace(/_/g, '')));
  if (xs.length === 0 || xs.some((n) => !Number.isSafeInteger(n) || n < 1))
    throw new RangeError(`${name} takes comma-separated positive integers`);
  return xs;
}
