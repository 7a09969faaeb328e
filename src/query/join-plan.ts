/**
 * A linked-record plan: two datasets joined on their `id` columns (人-房-事-证). Like a QueryPlan
 * it is data, never SQL: the coordinator parses SQL into it (parse-join.ts) and every agency
 * re-validates it (validateJoinPlan) before taking part in the private set intersection.
 *
 * An inner join counts pairs of records with the same id; an anti-join counts the records of the
 * left dataset whose id no record of the right dataset holds. Conditions are split per side, so
 * each agency filters only its own records.
 */
import type { Schema } from '../federation/schema.js';
import type { AggregateFn, Predicate } from './plan.js';
import { validateJoin } from './validate-join-plan.js';

export type JoinKind = 'inner' | 'anti';
export type JoinSideName = 'left' | 'right';

export interface JoinSide {
  readonly dataset: string;
  /** The alias written (the dataset name when none). */
  readonly alias: string;
  /** The id column joined on. */
  readonly id: string;
  /** This side's WHERE conditions, with UNQUALIFIED column names (same Predicate type as QueryPlan), null if none. */
  readonly where: Predicate | null;
}

/** A column of one side (GROUP BY). */
export interface JoinColumn {
  readonly side: JoinSideName;
  readonly column: string;
}

/** One output column: a GROUP BY column, or COUNT(*) (side and column null) / SUM / AVG of one side's column. */
export type JoinSelectItem =
  | { readonly kind: 'group'; readonly side: JoinSideName; readonly column: string; readonly alias: string }
  | {
      readonly kind: 'aggregate';
      readonly fn: AggregateFn;
      readonly side: JoinSideName | null;
      readonly column: string | null;
      readonly alias: string;
    };

/** A parsed and validated linked-record query (`parseJoinQuery`). */
export interface JoinPlan {
  readonly kind: 'join';
  readonly join: JoinKind;
  /** FROM side (for an anti-join, the side whose records are counted). */
  readonly left: JoinSide;
  /** JOIN side (for an anti-join, the NOT EXISTS dataset). */
  readonly right: JoinSide;
  /** At most two columns in total, category columns only, in GROUP BY order. */
  readonly groupBy: readonly JoinColumn[];
  /** Output columns in SELECT order; aliases are unique ignoring case. */
  readonly select: readonly JoinSelectItem[];
}

/** Distinct SUM/AVG columns of one side, in first-appearance order (the measures that side computes). */
export function joinMeasures(plan: JoinPlan, side: JoinSideName): readonly string[] {
  const out: string[] = [];
  for (const item of plan.select) {
    if (item.kind === 'aggregate' && item.side === side && item.column !== null && !out.includes(item.column)) {
      out.push(item.column);
    }
  }
  return Object.freeze(out);
}

/** GROUP BY columns of one side, in GROUP BY order. */
export function joinGroupBy(plan: JoinPlan, side: JoinSideName): readonly string[] {
  return Object.freeze(plan.groupBy.filter((g) => g.side === side).map((g) => g.column));
}

/**
 * Re-validates an untrusted plan object (agencies run this on what the coordinator signed): exact
 * keys, types, schema. Returns a fresh deep-frozen copy. Throws only FedstatError: BAD_MESSAGE for
 * structural garbage, QUERY_INVALID for a well-formed plan that is not a valid query, NOT_FOUND for
 * an unknown dataset.
 */
export function validateJoinPlan(plan: unknown, schema: Schema): JoinPlan {
  return validateJoin(plan, schema);
}
