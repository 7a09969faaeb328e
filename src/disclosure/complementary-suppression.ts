/**
 * Cell suppression that holds within one release.
 *
 * Primary suppression withholds every cell (interior or margin) whose count is below
 * `minGroupSize`. Complementary suppression then withholds more cells so that, from the numbers
 * this release publishes (interior cells and any row totals, column totals and grand total,
 * including a total that is only derivable, e.g. from an ungrouped query in the same result):
 *
 * 1. no withheld cell is exactly recomputable by linear equations (exact bigint elimination), and
 * 2. no withheld cell can be narrowed, using also that counts are non-negative integers, to an
 *    interval narrower than `protection` (default 1: at least two values stay possible, so a pair
 *    of suppressed zeros whose sum is published does not count as protected).
 *
 * How: every line (a margin and its members) holding one withheld cell gets a second one, the
 * smallest count first (least information lost), preferring a cell that also completes another
 * such line (which closes rectangles in 2-D); this runs to a fixed point. The line rule is
 * necessary but not sufficient in 2-D, so the result is then verified by `ReleasedSystem`, and
 * any cell still exposed gets the smallest complement that fixes it, until none is. Everything is
 * deterministic (order: count, then row-major position, interior before margins).
 *
 * Not protected: anything ACROSS releases. Two queries whose difference isolates a group (say
 * "all residents" and "all residents except district X"), or a total published yesterday, are
 * outside this module; the caller must either pass every number already published as part of the
 * same table, or rely on the differential-privacy budget, which bounds what any sequence of
 * queries reveals. Also not protected: attacker knowledge beyond the release (a known household,
 * structural zeros), and SUM/AVG columns of the same groups (they must be withheld with the counts).
 */
import { FedstatError } from '../errors.js';
import { ReleasedSystem } from './recomputable.js';
import { buildModel, type Cell, type SuppressionTable, type TableModel } from './table.js';

/** The table to protect and how much protection `planSuppression` must give. */
export interface SuppressionOptions extends SuppressionTable {
  /** Cells with a count below this are withheld (primary suppression). */
  readonly minGroupSize: number | bigint;
  /**
   * Minimum width (hi − lo) of the interval an attacker can narrow a withheld cell to, using the
   * release and non-negativity; default 1n. 0n asks only that no cell be linearly recomputable.
   */
  readonly protection?: bigint;
  /**
   * True when empty groups are public anyway (e.g. the release omits them as SQL does): zero
   * cells are then neither withheld nor used as complements. Default false: a zero is a count.
   */
  readonly knownZeros?: boolean;
}

/** Why a cell is not published. */
export interface WithheldCell {
  /** The withheld cell. */
  readonly cell: Cell;
  /** `primary`: its count is below `minGroupSize`; `complementary`: withheld to protect another. */
  readonly reason: 'primary' | 'complementary';
  /** For complementary cells: the withheld cell whose recomputation this one prevents. */
  readonly protects?: Cell;
}

/** A cell the release publishes. */
export interface ReleasedCell {
  /** The published cell. */
  readonly cell: Cell;
  /** Its count. */
  readonly count: bigint;
}

/** What `planSuppression` decided: every cell of the table is either withheld or released. */
export interface SuppressionPlan {
  /** Withheld cells with their reason, in table order (interior row-major, then margins). */
  readonly withheld: readonly WithheldCell[];
  /** Published cells and margins with their counts, in table order. */
  readonly released: readonly ReleasedCell[];
  /** How many cells are withheld as primary (count below `minGroupSize`). */
  readonly primary: number;
  /** How many cells are withheld as complements. */
  readonly complementary: number;
  /** The protection width every withheld cell is guaranteed (see the module comment). */
  readonly protection: bigint;
}

interface Reason {
  readonly reason: 'primary' | 'complementary';
  readonly protects?: number;
}

/** Chooses the cells to withhold from one release so that none can be recomputed or narrowed. */
export function planSuppression(options: SuppressionOptions): SuppressionPlan {
  const model = buildModel(options);
  const min = toBigInt(options.minGroupSize, 'minGroupSize');
  const protection = options.protection ?? 1n;
  if (typeof protection !== 'bigint' || protection < 0n)
    throw new RangeError('protection must be a non-negative bigint');
  const isPublic = (i: number): boolean => options.knownZeros === true && model.cells[i]?.count === 0n;

  const withheld = new Map<number, Reason>();
  model.cells.forEach((c, i) => {
    if (c.count < min && !isPublic(i)) withheld.set(i, { reason: 'primary' });
  });
  if (withheld.size > 0) {
    const order = candidateOrder(model);
    const candidates = (): number[] => order.filter((i) => !withheld.has(i) && !isPublic(i));
    for (;;) {
      applyLineRule(model, withheld, candidates);
      const exposed = firstExposed(model, withheld, protection);
      if (exposed === undefined) break;
      withheld.set(complementFor(model, withheld, exposed, candidates(), protection), {
        reason: 'complementary',
        protects: exposed,
      });
    }
  }
  return result(model, withheld, protection);
}

/** Candidates in cost order: smallest count, then interior before margins, then position. */
function candidateOrder(model: TableModel): number[] {
  const idx = model.cells.map((_, i) => i);
  return idx.sort((a, b) => {
    const ca = model.cells[a];
    const cb = model.cells[b];
    if (ca === undefined || cb === undefined) return a - b;
    if (ca.count !== cb.count) return ca.count < cb.count ? -1 : 1;
    if (ca.interior !== cb.interior) return ca.interior ? -1 : 1;
    return a - b;
  });
}

/** Gives every line with exactly one withheld member a second one, until none is left. */
function applyLineRule(model: TableModel, withheld: Map<number, Reason>, candidates: () => number[]): void {
  const singles = (): Array<readonly number[]> =>
    model.lines.filter((line) => line.filter((i) => withheld.has(i)).length === 1);
  for (;;) {
    const lonely = singles();
    // A lonely line whose other members are all public zeros cannot be fixed inside the line;
    // verification then protects its cell through other lines.
    const next = lonely
      .map((line) => ({ line, options: candidates().filter((i) => line.includes(i)) }))
      .find((l) => l.options.length > 0);
    if (next === undefined) return;
    const alone = next.line.find((i) => withheld.has(i)) ?? -1;
    // Prefer a member that also gives a second withheld cell to another lonely line.
    const helps = (i: number): boolean => lonely.some((other) => other !== next.line && other.includes(i));
    const pick = next.options.find(helps) ?? next.options[0] ?? -1;
    withheld.set(pick, { reason: 'complementary', protects: alone });
  }
}

function isProtected(
  model: TableModel,
  withheld: ReadonlySet<number> | ReadonlyMap<number, unknown>,
  i: number,
  protection: bigint,
): boolean {
  const p = new ReleasedSystem(model, new Set(withheld.keys())).protection(i);
  return !p.recomputable && (p.width === null || p.width >= protection);
}

/** The first withheld cell (table order) that is recomputable or narrower than `protection`. */
function firstExposed(
  model: TableModel,
  withheld: ReadonlyMap<number, Reason>,
  protection: bigint,
): number | undefined {
  const system = new ReleasedSystem(model, new Set(withheld.keys()));
  for (const i of [...withheld.keys()].sort((a, b) => a - b)) {
    const p = system.protection(i);
    if (p.recomputable || (p.width !== null && p.width < protection)) return i;
  }
  return undefined;
}

/**
 * The cheapest single complement that protects `exposed`: first among cells sharing a line with
 * it, then among all. When no single cell suffices, the cheapest line-mate (or cheapest cell) is
 * withheld and the loop tries again: it ends, at worst with everything withheld (then nothing is
 * published and every cell is unbounded).
 */
function complementFor(
  model: TableModel,
  withheld: ReadonlyMap<number, Reason>,
  exposed: number,
  candidates: readonly number[],
  protection: bigint,
): number {
  const mates = new Set(model.lines.filter((l) => l.includes(exposed)).flat());
  const near = candidates.filter((i) => mates.has(i));
  const far = candidates.filter((i) => !mates.has(i));
  for (const i of [...near, ...far]) {
    const trial = new Set(withheld.keys()).add(i);
    if (isProtected(model, trial, exposed, protection)) return i;
  }
  const fallback = near[0] ?? far[0];
  // Unreachable: with every non-public cell withheld no non-zero margin is published, so all are unbounded.
  if (fallback === undefined)
    throw new FedstatError(
      'INTERNAL',
      'complementary suppression found no cell to withhold: please report this table shape',
    );
  return fallback;
}

function result(model: TableModel, withheld: ReadonlyMap<number, Reason>, protection: bigint): SuppressionPlan {
  const out: WithheldCell[] = [];
  const released: ReleasedCell[] = [];
  let primary = 0;
  model.cells.forEach((c, i) => {
    const r = withheld.get(i);
    if (r === undefined) {
      released.push(Object.freeze({ cell: c.cell, count: c.count }));
      return;
    }
    if (r.reason === 'primary') primary++;
    const protects = r.protects === undefined ? undefined : model.cells[r.protects]?.cell;
    out.push(
      Object.freeze(
        protects === undefined ? { cell: c.cell, reason: r.reason } : { cell: c.cell, reason: r.reason, protects },
      ),
    );
  });
  return Object.freeze({
    withheld: Object.freeze(out),
    released: Object.freeze(released),
    primary,
    complementary: out.length - primary,
    protection,
  });
}

function toBigInt(v: number | bigint, name: string): bigint {
  if (typeof v === 'bigint') return v;
  if (!Number.isSafeInteger(v)) throw new RangeError(`${name} must be an integer`);
  return BigInt(v);
}
