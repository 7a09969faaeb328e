/**
 * What every benchmark needs: a positive integer option from its arguments, and the median of
 * its repetitions. In a folder of its own so that bench/main.ts does not take it for a benchmark.
 */

/** `--name N` from `args`, else `fallback`; a RangeError unless N is a positive integer. */
export function positiveIntOption(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const v = i < 0 ? fallback : Number(args[i + 1]);
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} needs a positive integer`);
  return v;
}

/** The median of `xs` (the mean of the middle two for an even count); 0 for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}
