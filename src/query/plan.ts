/**
 * A query plan: what an agency is asked to compute, as data, never as SQL text. The coordinator
 * parses SQL into a plan; agencies re-validate the plan against their own copy of the schema and
 * compile it to parameterized SQL for their own engine.
 */

/** A literal in a predicate: category values are strings, integer values are safe integers. */
export type Literal = string | number;

export type ComparisonOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

/** A WHERE condition as a tree; literals are typed by the column they compare with. */
export type Predicate =
  | { readonly kind: 'and'; readonly args: readonly Predicate[] }
  | { readonly kind: 'or'; readonly args: readonly Predicate[] }
  | { readonly kind: 'not'; readonly arg: Predicate }
  | { readonly kind: 'compare'; readonly column: string; readonly op: ComparisonOp; readonly value: Literal }
  | { readonly kind: 'in'; readonly column: string; readonly values: readonly Literal[] }
  | { readonly kind: 'between'; readonly column: string; readonly low: Literal; readonly high: Literal };

export type AggregateFn = 'count' | 'sum' | 'avg';

/** One item of the SELECT list, in the order written. */
export type SelectItem =
  /** A GROUP BY column repeated in the SELECT list. */
  | { readonly kind: 'group'; readonly column: string; readonly alias: string }
  /** COUNT(*) has no column; SUM and AVG name an integer column. */
  | { readonly kind: 'aggregate'; readonly fn: AggregateFn; readonly column: string | null; readonly alias: string };

/**
 * `GROUP BY ROLLUP(...)` or `GROUP BY CUBE(...)`: the release also holds totals (margins) over the
 * GROUP BY columns. Agencies compute only the interior cells; the coordinator derives the margins.
 */
export type Totals = 'rollup' | 'cube';

/** The values `QueryPlan.totals` may take, in the order error messages list them. */
export const TOTALS: readonly Totals[] = Object.freeze(['rollup', 'cube'] as const);

/** A parsed and validated query (`parseQuery`): the only form in which agencies are asked anything. */
export interface QueryPlan {
  /** The dataset the FROM clause names. */
  readonly dataset: string;
  /** Category columns, at most two, in GROUP BY order. */
  readonly groupBy: readonly string[];
  /** Output columns in SELECT order; aliases are unique. */
  readonly select: readonly SelectItem[];
  /** The WHERE clause as a predicate tree; null without one. */
  readonly where: Predicate | null;
  /**
   * Absent for a plain GROUP BY (so the canonical JSON of such a plan is unchanged). Present only
   * with one or two GROUP BY columns: ROLLUP(a) = CUBE(a) adds the grand total; ROLLUP(a, b) the
   * per-a totals and the grand total; CUBE(a, b) also the per-b totals.
   */
  readonly totals?: Totals;
}

/**
 * Which margins a plan releases, in the shape of src/disclosure's `MarginsReleased`: `rows` are
 * the totals per value of groupBy[0] (2-D only), `cols` per value of groupBy[1] (2-D only),
 * `total` the grand total. All false for a plan without totals.
 */
export interface PlanMargins {
  readonly rows: boolean;
  readonly cols: boolean;
  readonly total: boolean;
}

/** The margins `plan` releases besides its interior cells (see PlanMargins). */
export function marginsOf(plan: QueryPlan): PlanMargins {
  if (plan.totals === undefined) return Object.freeze({ rows: false, cols: false, total: false });
  if (plan.groupBy.length === 1) return Object.freeze({ rows: false, cols: false, total: true });
  if (plan.groupBy.length === 2) return Object.freeze({ rows: true, cols: plan.totals === 'cube', total: true });
  throw new RangeError(`marginsOf: totals need 1 or 2 GROUP BY columns, the plan has ${plan.groupBy.length}`);
}

/**
 * The grouping sets of `plan` as standard SQL defines them, finest first: `[groupBy]` without
 * totals; ROLLUP(a, b) → [a, b], [a], []; CUBE(a, b) → [a, b], [a], [b], []; ROLLUP(a) → [a], [].
 */
export function groupingSets(plan: QueryPlan): readonly (readonly string[])[] {
  const g = plan.groupBy;
  const m = marginsOf(plan);
  const sets: (readonly string[])[] = [g];
  if (m.rows && g[0] !== undefined) sets.push([g[0]]);
  if (m.cols && g[1] !== undefined) sets.push([g[1]]);
  if (m.total) sets.push([]);
  return Object.freeze(sets.map((s) => Object.freeze([...s])));
}

/**
 * The exact per-group quantities an agency computes for a plan: COUNT(*) always (it drives
 * suppression and AVG), plus SUM(col) once per distinct column that any SUM or AVG names.
 */
export interface Measure {
  readonly kind: 'count' | 'sum';
  readonly column: string | null;
}

export function planMeasures(plan: QueryPlan): readonly Measure[] {
  const sums = new Set<string>();
  for (const item of plan.select) {
    if (item.kind === 'aggregate' && item.fn !== 'count' && item.column !== null) sums.add(item.column);
  }
  return Object.freeze([
    { kind: 'count', column: null } as const,
    ...[...sums].sort().map((column) => ({ kind: 'sum', column }) as const),
  ]);
}
