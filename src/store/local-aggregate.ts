/**
 * Result rows of a compiled aggregate → LocalAggregate. Shared by every store engine: drivers
 * return codes and counts as numbers, bigints or decimal strings, and this turns them into the
 * exact bigint measures keyed by the mixed-radix group index the packing layer expects.
 */
import { FedstatError } from '../errors.js';
import type { CompiledAggregate } from './compile-sql.js';
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

/**
 * Builds the LocalAggregate from result rows laid out as `compileAggregate` promises: group codes,
 * COUNT(*), then one SUM per measure (then a live source's census, read by invalid-rows.ts
 * `censusOf`). Rows with a zero count (the single row of an ungrouped query
 * that matched nothing) are dropped, so empty groups are always absent.
 */
export function toLocalAggregate(rows: readonly (readonly unknown[])[], compiled: CompiledAggregate): LocalAggregate {
  const k = compiled.groupSizes.length;
  const measured = k + compiled.measures.length;
  const width = measured + (compiled.census === null ? 0 : compiled.census.length + 1);
  const entries: [number, readonly bigint[]][] = [];
  const seen = new Set<number>();
  for (const row of rows) {
    if (row.length !== width) throw internal(`a row of ${row.length} columns where ${width} were expected`);
    // An ungrouped query over no rows yields COUNT 0 with NULL sums: no group at all.
    if (exactInteger(row[k]) === 0n) continue;
    const values = row.slice(k, measured).map(exactInteger);
    let index: number;
    try {
      index = groupIndex(row.slice(0, k).map(code), compiled.groupSizes);
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
