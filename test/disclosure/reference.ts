/**
 * Independent references for the disclosure tests, sharing no code with src/disclosure:
 * the table's cells and margins written out directly, linear determinacy by rank over the prime
 * field GF(2^61 − 1) (number-theoretic, not the rational elimination under test), and the
 * attacker's exact interval by exhaustive enumeration of non-negative integer tables.
 */
import type { Cell } from '../../src/disclosure/table.js';

export interface RefTable {
  readonly rows: number;
  readonly cols: number | undefined; // undefined = 1-D
  readonly counts: readonly bigint[]; // row-major
  readonly margins: { readonly rows: boolean; readonly cols: boolean; readonly total: boolean };
}

export interface RefCell {
  readonly cell: Cell;
  readonly members: readonly number[]; // interior indices summed
  readonly count: bigint;
}

export const key = (c: Cell): string => JSON.stringify([c.row, c.col ?? null]);

/** Every cell the release contains: interior row-major, then row totals, column totals, total. */
export function refCells(t: RefTable): RefCell[] {
  const C = t.cols ?? 1;
  const sum = (m: number[]): bigint => m.reduce((s, k) => s + t.counts[k]!, 0n);
  const out: RefCell[] = [];
  for (let i = 0; i < t.rows; i++)
    for (let j = 0; j < C; j++)
      out.push({
        cell: t.cols === undefined ? { row: i } : { row: i, col: j },
        members: [i * C + j],
        count: t.counts[i * C + j]!,
      });
  if (t.cols !== undefined && t.margins.rows)
    for (let i = 0; i < t.rows; i++) {
      const m = Array.from({ length: C }, (_, j) => i * C + j);
      out.push({ cell: { row: i, col: 'total' }, members: m, count: sum(m) });
    }
  if (t.cols !== undefined && t.margins.cols)
    for (let j = 0; j < C; j++) {
      const m = Array.from({ length: t.rows }, (_, i) => i * C + j);
      out.push({ cell: { row: 'total', col: j }, members: m, count: sum(m) });
    }
  if (t.margins.total) {
    const m = Array.from({ length: t.rows * C }, (_, k) => k);
    out.push({
      cell: t.cols === undefined ? { row: 'total' } : { row: 'total', col: 'total' },
      members: m,
      count: sum(m),
    });
  }
  return out;
}

const P = (1n << 61n) - 1n;
const mod = (a: bigint): bigint => ((a % P) + P) % P;
function inverse(a: bigint): bigint {
  let [r, e, b] = [1n, P - 2n, mod(a)];
  for (; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
  return r;
}

/** Rank of 0/1 rows (given as member lists) over GF(p). */
export function rankModP(rowsAsMembers: readonly (readonly number[])[], width: number): number {
  const m = rowsAsMembers.map((members) => {
    const v = new Array<bigint>(width).fill(0n);
    for (const k of members) v[k] = 1n;
    return v;
  });
  let rank = 0;
  for (let col = 0; col < width && rank < m.length; col++) {
    const p = m.findIndex((r, i) => i >= rank && r[col] !== 0n);
    if (p < 0) continue;
    [m[rank], m[p]] = [m[p]!, m[rank]!];
    const pivot = m[rank]!;
    const inv = inverse(pivot[col]!);
    for (let i = 0; i < m.length; i++) {
      if (i === rank || m[i]![col] === 0n) continue;
      const f = (m[i]![col]! * inv) % P;
      m[i] = m[i]!.map((x, k) => mod(x - f * pivot[k]!));
    }
    rank++;
  }
  return rank;
}

/** Withheld cells determined by the released ones, by rank over GF(p) of the full system. */
export function refRecomputable(t: RefTable, withheld: readonly Cell[]): string[] {
  const cells = refCells(t);
  const hidden = new Set(withheld.map(key));
  const width = t.rows * (t.cols ?? 1);
  const released = cells.filter((c) => !hidden.has(key(c.cell))).map((c) => c.members);
  const r = rankModP(released, width);
  return cells
    .filter((c) => hidden.has(key(c.cell)) && rankModP([...released, c.members], width) === r)
    .map((c) => key(c.cell));
}

/**
 * The attacker's exact interval [lo, hi] for every withheld cell: all non-negative integer tables
 * agreeing with every released cell, enumerated (interior unknowns in 0..total+slack: the total bounds
 * any cell in a released margin, the slack shows how far the others are free). Returns undefined when the search
 * space exceeds `limit`.
 */
export function refIntervals(
  t: RefTable,
  withheld: readonly Cell[],
  slack = 1n,
  limit = 60_000,
): Map<string, [bigint, bigint]> | undefined {
  const cells = refCells(t);
  const hidden = new Set(withheld.map(key));
  const total = t.counts.reduce((s, x) => s + x, 0n);
  const unknown = cells.filter((c) => c.members.length === 1 && hidden.has(key(c.cell))).map((c) => c.members[0]!);
  if ((Number(total + slack) + 1) ** unknown.length > limit) return undefined;
  const checks = cells.filter((c) => !hidden.has(key(c.cell)));
  const y = [...t.counts];
  const out = new Map<string, [bigint, bigint]>();
  const visit = (at: number): void => {
    if (at === unknown.length) {
      if (!checks.every((c) => c.members.reduce((s, k) => s + y[k]!, 0n) === c.count)) return;
      for (const c of cells) {
        if (!hidden.has(key(c.cell))) continue;
        const v = c.members.reduce((s, k) => s + y[k]!, 0n);
        const cur = out.get(key(c.cell));
        out.set(key(c.cell), cur === undefined ? [v, v] : [v < cur[0] ? v : cur[0], v > cur[1] ? v : cur[1]]);
      }
      return;
    }
    for (let v = 0n; v <= total + slack; v++) {
      y[unknown[at]!] = v;
      visit(at + 1);
    }
    y[unknown[at]!] = t.counts[unknown[at]!]!;
  };
  visit(0);
  return out;
}
