/**
 * Result rows of a compiled aggregate → LocalAggregate. Shared by every store engine: drivers
 * return codes and counts as numbers, bigints or decimal strings, and this turns them into the
 * exact bigint measures keyed by the mixed-radix group index the packing layer expects.
 */
import { FedstatError } from '../errors.js';
import type { CompiledAggregate, LiveLayout } from './compile-sql.js';
import type { InvalidRowCensus } from './invalid-rows.js';
import type { LocalAggregate } from './store.js';

/**
 * The group index of GROUP BY codes: mixed radix over the domain sizes, first column most
 * significant (codes [a, b] with sizes [n, m] → a·m + b). No GROUP BY → 0.
 */
function groupIndex(codes: readonly number[], sizes: readonly number[]): number {
  if (codes.length !== sizes.length) throw new RangeError(`expected ${sizes.length} codes, got ${codes.length}`);
  let index = 0;
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] ?? -1;
    const size = sizes[i] ?? 0;
    if (!Number.isSafeInteger(code) || code < 0 || code >= size)
      throw new RangeError(`code ${code} is outside 0..${size - 1}`);
    index = index * size + code;
  }
  return index;
}

function internal(problem: string): FedstatError {
  return new FedstatError('INTERNAL', `store returned ${problem}; please report this`);
}

function exactInteger(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw internal(`a non-integer aggregate (${typeof v})`);
}

function code(v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw internal(`a non-integer group code (${typeof v})`);
  return n;
}

/** A live row's group texts as codes, or null when one is NULL or not a declared value. */
function liveCodes(cells: readonly unknown[], layout: LiveLayout): number[] | null {
  const codes: number[] = [];
  for (const [i, [, values]] of layout.groups.entries()) {
    const text = cells[i];
    const pos = typeof text === 'string' ? values.indexOf(text) : -1;
    if (pos < 0) return null;
    codes.push(pos);
  }
  return codes;
}

/**
 * Builds the LocalAggregate from result rows laid out as `compileAggregate` promises: group codes
 * (a live source's group texts, decoded; a group whose text is out of domain is left out, and
 * counted by `liveCensus`), COUNT(*), then one SUM per measure (then a live source's census).
 * Rows with a zero count (the single row of an ungrouped query that matched nothing) are dropped,
 * so empty groups are always absent.
 */
export function toLocalAggregate(rows: readonly (readonly unknown[])[], compiled: CompiledAggregate): LocalAggregate {
  const k = compiled.groupSizes.length;
  const measured = k + compiled.measures.length;
  const width = measured + (compiled.live === null ? 0 : compiled.live.checked.length + 1);
  const entries: [number, readonly bigint[]][] = [];
  const seen = new Set<number>();
  for (const row of rows) {
    if (row.length !== width) throw internal(`a row of ${row.length} columns where ${width} were expected`);
    // An ungrouped query over no rows yields COUNT 0 with NULL sums: no group at all.
    if (exactInteger(row[k]) === 0n) continue;
    const codes = compiled.live === null ? row.slice(0, k).map(code) : liveCodes(row, compiled.live);
    if (codes === null) continue;
    const values = row.slice(k, measured).map(exactInteger);
    let index: number;
    try {
      index = groupIndex(codes, compiled.groupSizes);
    } catch (e) {
      if (e instanceof FedstatError) throw e;
      throw internal('a group code outside its domain');
    }
    if (seen.has(index)) throw internal(`group ${index} twice`);
    seen.add(index);
    entries.push([index, Object.freeze(values)]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  return Object.freeze({ groups: new Map(entries) });
}

/**
 * The out-of-domain rows a live aggregate read, from its result rows: all rows of a group whose
 * text is out of domain (charged to that GROUP BY column), and in the other groups the rows a
 * checked column left out of the measures.
 */
export function liveCensus(
  dataset: string,
  rows: readonly (readonly unknown[])[],
  compiled: CompiledAggregate,
): InvalidRowCensus {
  const layout = compiled.live;
  if (layout === null) throw new RangeError('liveCensus: not a live aggregate');
  const k = compiled.groupSizes.length;
  const measured = k + compiled.measures.length;
  let invalid = 0n;
  const per = new Map<string, bigint>();
  const charge = (column: string, n: bigint): void => {
    if (n > 0n) per.set(column, (per.get(column) ?? 0n) + n);
  };
  for (const row of rows) {
    const read = exactInteger(row[measured]);
    const counted = compiled.measures[0]?.kind === 'count' ? exactInteger(row[k] ?? 0) : 0n;
    if (liveCodes(row, layout) === null) {
      invalid += read;
      layout.groups.forEach(([name, values], i) => {
        const text = row[i];
        // A GROUP BY column checked per row too is charged by its own count below.
        if (!layout.checked.includes(name) && (typeof text !== 'string' || !values.includes(text))) charge(name, read);
      });
    } else {
      invalid += read - counted;
    }
    layout.checked.forEach((name, i) => charge(name, exactInteger(row[measured + 1 + i])));
  }
  const byColumn: Record<string, number> = {};
  for (const [name, n] of per) byColumn[name] = Number(n);
  return Object.freeze({ dataset, rows: Number(invalid), byColumn: Object.freeze(byColumn) });
}

/**
 * The answer of a live aggregate's optimistic statement when the data it read is clean: every
 * group's text declared, every summed cell present and within its bounds. Null when any is not:
 * the checked statement must then run, to leave those rows out and count them.
 */
export function cleanAnswer(rows: readonly (readonly unknown[])[], compiled: CompiledAggregate): LocalAggregate | null {
  const layout = compiled.live;
  const fast = compiled.optimistic;
  if (layout === null || fast === null) throw new RangeError('cleanAnswer: no optimistic statement');
  const k = compiled.groupSizes.length;
  const measured = k + compiled.measures.length;
  const sums = compiled.measures.slice(1);
  if (sums.length !== fast.summed.length || sums.some((m, i) => m.column !== fast.summed[i]?.[0]))
    throw internal('an optimistic statement whose sums are not the measures');
  const entries: [number, readonly bigint[]][] = [];
  for (const row of rows) {
    if (row.length !== measured + 3 * fast.summed.length)
      throw internal(`a row of ${row.length} columns where ${measured + 3 * fast.summed.length} were expected`);
    const n = exactInteger(row[k]);
    if (n === 0n) continue;
    const codes = liveCodes(row, layout);
    if (codes === null) return null;
    for (const [i, [, min, max]] of fast.summed.entries()) {
      const [lo, hi, present] = row.slice(measured + 3 * i, measured + 3 * i + 3);
      if (lo === null || hi === null || exactInteger(present) !== n) return null;
      if (exactInteger(lo) < BigInt(min) || exactInteger(hi) > BigInt(max)) return null;
    }
    entries.push([groupIndex(codes, compiled.groupSizes), Object.freeze(row.slice(k, measured).map(exactInteger))]);
  }
  if (new Set(entries.map(([i]) => i)).size !== entries.length) throw internal('a group twice');
  entries.sort((a, b) => a[0] - b[0]);
  return Object.freeze({ groups: new Map(entries) });
}
