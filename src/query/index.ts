/**
 * fedstat/query: the SQL subset coordinators type, parsed into validated query plans.
 *
 * ```ts
 * const plan = parseQuery("SELECT district, COUNT(*), AVG(income) FROM residents WHERE age >= 18 GROUP BY district", schema);
 * formatPlan(plan); // canonical one-line SQL
 * marginsOf(parseQuery("SELECT district, insured, COUNT(*) FROM residents GROUP BY CUBE(district, insured)", schema));
 * // { rows: true, cols: true, total: true }: the totals the release holds besides the cells
 * validatePlan(JSON.parse(wire), schema); // on the agency side, for plans from the network
 * ```
 */
export { parseQuery } from './parse.js';
export { validatePlan } from './validate-plan.js';
export { formatIdentifier, formatLiteral, formatPlan, formatPredicate } from './format-plan.js';
export { evaluatePredicate } from './evaluate.js';
export { defaultAlias } from './aliases.js';
export { isSafeAlias, predicateSize, QUERY_LIMITS } from './limits.js';
export { groupingSets, marginsOf, planMeasures, TOTALS } from './plan.js';
export type { AggregateFn, ComparisonOp, Literal, Measure, PlanMargins, Predicate, QueryPlan, SelectItem, Totals } from './plan.js';
