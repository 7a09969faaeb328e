/**
 * A query plan: what an agency is asked to compute, as data, never as SQL text. The coordinator
 * parses SQL into a plan; agencies re-validate the plan against their own copy of the schema and
 * compile it to parameterized SQL for their own engine.
 */

/** A literal in a predicate: category values are strings, integer values are safe integers. */
export type Literal = string | number;

export type ComparisonOp = '=' | '<>' | '<' | '<=' | '>' | '>=';

export type Predicate =
  | { readonly kind: 'and'; readonly args: readonly Predicate[] }
  | { readonly kind: 'or'; readonly args: readonly Predicate[] }
  | { readonly kind: 'not'; readonly arg: Predicate }
  | { readonly kind: 'compare'; readonly column: string; readonly op: ComparisonOp; readonly value: Literal }
  | { readonly kind: 'in'; readonly column: string; readonly values: readonly Literal[] }
  | { readonly kind: 'between'; readonly column: string; readonly low: Literal; readonly high: Literal };

export type AggregateFn = 'count' | 'sum' | 'avg';

export type SelectItem =
  /** A GROUP BY column repeated in the SELECT list. */
  | { readonly kind: 'group'; readonly column: string; readonly alias: string }
  /** COUNT(*) has no column; SUM and AVG name an integer column. */
  | { readonly kind: 'aggregate'; readonly fn: AggregateFn; readonly column: string | null; readonly alias: string };

export interface QueryPlan {
  readonly dataset: string;
  /** Category columns, at most two, in GROUP BY order. */
  readonly groupBy: readonly string[];
  /** Output columns in SELECT order; aliases are unique. */
  readonly select: readonly SelectItem[];
  readonly where: Predicate | null;
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
