/**
 * The independent exact check behind suppression: what can an attacker who sees every released
 * cell and margin of ONE release compute about a withheld cell?
 *
 * - Recomputable (linear): the withheld cell's functional lies in the row space of the released
 *   constraints, i.e. some linear combination of released numbers equals it. Checked by exact
 *   rational elimination (bigint), after substituting the released interior cells, so the system
 *   has one unknown per withheld interior cell and one equation per released margin.
 * - Protection width (non-negativity too): every kernel direction v of that system moves the
 *   true table x along x + d·v while all released numbers stay fixed; integer d keeping x + d·v ≥ 0
 *   gives tables the attacker cannot tell apart. Hence the attacker's interval for the cell is at
 *   least (steps up + steps down)·|f·v| wide. This is a certified LOWER bound (the true interval
 *   may be wider), computed from the true counts, so it is for the planner and auditors only and
 *   must not be published (it depends on withheld values).
 */
import { RowSpace, dotSupport } from './exact-linear.js';
import { buildModel, cellIndex, type Cell, type SuppressionTable, type TableModel } from './table.js';

export interface CellProtection {
  /** True when released numbers determine the cell exactly by linear equations. */
  readonly recomputable: boolean;
  /** Certified lower bound on the width of the attacker's interval; null = unbounded. */
  readonly width: bigint | null;
}

/** The released system restricted to the withheld interior unknowns. */
export class ReleasedSystem {
  private readonly position = new Map<number, number>();
  private readonly values: bigint[] = [];
  private readonly constraints: bigint[][] = [];
  private readonly space: RowSpace;

  constructor(
    private readonly model: TableModel,
    withheld: ReadonlySet<number>,
  ) {
    for (let i = 0; i < model.cells.length; i++) {
      const c = model.cells[i];
      if (c?.interior === true && withheld.has(i)) {
        this.position.set(i, this.values.length);
        this.values.push(c.count);
      }
    }
    this.space = new RowSpace(this.values.length);
    for (let i = 0; i < model.cells.length; i++)
      if (!withheld.has(i) && model.cells[i]?.interior === false) {
        const f = this.restricted(i);
        this.constraints.push(f);
        this.space.add(f);
      }
  }

  /** Cell i's functional on the withheld unknowns (released interior terms are known constants). */
  private restricted(i: number): bigint[] {
    const f = new Array<bigint>(this.values.length).fill(0n);
    for (const k of this.model.cells[i]?.terms ?? []) {
      const p = this.position.get(k);
      if (p !== undefined) f[p] = 1n;
    }
    return f;
  }

  /** Whether withheld cell i is determined by linear equations over released numbers. */
  recomputable(i: number): boolean {
    return this.space.contains(this.restricted(i));
  }

  /** The recomputability and certified protection width of withheld cell i. */
  protection(i: number): CellProtection {
    const f = this.restricted(i);
    const support = f.flatMap((x, k) => (x === 0n ? [] : [k]));
    let recomputable = true;
    let best: bigint | null = 0n;
    for (const v of this.kernelFor(support)) {
      const fv = dotSupport(support, v);
      if (fv === 0n) continue;
      recomputable = false;
      const w = this.stepWidth(v);
      if (w === null) return { recomputable, width: null };
      const width = w * (fv < 0n ? -fv : fv);
      if (best !== null && width > best) best = width;
    }
    return { recomputable, width: best };
  }

  /**
   * A kernel basis computed with the cell's own unknowns eliminated last and the others by
   * decreasing count: the cell's unknowns then stay free (each basis vector moves them alone)
   * and the large cells, which can absorb a move, compensate. Any basis is sound; this one
   * gives wide certificates (e.g. two suppressed zeros next to a suppressed 50 and a total).
   */
  private kernelFor(support: readonly number[]): bigint[][] {
    const inSupport = new Set(support);
    const byCount = (a: number, b: number): number => {
      const va = this.values[a] ?? 0n;
      const vb = this.values[b] ?? 0n;
      return va === vb ? a - b : va > vb ? -1 : 1;
    };
    const all = this.values.map((_, k) => k);
    const order = [...all.filter((k) => !inSupport.has(k)).sort(byCount), ...support.slice().sort(byCount)];
    const space = new RowSpace(order.length);
    for (const c of this.constraints) space.add(order.map((k) => c[k] ?? 0n));
    return space.kernelBasis().map((u) => {
      const v = new Array<bigint>(order.length).fill(0n);
      order.forEach((k, at) => (v[k] = u[at] ?? 0n));
      return v;
    });
  }

  /** How many integer steps x + d·v stays non-negative in both directions, summed; null = unbounded. */
  private stepWidth(v: readonly bigint[]): bigint | null {
    let up: bigint | null = null;
    let down: bigint | null = null;
    for (let k = 0; k < v.length; k++) {
      const vk = v[k] ?? 0n;
      const xk = this.values[k] ?? 0n;
      if (vk < 0n) {
        const s = xk / -vk;
        if (up === null || s < up) up = s;
      } else if (vk > 0n) {
        const s = xk / vk;
        if (down === null || s < down) down = s;
      }
    }
    return up === null || down === null ? null : up + down;
  }
}

function withheldIndices(model: TableModel, withheld: readonly Cell[]): Set<number> {
  return new Set(withheld.map((c) => cellIndex(model, c)));
}

/**
 * Whether `cell` (one of `withheld`) can be recomputed exactly, by linear equations, from the
 * cells and margins of `table` that are not in `withheld`.
 */
export function isRecomputable(table: SuppressionTable, withheld: readonly Cell[], cell: Cell): boolean {
  const model = buildModel(table);
  const set = withheldIndices(model, withheld);
  const i = cellIndex(model, cell);
  if (!set.has(i)) throw new RangeError('cell is released, not withheld');
  return new ReleasedSystem(model, set).recomputable(i);
}

/** Every withheld cell that the released cells and margins determine exactly (empty when suppression holds). */
export function recomputableCells(table: SuppressionTable, withheld: readonly Cell[]): Cell[] {
  const model = buildModel(table);
  const set = withheldIndices(model, withheld);
  const system = new ReleasedSystem(model, set);
  return [...set]
    .sort((a, b) => a - b)
    .flatMap((i) => (system.recomputable(i) ? [model.cells[i]?.cell ?? { row: 0 }] : []));
}

/**
 * For each withheld cell, its recomputability and a certified lower bound on the width of the
 * interval an attacker can narrow it to (non-negative integer tables consistent with the
 * release). Depends on withheld values: for planning and audit, never for publication.
 */
export function protectionWidths(
  table: SuppressionTable,
  withheld: readonly Cell[],
): Array<{ readonly cell: Cell } & CellProtection> {
  const model = buildModel(table);
  const set = withheldIndices(model, withheld);
  const system = new ReleasedSystem(model, set);
  return [...set]
    .sort((a, b) => a - b)
    .map((i) => ({ cell: model.cells[i]?.cell ?? { row: 0 }, ...system.protection(i) }));
}
