/**
 * fedstat/query: the SQL subset coordinators type, parsed into validated query plans.
 *
 * ```ts
 * const plan = parseQuery("SELECT district, COUNT(*), AVG(income) FROM residents WHERE age >= 18 GROUP BY district", schema);
 * formatPlan(plan); // canonical one-line SQL
 * validatePlan(JSON.parse(wire), schema); // on the agency side, for plans from the network
 * ```
 */
export { parseQuery } from './parse.js';
export { validatePlan } from './validate-plan.js';
export { formatIdentifier, formatLiteral, formatPlan, formatPredicate } from './format-plan.js';
export { evaluatePredicate } from './evaluate.js';
export { defaultAlias } from './aliases.js';
export { isSafeAlias, predicateSize, QUERY_LIMITS } from './limits.js';
export { planMeasures } from './plan.js';
export type { AggregateFn, ComparisonOp, Literal, Measure, Predicate, QueryPlan, SelectItem } from './plan.js';
