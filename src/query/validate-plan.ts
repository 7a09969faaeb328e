/**
 * Validation of query plans that arrive as plain objects from the network. Agencies re-check
 * every plan against their own copy of the schema, and a hostile peer may send anything: so the
 * walk reads only own data properties, checks every size before it iterates, bounds its
 * recursion, and never throws anything but FedstatError. The plan it returns is a fresh,
 * deep-frozen copy, so later mutation of the input cannot change what was checked.
 *
 * Codes: BAD_MESSAGE for structural garbage (wrong types, unknown kinds or fields, limits),
 * QUERY_INVALID for well-formed plans that are not valid queries (unknown or mistyped columns,
 * literals outside their domain, duplicate output names), NOT_FOUND for an unknown dataset.
 */
import { FedstatError } from '../errors.js';
import { planColumn, planReader } from './plan-reader.js';
import { datasetSchema } from '../federation/schema.js';
import type { DatasetSchema, Schema } from '../federation/schema.js';
import { checkUniqueAliases } from './aliases.js';
import { isSafeAlias, QUERY_LIMITS } from './limits.js';
import { checkLiteral } from './literals.js';
import { TOTALS } from './plan.js';
import type { AggregateFn, ComparisonOp, Literal, Predicate, QueryPlan, SelectItem } from './plan.js';
import { queryInvalid, quoted } from './query-error.js';

const { bad, fields, list, text, oneOf } = planReader('query plan', 256);
const column = planColumn;

function literal(v: unknown, path: string): unknown {
  if (typeof v === 'string') return text(v, path, 4096);
  if (typeof v === 'number') return v;
  throw bad(path, 'a literal must be a string or a number');
}

const OPS: readonly ComparisonOp[] = ['=', '<>', '<', '<=', '>', '>='];
const KINDS = ['and', 'or', 'not', 'compare', 'in', 'between'] as const;

class PredicateReader {
  private nodes = 0;
  constructor(
    private readonly dsName: string,
    private readonly ds: DatasetSchema,
  ) {}

  read(v: unknown, path: string, depth: number): Predicate {
    if (depth > QUERY_LIMITS.maxPredicateDepth)
      throw bad(path, `predicate nested deeper than ${QUERY_LIMITS.maxPredicateDepth}`);
    if (++this.nodes > QUERY_LIMITS.maxPredicateNodes)
      throw bad(path, `predicate has more than ${QUERY_LIMITS.maxPredicateNodes} nodes`);
    if (typeof v !== 'object' || v === null) throw bad(path, 'expected a predicate object');
    const kindDesc = Object.getOwnPropertyDescriptor(v, 'kind');
    const kind = oneOf(
      kindDesc !== undefined && 'value' in kindDesc ? kindDesc.value : undefined,
      `${path}.kind`,
      KINDS,
    );
    switch (kind) {
      case 'and':
      case 'or': {
        const f = fields(v, path, ['kind', 'args']);
        const args = list(f['args'], `${path}.args`, 2, QUERY_LIMITS.maxPredicateNodes);
        return Object.freeze({
          kind,
          args: Object.freeze(args.map((a, i) => this.read(a, `${path}.args[${i}]`, depth + 1))),
        });
      }
      case 'not': {
        const f = fields(v, path, ['kind', 'arg']);
        return Object.freeze({ kind, arg: this.read(f['arg'], `${path}.arg`, depth + 1) });
      }
      case 'compare': {
        const f = fields(v, path, ['kind', 'column', 'op', 'value']);
        const name = text(f['column'], `${path}.column`);
        const op = oneOf(f['op'], `${path}.op`, OPS);
        const value = literal(f['value'], `${path}.value`);
        const col = column(this.dsName, this.ds, name);
        if (col.type === 'category' && op !== '=' && op !== '<>') {
          throw queryInvalid(
            `${this.dsName}.${name} is a category column, which has no order, so ${op} cannot apply`,
            null,
            'use =, <>, IN or NOT IN',
          );
        }
        return Object.freeze({ kind, column: name, op, value: checkLiteral(this.dsName, name, col, value, null) });
      }
      case 'in': {
        const f = fields(v, path, ['kind', 'column', 'values']);
        const name = text(f['column'], `${path}.column`);
        const raw = list(f['values'], `${path}.values`, 1, QUERY_LIMITS.maxInValues).map((x, i) =>
          literal(x, `${path}.values[${i}]`),
        );
        const col = column(this.dsName, this.ds, name);
        const values: Literal[] = raw.map((x) => checkLiteral(this.dsName, name, col, x, null));
        return Object.freeze({ kind, column: name, values: Object.freeze(values) });
      }
      case 'between': {
        const f = fields(v, path, ['kind', 'column', 'low', 'high']);
        const name = text(f['column'], `${path}.column`);
        const low = literal(f['low'], `${path}.low`);
        const high = literal(f['high'], `${path}.high`);
        const col = column(this.dsName, this.ds, name);
        if (col.type === 'category') {
          throw queryInvalid(
            `${this.dsName}.${name} is a category column, which has no order, so BETWEEN cannot apply`,
            null,
            'use IN with its values',
          );
        }
        return Object.freeze({
          kind,
          column: name,
          low: checkLiteral(this.dsName, name, col, low, null),
          high: checkLiteral(this.dsName, name, col, high, null),
        });
      }
    }
  }
}

function selectItem(
  v: unknown,
  path: string,
  dsName: string,
  ds: DatasetSchema,
  groupBy: readonly string[],
): SelectItem {
  const kindDesc = typeof v === 'object' && v !== null ? Object.getOwnPropertyDescriptor(v, 'kind') : undefined;
  const kind = oneOf(kindDesc !== undefined && 'value' in kindDesc ? kindDesc.value : undefined, `${path}.kind`, [
    'group',
    'aggregate',
  ] as const);
  const f = fields(v, path, kind === 'group' ? ['kind', 'column', 'alias'] : ['kind', 'fn', 'column', 'alias']);
  const alias = text(f['alias'], `${path}.alias`);
  if (!isSafeAlias(alias)) throw bad(`${path}.alias`, `unsafe output name ${quoted(alias)}`);
  if (kind === 'group') {
    const name = text(f['column'], `${path}.column`);
    column(dsName, ds, name);
    if (!groupBy.includes(name))
      throw queryInvalid(`${name} is selected but not in GROUP BY`, null, 'add it to groupBy or remove it from select');
    return Object.freeze({ kind, column: name, alias });
  }
  const fn = oneOf(f['fn'], `${path}.fn`, ['count', 'sum', 'avg'] as const satisfies readonly AggregateFn[]);
  if (fn === 'count') {
    if (f['column'] !== null) throw bad(`${path}.column`, 'count takes column null');
    return Object.freeze({ kind, fn, column: null, alias });
  }
  const name = text(f['column'], `${path}.column`);
  const col = column(dsName, ds, name);
  if (col.type !== 'integer')
    throw queryInvalid(
      `${fn}(${name}): ${dsName}.${name} is a category column`,
      null,
      `${fn.toUpperCase()} needs an integer column`,
    );
  return Object.freeze({ kind, fn, column: name, alias });
}

function validate(raw: unknown, schema: Schema): QueryPlan {
  const f = fields(raw, '', ['dataset', 'groupBy', 'select', 'where'], ['totals']);
  const dsName = text(f['dataset'], 'dataset', 64);
  const ds = datasetSchema(schema, dsName);
  const groupBy = list(f['groupBy'], 'groupBy', 0, QUERY_LIMITS.maxGroupBy).map((g, i) => text(g, `groupBy[${i}]`));
  groupBy.forEach((name, i) => {
    const col = column(dsName, ds, name);
    if (col.type !== 'category')
      throw queryInvalid(`GROUP BY ${name}: ${dsName}.${name} is an integer column`, null, 'group by category columns');
    if (groupBy.indexOf(name) !== i)
      throw queryInvalid(`${name} appears twice in GROUP BY`, null, 'list each column once');
  });
  const select = list(f['select'], 'select', 1, QUERY_LIMITS.maxSelectItems).map((s, i) =>
    selectItem(s, `select[${i}]`, dsName, ds, groupBy),
  );
  if (!select.some((s) => s.kind === 'aggregate'))
    throw queryInvalid('the query has no aggregate', null, 'add COUNT(*), SUM(col) or AVG(col)');
  checkUniqueAliases(
    select.map((s) => s.alias),
    () => null,
  );
  const where = f['where'] === null ? null : new PredicateReader(dsName, ds).read(f['where'], 'where', 1);
  // An absent field, not `totals: undefined`: a plan without totals keeps its canonical JSON.
  const totals = 'totals' in f ? oneOf(f['totals'], 'totals', TOTALS) : undefined;
  if (totals !== undefined && groupBy.length === 0) {
    throw queryInvalid(
      `${totals.toUpperCase()} needs GROUP BY columns`,
      null,
      `group by 1 or 2 category columns with ${totals.toUpperCase()}(a[, b]), or drop totals`,
    );
  }
  const plan = { dataset: dsName, groupBy: Object.freeze(groupBy), select: Object.freeze(select), where };
  return Object.freeze(totals === undefined ? plan : { ...plan, totals });
}

/**
 * Checks an untrusted WHERE predicate over dataset `dataset` of `schema` (a GLM round's), as
 * `validatePlan` checks a plan's. Throws only FedstatError.
 */
export function validatePredicate(raw: unknown, dataset: string, schema: Schema): Predicate {
  try {
    return new PredicateReader(dataset, datasetSchema(schema, dataset)).read(raw, 'where', 1);
  } catch (e) {
    if (e instanceof FedstatError) throw e;
    throw new FedstatError('BAD_MESSAGE', 'predicate: unreadable input', { cause: e });
  }
}

/**
 * Checks an untrusted plan against `schema` and returns a deep-frozen copy. Throws only
 * FedstatError: BAD_MESSAGE, QUERY_INVALID or NOT_FOUND (see the module comment).
 */
export function validatePlan(raw: unknown, schema: Schema): QueryPlan {
  try {
    return validate(raw, schema);
  } catch (e) {
    if (e instanceof FedstatError) throw e;
    // A proxy trap or a stack overflow: the input is not a plan. Its error is kept as the cause only.
    throw new FedstatError('BAD_MESSAGE', 'query plan: unreadable input', { cause: e });
  }
}
